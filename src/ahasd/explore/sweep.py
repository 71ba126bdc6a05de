"""``ahasd sweep``: evaluate every point of a spec through an executor, with a resumable cache.

Points are validated up front (``points.build_points``); the ones whose hash is already in the
cache are skipped; the rest go through ``Executor.map`` and each finished chunk becomes a cache
part at once. The final ``results.parquet`` holds one row per point, in spec order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ahasd.errors import AhasdError, one_line
from ahasd.explore.cache import HASH, ResultCache
from ahasd.explore.evaluate import evaluate
from ahasd.explore.executor import Executor
from ahasd.explore.points import Point, build_points
from ahasd.explore.spec import SweepSpec
from ahasd.outputs import OUT_ROOT

MODE_EVENT = "event"  # the event simulator (Result.to_row)
MODE_ANALYTIC = "analytic"  # the analytic model (explore/analytic.py), for screening only


@dataclass(frozen=True)
class SweepOutcome:
    """What a sweep did: every row (spec order), how many came from the cache, where it wrote."""

    rows: list[dict[str, Any]]
    points: list[Point]
    cached: int
    computed: int
    out_dir: Path
    results_path: Path


def evaluate_point(item: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """Worker body: (hash, config fields) → a labelled row; bad input becomes an error row.

    Only ``AhasdError`` (a design point the model rejects, e.g. models that fit nowhere) is
    recorded; any other exception is a bug and stops the sweep loudly.
    """
    point_hash, fields = item
    try:
        row = evaluate(fields)
        row["error"] = None
    except AhasdError as exc:
        row = {"error": one_line(exc)}
    return {HASH: point_hash, "mode": MODE_EVENT, **row}


def default_out_dir(spec: SweepSpec, points: list[Point]) -> Path:
    """Derived from the content, never the clock (so reruns find their cache)."""
    import hashlib

    digest = hashlib.sha256("".join(p.hash for p in points).encode()).hexdigest()[:12]
    return OUT_ROOT / "sweeps" / f"{spec.name}-{digest}"


def run_sweep(
    spec: SweepSpec,
    *,
    executor: Executor,
    out_dir: str | Path | None = None,
    points: list[Point] | None = None,
    rebuild: bool = False,
) -> SweepOutcome:
    """Run (or resume) a sweep and write ``results.parquet``; returns every row in spec order.

    ``rebuild`` empties the cache first (its own files only), for a damaged one.
    """
    if spec.mode == MODE_ANALYTIC:
        from ahasd.explore.analytic import evaluate_analytic_rows

        pts = points or build_points(spec)
        rows = evaluate_analytic_rows([p.config for p in pts], hashes=[p.hash for p in pts])
        return _finish(spec, pts, rows, out_dir, cached=0, rebuild=rebuild)
    pts = points or build_points(spec)
    out = Path(out_dir) if out_dir is not None else default_out_dir(spec, pts)
    with ResultCache(out, rebuild=rebuild) as cache:
        done = cache.hashes()
        unrun = [p for p in pts if p.hash not in done]
        items = [(p.hash, p.config.model_dump(mode="json")) for p in unrun]
        executor.map(
            evaluate_point,
            items,
            desc=f"{spec.name} ({len(done & {p.hash for p in pts})} cached)",
            on_chunk=lambda _start, rows: cache.add(rows),
            chunk_size=spec.batch,
        )
        by_hash = cache.rows()
        rows = [_with_point(by_hash[p.hash], p) for p in pts]
        path = cache.write_results(rows)
    return SweepOutcome(rows, pts, len(pts) - len(unrun), len(unrun), out, path)


def _with_point(row: dict[str, Any], point: Point) -> dict[str, Any]:
    """Add the spec position and the axis values (``axis.<path>``) next to the result."""
    return {"point_index": point.index, **axis_columns(point), **row}


def axis_columns(point: Point) -> dict[str, Any]:
    """``axis.<path>`` → the point's value on that axis (non-scalars as JSON text)."""
    return {f"axis.{k}": _scalar(v) for k, v in point.assignment.items()}


def _scalar(value: Any) -> Any:
    import json

    return (
        value if isinstance(value, (int, float, str, bool)) or value is None else json.dumps(value)
    )


def _finish(spec, pts, rows, out_dir, *, cached: int, rebuild: bool) -> SweepOutcome:
    out = Path(out_dir) if out_dir is not None else default_out_dir(spec, pts)
    rows = [_with_point(r, p) for r, p in zip(rows, pts, strict=True)]
    with ResultCache(out, rebuild=rebuild) as cache:
        path = cache.write_results(rows)
    return SweepOutcome(rows, pts, cached, len(pts) - cached, out, path)
