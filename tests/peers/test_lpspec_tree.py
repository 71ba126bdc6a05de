"""DTP: greedy growth by path product, runtime head statistics, and the marginal stop rule."""

from __future__ import annotations

import numpy as np
import pytest

from ahasd.errors import AhasdError
from ahasd.systems.lpspec.tree import HeadStats, greedy_order, prune

ACC = np.array([[0.6, 0.2, 0.1], [0.5, 0.2, 0.1], [0.4, 0.2, 0.1]])


def test_greedy_order_is_by_path_product_and_connected():
    tree = greedy_order(ACC, 6)
    assert tree.nodes[:3] == ((0,), (0, 0), (1,))  # 0.6, 0.30, 0.2
    assert tree.values[1] == pytest.approx(0.6 * 0.5)
    assert list(tree.values) == sorted(tree.values, reverse=True)
    members = set(tree.nodes)
    assert all(node[:-1] in members or len(node) == 1 for node in tree.nodes)
    assert tree.expected_tokens == pytest.approx(1 + sum(tree.values))


def test_accepted_depth_follows_the_true_ranks_through_the_tree():
    tree = greedy_order(ACC, 6)
    assert tree.accepted_depth([0, 0, 5]) == 2
    assert tree.accepted_depth([1, 0]) == 2  # (1,) and (1, 0) are the 3rd and 6th nodes
    assert tree.accepted_depth([2, 0]) == 0
    assert tree.accepted_depth([]) == 0


def test_head_stats_learn_the_observed_ranks():
    stats = HeadStats(2, 3)
    flat = stats.accuracy()
    assert flat[0] == pytest.approx([0.25, 0.25, 0.25])
    for _ in range(96):
        stats.observe([0, 7])  # head 1 always rank 0; head 2 always a miss
    acc = stats.accuracy()
    assert acc[0, 0] > 0.95
    assert acc[1].sum() < 0.05


def test_flat_cost_grows_to_the_node_budget():
    tree = prune(ACC, lambda n: (1.0, 1.0), max_nodes=10)
    assert tree.size == 10


def test_linear_cost_stops_where_the_marginal_test_fails():
    # cost per iteration 1 + 0.5 n: node with value v pays iff v / 0.5 >= E / T
    def cost(n):
        return (1.0 + 0.5 * n, 1.0)

    tree = prune(ACC, cost, max_nodes=20, objective="latency")
    order = greedy_order(ACC, 20)
    e, t = 1.0, 1.0
    expected = 0
    for v in order.values:
        if (e + v) * t < e * (t + 0.5):
            break
        e, t, expected = e + v, t + 0.5, expected + 1
    assert tree.size == expected
    assert 0 < tree.size < 20


def test_energy_objective_ignores_time_and_both_needs_both():
    def cost(n):
        return (1.0 + 10.0 * n, 1.0)  # time explodes, energy flat

    assert prune(ACC, cost, max_nodes=8, objective="energy").size == 8
    assert prune(ACC, cost, max_nodes=8, objective="both").size == 0


def test_lookahead_lets_a_pim_pass_pay_as_a_block():
    # a step cost: every 4 nodes cost one more unit (N_ALU = 4 stepping)
    acc = np.full((4, 4), 0.3)

    def cost(n):
        return (1.0 + float(-(-n // 4)), 1.0)

    plain = prune(acc, cost, max_nodes=8, objective="latency", lookahead=1)
    block = prune(acc, cost, max_nodes=8, objective="latency", lookahead=4)
    assert plain.size == 0  # one node alone cannot pay for a whole pass
    assert block.size == 4  # four nodes riding the pass can


def test_bad_arguments_raise_one_line_errors():
    with pytest.raises(AhasdError, match="objective"):
        prune(ACC, lambda n: (1.0, 1.0), max_nodes=3, objective="speed")
    with pytest.raises(AhasdError, match="lookahead"):
        prune(ACC, lambda n: (1.0, 1.0), max_nodes=3, lookahead=0)
    with pytest.raises(AhasdError, match="n_heads"):
        HeadStats(0, 3)
