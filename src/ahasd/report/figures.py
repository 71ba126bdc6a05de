"""The reproduce report's figures (matplotlib, Agg backend), one function per figure.

Each takes result rows (``Result.to_row()`` plus ``pair`` and ``variant``) and a PNG path, draws
means over seeds with the spread as error bars, and writes the PNG atomically. Only this layer
imports matplotlib (docs/dev/contracts.md). Every figure has a title, axis labels with units and
a legend; ratios are drawn on a log axis with plain tick labels ("0.5×", "2×") when they span
more than 20x, so a 0.1x bar stays as visible as a 10x one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from ahasd.report import matrix
from ahasd.report.claims import ABLATION, CLAIMS
from ahasd.report.lengths import draft_length_hist, length_cut  # noqa: F401 (one place for all)
from ahasd.report.style import color, hatch, nth, plt, save
from ahasd.report.table import Row, cells, ordered, stat

# Colours and orders follow the matrix, so a variant added there gets its own colour everywhere
VARIANTS = tuple(matrix.VARIANTS)
POLICIES = matrix.POLICIES
DEVICES = ("gpu", "hbm-pim", "npu", "pim", "cpu", "host", "lpddr5")  # preferred column order


def _times(v: float, _pos: object = None) -> str:
    return f"{v:g}×"


def _plain(v: float, _pos: object = None) -> str:
    return f"{v:g}"


def _ratio_axis(axes: Sequence, values: Sequence[float], formatter=_times) -> None:
    """One y scale for all ``axes``: log with 1-2-5 ticks if the values span > 20x, else linear."""
    pos = [v for v in values if np.isfinite(v) and v > 0]
    if not pos:
        return
    lo, hi = min(pos), max(pos)
    for ax in axes:
        if hi > 20 * lo:
            ax.set_yscale("log")
            ax.set_ylim(lo / 1.6, hi * 1.6)
            ticks = [m * 10.0**e for e in range(-3, 6) for m in (1, 2, 5)]
            ax.yaxis.set_major_locator(FixedLocator([t for t in ticks if lo / 2 <= t <= hi * 2]))
            ax.yaxis.set_minor_locator(NullLocator())
        else:
            ax.set_ylim(0, hi * 1.12)
        ax.yaxis.set_major_formatter(FuncFormatter(formatter))
        ax.grid(axis="y", color="0.9", lw=0.6)
        ax.set_axisbelow(True)


Ceilings = Mapping[str, Sequence[tuple[str, float]]]  # pair -> (label, tokens/s) lines
_CEILING_STYLES = ("--", ":", "-.")


def _bars(rows, metric, path, *, title, ylabel, baseline, ceilings=None) -> Path:
    """Bars per pair (panel) × policy (group) × variant (bar); ratios to ``baseline`` if given."""
    stats = cells(rows, metric)
    pairs = ordered((k[0] for k in stats), ())
    policies = ordered((k[1] for k in stats), POLICIES)
    variants = ordered((k[2] for k in stats), VARIANTS)
    fig, axes = plt.subplots(
        1, len(pairs), figsize=(4.6 * len(pairs) + 0.6, 4.6), squeeze=False, sharey=True
    )
    width = 0.8 / max(len(variants), 1)
    drawn: list[float] = []
    for ax, pair in zip(axes[0], pairs, strict=True):
        x = np.arange(len(policies))
        for i, var in enumerate(variants):
            vals, errs = [], []
            for pol in policies:
                s = stats.get((pair, pol, var))
                b = stats.get((pair, pol, baseline)) if baseline else None
                den = (b.mean if b is not None and b.mean > 0 else np.nan) if baseline else 1.0
                vals.append(s.mean / den if s is not None else np.nan)
                errs.append(s.std / den if s is not None and np.isfinite(den) else 0.0)
            xs = x + (i - (len(variants) - 1) / 2) * width
            ax.bar(xs, vals, width, label=var, color=color(var, VARIANTS))
            if any(e > 0 for e in errs):
                ax.errorbar(xs, vals, yerr=errs, fmt="none", ecolor="k", elinewidth=0.7,
                            capsize=1.5)  # fmt: skip
            drawn += vals
        if baseline:
            ax.axhline(1.0, color="0.3", lw=0.8, ls="--")
        for j, (label, value) in enumerate((ceilings or {}).get(pair, ())):
            ax.axhline(value, color="0.15", lw=1.1, ls=_CEILING_STYLES[j % 3], label=label)
            drawn.append(value)
        ax.set_xticks(x, policies)
        ax.set_title(pair, fontsize=10)
        ax.set_xlabel("drafting algorithm")
    axes[0][0].set_ylabel(ylabel)
    _ratio_axis(axes[0], drawn, _times if baseline else _plain)
    handles, labels = axes[0][0].get_legend_handles_labels()
    ncol = min(len(labels), len(variants))
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.07 * (1 + (len(labels) > ncol)), 1, 1))
    return save(fig, path)


def relative_bars(
    rows: Sequence[Row],
    metric: str,
    path: Path,
    *,
    title: str,
    ylabel: str,
    baseline: str = "gpu-only",
) -> Path:
    """Bars per pair (panel) × policy (group) × variant (bar), relative to ``baseline``."""
    return _bars(rows, metric, path, title=title, ylabel=ylabel, baseline=baseline)


def absolute_bars(
    rows: Sequence[Row],
    metric: str,
    path: Path,
    *,
    title: str,
    ylabel: str,
    ceilings: Ceilings | None = None,
) -> Path:
    """The same bars in the metric's own unit, with per-pair ceilings drawn as lines."""
    return _bars(rows, metric, path, title=title, ylabel=ylabel, baseline=None, ceilings=ceilings)


