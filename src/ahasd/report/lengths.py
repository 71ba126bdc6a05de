"""The draft-length histogram of the report: how long each algorithm's draft batches are.

Its axis ends where the data end: a rare very long batch (SVIP's cap is 40) would otherwise
stretch the axis far past the bars anyone can see, so lengths past the point where fewer than
1 % of any algorithm's batches remain are pooled into one last bar labelled with the longest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ahasd.report.matrix import POLICIES
from ahasd.report.style import color, plt, save
from ahasd.report.table import Row, ordered

TAIL_SHARE = 0.01  # lengths past the point where < 1 % of batches remain are pooled


def _length_counts(rows: Sequence[Row], variant: str, policy: str) -> dict[int, int]:
    counts: dict[int, int] = {}
    for r in rows:
        if r["variant"] == variant and r["cfg.policy"] == policy and r.get("draft_len_hist"):
            for k, v in json.loads(str(r["draft_len_hist"])).items():
                counts[int(k)] = counts.get(int(k), 0) + int(v)
    return counts


def length_cut(all_counts: Sequence[Mapping[int, int]], tail: float = TAIL_SHARE) -> int:
    """The shortest length past which every policy has fewer than ``tail`` of its batches."""
    cut = 1
    for counts in all_counts:
        total, seen = sum(counts.values()), 0
        for k in sorted(counts):
            seen += counts[k]
            if total - seen < tail * total:
                cut = max(cut, k)
                break
    return cut


def draft_length_hist(rows: Sequence[Row], path: Path, variant: str = "ahasd") -> Path:
    """Distribution of draft batch lengths per policy for ``variant`` (all pairs and seeds).

    The axis ends where the data end: lengths past the point where fewer than 1 % of any
    policy's batches remain are pooled into one last bar labelled with the longest batch.
    """
    policies = ordered((str(r["cfg.policy"]) for r in rows), POLICIES)
    per = {p: c for p in policies if (c := _length_counts(rows, variant, p))}
    cut = length_cut(list(per.values()))
    longest = max((max(c) for c in per.values()), default=cut)
    pooled = longest > cut
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    width = 0.8 / max(len(per), 1)
    for i, (pol, counts) in enumerate(per.items()):
        total = sum(counts.values())
        shares = [counts.get(k, 0) / total for k in range(1, cut + 1)]
        if pooled:
            shares.append(sum(v for k, v in counts.items() if k > cut) / total)
        mean_len = sum(k * c for k, c in counts.items()) / total
        ax.bar(np.arange(1, len(shares) + 1) + (i - (len(per) - 1) / 2) * width, shares, width,
               label=f"{pol} (mean {mean_len:.2f})", color=color(pol, POLICIES))  # fmt: skip
    ticks = list(range(1, cut + 1)) + ([cut + 1] if pooled else [])
    labels = [str(k) for k in range(1, cut + 1)] + ([f"{cut + 1}–{longest}"] if pooled else [])
    shown = sorted(set(range(0, len(ticks), max(1, len(ticks) // 16))) | {len(ticks) - 1})
    ax.set_xticks([ticks[i] for i in shown], [labels[i] for i in shown])
    ax.set_xlim(0.4, ticks[-1] + 0.6)
    pool_note = "; last bar: every longer batch" if pooled else ""
    ax.set_xlabel(f"draft batch length (tokens){pool_note}")
    ax.set_ylabel("fraction of batches")
    ax.set_title(f"Draft-length distribution per drafting algorithm ({variant}, all pairs, seeds)",
                 fontsize=10)  # fmt: skip
    ax.legend(fontsize=8, title="algorithm")
    fig.tight_layout()
    return save(fig, path)
