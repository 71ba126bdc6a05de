"""``ahasd invert``: drive every claim's search in rounds, then joint feasibility and reasons.

Each round gathers the readings every unfinished claim asks for, simulates the runs none has
seen yet in one executor batch (local processes or Ray; rows shared between claims and, with an
output folder, kept in a ``ResultCache`` so a rerun is free), and hands each claim its values.
The result is a plain dict (``--json``): per claim its status, changes and best value, and the
joint summary. Defaults are never changed: every reading is a set of ``--set`` overrides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ahasd.errors import field_error
from ahasd.explore.invert.claims import TOLERANCE, Claim
from ahasd.explore.invert.joint import search_joint
from ahasd.explore.invert.readings import Param
from ahasd.explore.invert.reasons import explain
from ahasd.explore.invert.runs import RunStore, claim_runs, claim_value
from ahasd.explore.invert.search import ClaimSearch, Outcome

DEFAULT_BUDGET = 60


def invert(
    claims: Sequence[Claim],
    params: Sequence[Param],
    *,
    budget: int = DEFAULT_BUDGET,
    seed: int = 0,
    executor: Any,
    cache_dir: Path | None = None,
    joint_trials: int | None = None,
) -> dict[str, Any]:
    """Search every claim, then the joint reading; returns the ``--json`` document."""
    if budget < 1:
        raise field_error("budget", budget, "an integer >= 1 (readings tried per claim)")
    usable = {p.name: p for p in params if p.on}
    store = RunStore(executor, cache_dir)
    outcomes = _search_all(claims, usable, budget, seed, store)

    def evaluate(readings: list[dict[str, Any]]) -> list[dict[str, float]]:
        return values_for(claims, readings, usable, seed, store)

    trials = budget // 4 if joint_trials is None else joint_trials
    joint = search_joint(outcomes, usable, evaluate, trials=trials, seed=seed)
    joint["largest"]["changes"] = changes(joint["largest"]["changes"], usable)
    return {
        "claims": [_claim_dict(o, usable, seed, store) for o in outcomes],
        "joint": joint,
        "readings": [_param_dict(p) for p in params],
        "settings": {
            "budget": budget,
            "seed": seed,
            "joint_trials": trials,
            "runs_simulated": store.computed,
            "tolerance": TOLERANCE,
        },
    }


def _search_all(
    claims: Sequence[Claim], params: Mapping[str, Param], budget: int, seed: int, store: RunStore
) -> list[Outcome]:
    from ahasd.explore.executor import progress_bar

    gens = {c.name: ClaimSearch(c, params, budget) for c in claims}
    by_name = {c.name: c for c in claims}
    active = {name: s.run() for name, s in gens.items()}
    asks = {name: next(gen) for name, gen in active.items()}
    done: dict[str, Outcome] = {}
    with progress_bar("invert", len(claims) * budget) as bar:
        task = bar.add_task(f"invert: {len(claims)} claims", total=len(claims) * budget)
        while asks:
            runs = [
                f
                for name, readings in asks.items()
                for r in readings
                for _cell, fs in claim_runs(by_name[name], r, params, seed)
                for f in fs
            ]
            store.ensure(runs)
            for name in list(asks):
                claim = by_name[name]
                values = [claim_value(claim, r, params, seed, store)[0] for r in asks[name]]
                try:
                    asks[name] = active[name].send(values)
                except StopIteration as stop:
                    done[name] = stop.value
                    del asks[name]
            used = sum(len(s.seen) if n in asks else budget for n, s in gens.items())
            bar.update(task, completed=used)
    return [done[c.name] for c in claims]


def values_for(
    claims: Sequence[Claim],
    readings: list[dict[str, Any]],
    params: Mapping[str, Param],
    seed: int,
    store: RunStore,
) -> list[dict[str, float]]:
    """Every claim's value under every reading (one executor batch for the missing runs)."""
    store.ensure(
        f
        for r in readings
        for c in claims
        for _cell, fs in claim_runs(c, r, params, seed)
        for f in fs
    )
    return [{c.name: claim_value(c, r, params, seed, store)[0] for c in claims} for r in readings]


def changes(reading: Mapping[str, Any] | Sequence[tuple[str, Any]], params: Mapping[str, Param]):
    """The reading as the ``changes`` list of the output (one entry per parameter)."""
    items = reading.items() if isinstance(reading, Mapping) else reading
    return [
        {
            "key": params[n].key,
            "name": n,
            "default": params[n].default,
            "value": v,
            "source": params[n].source,
            "applies_to": list(params[n].on),
        }
        for n, v in sorted(items)
    ]


def _claim_dict(o: Outcome, params: Mapping[str, Param], seed: int, store: RunStore) -> dict:
    c = o.claim
    out = {
        "claim": c.name,
        "label": c.label,
        "by": c.paper,
        "source": c.source,
        "paper": c.claimed,
        "relation": c.relation,
        "unit": c.unit,
        "ours_default": _finite(o.default),
        "status": o.status,
        "changes": changes(o.best.reading, params),
        "best": _finite(o.best.value),
        "distance": o.best.distance,
        "readings_tried": o.tried,
        "basis": _basis(c, seed),
    }
    if o.status == "unreachable":
        runs = claim_runs(c, o.best.reading, params, seed)
        rows = [[store.row(f) for f in fs] for _cell, fs in runs] if runs else []
        cells = claim_value(c, o.best.reading, params, seed, store)[1]
        out["reason"] = explain(c, o.best.value, cells, runs, rows) + (
            f" ({o.note})" if o.note else ""
        )
    return out


def _finite(x: float) -> float | None:
    """NaN (a run that cannot run) becomes null: the document stays valid JSON."""
    return None if x != x else x


def _basis(c: Claim, seed: int) -> dict[str, Any]:
    """How the value is computed, enough to rebuild every ``ahasd simulate`` command."""

    def arm(a):
        return None if a is None else {"system": a.system, "flags": dict(a.flags)}

    return {
        "metric": c.metric,
        "scale": c.scale,
        "num": arm(c.num),
        "den": arm(c.den),
        "den_metric": c.den_metric,
        "invert": c.invert,
        "agg": c.agg,
        "tokens": c.tokens,
        "seed": seed,
        "cells": [
            {
                "draft": x.draft,
                "target": x.target,
                "policy": x.policy,
                "policy_args": dict(x.policy_args),
                "profile": x.profile,
            }
            for x in c.cells
        ],
    }


def _param_dict(p: Param) -> dict[str, Any]:
    allowed = list(p.values) if p.is_choice else [p.low, p.high]
    return {
        "name": p.name,
        "key": p.key,
        "default": p.default,
        "allowed": allowed,
        "log": p.log,
        "applies_to": list(p.on),
        "source": p.source,
        "skipped": not p.on,
    }