def ablation_chain(rows: Sequence[Row], path: Path, baseline: str = "gpu-only") -> Path:
    """Mean throughput and tokens/J of the ablation steps relative to ``baseline``, with claims."""
    claimed = {(c.metric, c.num): c.claimed for c in CLAIMS if c.label.startswith("ablation")}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    x = np.arange(len(ABLATION))
    panels = (("throughput_tok_s", "throughput"), ("tokens_per_joule", "tokens per joule"))
    for j, (ax, (metric, label)) in enumerate(zip(axes, panels, strict=True)):
        stats = cells(rows, metric)
        ours = []
        for var in ABLATION:
            r = [
                s.mean / stats[(p, q, baseline)].mean
                for (p, q, v), s in stats.items()
                if v == var and (p, q, baseline) in stats and stats[(p, q, baseline)].mean > 0
            ]
            ours.append(stat(r))
        means = [s.mean for s in ours]
        ax.bar(x, means, 0.6, yerr=[s.std for s in ours], color=nth(3 * j), capsize=3)
        for xi, m in zip(x, means, strict=True):
            if np.isfinite(m):
                ax.annotate(f"{m:.2f}×", (xi, m), xytext=(-14, 3), textcoords="offset points",
                            ha="right", fontsize=8)  # fmt: skip
        paper = [claimed.get((metric, v), np.nan) for v in ABLATION]
        ax.scatter(x, paper, marker="_", s=900, linewidths=2.5, color="k", zorder=3)
        ax.axhline(1.0, color="0.3", lw=0.8, ls="--")
        ax.set_xticks(x, ABLATION)
        ax.set_xlabel("ablation step")
        ax.set_ylabel(f"{label} / {baseline}")
        ax.yaxis.set_major_formatter(FuncFormatter(_times))
        top = max([v for v in [*paper, *(s.mean + s.std for s in ours)] if np.isfinite(v)] or [1])
        ax.set_ylim(0, top * 1.15)
        ax.set_title(f"{label.capitalize()} relative to {baseline}", fontsize=10)
    fig.legend(
        [plt.Rectangle((0, 0), 1, 1, color="0.5"), plt.Line2D([], [], color="k", lw=2.5)],
        ["ours: mean ± std over (pair, algorithm) cells", "paper ([ahasd26] §6.1)"],
        loc="lower center", ncol=2, fontsize=8, frameon=False,
    )  # fmt: skip
    fig.suptitle("Ablation chain: task-level async → +AAU → +EDC → +TVC (= AHASD), mean over "
                 "pairs × algorithms")  # fmt: skip
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return save(fig, path)


def _device_columns(rows: Sequence[Row], suffix: str) -> list[str]:
    cols = {k for r in rows for k in r if k.startswith("devices.") and k.endswith(suffix)}
    return sorted(cols)


