"""LP-Spec's Medusa draft tree and hardware-aware draft-token pruner (DTP).

Sources: [lpspec25] §V-A (DTP: runtime per-(head, rank) accuracy p_i^k, greedy growth by path
product, a hardware estimator stops the growth) and docs/peers.md (the marginal-benefit stop rule
``ΔE[N]/ΔT_iter < E[N]/T_iter``, our stand-in for LP-Spec's unpublished estimator); [medusa] trees;
[sequoia]'s hardware-aware sizing.

A tree node is the tuple of candidate ranks along its path from the root: ``(r1, .., rd)`` is
the r_d-th candidate of head d under the node ``(r1, .., r_{d-1})``. Its value is the product of
the heads' accuracies along the path; the expected committed tokens of a tree are
``1 + sum(values)`` (the 1 is the target's bonus token).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ahasd.errors import field_error

Node = tuple[int, ...]
StopObjective = Literal["both", "edp", "latency", "energy"]
STOP_OBJECTIVES: tuple[str, ...] = ("both", "edp", "latency", "energy")


class HeadStats:
    """Runtime acceptance accuracy per (head, rank), refreshed after every verification.

    Counts start from one pseudo-observation per outcome (Laplace), so an unseen head has a flat
    prior over its ``top_k`` ranks and "miss"; LP-Spec refreshes p_i^k online ([lpspec25] §V-A).
    """

    __slots__ = ("n_heads", "top_k", "_counts")

    def __init__(self, n_heads: int, top_k: int) -> None:
        if n_heads < 1:
            raise field_error("n_heads", n_heads, "an integer >= 1")
        if top_k < 1:
            raise field_error("top_k", top_k, "an integer >= 1")
        self.n_heads = n_heads
        self.top_k = top_k
        # column top_k counts "the true token was not among the head's top_k candidates"
        self._counts = np.ones((n_heads, top_k + 1), dtype=np.float64)

    def accuracy(self) -> np.ndarray:
        """p[head, rank]: probability that head's rank-th candidate is the target's token."""
        probs = self._counts / self._counts.sum(axis=1, keepdims=True)
        return probs[:, : self.top_k]

    def observe(self, ranks: Sequence[int]) -> None:
        """Record the true token's rank under heads 1..len(ranks) (ranks >= top_k are misses)."""
        for head, rank in enumerate(ranks[: self.n_heads]):
            self.observe_one(head, rank)

    def observe_one(self, head: int, rank: int) -> None:
        """Record one outcome of head ``head`` (0-based)."""
        self._counts[head, min(int(rank), self.top_k)] += 1.0


@dataclass(frozen=True, slots=True)
class DraftTree:
    """A pruned tree: nodes in greedy order with their path products."""

    nodes: tuple[Node, ...]
    values: tuple[float, ...]

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def expected_tokens(self) -> float:
        """Expected committed tokens per verification: 1 (bonus) + sum of path products."""
        return 1.0 + float(sum(self.values))

    def accepted_depth(self, true_ranks: Sequence[int]) -> int:
        """Deepest d such that the path ``true_ranks[:d]`` is in the tree (greedy verification)."""
        members = set(self.nodes)
        depth = 0
        while depth < len(true_ranks) and tuple(int(r) for r in true_ranks[: depth + 1]) in members:
            depth += 1
        return depth


def greedy_order(accuracy: np.ndarray, max_nodes: int) -> DraftTree:
    """Grow the tree by repeatedly adding the frontier node with the largest path product.

    Ties break by the node tuple (shallower, lower rank first), so the order is deterministic.
    """
    if max_nodes < 0:
        raise field_error("max_nodes", max_nodes, "an integer >= 0")
    n_heads, top_k = accuracy.shape
    heap: list[tuple[float, Node]] = [(-float(accuracy[0, r]), (r,)) for r in range(top_k)]
    heapq.heapify(heap)
    nodes: list[Node] = []
    values: list[float] = []
    while heap and len(nodes) < max_nodes:
        neg, node = heapq.heappop(heap)
        nodes.append(node)
        values.append(-neg)
        depth = len(node)
        if depth < n_heads:
            for r in range(top_k):
                heapq.heappush(heap, (neg * float(accuracy[depth, r]), (*node, r)))
    return DraftTree(tuple(nodes), tuple(values))


IterCost = Callable[[int], tuple[float, float]]
"""``cost(n_nodes) -> (seconds, joules)`` of one iteration (heads + verify of n_nodes + root)."""


def _pays(
    gain: float, base: tuple[float, float, float], new: tuple[float, float, float], objective: str
) -> bool:
    """Marginal test: does the extra expected tokens pay for the extra time and/or energy?

    ``base``/``new`` are (expected tokens, seconds, joules). ``both`` keeps tokens/s and tokens/J
    from falling; ``edp`` keeps tokens²/(s·J) from falling (docs/peers.md; EDP per token as in
    [lpspec25]).
    """
    e0, t0, j0 = base
    e1, t1, j1 = new
    if gain <= 0.0:
        return False
    rate_ok = e1 * t0 >= e0 * t1
    energy_ok = e1 * j0 >= e0 * j1
    if objective == "latency":
        return rate_ok
    if objective == "energy":
        return energy_ok
    if objective == "edp":
        return e1 * e1 * t0 * j0 >= e0 * e0 * t1 * j1
    return rate_ok and energy_ok


def prune(
    accuracy: np.ndarray,
    cost: IterCost,
    *,
    max_nodes: int,
    objective: StopObjective = "both",
    lookahead: int = 1,
) -> DraftTree:
    """Hardware-aware pruning: grow greedily while the marginal tokens pay for the marginal cost.

    With ``lookahead`` w > 1 the test is applied to the block of the next 1..w nodes and the
    shortest block that pays is added: a node that opens a new PIM weight pass (N_ALU stepping)
    is judged together with the nodes that ride in that pass for free. ``lookahead=1`` is the
    plain per-node marginal rule (docs/peers.md).
    """
    if objective not in STOP_OBJECTIVES:
        raise field_error("objective", objective, ", ".join(STOP_OBJECTIVES))
    if lookahead < 1:
        raise field_error("lookahead", lookahead, "an integer >= 1")
    order = greedy_order(accuracy, max_nodes)
    costs = [cost(n) for n in range(order.size + 1)]
    kept, exp_tokens = 0, 1.0
    while kept < order.size:
        base = (exp_tokens, *costs[kept])
        for end in range(kept + 1, min(kept + lookahead, order.size) + 1):
            gain = float(sum(order.values[kept:end]))
            if _pays(gain, base, (exp_tokens + gain, *costs[end]), objective):
                kept, exp_tokens = end, exp_tokens + gain
                break
        else:
            break
    return DraftTree(order.nodes[:kept], order.values[:kept])
