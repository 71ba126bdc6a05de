"""Joint feasibility: the largest set of claims one reading satisfies, and which contradict.

Candidates: the defaults, every claim's own solution, a greedy union of the solutions (each
added only if the union satisfies more claims), optuna's TPE proposals over the parameters the
solutions use (seeded, told the candidates' scores first), and for every pair still not
satisfied together the union of its two solutions. Every candidate is scored on every claim.
Two claims that hold or are reachable alone *contradict* when no reading tried satisfies both
(pairs whose solutions touch each other's runs in no way are compatible by construction); the
line says what each one's reading does to the other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ahasd.explore.invert.readings import Param
from ahasd.explore.invert.runs import affects, prune, reading_key
from ahasd.explore.invert.search import Outcome, merge

BATCH = 8  # optuna trials evaluated together
Scores = dict[str, float]  # claim name -> value under one reading


def search_joint(
    outcomes: Sequence[Outcome],
    params: Mapping[str, Param],
    evaluate: Callable[[list[dict[str, Any]]], list[Scores]],
    *,
    trials: int,
    seed: int,
) -> dict[str, Any]:
    """Score candidate readings on every claim (see the module docstring); summarise."""
    claims = {o.claim.name: o.claim for o in outcomes}
    tried: dict[str, tuple[dict[str, Any], Scores]] = {}

    def score(readings: list[dict[str, Any]]) -> None:
        fresh = {reading_key(r): r for r in readings if reading_key(r) not in tried}
        for (k, r), s in zip(fresh.items(), evaluate(list(fresh.values())), strict=True):
            tried[k] = (r, s)

    solved = [o for o in outcomes if o.status == "reachable"]
    score([{}] + [o.best.reading for o in solved])
    _greedy_union(solved, claims, tried, score)
    method = f"defaults, {len(solved)} solutions and their greedy union"
    if trials > 0:
        done = _optuna(tried, claims, params, evaluate, trials=trials, seed=seed)
        method += f", {done} optuna TPE proposals (seed {seed})" if done else " (optuna missing)"
    pairs = _open_pairs(outcomes, claims, params, tried)
    score([u for a, b in pairs if (u := merge([a.best.reading, b.best.reading])) is not None])
    return summarise(outcomes, params, tried, method)


def _greedy_union(solved, claims, tried, score) -> None:
    """Start from the solution that satisfies most claims; add each other solution whose union
    with the current reading satisfies more (one evaluation per step)."""

    def count(r):
        return len(satisfied(claims, tried[reading_key(r)][1]))

    order = sorted(solved, key=lambda o: (-count(o.best.reading), o.best.size, o.claim.name))
    cur = order[0].best.reading if order else {}
    for o in order[1:]:
        cand = merge([cur, o.best.reading])
        if cand is None or cand == cur:
            continue
        score([cand])
        if count(cand) > count(cur):
            cur = cand


def _independent(a: Outcome, b: Outcome, params: Mapping[str, Param]) -> bool:
    """Neither claim's solution touches the other's runs: their union satisfies both."""
    for x, y in ((a, b), (b, a)):
        r = x.best.reading
        for n, v in r.items():
            if affects(
                y.claim, n, v, {**y.best.reading, **{k: w for k, w in r.items() if k != n}}, params
            ):
                return False
    return True


def _open_pairs(outcomes, claims, params, tried) -> list[tuple[Outcome, Outcome]]:
    """Satisfiable pairs no reading tried satisfies together (independent pairs excluded)."""
    ok = [o for o in outcomes if o.status in ("holds", "reachable")]
    sat_sets = [set(satisfied(claims, s)) for _r, s in tried.values()]
    return [
        (a, b)
        for i, a in enumerate(ok)
        for b in ok[i + 1 :]
        if not any({a.claim.name, b.claim.name} <= s for s in sat_sets)
        and not _independent(a, b, params)
    ]


def satisfied(claims: Mapping[str, Any], scores: Scores) -> list[str]:
    return [n for n, v in scores.items() if claims[n].holds(v)]


def _score(claims: Mapping[str, Any], scores: Scores) -> float:
    """Claims satisfied, plus up to 0.5 for how close the others come (a gradient for TPE)."""
    near = [
        math.exp(-abs(math.log(v / claims[n].claimed)))
        for n, v in scores.items()
        if v == v and v > 0
    ]
    return len(satisfied(claims, scores)) + 0.5 * (sum(near) / len(near) if near else 0.0)


def _optuna(tried, claims, params, evaluate, *, trials: int, seed: int) -> int:
    try:
        import optuna
    except ImportError:
        return 0
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    used = {n for reading, _s in tried.values() for n in reading}
    space = {n: params[n] for n in sorted(used)}
    if not space:
        return 0
    dists = {n: _distribution(optuna, p) for n, p in space.items()}
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    for reading, scores in tried.values():
        full = {n: reading.get(n, p.default) for n, p in space.items()}
        study.add_trial(
            optuna.trial.create_trial(
                params=full, distributions=dists, value=_score(claims, scores)
            )
        )
    done = 0
    while done < trials:
        asked = [study.ask(dists) for _ in range(min(BATCH, trials - done))]
        batch = [prune(claims.values(), _reading(t, space), params) for t in asked]
        for t, r, scores in zip(asked, batch, evaluate(batch), strict=True):
            tried.setdefault(reading_key(r), (r, scores))
            study.tell(t, _score(claims, scores))
        done += len(asked)
    return done


def _distribution(optuna, p: Param):
    if p.is_choice:
        return optuna.distributions.CategoricalDistribution(list(p.values))
    if p.integer:
        return optuna.distributions.IntDistribution(int(p.low), int(p.high), log=p.log)
    return optuna.distributions.FloatDistribution(p.low, p.high, log=p.log)


def _reading(trial, space: Mapping[str, Param]) -> dict[str, Any]:
    """The trial's values as changes from the defaults (ranges rounded as the search does)."""
    out = {}
    for n, p in space.items():
        v = trial.params[n]
        v = v if p.is_choice else p.toward(v, 1.0)
        if v != p.default:
            out[n] = v
    return out


