"""The reproduce report's figures (matplotlib, Agg backend), one function per figure.

Each takes result rows (``Result.to_row()`` plus ``pair`` and ``variant``) and a PNG path, draws
means over seeds with the spread as error bars, and writes the PNG atomically. Only this layer
imports matplotlib (docs/dev/contracts.md).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ahasd.report.atomic import write_bytes  # noqa: E402
from ahasd.report.claims import ABLATION, CLAIMS  # noqa: E402
from ahasd.report.table import Row, cells, ordered, stat  # noqa: E402

VARIANTS = (
    "gpu-only",
    "specpim",
    "npu-only",
    "npu-pim-sync",
    "npu-pim-async",
    "+aau",
    "+edc",
    "ahasd",
)
POLICIES = ("specdec-pp", "svip", "adaedl", "banditspec")
_DPI = 100


def _color(name: str, names: Sequence[str]) -> tuple[float, ...]:
    return plt.get_cmap("tab10")(list(names).index(name) % 10)


def _save(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return write_bytes(Path(path), buf.getvalue())


def relative_bars(
    rows: Sequence[Row],
    metric: str,
    path: Path,
    *,
    title: str,
    ylabel: str,
    baseline: str = "gpu-only",
) -> Path:
    """Bars per pair (subplot) × policy (group) × variant (bar), relative to ``baseline``."""
    stats = cells(rows, metric)
    pairs = ordered((k[0] for k in stats), ())
    policies = ordered((k[1] for k in stats), POLICIES)
    variants = ordered((k[2] for k in stats), VARIANTS)
    fig, axes = plt.subplots(1, len(pairs), figsize=(5.2 * len(pairs), 4.2), squeeze=False)
    width = 0.8 / max(len(variants), 1)
    for ax, pair in zip(axes[0], pairs, strict=True):
        x = np.arange(len(policies))
        for i, var in enumerate(variants):
            vals, errs = [], []
            for pol in policies:
                s, b = stats.get((pair, pol, var)), stats.get((pair, pol, baseline))
                ok = s is not None and b is not None and b.mean > 0
                vals.append(s.mean / b.mean if ok else np.nan)
                errs.append(s.std / b.mean if ok else 0.0)
            ax.bar(
                x + (i - (len(variants) - 1) / 2) * width,
                vals,
                width,
                yerr=errs,
                label=var,
                color=_color(var, VARIANTS),
                capsize=1.5,
            )
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        _maybe_log(ax)
        ax.set_xticks(x, policies, rotation=15)
        ax.set_title(pair, fontsize=10)
        ax.set_ylabel(ylabel)
    axes[0][-1].legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(title)
    return _save(fig, path)


def _maybe_log(ax) -> None:
    """Log y axis when the bars span more than 20x, so small ratios stay visible."""
    heights = [p.get_height() for p in ax.patches if np.isfinite(p.get_height())]
    positive = [h for h in heights if h > 0]
    if positive and max(positive) > 20 * min(positive):
        ax.set_yscale("log")


def ablation_chain(rows: Sequence[Row], path: Path, baseline: str = "gpu-only") -> Path:
    """Mean throughput and tokens/J of the ablation steps relative to ``baseline``, with claims."""
    claimed = {(c.metric, c.num): c.claimed for c in CLAIMS if c.label.startswith("ablation")}
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    x = np.arange(len(ABLATION))
    for j, (metric, label) in enumerate(
        (("throughput_tok_s", "throughput"), ("tokens_per_joule", "tokens/J"))
    ):
        stats = cells(rows, metric)
        ours = []
        for var in ABLATION:
            r = [
                s.mean / stats[(p, q, baseline)].mean
                for (p, q, v), s in stats.items()
                if v == var and (p, q, baseline) in stats and stats[(p, q, baseline)].mean > 0
            ]
            ours.append(stat(r))
        ax.bar(
            x + (j - 0.5) * 0.38,
            [s.mean for s in ours],
            0.38,
            yerr=[s.std for s in ours],
            label=f"ours: {label}",
            color=f"C{j}",
            capsize=3,
        )
        paper = [claimed.get((metric, v), np.nan) for v in ABLATION]
        ax.scatter(
            x + (j - 0.5) * 0.38,
            paper,
            marker="_",
            s=400,
            color="k",
            zorder=3,
            label="paper (§6.1)" if j == 0 else None,
        )
    ax.set_xticks(x, ABLATION)
    ax.set_ylabel(f"× {baseline} (mean over pairs × policies)")
    ax.set_title("Ablation chain: task-level async → +AAU → +EDC → +TVC (AHASD)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def _device_columns(rows: Sequence[Row], suffix: str) -> list[str]:
    cols = {k for r in rows for k in r if k.startswith("devices.") and k.endswith(suffix)}
    return sorted(cols)


def utilisation(rows: Sequence[Row], path: Path) -> Path:
    """Busy and idle fraction of each system's own devices (mean over all cells and seeds)."""
    variants = ordered((str(r["variant"]) for r in rows), VARIANTS)
    cols = _device_columns(rows, ".utilisation")
    devices = [c.split(".")[1] for c in cols]
    fig, ax = plt.subplots(figsize=(10, 4.4))
    width, seen = 0.8 / 4, set()
    for x, var in enumerate(variants):
        busy = {}
        for dev, col in zip(devices, cols, strict=True):
            vals = [float(r[col]) for r in rows if r["variant"] == var and r.get(col) is not None]
            if vals:
                busy[dev] = stat(vals).mean
        for i, (dev, b) in enumerate(busy.items()):
            pos = x + (i - (len(busy) - 1) / 2) * width
            color = _color(dev, devices)
            label = None if dev in seen else dev
            seen.add(dev)
            ax.bar(pos, b, width, color=color, label=label)
            ax.bar(pos, 1 - b, width, bottom=b, color=color, alpha=0.2, hatch="//")
    ax.set_xticks(range(len(variants)), variants, rotation=20)
    ax.set_ylabel("fraction of wall time")
    ax.set_ylim(0, 1.05)
    ax.set_title("Device utilisation: busy (solid) and idle (hatched), mean over cells")
    ax.legend(fontsize=8, title="device", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, path)


