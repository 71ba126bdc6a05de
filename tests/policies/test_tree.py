"""Static top-k and dynamic greedy draft trees."""

from __future__ import annotations

import pytest

from ahasd.errors import AhasdError
from ahasd.policies.tree import depth_rank_tree, greedy_tree, static_tree


def test_static_tree_widths():
    t = static_tree([2, 3])
    assert t.size == 2 + 6 and t.depth == 2
    assert t.parents()[:2] == [-1, -1] and t.parents()[2] == 0
    assert t.accepted_depth([1, 2, 0]) == 2 and t.accepted_depth([2, 0]) == 0
    with pytest.raises(AhasdError):
        static_tree([])


def test_greedy_tree_takes_best_cumulative_probability_under_budget():
    probs = {(): [0.6, 0.3, 0.1], (0,): [0.9, 0.05], (1,): [0.5, 0.5]}
    t = greedy_tree(lambda n: probs.get(n, []), budget=4)
    # 0.6, then 0.54 (0,0), then 0.3 (1,), then 0.15 (1,0) vs 0.1 (2,) -> (1,0)
    assert t.nodes == ((0,), (0, 0), (1,), (1, 0))
    assert t.scores == pytest.approx((0.6, 0.54, 0.3, 0.15))
    assert set(t.parents()) <= {-1, 0, 1, 2}


def test_depth_rank_tree_is_connected_and_expected_length():
    pmf = [0.5, 0.2, 0.1]
    t = depth_rank_tree([pmf] * 3, 6)
    members = set(t.nodes)
    assert all(n[:-1] in members or len(n) == 1 for n in t.nodes)
    assert t.expected_accepted(lambda d, r: pmf[r]) == pytest.approx(sum(t.scores))