def summarise(
    outcomes: Sequence[Outcome],
    params: Mapping[str, Param],
    tried: Mapping[str, tuple[dict[str, Any], Scores]],
    method: str,
) -> dict[str, Any]:
    claims = {o.claim.name: o.claim for o in outcomes}
    dist = {
        k: math.fsum(params[n].distance(v) for n, v in r.items()) for k, (r, _s) in tried.items()
    }
    best_key = max(
        tried, key=lambda k: (len(satisfied(claims, tried[k][1])), -len(tried[k][0]), -dist[k], k)
    )
    reading, scores = tried[best_key]
    return {
        "largest": {
            "size": len(satisfied(claims, scores)),
            "claims": satisfied(claims, scores),
            "changes": list(reading.items()),
        },
        "satisfiable": [o.claim.name for o in outcomes if o.status in ("holds", "reachable")],
        "contradictions": contradictions(outcomes, params, tried),
        "readings_tried": len(tried),
        "method": method,
    }


def contradictions(
    outcomes: Sequence[Outcome],
    params: Mapping[str, Param],
    tried: Mapping[str, tuple[dict[str, Any], Scores]],
) -> list[dict[str, Any]]:
    """Pairs of satisfiable claims that no reading tried satisfies together, with why."""
    claims = {o.claim.name: o.claim for o in outcomes}
    return [
        {"claims": [a.claim.name, b.claim.name], "why": _why(a, b, tried)}
        for a, b in _open_pairs(outcomes, claims, params, tried)
    ]


def _why(a: Outcome, b: Outcome, tried) -> str:
    parts = []
    for x, y in ((a, b), (b, a)):
        hit = tried.get(reading_key(x.best.reading))
        if hit is not None:
            v = hit[1][y.claim.name]
            where = "the defaults" if not x.best.reading else f"{x.claim.name}'s reading"
            parts.append(f"at {where} {y.claim.name} is {v:.3g} (claim {y.claim.claimed:g})")
    union = merge([a.best.reading, b.best.reading])
    hit = (
        tried.get(reading_key(union))
        if union not in (None, a.best.reading, b.best.reading)
        else None
    )
    if hit is not None:
        parts.append(
            f"with both readings {a.claim.name} is {hit[1][a.claim.name]:.3g} and "
            f"{b.claim.name} {hit[1][b.claim.name]:.3g}"
        )
    clash = [
        n
        for n in set(a.best.reading) & set(b.best.reading)
        if a.best.reading[n] != b.best.reading[n]
    ]
    if clash:
        parts.append(
            "both move "
            + ", ".join(f"{n} ({a.best.reading[n]} vs {b.best.reading[n]})" for n in sorted(clash))
        )
    return "; ".join(parts) or "no reading tried satisfies both"