def energy_breakdown(rows: Sequence[Row], path: Path) -> Path:
    """Energy per committed token by component per system (mJ/token, mean over cells)."""
    variants = ordered((str(r["variant"]) for r in rows), VARIANTS)
    comps = sorted({k for r in rows for k in r if k.startswith("energy_by_component.")})
    fig, ax = plt.subplots(figsize=(9, 4.2))
    bottom = np.zeros(len(variants))
    for i, col in enumerate(comps):
        vals = []
        for var in variants:
            per = [
                float(r.get(col) or 0.0) / max(int(r["committed_tokens"]), 1) * 1e3
                for r in rows
                if r["variant"] == var
            ]
            vals.append(stat(per).mean if per else 0.0)
        ax.bar(variants, vals, bottom=bottom, label=col.split(".", 1)[1], color=f"C{i % 10}")
        bottom += np.array(vals)
    ax.set_ylabel("energy per token (mJ)")
    ax.set_yscale("log" if bottom.max() > 20 * max(bottom.min(), 1e-12) else "linear")
    ax.set_title("Energy breakdown per committed token, mean over cells")
    ax.tick_params(axis="x", rotation=20)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, path)


def draft_length_hist(rows: Sequence[Row], path: Path, variant: str = "ahasd") -> Path:
    """Distribution of draft batch lengths per policy for ``variant`` (all pairs and seeds)."""
    policies = ordered((str(r["cfg.policy"]) for r in rows), POLICIES)
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    width = 0.8 / max(len(policies), 1)
    for i, pol in enumerate(policies):
        counts: dict[int, int] = {}
        for r in rows:
            if r["variant"] == variant and r["cfg.policy"] == pol and r.get("draft_len_hist"):
                for k, v in json.loads(str(r["draft_len_hist"])).items():
                    counts[int(k)] = counts.get(int(k), 0) + int(v)
        total = sum(counts.values())
        if not total:
            continue
        ks = np.array(sorted(counts))
        ax.bar(
            ks + (i - (len(policies) - 1) / 2) * width,
            [counts[k] / total for k in ks],
            width,
            label=pol,
            color=_color(pol, POLICIES),
        )
    ax.set_xlabel("draft batch length (tokens)")
    ax.set_ylabel("fraction of batches")
    ax.set_title(f"Draft-length distribution per drafting algorithm ({variant})")
    ax.legend(fontsize=8)
    return _save(fig, path)


def gantt(spans: Sequence, path: Path, *, title: str, window_s: float | None = None) -> Path:
    """An excerpt of a run's timeline: one row per (device, track), boxes coloured by task."""
    spans = sorted(spans, key=lambda s: (s.start_s, s.task_id))
    if window_s is not None and spans:
        t0 = spans[0].start_s
        spans = [s for s in spans if s.start_s < t0 + window_s]
    lanes = ordered((f"{s.device}/{s.track}" for s in spans), ())
    kinds = ordered((s.name for s in spans), ("draft", "verify", "pre-verify", "switch"))
    fig, ax = plt.subplots(figsize=(10, 0.6 * max(len(lanes), 2) + 1.4))
    for kind in kinds:
        for lane_i, lane in enumerate(lanes):
            bars = [
                (s.start_s * 1e3, (s.end_s - s.start_s) * 1e3)
                for s in spans
                if s.name == kind and f"{s.device}/{s.track}" == lane
            ]
            if bars:
                ax.broken_barh(bars, (lane_i - 0.4, 0.8), color=_color(kind, kinds))
    handles = [plt.Rectangle((0, 0), 1, 1, color=_color(k, kinds)) for k in kinds]
    ax.legend(handles, kinds, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_yticks(range(len(lanes)), lanes)
    if window_s is not None and spans:
        ax.set_xlim(spans[0].start_s * 1e3, (spans[0].start_s + window_s) * 1e3)
    ax.set_xlabel("time (ms)")
    ax.set_title(title)
    return _save(fig, path)
