"""The smallest change that brings one claim within ±10%: a generator driven in rounds.

Order of the search, for one claim (fewest parameters first, then the smallest normalised
distance from the defaults):

1. the defaults (``holds`` if within ±10%);
2. one-parameter probes: every other option of a choice, both ends of a range (a reading that
   exists only on a baseline platform is probed together with that platform choice);
3. single changes: probes that land in the band, and ranges whose end passes the band's near
   edge, bisected (5 steps) toward the default;
4. the *all-favourable* reading (each parameter at the probe that moved the claim furthest toward
   it): if even that does not reach the band's near edge the claim is ``unreachable`` within the
   documented ranges (assuming each reading moves the claim one way, as the probes show);
5. subsets of 2, 3, ... parameters, most promising first (summed log effects of their probes), at
   their favourable ends, then bisected jointly toward the defaults; the first size with a
   solution wins, its smallest distance is kept.

The generator yields lists of readings and receives their values, so a driver can evaluate the
requests of many claims in one executor batch; the budget counts readings, so the outcome does
not depend on what other claims or a cache already computed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ahasd.explore.invert.claims import TOLERANCE, Claim
from ahasd.explore.invert.readings import Param
from ahasd.explore.invert.runs import affects, prune, reading_key

BISECT_STEPS = 5
CHUNK = 6  # subsets tried per round
Ask = Generator[list[dict[str, Any]], list[float], Any]


@dataclass(frozen=True, slots=True)
class Found:
    reading: dict[str, Any]
    value: float
    distance: float

    @property
    def size(self) -> int:
        return len(self.reading)


@dataclass
class Outcome:
    claim: Claim
    default: float
    status: str  # holds | reachable | unreachable
    best: Found  # the solution, or the closest reading tried
    tried: int
    note: str = ""  # why the search stopped where it did
    seen: dict[str, tuple[dict[str, Any], float]] = field(default_factory=dict, repr=False)


class ClaimSearch:
    """State of one claim's search; ``run()`` is the generator."""

    def __init__(self, claim: Claim, params: Mapping[str, Param], budget: int) -> None:
        self.claim, self.params, self.budget = claim, params, budget
        self.seen: dict[str, tuple[dict[str, Any], float]] = {}
        c = claim.claimed
        self.lo = -math.inf if claim.relation == "at_most" else c * (1 - TOLERANCE)
        self.hi = c * (1 + TOLERANCE)

    # ---- evaluation -----------------------------------------------------------------------
    def key(self, reading: Mapping[str, Any]) -> str:
        """Readings that set the same runs share a key (ineffective parameters dropped)."""
        return reading_key(prune([self.claim], reading, self.params))

    def ask(self, readings: list[dict[str, Any]]) -> Ask:
        """Evaluate the readings not seen yet, within the budget; returns their values."""
        fresh = {}
        for r in readings:
            k = self.key(r)
            if k not in self.seen and k not in fresh and len(self.seen) + len(fresh) < self.budget:
                fresh[k] = prune([self.claim], r, self.params)
        if fresh:
            values = yield list(fresh.values())
            for (k, r), v in zip(fresh.items(), values, strict=True):
                self.seen[k] = (r, v)
        return [self._value(r) for r in readings]

    def left(self) -> int:
        return self.budget - len(self.seen)

    def inside(self, v: float) -> bool:
        return self.lo <= v <= self.hi

    def passes(self, v: float) -> bool:
        """Past the near edge of the band, in the direction the claim needs."""
        return v == v and (v >= self.lo if self.up else v <= self.hi)

    def distance(self, reading: Mapping[str, Any]) -> float:
        return math.fsum(self.params[n].distance(v) for n, v in reading.items())

    def found(self, reading: Mapping[str, Any], value: float) -> Found:
        r = prune([self.claim], reading, self.params)
        return Found(dict(sorted(r.items())), value, self.distance(r))

    # ---- the search -----------------------------------------------------------------------
    def run(self) -> Ask:
        (v0,) = yield from self.ask([{}])
        self.v0 = v0
        if self.inside(v0):
            return self._outcome("holds", self.found({}, v0))
        if v0 != v0 or v0 <= 0:
            return self._outcome("unreachable", self.found({}, v0), "the default runs failed")
        self.up = v0 < self.lo
        moves = self._moves()
        yield from self.ask([m for ms in moves.values() for m in ms])
        solutions = yield from self._singles(moves)
        if solutions:
            return self._outcome("reachable", min(solutions, key=_rank))
        fav = self._favourable(moves)
        if not fav:
            return self._outcome("unreachable", self._closest(), "no reading moves it that way")
        everything = _union(sorted(fav.values(), key=lambda r: -r["__gain"]))
        (v_all,) = yield from self.ask([everything])
        if not self.passes(v_all):
            return self._outcome("unreachable", self._closest())
        solutions = yield from self._subsets(fav, reserve=BISECT_STEPS + 1)
        if not solutions:
            solutions = yield from self._solve([everything])
        if solutions:
            return self._outcome("reachable", min(solutions, key=_rank))
        note = "the budget ran out" if self.left() <= 0 else "no tried reading lands within ±10%"
        return self._outcome("unreachable", self._closest(), note)

    def _moves(self) -> dict[str, list[dict[str, Any]]]:
        """Per parameter, its probe readings, with the platform choice that brings it to one of
        the claim's runs and the readings it only acts under (``requires``)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for name, p in self.params.items():
            enable = (
                {} if affects(self.claim, name, p.default, {}, self.params) else self._enabler(name)
            )
            if enable is None:
                continue
            enable = {**enable, **{q: v for q, v in p.requires if q in self.params
                                   and affects(self.claim, q, v, enable, self.params)}}  # fmt: skip
            probes = [
                {**enable, name: x}
                for x in p.probes()
                if affects(self.claim, name, x, enable, self.params)
            ]
            if probes:
                out[name] = probes
        return out

    def _enabler(self, name: str) -> dict[str, Any] | None:
        """The platform choice under which ``name`` reaches one of the claim's runs, if any."""
        for q, p in self.params.items():
            if p.is_platform:
                for value in p.probes():
                    if affects(
                        self.claim, name, self.params[name].default, {q: value}, self.params
                    ):
                        return {q: value}
        return None

    def _singles(self, moves: Mapping[str, list[dict[str, Any]]]) -> Ask:
        sols, ranges = [], []
        for name, probes in moves.items():
            for r in probes:
                v = self._value(r)
                if self.inside(v):
                    sols.append(self.found(r, v))
                if not self.params[name].is_choice and self.passes(v):
                    ranges.append(r)
        sols += yield from self._solve(ranges)
        return sols

    def _favourable(self, moves: Mapping[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
        """Per parameter, the probe that moved the claim furthest toward it (if any did)."""
        out = {}
        for name, probes in moves.items():
            best, gain = None, 0.0
            for r in probes:
                v, base = self._value(r), self._base(r, name)
                step = math.log(v / base) if v > 0 and base > 0 else 0.0
                step = step if self.up else -step
                if step > gain:
                    best, gain = r, step
            if best is not None:
                out[name] = {**best, "__gain": gain}
        return out

    def _base(self, reading: Mapping[str, Any], name: str) -> float:
        """Value of the reading without ``name`` (the enabling platform choice alone, or v0)."""
        rest = {k: v for k, v in reading.items() if k != name}
        v = self._value(rest)
        return v if v == v else self.v0

    def _subsets(self, fav: Mapping[str, dict[str, Any]], *, reserve: int) -> Ask:
        names = sorted(fav, key=lambda n: -fav[n]["__gain"])
        need = abs(math.log((self.lo if self.up else self.hi) / self.v0))
        for k in range(2, len(names) + 1):
            combos = [
                c
                for c in itertools.combinations(names, k)
                if sum(fav[n]["__gain"] for n in c) >= 0.5 * need
            ]
            combos.sort(key=lambda c: -sum(fav[n]["__gain"] for n in c))
            sols = []
            for i in range(0, len(combos), CHUNK):
                if self.left() <= reserve:
                    return sols
                readings = [merge([fav[n] for n in c]) for c in combos[i : i + CHUNK]]
                readings = [r for r in readings if r is not None]
                values = yield from self.ask(readings)
                hits = [r for r, v in zip(readings, values, strict=True) if self.passes(v)]
                sols += yield from self._solve(hits)
            if sols:
                return sols
        return []

    def _solve(self, readings: list[dict[str, Any]]) -> Ask:
        """For readings past the near edge: move their ranges back toward the defaults together
        (bisection on the fraction t of the way) and keep those that land within ±10%."""
        state = []
        for r in readings:
            ends = {n: v for n, v in r.items() if not self.params[n].is_choice}
            fixed = {n: v for n, v in r.items() if n not in ends}
            state.append([fixed, ends, 0.0, 1.0])
        starts = [s[0] for s in state if s[1] and s[0]]  # the choices alone (t = 0)
        yield from self.ask(starts)
        for s in state:
            if s[1] and self.passes(self._value(self._at(s[0], s[1], 0.0))):
                s[3] = 0.0
        for _ in range(BISECT_STEPS):
            open_ = [s for s in state if s[1] and s[3] - s[2] > 1e-9]
            mids = [self._at(s[0], s[1], (s[2] + s[3]) / 2) for s in open_]
            values = yield from self.ask(mids)
            for s, v in zip(open_, values, strict=True):
                if self.passes(v):
                    s[3] = (s[2] + s[3]) / 2
                else:
                    s[2] = (s[2] + s[3]) / 2
        out = []
        for fixed, ends, _lo, hi in state:
            r = self._at(fixed, ends, hi)
            v = self._value(r)
            if self.inside(v):
                out.append(self.found(r, v))
        return out

    def _at(self, fixed: Mapping[str, Any], ends: Mapping[str, Any], t: float) -> dict[str, Any]:
        r = dict(fixed)
        for n, end in ends.items():
            x = self.params[n].toward(end, t)
            if x != self.params[n].default:
                r[n] = x
        return r

    def _value(self, reading: Mapping[str, Any]) -> float:
        hit = self.seen.get(self.key(reading))
        return hit[1] if hit else math.nan

    def _closest(self) -> Found:
        """The reading whose value came nearest the claim (log distance), fewest changes first."""
        c = self.claim.claimed
        items = [(r, v) for r, v in self.seen.values() if v == v and v > 0]
        if not items:
            return self.found({}, self.v0)
        r, v = min(
            items, key=lambda rv: (abs(math.log(rv[1] / c)), len(rv[0]), self.distance(rv[0]))
        )
        return self.found(r, v)

    def _outcome(self, status: str, best: Found, note: str = "") -> Outcome:
        return Outcome(
            self.claim,
            self.v0 if hasattr(self, "v0") else best.value,
            status,
            best,
            len(self.seen),
            note,
            dict(self.seen),
        )


def merge(readings: list[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Union of probe readings; None when two set one parameter to different values."""
    out: dict[str, Any] = {}
    for r in readings:
        for k, v in r.items():
            if k == "__gain":
                continue
            if k in out and out[k] != v:
                return None
            out[k] = v
    return out


def _union(readings: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Merge readings in order, skipping any that conflicts with those already merged."""
    out: dict[str, Any] = {}
    for r in readings:
        out = merge([out, r]) or out
    return out


def _rank(f: Found) -> tuple:
    return (f.size, f.distance, sorted(f.reading.items(), key=str))
