"""Trace replay: the drafter's signals and the fast builders equal what the contract specifies."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ahasd.policies import DraftPolicy, RoundOutcome, TokenSignals, signal_features
from ahasd.policies.adaedl import AdaEdl
from ahasd.sim.build import builder
from ahasd.sim.replay import Drafter, runs_from_mask, signals

finite = st.floats(0.0, 20.0, allow_nan=False)
prob = st.floats(0.0, 1.0, allow_nan=False)


@given(h=finite, p=prob, n=st.integers(1, 300))
def test_fast_signals_equal_the_constructor(h, p, n):
    f = signal_features(h, p, n)
    fast = signals(h, p, n, f)
    assert type(fast) is TokenSignals and fast == TokenSignals(h, p, n, f)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.entropy = 1.0  # type: ignore[misc]


def test_builder_falls_back_to_the_constructor_when_the_shape_differs():
    assert builder(TokenSignals, ("entropy", "top1_prob", "position")) is TokenSignals
    out = builder(RoundOutcome, ("proposed", "accepted", "seconds"))(3, 2, 0.5)
    assert out == RoundOutcome(3, 2, 0.5)


class _Recorder(DraftPolicy):
    """Drafts up to 6 tokens, stops after a token with entropy above 2; records what it saw."""

    name = "recorder"

    def reset(self) -> None:
        self.seen: list[TokenSignals] = []

    def start_round(self) -> int:
        return 6

    def keep_drafting(self, sig: TokenSignals) -> bool:
        self.seen.append(sig)
        return sig.entropy <= 2.0


class _Trace:
    def __init__(self, ent, p1):
        self.draft_entropy = np.asarray(ent)
        self.draft_top1_prob = np.asarray(p1)


@given(
    rows=st.lists(st.tuples(finite, prob), min_size=1, max_size=40),
    starts=st.lists(st.integers(0, 45), min_size=1, max_size=8),
)
def test_drafter_feeds_the_policy_the_contract_signals(rows, starts):
    """Cached per-position features never change what the policy sees (re-drafts included)."""
    ent, p1 = [r[0] for r in rows], [r[1] for r in rows]
    policy = _Recorder()
    drafter = Drafter(policy, _Trace(ent, p1))
    last = len(rows) - 1
    for pos in starts:
        policy.seen.clear()
        n, mean_h = drafter.batch(pos)
        assert 1 <= n <= 6
        hs = [ent[min(pos + i, last)] for i in range(n)]
        assert mean_h == pytest.approx(sum(hs) / n)
        for i, sig in enumerate(policy.seen):
            j = min(pos + i, last)
            assert sig == TokenSignals(ent[j], p1[j], i + 1, signal_features(ent[j], p1[j], i + 1))


class _NoRule(AdaEdl):
    """AdaEDL without its fast path: the drafter must take the general driving loop."""

    def stop_rule(self) -> None:
        return None


@given(
    rows=st.lists(st.tuples(finite, prob), min_size=1, max_size=40),
    rounds=st.lists(
        st.tuples(st.integers(0, 45), st.integers(1, 8), st.integers(0, 8)), min_size=1, max_size=12
    ),
)
def test_stop_rule_fast_path_decides_like_the_driving_loop(rows, rounds):
    """AdaEDL's (cap, threshold) promise holds while its λ adapts: same lengths, same means."""
    trace = _Trace([r[0] for r in rows], [r[1] for r in rows])
    fast, slow = AdaEdl(AdaEdl.Args(max_len=6)), _NoRule(AdaEdl.Args(max_len=6))
    fast_d, slow_d = Drafter(fast, trace), Drafter(slow, trace)
    for pos, proposed, accepted in rounds:
        assert fast_d.batch(pos) == slow_d.batch(pos)
        assert fast.stop_rule() == (fast.start_round(), fast.h_stop)
        outcome = RoundOutcome(proposed, min(accepted, proposed), 0.1)
        fast.observe(outcome)
        slow.observe(outcome)


def test_runs_from_mask_counts_consecutive_matches():
    mask = np.array([1, 1, 0, 1, 0, 0, 1, 1, 1], dtype=bool)
    assert runs_from_mask(mask).tolist() == [2, 1, 0, 1, 0, 0, 3, 2, 1]
    assert math.isclose(float(runs_from_mask(np.ones(4, dtype=bool))[0]), 4.0)
