"""From a claim and a reading to simulator runs, and from their rows back to the claim's value.

A *reading* is a mapping ``param name -> value`` holding only the changes from the defaults.
Each (arm, cell) of a claim is one ``SimConfig``: the arm's system on its platform (the reading's
platform choice, else the system's default), with the reading's values set on that platform as
``platform_overrides``. Rows come from ``explore.sweep.evaluate_point`` through an executor and
are kept by the sweep cache key, in memory and, with an output folder, in a ``ResultCache``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ahasd.explore.executor import SerialExecutor
from ahasd.explore.invert.claims import AREA, DIE_MM2, Arm, Cell, Claim
from ahasd.explore.invert.readings import Param

Reading = Mapping[str, Any]
SERIAL_BELOW = 16  # batches smaller than this run in-process


def reading_key(reading: Reading) -> str:
    """A canonical string for a reading (dict keys sorted, values as JSON)."""
    return json.dumps(dict(sorted(reading.items())), sort_keys=True, default=str)


def platform_of(system: str, reading: Reading, params: Mapping[str, Param]) -> str:
    """The preset ``system`` runs on under ``reading``."""
    from ahasd.systems import SYSTEMS

    for name, value in reading.items():
        p = params[name]
        if p.is_platform and system in p.on:
            return str(value)
    return SYSTEMS.get(system).default_platform


def run_fields(
    claim: Claim, arm: Arm, cell: Cell, reading: Reading, params: Mapping[str, Param], seed: int
) -> dict[str, Any]:
    """The SimConfig fields of one side of one cell under ``reading``."""
    platform = platform_of(arm.system, reading, params)
    overrides = {
        params[n].key: v
        for n, v in sorted(reading.items())
        if not params[n].is_platform and platform in params[n].on
    }
    fields: dict[str, Any] = {
        "system": arm.system,
        "platform": platform,
        "draft": cell.draft,
        "target": cell.target,
        "policy": cell.policy,
        "tokens": claim.tokens,
        "seed": seed,
        **dict(arm.flags),
    }
    if cell.policy_args:
        fields["policy_args"] = dict(cell.policy_args)
    if cell.profile:
        fields["profile"] = cell.profile
    if overrides:
        fields["platform_overrides"] = overrides
    return fields


def claim_runs(claim: Claim, reading: Reading, params: Mapping[str, Param], seed: int):
    """Every (cell, [num fields, den fields?]) the claim needs under ``reading``."""
    return [
        (cell, [run_fields(claim, a, cell, reading, params, seed) for a in claim.arms])
        for cell in claim.cells
    ]


def affects(
    claim: Claim, name: str, value: Any, reading: Reading, params: Mapping[str, Param]
) -> bool:
    """Whether setting ``name`` to ``value`` (on top of ``reading``) changes one of the runs."""
    p = params[name]
    systems = {a.system for a in claim.arms}
    if p.is_platform:
        return bool(systems & set(p.on))
    return any(platform_of(s, {**reading, name: value}, params) in p.on for s in systems)


def prune(claims: Iterable[Claim], reading: Reading, params: Mapping[str, Param]) -> dict[str, Any]:
    """``reading`` without the parameters that change none of the claims' runs (e.g. a laptop
    GPU's link once the reading moves gpu-only to another platform)."""
    claims = list(claims)
    out = dict(reading)
    for name in sorted(out):
        rest = {k: v for k, v in out.items() if k != name}
        if not any(affects(c, name, out[name], rest, params) for c in claims):
            del out[name]
    return out


