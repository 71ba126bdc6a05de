"""Micro-benchmark of the decode loop's own work: a round's time besides the two models' steps.

The engine's loops (:func:`ahasd.engine.decode.generate`, :func:`~ahasd.engine.decode.target_only`,
:func:`ahasd.engine.async_decode.generate_async`) run unchanged on *stand-ins* of the two models:
a stand-in answers a step with seeded random logits of the model's vocabulary size, keeps a KV
cache of the model's shape on the model's backend (the lean path's length-indexed buffer, or a
Hugging Face ``DynamicCache`` with the real layer, KV-head and head-dim counts), so rollback does
the work it does in a real run, and reads a generic buffer as large as the model's weights, so
that the loop's own work finds the caches as cold as a real step leaves them. The loop's wall
time less the time spent inside the stand-ins is the policy step, sampling and acceptance, KV
rollback and the Python and tensor bookkeeping of every round. Nothing of the models under test
runs, and nothing is fitted to a measured end-to-end figure: runs at fixed γ give the overhead
per round at each γ, and a straight line through them splits it into a per-round and a
per-drafted-token part (:class:`LoopOverheads`).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ahasd.engine.kv import CachedLM
from ahasd.engine.sampling import SamplingConfig

BANK_ROWS = 64  # distinct random logit rows a stand-in cycles through
LOOP_GAMMAS: tuple[int, ...] = (1, 2, 4, 8)
LOOP_TOKENS = 48  # committed tokens per benchmark run
BIG = 1e4  # added to a logit to make it the argmax (an accepted draft token)


@dataclass(frozen=True, slots=True)
class KvShape:
    """What a KV cache of a model holds per position: layers x KV heads x head dim; ``lean``:
    the engine runs the model through the lean path (rollback is a length change);
    ``weight_bytes``: how much memory one step of the model streams."""

    layers: int
    kv_heads: int
    head_dim: int
    vocab: int
    lean: bool
    weight_bytes: int = 0

    @classmethod
    def of(cls, lm: CachedLM) -> KvShape:
        """The shape of ``lm``'s cache, vocabulary and weights, read from its config and its
        parameters' sizes (no step runs)."""
        cfg = lm.model.config
        heads = cfg.num_attention_heads
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
        kv_heads = getattr(cfg, "num_key_value_heads", None) or heads
        nbytes = sum(p.numel() * p.element_size() for p in lm.model.parameters())
        lean = lm.lean is not None
        return cls(cfg.num_hidden_layers, kv_heads, head_dim, cfg.vocab_size, lean, nbytes)


