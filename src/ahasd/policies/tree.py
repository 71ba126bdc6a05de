"""Draft-tree builders: a static top-k tree and a dynamic greedy tree under a node budget.

A node is the tuple of draft ranks along its path from the root: ``(r1, .., rd)`` is the
r_d-th most likely draft token at depth d below the path ``(r1, .., r_{d-1})``. Scoring is by
cumulative draft probability (product of the draft's probabilities along the path, EAGLE-2 /
[sequoia]), so a best-first tree is always a connected subtree.

Trace consumers (docs/traces.md): under greedy verification a tree rooted at committed position
i accepts depth d when the path ``(target_rank[i], .., target_rank[i+d-1])`` is in the tree
(``accepted_depth``); the round commits ``accepted_depth + 1`` tokens.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ahasd.errors import field_error

Node = tuple[int, ...]


@dataclass(frozen=True, slots=True)
class DraftTree:
    """Nodes in build order (parents before children) with their path scores."""

    nodes: tuple[Node, ...]
    scores: tuple[float, ...]

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def depth(self) -> int:
        return max((len(n) for n in self.nodes), default=0)

    def parents(self) -> list[int]:
        """Index of each node's parent in ``nodes`` (-1 = child of the root)."""
        where = {n: i for i, n in enumerate(self.nodes)}
        return [where[n[:-1]] if len(n) > 1 else -1 for n in self.nodes]

    def accepted_depth(self, ranks: Sequence[int]) -> int:
        """Deepest d with ``tuple(ranks[:d])`` in the tree (greedy verification)."""
        members = set(self.nodes)
        d = 0
        while d < len(ranks) and tuple(ranks[: d + 1]) in members:
            d += 1
        return d

    def expected_accepted(self, accept: Callable[[int, int], float]) -> float:
        """Σ over nodes of Π accept(depth, rank) along the path (independent positions)."""
        total = 0.0
        for node in self.nodes:
            p = 1.0
            for d, r in enumerate(node):
                p *= accept(d, r)
            total += p
        return total


def static_tree(widths: Sequence[int]) -> DraftTree:
    """Every node at depth d gets the top ``widths[d]`` children (SpecInfer-style expansion)."""
    if not widths or any(int(w) < 1 for w in widths):
        raise field_error("widths", tuple(widths), "a non-empty list of integers >= 1")
    level: list[Node] = [()]
    nodes: list[Node] = []
    for w in widths:
        level = [(*n, r) for n in level for r in range(int(w))]
        nodes.extend(level)
    return DraftTree(tuple(nodes), tuple(0.0 for _ in nodes))


def greedy_tree(
    child_probs: Callable[[Node], Sequence[float]], budget: int, max_depth: int = 64
) -> DraftTree:
    """Best-first tree: repeatedly add the frontier node with the largest cumulative probability.

    ``child_probs(node)`` returns the draft probabilities of the node's children in rank order
    (top-k of the draft's distribution at that node). Ties break by the node tuple.
    """
    if budget < 0:
        raise field_error("budget", budget, "an integer >= 0")
    if max_depth < 1:
        raise field_error("max_depth", max_depth, "an integer >= 1")
    heap = [(-float(q), (r,)) for r, q in enumerate(child_probs(()))]
    heapq.heapify(heap)
    nodes: list[Node] = []
    scores: list[float] = []
    while heap and len(nodes) < budget:
        neg, node = heapq.heappop(heap)
        nodes.append(node)
        scores.append(-neg)
        if len(node) < max_depth:
            for r, q in enumerate(child_probs(node)):
                heapq.heappush(heap, (neg * float(q), (*node, r)))
    return DraftTree(tuple(nodes), tuple(scores))


def depth_rank_tree(rank_probs: Sequence[Sequence[float]], budget: int) -> DraftTree:
    """Greedy tree when the child probabilities depend only on depth and rank
    (``rank_probs[d][r]``, e.g. per-depth top-k acceptance measured from a trace)."""
    depth = len(rank_probs)
    return greedy_tree(lambda n: rank_probs[len(n)] if len(n) < depth else (), budget, depth)
