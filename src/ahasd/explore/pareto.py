"""Objectives, Pareto fronts and the Pareto plot of ``ahasd explore``.

Objective names map to result columns and a direction; ``area`` is computed from the point's
platform (``area.py``). The plot is the one matplotlib use in this layer (imported lazily, Agg
backend), kept here so ``explore`` does not depend on ``report`` (imports point downward).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ahasd.errors import field_error
from ahasd.fileio import write_bytes


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
        elif name.startswith(("max:", "min:")) and len(name) > 4 and _known(name[4:]):
            out.append(Objective(name, name[4:], name.startswith("max:"), ""))
        else:
            raise field_error(
                "objectives",
                name,
                ", ".join(OBJECTIVES) + ", max:<column>, min:<column> with a result column "
                "(e.g. max:memory.utilisation, min:devices.npu.energy_j.static)",
            )
    if not out:
        raise field_error("objectives", text, "at least one objective")
    return out


# columns beyond Result's fields that rows carry (to_dict, analytic rows, the area model)
_EXTRA_COLUMNS = {"speedup_vs_ar", "area_mm2", "alpha", "gamma", "analytic_gamma"}


def _known(column: str) -> bool:
    """Whether a result row can have ``column``: a Result field, or a dotted path into one of
    its mappings (``devices.npu.utilisation``, ``memory.utilisation``, ``extras.events``)."""
    from dataclasses import fields

    from ahasd.sim.result import Result

    head = column.split(".", 1)[0]
    names = {f.name for f in fields(Result)} | _EXTRA_COLUMNS | {"cfg"}
    return head in names and ("." in column or head not in ("devices", "memory", "extras"))


def check_columns(rows: list[dict[str, Any]], objectives: list[Objective]) -> None:
    """Every objective must name a numeric result column (``max:typo`` is an empty front)."""
    ok = [r for r in rows if not r.get("error")]
    if not ok:
        return  # every point failed: the rows say why
    numeric = sorted({k for r in ok for k, v in r.items() if _is_number(v) and "." not in k})
    for obj in objectives:
        if not any(obj.column in r for r in ok):
            raise field_error(
                "objectives",
                obj.name,
                f"a numeric result column: {', '.join(numeric)}, or a dotted one (e.g. "
                "devices.npu.utilisation)",
            )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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
    """Scatter panels of objective pairs; the front highlighted; analytic points hollow.

    Two objectives give one panel. With three or more, each pair of the first three gets a
    panel, because a point can be on the front only through an objective a single 2-D view
    does not show (a red point under a grey one is not a bug). The front is always computed
    over every objective.
    """
    import itertools

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    vals = values(rows, objectives)
    k = min(len(objectives), 3)
    pairs = [(0, 0)] if k == 1 else list(itertools.combinations(range(k), 2))
    modes = np.array([str(r.get("mode", "event")) for r in rows])
    fig, axes = plt.subplots(1, len(pairs), figsize=(5.2 * len(pairs), 4.6), dpi=120)
    axes = np.atleast_1d(axes)
    for ax, (xi, yi) in zip(axes, pairs, strict=True):
        _panel(ax, vals, modes, front, objectives[xi], objectives[yi], xi, yi)
    names = ", ".join(o.name for o in objectives)
    note = "; hollow = analytic closed form (screening only)" if (modes == "analytic").any() else ""
    fig.suptitle(f"{title}\nPareto front over: {names}{note}", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return write_bytes(path, buf.getvalue())


def _panel(ax, vals, modes, front, x: Objective, y: Objective, xi: int, yi: int) -> None:
    """One scatter: dominated points grey and small, drawn first; the front red on top."""
    for on_front, color, label in ((False, "0.6", "dominated"), (True, "C3", "Pareto")):
        for mode, filled in (("event", True), ("analytic", False)):
            s = (modes == mode) & (front == on_front)
            if not s.any():
                continue
            ax.scatter(
                vals[s, xi],
                vals[s, yi],
                s=30 if on_front else 14,
                facecolors=color if filled else "none",
                edgecolors=color,
                zorder=3 if on_front else 2,
                label=f"{label} ({'event-simulated' if filled else 'analytic'})",
            )
    ax.set_xlabel(_axis_label(x))
    ax.set_ylabel(_axis_label(y))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)


def _axis_label(obj: Objective) -> str:
    unit = f" [{obj.unit}]" if obj.unit else ""
    better = "higher is better" if obj.maximize else "lower is better"
    return f"{obj.column}{unit} ({better})"