class StandIn(CachedLM):
    """A model stand-in for the loop benchmark: instant random logits, a KV cache of the shape.

    ``accept``: for a target stand-in, a seeded generator and the per-token probability that a
    fed draft token is the target's argmax (leading successes are accepted, as greedy
    verification does); None for a draft. ``spent`` and ``spent_cpu`` sum the wall and thread-CPU
    seconds spent inside :meth:`step`, which the benchmark takes off. Rollback and the cache
    bookkeeping are :class:`CachedLM`'s own.
    Each step reads ``shape.weight_bytes`` of zeros (a generic buffer, not the model's weights),
    or runs ``work(n_tokens)`` instead (a whole step's stand-in,
    :class:`~ahasd.engine.step_standin.StepStandIn`).
    """

    def __init__(
        self,
        shape: KvShape,
        seed: int,
        accept: tuple[Any, float] | None = None,
        work: Any = None,
    ):
        g = torch.Generator().manual_seed(seed)
        self.model = None
        self.device = torch.device("cpu")
        self.widths = ()
        self.shape = shape
        self.lean = True if shape.lean else None  # CachedLM.rollback only tests for None
        self.bank = torch.randn(BANK_ROWS, shape.vocab, generator=g)
        self.sweep = torch.zeros(max(shape.weight_bytes // 4, 1))
        self.work = work  # work(n): a whole-step stand-in's step, run instead of the sweep
        self.accept = accept
        self.cache: Any = None
        self.length = 0
        self.spent = self.spent_cpu = 0.0
        self.spans: list[tuple[float, float]] = []  # (start, end) of every step, wall clock

    def _new_cache(self) -> Any:
        from transformers import DynamicCache

        return DynamicCache()

    def step(self, tokens: list[int], last: bool = False) -> torch.Tensor:
        t0, c0 = time.perf_counter(), time.thread_time()
        n, s = len(tokens), self.shape
        if self.work is not None:
            self.work(n)
        else:
            self.sweep.sum()  # evicts what the loop last touched, as a real step's weights do
        rows = self.bank[[(self.length + i) % BANK_ROWS for i in range(n)]]
        if self.accept is not None and n > 1:
            rng, alpha = self.accept
            k = 0
            while k < n - 1 and rng.random() < alpha:
                rows[k, tokens[k + 1]] += BIG
                k += 1
        if self.lean is None:  # the Hugging Face backend appends to a DynamicCache
            if self.cache is None:
                self.cache = self._new_cache()
            kv = torch.zeros(1, s.kv_heads, n, s.head_dim)
            for layer in range(s.layers):
                self.cache.update(kv, kv, layer)
        self.length += n
        out = rows[-1:] if last else rows
        t1 = time.perf_counter()
        self.spent += t1 - t0
        self.spent_cpu += time.thread_time() - c0
        self.spans.append((t0, t1))
        return out

    def reset(self) -> None:
        super().reset()
        self.spent = self.spent_cpu = 0.0
        self.spans = []


@dataclass(frozen=True, slots=True)
class LoopOverheads:
    """Seconds of loop work per speculative round, per drafted token, per autoregressive token
    (and per asynchronous round on top of a synchronous one), with what they came from."""

    round_s: float
    token_s: float
    ar_token_s: float
    async_round_s: float = 0.0
    per_gamma_s: tuple[tuple[int, float], ...] = ()  # (γ, median overhead per round)

    def as_dict(self) -> dict[str, Any]:
        return {
            "round_us": round(self.round_s * 1e6, 2),
            "token_us": round(self.token_s * 1e6, 2),
            "ar_token_us": round(self.ar_token_s * 1e6, 2),
            "async_round_us": round(self.async_round_s * 1e6, 2),
            "per_gamma_us": {g: round(s * 1e6, 2) for g, s in self.per_gamma_s},
        }


def _fixed(gamma: int) -> Any:
    from ahasd.policies import make_policy

    return make_policy("fixed", gamma=gamma)


def _one_sync(d: StandIn, t: StandIn, gamma: int, tokens: int, cfg: SamplingConfig) -> tuple:
    """(overhead seconds, rounds, drafted tokens) of one synchronous stand-in run, in this
    thread's CPU time: the loop is one thread, and CPU time leaves out a busy host's preemptions
    (what an idle host would take)."""
    from ahasd.engine.decode import generate

    d.reset()
    t.reset()
    c0 = time.thread_time()
    res = generate(d, t, [1], policy=_fixed(gamma), sampling=cfg, max_new_tokens=tokens)
    return time.thread_time() - c0 - d.spent_cpu - t.spent_cpu, res.rounds, res.proposed


def busy_s(spans: list[tuple[float, float]]) -> float:
    """Seconds covered by the union of (start, end) intervals."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(spans):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def _one_async(d: StandIn, t: StandIn, gamma: int, tokens: int, cfg: SamplingConfig) -> tuple:
    """As :func:`_one_sync` for the asynchronous loop, in wall time (two threads): the wall time
    less the time at least one stand-in was stepping (their steps overlap, so not their sum)."""
    from ahasd.engine.async_decode import generate_async

    d.reset()
    t.reset()
    res = generate_async(d, t, [1], policy=_fixed(gamma), sampling=cfg, max_new_tokens=tokens)
    return res.wall_s - busy_s(d.spans + t.spans), res.rounds, res.extras["drafted_tokens"]


def _one_ar(t: StandIn, tokens: int, cfg: SamplingConfig) -> float:
    """Overhead seconds per token of one target-only stand-in run (thread CPU time)."""
    from ahasd.engine.decode import target_only

    t.reset()
    c0 = time.thread_time()
    res = target_only(t, [1], sampling=cfg, max_new_tokens=tokens)
    return (time.thread_time() - c0 - t.spent_cpu) / len(res.tokens)


def fit_line(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares (intercept, slope) through (x, y) points; the slope is 0 for a single x."""
    xs = np.array([p[0] for p in points], dtype=float)
    ys = np.array([p[1] for p in points], dtype=float)
    if np.ptp(xs) == 0:
        return float(ys.mean()), 0.0
    slope, intercept = np.polyfit(xs, ys, 1)
    return float(intercept), float(slope)


def measure_loop_overheads(
    draft: KvShape,
    target: KvShape,
    budget_s: float,
    *,
    sampling: SamplingConfig | None = None,
    alpha: float = 0.8,
    gammas: tuple[int, ...] = LOOP_GAMMAS,
    tokens: int = LOOP_TOKENS,
    asynchronous: bool = True,
    seed: int = 0,
) -> LoopOverheads:
    """The decode loop's own time on stand-ins of shapes ``draft`` and ``target``.

    Within ``budget_s`` (at least three runs each), the median overhead per round at each fixed
    γ of ``gammas`` (drafting γ, verifying γ + 1, a share ``alpha`` of fed draft tokens
    accepted) gives ``round_s + γ·token_s`` by least squares; the target-only loop gives
    ``ar_token_s``; the asynchronous loop (thread hand-offs, queue, epochs) at the same γs gives
    ``async_round_s``: its overhead per round beyond the synchronous terms for the tokens it
    drafted (squashed look-ahead included).
    """
    if not budget_s > 0:
        raise ValueError(f"budget_s: got {budget_s}; accepted: a number > 0")
    cfg = sampling or SamplingConfig()
    rng = np.random.default_rng(seed)
    d = StandIn(draft, seed + 1)
    t = StandIn(target, seed + 2, accept=(rng, alpha))
    kinds = ("sync", "async") if asynchronous else ("sync",)
    share = budget_s / (len(gammas) * len(kinds) + 1)
    runs: dict[tuple[str, int], list[tuple[float, int, float]]] = {}

    def repeat(fn: Any) -> list[Any]:
        out, spent = [], 0.0
        while len(out) < 3 or spent < share:
            t0 = time.perf_counter()
            out.append(fn())
            spent += time.perf_counter() - t0
        return out

    with torch.inference_mode():
        _one_sync(d, t, gammas[0], tokens, cfg)  # warm-up: imports, first-call allocations
        for kind in kinds:
            one = _one_sync if kind == "sync" else _one_async
            for g in gammas:
                runs[(kind, g)] = repeat(lambda one=one, g=g: one(d, t, g, tokens, cfg))
        ar = statistics.median(repeat(lambda: _one_ar(t, tokens, cfg)))
    sync = {g: statistics.median(o / r for o, r, _ in runs[("sync", g)]) for g in gammas}
    round_s, token_s = fit_line(list(sync.items()))
    round_s, token_s = max(round_s, 0.0), max(token_s, 0.0)
    extra = 0.0
    if asynchronous:
        extra = statistics.median(
            (o - n * token_s) / r - round_s for g in gammas for o, r, n in runs[("async", g)]
        )
    return LoopOverheads(round_s, token_s, ar, extra, tuple(sync.items()))