class RunStore:
    """Rows by sweep cache key; missing ones are computed in one executor batch per request."""

    def __init__(self, executor: Any, cache_dir: Path | None = None) -> None:
        self.executor = executor
        self.rows: dict[str, dict[str, Any]] = {}
        self._keys: dict[str, str] = {}
        self.cache = None
        self.computed = 0
        if cache_dir is not None:
            from ahasd.explore.cache import ResultCache

            self.cache = ResultCache(cache_dir)
            self.rows.update(self.cache.rows())

    def key(self, fields: Mapping[str, Any]) -> str:
        blob = json.dumps(fields, sort_keys=True, default=str)
        if blob not in self._keys:
            from ahasd.explore.points import point_key
            from ahasd.sim.config import SimConfig

            self._keys[blob] = point_key(SimConfig(**fields))
        return self._keys[blob]

    def ensure(self, runs: Iterable[Mapping[str, Any]], desc: str = "runs") -> None:
        """Simulate every run not yet known (runs sharing a platform go to one worker chunk)."""
        from ahasd.explore.sweep import evaluate_point

        unrun: dict[str, dict[str, Any]] = {}
        for fields in runs:
            k = self.key(fields)
            if k not in self.rows:
                unrun.setdefault(k, dict(fields))
        if not unrun:
            return
        items = sorted(unrun.items(), key=lambda kv: _locality(kv[1]))
        on_chunk = (lambda _s, rows: self.cache.add(rows)) if self.cache is not None else None
        # a handful of runs is cheaper here than a process pool's start-up (same rows either way)
        executor = SerialExecutor() if len(items) < SERIAL_BELOW else self.executor
        with _quiet():
            rows = executor.map(evaluate_point, items, desc=desc, on_chunk=on_chunk)
        for (k, _f), row in zip(items, rows, strict=True):
            self.rows[k] = row
        self.computed += len(items)

    def row(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return self.rows[self.key(fields)]


def _locality(fields: Mapping[str, Any]) -> tuple:
    """Sort key: runs on the same platform, then the same pair, sit next to each other."""
    return (
        fields["platform"],
        json.dumps(fields.get("platform_overrides", {}), sort_keys=True),
        fields["system"],
        fields["draft"],
        fields["target"],
        json.dumps(fields, sort_keys=True, default=str),
    )


@contextmanager
def _quiet():
    """The search draws one overall progress bar; the executor's per-batch bars stay off."""
    old = os.environ.get("AHASD_NO_PROGRESS")
    os.environ["AHASD_NO_PROGRESS"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("AHASD_NO_PROGRESS", None)
        else:
            os.environ["AHASD_NO_PROGRESS"] = old


def _metric(row: Mapping[str, Any], column: str, scale: float) -> float:
    value = row.get(column)
    if row.get("error") or value is None:
        return math.nan
    return float(value) * scale


def cell_value(claim: Claim, rows: Sequence[Mapping[str, Any]]) -> float:
    """The claim's quantity in one cell from its rows (num[, den])."""
    num = _metric(rows[0], claim.metric, claim.scale)
    if claim.den is not None:
        den = _metric(rows[1], claim.metric, claim.scale)
        a, b = (den, num) if claim.invert else (num, den)
        return a / b if b else math.nan
    if claim.den_metric:
        den = _metric(rows[0], claim.den_metric, claim.scale)
        return num / den if den else math.nan
    return num


def aggregate(claim: Claim, values: Sequence[float]) -> tuple[float, int]:
    """(aggregate, index of the cell it comes from for ``max``, else -1); NaN if any is NaN."""
    if not values or any(v != v or v <= 0 for v in values):
        return math.nan, -1
    if claim.agg == "max":
        i = max(range(len(values)), key=values.__getitem__)
        return values[i], i
    if claim.agg == "geomean":
        return math.exp(math.fsum(math.log(v) for v in values) / len(values)), -1
    return math.fsum(values) / len(values), -1


def area_pct() -> float:
    """AHASD's added area (explore/area.py, the paper's per-unit table) as % of the 50 mm² die."""
    from ahasd.explore.area import area_mm2
    from ahasd.sim.config import SimConfig

    return 100.0 * area_mm2(SimConfig(system="ahasd")) / DIE_MM2


def claim_value(
    claim: Claim, reading: Reading, params: Mapping[str, Param], seed: int, store: RunStore
) -> tuple[float, list[float]]:
    """(aggregate, per-cell values) of ``claim`` under ``reading``; its runs must be in store."""
    if claim.metric == AREA:
        v = area_pct()
        return v, [v]
    per_cell = [
        cell_value(claim, [store.row(f) for f in fields])
        for _cell, fields in claim_runs(claim, reading, params, seed)
    ]
    return aggregate(claim, per_cell)[0], per_cell
