"""``ahasd explore``: multi-objective search (optuna NSGA-II) over a spec's axes.

Optuna (the ``[search]`` extra) is driven with ask/tell one generation at a time, so every
generation's points run in parallel through the executor and land in the same result cache as
sweeps (a rerun replays finished points for free). With ``mode: analytic`` the search screens on
the analytic model and the final Pareto points are then event-simulated, each row labelled by
``mode`` and each confirmation carrying how far the two differed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ahasd.errors import AhasdError
from ahasd.explore.cache import EXPLORE_RESULTS, HASH, PARETO_PLOT, ResultCache
from ahasd.explore.executor import Executor
from ahasd.explore.pareto import Objective, check_columns, pareto_mask, plot_pareto, values
from ahasd.explore.points import Point, make_point, prepare
from ahasd.explore.spec import RangeAxis, SweepSpec
from ahasd.explore.sweep import MODE_ANALYTIC, axis_columns, evaluate_point
from ahasd.validation import check_count


@dataclass(frozen=True)
class SearchOutcome:
    rows: list[dict[str, Any]]  # every evaluated trial (and event confirmations), in order
    front: np.ndarray  # bool mask over rows
    objectives: list[Objective]
    out_dir: Path
    plot_path: Path
    results_path: Path


def _optuna():
    try:
        import optuna
    except ImportError as exc:
        raise AhasdError("explore: needs the [search] extra (pip install 'ahasd[search]')") from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _suggest(trial: Any, spec: SweepSpec) -> dict[str, Any]:
    """One value per axis: lists are categorical (by index, so any value type works)."""
    out: dict[str, Any] = {}
    for path, axis in spec.axes.items():
        if isinstance(axis, RangeAxis):
            if axis.integer:
                out[path] = trial.suggest_int(path, int(axis.low), int(axis.high), log=axis.log)
            else:
                out[path] = trial.suggest_float(path, axis.low, axis.high, log=axis.log)
        else:
            i = trial.suggest_categorical(path, list(range(len(axis))))
            out[path] = axis[i]
    return out


def _evaluate(
    points: list[Point], spec: SweepSpec, executor: Executor, cache: ResultCache, desc: str = ""
):
    """Rows for ``points`` (cache first), in order; analytic points are not cached."""
    if spec.mode == MODE_ANALYTIC:
        from ahasd.explore.analytic import evaluate_analytic_rows

        return evaluate_analytic_rows([p.config for p in points], hashes=[p.hash for p in points])
    done = cache.hashes()
    unrun = {p.hash: p for p in points if p.hash not in done}
    items = [(h, p.config.model_dump(mode="json")) for h, p in unrun.items()]
    executor.map(
        evaluate_point,
        items,
        desc=desc or "trials",
        chunk_size=max(1, spec.batch // 4),
        on_chunk=lambda _s, rows: cache.add(rows),
    )
    by_hash = cache.rows()
    return [dict(by_hash[p.hash]) for p in points]


MAX_TRIALS = 100_000
MAX_POPULATION = 10_000


def run_search(
    spec: SweepSpec,
    *,
    objectives: list[Objective],
    trials: int,
    executor: Executor,
    out_dir: str | Path,
    population: int | None = None,
    confirm: int = 8,
    rebuild: bool = False,
) -> SearchOutcome:
    """NSGA-II over the spec's axes; returns every trial, the Pareto mask and the plot."""
    check_count("trials", trials, 1, MAX_TRIALS)
    if population is not None:  # NSGA-II breeds pairs: a population of one cannot cross over
        check_count("population", population, 2, MAX_POPULATION)
    check_count("confirm", confirm, 0, MAX_TRIALS)
    optuna = _optuna()
    if not spec.axes:
        raise AhasdError("axes: explore needs at least one axis to search over")
    base, checks = prepare(spec)
    pop = population or max(4, min(32, trials // 4))
    sampler = optuna.samplers.NSGAIISampler(population_size=pop, seed=spec.seed)
    study = optuna.create_study(
        directions=["maximize" if o.maximize else "minimize" for o in objectives], sampler=sampler
    )
    out = Path(out_dir)
    rows: list[dict[str, Any]] = []
    with ResultCache(out, rebuild=rebuild) as cache:
        while len(rows) < trials:
            asked = [study.ask() for _ in range(min(pop, trials - len(rows)))]
            points = [
                make_point(base, _suggest(t, spec), len(rows) + i, checks)
                for i, t in enumerate(asked)
            ]
            desc = f"trials {len(rows) + 1}-{len(rows) + len(points)} of {trials}"
            batch = _with_area(_evaluate(points, spec, executor, cache, desc), points, objectives)
            if not rows:
                check_columns(batch, objectives)
            vals = values(batch, objectives)
            for t, p, row, v in zip(asked, points, batch, vals, strict=True):
                _label(row, t.number, p)
                if np.isnan(v).any():
                    study.tell(t, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(t, [float(x) for x in v])
                rows.append(row)
        front = _front(rows, objectives)
        if spec.mode == MODE_ANALYTIC and confirm > 0:
            rows, front = _confirm(rows, front, spec, base, objectives, executor, cache, confirm)
        results = cache.write_results(rows, EXPLORE_RESULTS)
        plot = plot_pareto(
            rows,
            objectives,
            front,
            out / PARETO_PLOT,
            title=f"{spec.name}: {len(rows)} points, {int(front.sum())} on the front",
        )
    return SearchOutcome(rows, front, objectives, out, plot, results)


def _front(rows: list[dict[str, Any]], objectives: list[Objective]) -> np.ndarray:
    """Pareto mask over the first occurrence of each design (NSGA-II may ask one twice)."""
    first: dict[str, int] = {}
    for i, row in enumerate(rows):
        first.setdefault(row[HASH], i)
    idx = np.array(sorted(first.values()), dtype=np.int64)
    mask = np.zeros(len(rows), dtype=bool)
    if idx.size:
        sub = pareto_mask(
            values([rows[i] for i in idx], objectives), [o.maximize for o in objectives]
        )
        mask[idx] = sub
    return mask


COMPARED = ("throughput_tok_s", "tokens_per_joule")  # always compared when confirming


def _confirm(rows, front, spec, base, objectives, executor, cache, k):
    """Event-simulate up to ``k`` analytic Pareto points; add them as ``mode = event`` rows.

    Each event row names the analytic row it confirms (``confirms``: its trial) and carries
    ``analytic.<metric>`` and ``event_vs_analytic.<metric>`` (event / analytic - 1) for the
    objectives and throughput and tokens/J; the analytic row gets ``confirmed = True``.
    """
    idx = np.flatnonzero(front)[:k]
    axes = {p: a for p, a in spec.axes.items()}
    points = []
    for n, i in enumerate(idx):
        assignment = {p: rows[i][f"axis.{p}"] for p in axes}
        assignment = {
            p: (json.loads(v) if isinstance(v, str) and v[:1] in "[{" else v)
            for p, v in assignment.items()
        }
        points.append(make_point(base, assignment, len(rows) + n))
    event_spec = spec.model_copy(update={"mode": "event"})
    confirmed = _with_area(_evaluate(points, event_spec, executor, cache), points, objectives)
    metrics = list(dict.fromkeys([*COMPARED, *(o.column for o in objectives)]))
    for p, row, i in zip(points, confirmed, idx, strict=True):
        _label(row, rows[i]["trial"], p)
        row["confirms"] = rows[i]["trial"]
        for m in metrics:
            a, e = rows[i].get(m), row.get(m)
            row[f"analytic.{m}"] = a
            ok = isinstance(a, (int, float)) and isinstance(e, (int, float)) and a
            row[f"event_vs_analytic.{m}"] = e / a - 1.0 if ok else None
        rows[i]["confirmed"] = True
    all_rows = rows + confirmed
    front_all = np.concatenate([front, np.zeros(len(confirmed), dtype=bool)])
    ev = np.array([r.get("mode") == "event" for r in all_rows])
    if ev.any():  # the event rows get their own front (analytic and event are not mixed)
        ev_idx = np.flatnonzero(ev)
        front_all[ev_idx] = _front([all_rows[i] for i in ev_idx], objectives)
    return all_rows, front_all


def confirmations(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The event rows that confirm analytic ones, with how far the two differed."""
    return [r for r in rows if r.get("mode") == "event" and r.get("confirms") is not None]


def _with_area(rows, points, objectives):
    if any(o.name == "area" for o in objectives):
        from ahasd.explore.area import area_mm2

        for row, p in zip(rows, points, strict=True):
            row["area_mm2"] = area_mm2(p.config)
    return rows


def _label(row: dict[str, Any], trial: int, point: Point) -> None:
    """The trial number and the axis values (``axis.<path>``) beside a result."""
    row.update({"trial": trial, **axis_columns(point)})


__all__ = ["SearchOutcome", "confirmations", "run_search", "HASH"]
