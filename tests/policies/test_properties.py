"""Property test: no policy ever proposes fewer than 1 or more than its cap."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ahasd.policies import POLICIES, RoundOutcome, TokenSignals, make_policy, signal_features

ARGS = {"fixed": {"gamma": 5}, "banditspec": {"arms": (1, 3, 6)}}

signals = st.lists(st.tuples(st.floats(0.0, 12.0), st.floats(0.0, 1.0)), min_size=1, max_size=60)
rounds = st.lists(
    st.tuples(signals, st.integers(0, 100), st.floats(0.0, 10.0)), min_size=1, max_size=12
)


@settings(max_examples=40, deadline=None)
@given(
    rounds=rounds,
    name=st.sampled_from(sorted(POLICIES.names())),
    cap=st.one_of(st.none(), st.integers(1, 12)),
)
def test_batch_length_stays_within_1_and_cap(rounds, name, cap):
    kwargs = dict(ARGS.get(name, {}))
    if cap is not None and name not in ("banditspec", "fixed", "specdec-pp"):
        kwargs["max_len"] = cap
    policy = make_policy(name, **kwargs)
    if cap is not None and "max_len" in kwargs:
        assert policy.max_len == cap
    for sigs, accepted, seconds in rounds:
        cap = policy.start_round()
        assert 1 <= cap <= policy.max_len
        n = 0
        while True:
            h, p1 = sigs[min(n, len(sigs) - 1)]
            n += 1
            if n >= cap or not policy.keep_drafting(
                TokenSignals(h, p1, n, signal_features(h, p1, n))
            ):
                break
        assert 1 <= n <= policy.max_len
        policy.observe(RoundOutcome(n, min(accepted, n), seconds))
