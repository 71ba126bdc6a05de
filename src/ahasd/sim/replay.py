"""Trace replay: which draft tokens match, and how long each draft batch is.

docs/traces.md: from a committed (or pre-verification-corrected) position i the draft's
continuation matches the target for ``k_i`` tokens. Greedy decoding: a position matches when the
target's token is the draft's greedy token (``target_rank == 0``; ``k = trace.match_runs()``).
Sampled decoding: one uniform draw per position from the config's seeded generator, matching when
it falls below ``accept_prob`` (β = Σ min(p, q)); every system uses the same draws, so every system
commits the same tokens. Batch lengths come from the drafting policy through the contract's
driving loop, with the trace's per-position entropy and top-1 probability as signals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ahasd.policies import DraftPolicy, TokenSignals, signal_features
from ahasd.sim.build import builder


def match_mask(trace, decoding: str, rng: np.random.Generator) -> np.ndarray:
    """Boolean per position: does the draft's proposal (given the true prefix) match?"""
    if decoding == "greedy":
        return np.asarray(trace.target_rank) == 0
    draws = rng.random(len(trace))
    return draws < np.asarray(trace.accept_prob)


def runs_from_mask(mask: np.ndarray) -> np.ndarray:
    """k_i = number of consecutive True values starting at i (int32)."""
    n = len(mask)
    out = np.zeros(n + 1, dtype=np.int64)
    m = mask.astype(np.int64)
    for i in range(n - 1, -1, -1):  # runs once per run; vectorising is not worth it
        out[i] = (out[i + 1] + 1) * m[i]
    return out[:n].astype(np.int32)


@dataclass(frozen=True, slots=True)
class Replay:
    """The acceptance side of one run: match mask and run lengths over the trace."""

    match: np.ndarray  # bool, per position
    runs: np.ndarray  # int32, k_i

    @classmethod
    def build(cls, trace, decoding: str, rng: np.random.Generator) -> Replay:
        mask = match_mask(trace, decoding, rng)
        runs = trace.match_runs() if decoding == "greedy" else runs_from_mask(mask)
        return cls(match=mask, runs=np.asarray(runs, dtype=np.int32))


# one per drafted token: built without the frozen dataclass's __init__ (ahasd.sim.build)
signals = builder(TokenSignals, ("entropy", "top1_prob", "position", "features"))


class Drafter:
    """Runs the contract's driving loop to size one draft batch (no simulated time passes).

    The policy sees ``TokenSignals(h, p1, n, signal_features(h, p1, n))`` for every drafted
    token. The position-free part of the features is computed once per trace position (a batch
    re-drafted after a squash reuses it); the position is appended per token.
    """

    __slots__ = ("policy", "_ent", "_p1", "_last", "_sqrt_h", "_log_p")

    def __init__(self, policy: DraftPolicy, trace) -> None:
        self.policy = policy
        self._ent: list[float] = np.asarray(trace.draft_entropy, dtype=np.float64).tolist()
        self._p1: list[float] = np.asarray(trace.draft_top1_prob, dtype=np.float64).tolist()
        self._last = len(self._ent) - 1
        # features 2 and 3 of signal_features, filled on first use (floats: nothing for gc)
        self._sqrt_h: list[float | None] = [None] * len(self._ent)
        self._log_p: list[float] = [0.0] * len(self._ent)

    def batch(self, pos: int, cap: int | None = None) -> tuple[int, float]:
        """Length of the batch drafted from ``pos`` and its mean draft entropy (nats).

        ``cap`` forces a fixed length (fixed-γ systems); otherwise the policy decides.
        Positions past the trace's end reuse its last row (they can never be committed).
        """
        ent, p1, last = self._ent, self._p1, self._last
        if cap is not None:
            stop = min(pos + cap, last + 1)
            total = sum(ent[pos:stop]) + ent[last] * (pos + cap - stop)
            return cap, total / cap
        policy = self.policy
        rule = policy.stop_rule()
        if rule is not None:  # the same decisions without building signals
            return self.scan(pos, *rule)
        limit = policy.start_round()
        n, total = 1, 0.0
        j = pos if pos < last else last  # token n sits at min(pos + n - 1, last)
        keep = policy.keep_drafting
        sqrt_h, log_p = self._sqrt_h, self._log_p
        while True:
            h = ent[j]
            total += h
            if n >= limit:
                break
            p = p1[j]
            r = sqrt_h[j]
            if r is None:
                _h, _p, r, log_p[j], _n = signal_features(h, p, 0)
                sqrt_h[j] = r
            if not keep(signals(h, p, n, (h, p, r, log_p[j], float(n)))):
                break
            n += 1
            if j < last:
                j += 1
        return n, total / n

    def scan(self, pos: int, cap: int, h_stop: float) -> tuple[int, float]:
        """:meth:`batch` for a policy whose :meth:`~DraftPolicy.stop_rule` is ``(cap, h_stop)``:
        stop after ``cap`` tokens or after the first whose entropy is above ``h_stop``."""
        ent, last = self._ent, self._last
        n, total = 1, 0.0
        j = pos if pos < last else last
        while True:
            h = ent[j]
            total += h
            if n >= cap or not h <= h_stop:
                return n, total / n
            n += 1
            if j < last:
                j += 1