def utilisation(rows: Sequence[Row], path: Path) -> Path:
    """Busy share of wall time per system × device as an annotated grid (idle = the rest)."""
    variants = ordered((str(r["variant"]) for r in rows), VARIANTS)
    cols = _device_columns(rows, ".utilisation")
    devices = ordered((c.split(".")[1] for c in cols), DEVICES) or ["(no device columns)"]
    grid = np.full((len(variants), len(devices)), np.nan)
    for vi, var in enumerate(variants):
        for di, dev in enumerate(devices):
            col = f"devices.{dev}.utilisation"
            vals = [float(r[col]) for r in rows if r["variant"] == var and r.get(col) is not None]
            if vals:
                grid[vi, di] = stat(vals).mean
    fig, ax = plt.subplots(figsize=(1.25 * len(devices) + 3.2, 0.5 * len(variants) + 1.6))
    im = ax.imshow(np.ma.masked_invalid(grid), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_facecolor("0.93")
    for (vi, di), v in np.ndenumerate(grid):
        text = "—" if np.isnan(v) else f"{100 * v:.0f} %"
        ax.text(di, vi, text, ha="center", va="center", fontsize=8,
                color="white" if np.isfinite(v) and v > 0.6 else "black")  # fmt: skip
    ax.set_xticks(range(len(devices)), devices)
    ax.set_yticks(range(len(variants)), variants)
    ax.set_xlabel("device (— = not part of that system's platform)")
    ax.set_ylabel("system")
    fig.colorbar(im, ax=ax, label="busy fraction of wall time (idle = 1 − busy)")
    ax.set_title("Device utilisation: busy % of wall time, mean over pairs × algorithms × seeds",
                 fontsize=10)  # fmt: skip
    fig.tight_layout()
    return save(fig, path)


def energy_breakdown(rows: Sequence[Row], path: Path) -> Path:
    """Energy per committed token by component, per pair (panel) and system (stacked bar)."""
    pairs = ordered((str(r["pair"]) for r in rows), ())
    variants = ordered((str(r["variant"]) for r in rows), VARIANTS)
    comps = [
        c
        for c in sorted({k for r in rows for k in r if k.startswith("energy_by_component.")})
        if any(float(r.get(c) or 0.0) > 0 for r in rows)
    ]
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.6 * len(pairs) + 0.6, 4.6), squeeze=False)
    for ax, pair in zip(axes[0], pairs, strict=True):
        bottom = np.zeros(len(variants))
        for i, col in enumerate(comps):
            vals = []
            for var in variants:
                per = [
                    float(r.get(col) or 0.0) / max(int(r["committed_tokens"]), 1) * 1e3
                    for r in rows
                    if r["variant"] == var and r["pair"] == pair
                ]
                vals.append(stat(per).mean if per else 0.0)
            ax.bar(variants, vals, bottom=bottom, label=col.split(".", 1)[1], color=nth(i),
                   hatch=hatch(i))  # fmt: skip
            bottom += np.array(vals)
        ax.set_ylim(0, max(bottom.max(), 1e-9) * 1.08)
        ax.set_title(pair, fontsize=10)
        ax.tick_params(axis="x", rotation=35, labelsize=8)
        for lbl in ax.get_xticklabels():
            lbl.set_horizontalalignment("right")
        ax.grid(axis="y", color="0.9", lw=0.6)
        ax.set_axisbelow(True)
    axes[0][0].set_ylabel("energy per committed token (mJ)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="center right", fontsize=8, title="component")
    fig.suptitle("Energy per committed token by component (mean over algorithms × seeds)")
    fig.tight_layout(rect=(0, 0, 0.9, 1))
    return save(fig, path)


def gantt(spans: Sequence, path: Path, *, title: str, window_s: float | None = None) -> Path:
    """An excerpt of a run's timeline: one row per (device, track), boxes coloured by task."""
    spans = sorted(spans, key=lambda s: (s.start_s, s.task_id))
    if window_s is not None and spans:
        t0 = spans[0].start_s
        spans = [s for s in spans if s.start_s < t0 + window_s]
    lanes = ordered((f"{s.device}/{s.track}" for s in spans), ())
    kinds = ordered((s.name for s in spans), ("draft", "verify", "pre-verify", "switch"))
    fig, ax = plt.subplots(figsize=(11, 0.6 * max(len(lanes), 2) + 1.6))
    for kind in kinds:
        for lane_i, lane in enumerate(lanes):
            bars = [
                (s.start_s * 1e3, (s.end_s - s.start_s) * 1e3)
                for s in spans
                if s.name == kind and f"{s.device}/{s.track}" == lane
            ]
            if bars:
                ax.broken_barh(bars, (lane_i - 0.4, 0.8), facecolor=color(kind, kinds),
                               edgecolor="white", linewidth=0.8)  # fmt: skip
    handles = [plt.Rectangle((0, 0), 1, 1, color=color(k, kinds)) for k in kinds]
    ax.legend(handles, kinds, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              title="task")  # fmt: skip
    ax.set_yticks(range(len(lanes)), lanes)
    ax.set_ylabel("device / engine")
    if window_s is not None and spans:
        ax.set_xlim(spans[0].start_s * 1e3, (spans[0].start_s + window_s) * 1e3)
    ax.set_xlabel("time since the first task (ms)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save(fig, path)
