"""Property tests: no policy ever proposes fewer than 1 or more than its cap; trees keep budgets.

Arguments are drawn too (caps, thresholds, arms), so the cap a policy reports is checked against
the cap its arguments define, not against itself. Feedback is delivered synchronously or one
round late (the asynchronous drivers' order), and rounds may go unreported (squashed batches).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ahasd.policies import POLICIES, RoundOutcome, TokenSignals, make_policy, signal_features
from ahasd.policies.tree import depth_rank_tree, greedy_tree, static_tree

CAP = st.integers(1, 24)
ARGS = {
    "fixed": st.fixed_dictionaries({"gamma": CAP}),
    "hf-heuristic": st.fixed_dictionaries(
        {
            "gamma0": st.integers(1, 40),
            "max_len": CAP,
            "step_up": st.integers(0, 5),
            "step_down": st.integers(0, 5),
        }
    ),
    "hf-confidence": st.fixed_dictionaries(
        {
            "threshold0": st.floats(0.0, 1.0),
            "max_len": CAP,
            "min_samples": st.integers(1, 8),
            "label_rest": st.sampled_from(["drop", "negative"]),
        }
    ),
    "specdec-pp": CAP.flatmap(
        lambda hi: st.fixed_dictionaries(
            {
                "max_len": st.just(hi),
                "min_len": st.integers(1, hi),
                "h": st.floats(0.01, 0.99),
                "lag": st.booleans(),
            }
        )
    ),
    "svip": st.fixed_dictionaries(
        {"h": st.floats(0.01, 2.0), "c": st.floats(0.01, 2.0), "max_len": CAP}
    ),
    "adaedl": st.fixed_dictionaries(
        {
            "lam0": st.floats(0.0, 0.95),
            "law": st.sampled_from(["target", "ema", "fixed"]),
            "eta": st.floats(0.0, 1.0),
            "max_len": CAP,
        }
    ),
    "banditspec": st.fixed_dictionaries(
        {
            "arms": st.lists(st.integers(1, 24), min_size=1, max_size=5, unique=True).map(tuple),
            "warmup": st.integers(0, 10),
            "count": st.sampled_from(["per-arm", "total"]),
        }
    ),
}


def documented_cap(name: str, kwargs: dict) -> int:
    """The cap the arguments define (what the policy must never exceed)."""
    if name == "banditspec":
        return max(kwargs["arms"])
    if name == "fixed":
        return kwargs["gamma"]
    return kwargs["max_len"]


signals = st.lists(st.tuples(st.floats(0.0, 12.0), st.floats(0.0, 1.0)), min_size=1, max_size=30)
feedback = st.sampled_from(["now", "late", "never"])  # sync, async (one round late), squashed
rounds = st.lists(
    st.tuples(signals, st.integers(0, 30), st.floats(0.0, 10.0), feedback), min_size=1, max_size=15
)


def test_every_registered_policy_is_covered():
    assert set(ARGS) == set(POLICIES.names())  # a new policy must join the property test


@pytest.mark.parametrize("name", sorted(ARGS))
@settings(max_examples=40, deadline=None)
@given(data=st.data(), rounds=rounds)
def test_batch_length_stays_within_1_and_cap(name, data, rounds):
    kwargs = data.draw(ARGS[name])
    policy = make_policy(name, **kwargs)
    cap_limit = documented_cap(name, kwargs)
    assert policy.max_len == cap_limit
    late: list[RoundOutcome] = []
    for sigs, accepted, seconds, when in rounds:
        cap = policy.start_round()
        assert isinstance(cap, int) and 1 <= cap <= cap_limit
        n = 0
        while True:  # the contract's driving loop
            h, p1 = sigs[min(n, len(sigs) - 1)]
            n += 1
            if n >= cap:
                break
            keep = policy.keep_drafting(TokenSignals(h, p1, n, signal_features(h, p1, n)))
            assert isinstance(keep, bool)
            if not keep:
                break
        assert 1 <= n <= cap <= cap_limit
        if name == "specdec-pp":  # never stops before min_len (unless the cap comes first)
            assert n >= min(kwargs["min_len"], cap)
        if name == "fixed":
            assert n == kwargs["gamma"]
        outcome = RoundOutcome(n, min(accepted, n), seconds)  # often fully accepted
        if when == "now":
            policy.observe(outcome)
        elif when == "late":
            late.append(outcome)
        if len(late) > 1:
            policy.observe(late.pop(0))


@settings(max_examples=60, deadline=None)
@given(
    probs=st.lists(
        st.lists(st.floats(0.0, 1.0), min_size=0, max_size=6), min_size=1, max_size=8
    ),  # fmt: skip
    budget=st.integers(0, 80),
    max_depth=st.integers(1, 8),
)
def test_greedy_tree_respects_budget_depth_and_connectivity(probs, budget, max_depth):
    # children of a node depend on (depth, number of its ancestors' ranks) only: deterministic
    def child_probs(node):
        return probs[(len(node) + sum(node)) % len(probs)]

    tree = greedy_tree(child_probs, budget, max_depth)
    assert tree.size <= budget and tree.depth <= max_depth
    members = set(tree.nodes)
    assert len(members) == tree.size  # no duplicates
    for node, score in zip(tree.nodes, tree.scores, strict=True):
        assert len(node) == 1 or node[:-1] in members  # connected subtree
        if len(node) > 1:
            assert score <= tree.scores[tree.nodes.index(node[:-1])] + 1e-12  # never increases
    if budget >= 1 and probs[0]:
        assert tree.size >= 1


@settings(max_examples=40, deadline=None)
@given(
    rank_probs=st.lists(
        st.lists(st.floats(0.01, 1.0), min_size=1, max_size=6), min_size=1, max_size=5
    ),  # fmt: skip
    budget=st.integers(1, 60),
)
def test_depth_rank_tree_fills_its_budget_when_it_can(rank_probs, budget):
    full = 0
    level = 1
    for probs in rank_probs:
        level *= len(probs)
        full += level
    tree = depth_rank_tree(rank_probs, budget)
    assert tree.size == min(budget, full) and tree.depth <= len(rank_probs)


@settings(max_examples=40, deadline=None)
@given(widths=st.lists(st.integers(1, 4), min_size=1, max_size=4))
def test_static_tree_size_is_sum_of_width_products(widths):
    tree = static_tree(widths)
    expected, level = 0, 1
    for w in widths:
        level *= w
        expected += level
    assert tree.size == expected and tree.depth == len(widths)
    assert all(r < widths[d] for node in tree.nodes for d, r in enumerate(node))
