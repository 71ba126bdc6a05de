"""Where each committed token's time goes, per system: verify, exposed draft, other, idle.

Measured on each system's timeline (one run per system, the matrix's middle pair): the wall time is
split by priority, so the parts add up to it exactly: *verify* while any verification (or
pre-verification) runs, *draft* while only drafting runs, *other* while only other work runs
(mode switches), *idle* while nothing runs. Drafting hidden under a verification is reported
beside it, as is memory contention (``Result.memory["contention_s"]``; "n/a" for systems without
a memory model).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ahasd.report.style import nth, plt, save
from ahasd.report.table import fmt, markdown_table

PARTS = ("verify", "draft", "other", "idle")


@dataclass(frozen=True, slots=True)
class Split:
    """Milliseconds per committed token of one run; ``contention_ms`` is None without a model."""

    system: str
    parts_ms: dict[str, float]  # PARTS, summing to wall_ms
    wall_ms: float
    hidden_draft_ms: float
    squashed_draft_ms: float
    contention_ms: float | None


def _kind(name: str) -> str:
    if "verify" in name:
        return "verify"
    return "draft" if name.startswith("draft") else "other"


def _covered(intervals: Iterable[tuple[float, float]]) -> float:
    """Length of the union of ``(start, end)`` intervals."""
    total, end = 0.0, -np.inf
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def split_run(system: str, result: Any) -> Split:
    """The per-token split of one ``Result`` recorded with its timeline."""
    by_kind: dict[str, list[tuple[float, float]]] = {"verify": [], "draft": [], "other": []}
    squashed = 0.0
    for s in result.timeline or ():
        by_kind[_kind(s.name)].append((s.start_s, s.end_s))
        squashed += s.duration_s if "squashed" in s.name else 0.0
    v = _covered(by_kind["verify"])
    vd = _covered(by_kind["verify"] + by_kind["draft"])
    every = _covered(by_kind["verify"] + by_kind["draft"] + by_kind["other"])
    wall = result.wall_s
    per = 1e3 / max(result.committed_tokens, 1)
    parts = {"verify": v, "draft": vd - v, "other": every - vd, "idle": max(wall - every, 0.0)}
    memory = result.to_dict().get("memory") or {}
    stalls = memory.get("contention_s")
    return Split(
        system=system,
        parts_ms={k: x * per for k, x in parts.items()},
        wall_ms=wall * per,
        hidden_draft_ms=max(_covered(by_kind["draft"]) - (vd - v), 0.0) * per,
        squashed_draft_ms=squashed * per,
        contention_ms=None if not stalls else sum(stalls.values()) * per,
    )


def run_splits(variants: Mapping[str, Mapping[str, Any]], base: Mapping[str, Any]) -> list[Split]:
    """Simulate ``base`` once per variant with its timeline recorded; one split per variant."""
    from ahasd.systems import simulate

    out = []
    for name, cfg in variants.items():
        res = simulate(**{**base, **cfg}, record_timeline=True)
        out.append(split_run(name, res))
    return out


def split_markdown(splits: Sequence[Split]) -> str:
    head = ["system", "wall ms/token", *(f"{p} ms" for p in PARTS), "draft hidden under verify ms",
            "squashed draft ms", "memory contention ms"]  # fmt: skip
    body = [
        [s.system, fmt(s.wall_ms, 1), *(fmt(s.parts_ms[p], 1) for p in PARTS),
         fmt(s.hidden_draft_ms, 1), fmt(s.squashed_draft_ms, 1),
         "n/a" if s.contention_ms is None else fmt(s.contention_ms, 2)]
        for s in splits
    ]  # fmt: skip
    return markdown_table(head, body)


def split_figure(splits: Sequence[Split], path: Path, *, title: str) -> Path:
    """Stacked horizontal bars, one per system: verify, exposed draft, other, idle (ms/token)."""
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(splits) + 1.8))
    y = np.arange(len(splits))
    left = np.zeros(len(splits))
    for i, part in enumerate(PARTS):
        vals = np.array([s.parts_ms[part] for s in splits])
        ax.barh(y, vals, left=left, color=nth(i if part != "idle" else 7), label=part,
                alpha=0.35 if part == "idle" else 1.0)  # fmt: skip
        left += vals
    ax.set_yticks(y, [s.system for s in splits])
    ax.invert_yaxis()
    ax.set_xlim(0, max(float(left.max()), 1e-9) * 1.03)
    ax.set_xlabel("milliseconds per committed token (draft: only while no verification runs)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, ncol=len(PARTS), loc="upper center", bbox_to_anchor=(0.5, -0.16),
              frameon=False)  # fmt: skip
    ax.grid(axis="x", color="0.9", lw=0.6)
    ax.set_axisbelow(True)
    fig.tight_layout()
    return save(fig, path)
