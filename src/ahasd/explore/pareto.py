"""Objectives, Pareto fronts and the Pareto plot of ``ahasd explore``.

Objective names map to result columns and a direction; ``area`` is computed from the point's
platform (``area.py``). The plot is the one matplotlib use in this layer (imported lazily, Agg
backend), kept here so ``explore`` does not depend on ``report`` (imports point downward).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ahasd.errors import field_error


@dataclass(frozen=True, slots=True)
class Objective:
    name: str
    column: str
    maximize: bool
    unit: str


OBJECTIVES = {
    "throughput": Objective("throughput", "throughput_tok_s", True, "tokens/s"),
    "tokens_per_joule": Objective("tokens_per_joule", "tokens_per_joule", True, "tokens/J"),
    "edp": Objective("edp", "edp_per_token", False, "s·J per token²"),
    "energy": Objective("energy", "energy_j", False, "J"),
    "wall": Objective("wall", "wall_s", False, "s"),
    "area": Objective("area", "area_mm2", False, "mm²"),
}


def parse_objectives(text: str | list[str]) -> list[Objective]:
    """``"throughput,tokens_per_joule,area"`` → objectives; ``max:col`` / ``min:col`` for others."""
    names = [t.strip() for t in (text.split(",") if isinstance(text, str) else text) if t.strip()]
    out: list[Objective] = []
    for name in names:
        if name in OBJECTIVES:
            out.append(OBJECTIVES[name])
        elif name.startswith(("max:", "min:")) and len(name) > 4:
            out.append(Objective(name, name[4:], name.startswith("max:"), ""))
        else:
            raise field_error(
                "objectives", name, ", ".join(OBJECTIVES) + ", max:<column>, min:<column>"
            )
    if not out:
        raise field_error("objectives", text, "at least one objective")
    return out


def values(rows: list[dict[str, Any]], objectives: list[Objective]) -> np.ndarray:
    """(rows × objectives) array; NaN where a row failed or lacks the column."""
    arr = np.full((len(rows), len(objectives)), np.nan)
    for i, row in enumerate(rows):
        for j, obj in enumerate(objectives):
            v = row.get(obj.column)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                arr[i, j] = float(v)
    return arr


def pareto_mask(vals: np.ndarray, maximize: list[bool]) -> np.ndarray:
    """True for rows no other row dominates (all objectives at least as good, one better)."""
    sign = np.where(np.asarray(maximize), -1.0, 1.0)  # minimise everything
    v = vals * sign
    ok = ~np.isnan(v).any(axis=1)
    mask = np.zeros(len(v), dtype=bool)
    idx = np.flatnonzero(ok)
    sub = v[idx]
    for k, i in enumerate(idx):
        le = (sub <= sub[k]).all(axis=1)
        lt = (sub < sub[k]).any(axis=1)
        mask[i] = not (le & lt).any()
    return mask


def plot_pareto(
    rows: list[dict[str, Any]],
    objectives: list[Objective],
    front: np.ndarray,
    path: Path,
    *,
    title: str,
) -> Path:
    """Scatter of the first two objectives; the front highlighted; analytic points hollow."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    vals = values(rows, objectives)
    x, y = objectives[0], objectives[1] if len(objectives) > 1 else objectives[0]
    xi, yi = 0, 1 if len(objectives) > 1 else 0
    modes = np.array([str(r.get("mode", "event")) for r in rows])
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    for mode, filled in (("event", True), ("analytic", False)):
        sel = modes == mode
        for on_front, color, label in ((False, "0.6", "dominated"), (True, "C3", "Pareto")):
            s = sel & (front == on_front)
            if not s.any():
                continue
            ax.scatter(
                vals[s, xi],
                vals[s, yi],
                s=28 if on_front else 14,
                facecolors=color if filled else "none",
                edgecolors=color,
                label=f"{label} ({'event-simulated' if filled else 'analytic'})",
            )
    ax.set_xlabel(f"{x.column} [{x.unit}] ({'max' if x.maximize else 'min'})")
    ax.set_ylabel(f"{y.column} [{y.unit}] ({'max' if y.maximize else 'min'})")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
