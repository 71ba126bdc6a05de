"""Stand-ins of a model's decode step, for the host micro-benchmarks that need whole steps.

A real step is framework work (Python, dispatch, kernel launches, small tensors: the interpreter's
and the allocator's working set) plus a pass over the model's weights. The stand-in does both
without the model: a step of the model's *miniature* (:func:`~ahasd.engine.host_calib.miniature_lm`:
the same architecture and engine path, tiny widths, random weights) and a pass of torch
``linear`` over generic matrices (:data:`~ahasd.engine.host_calib.STREAM_SHAPES`) holding as many
bytes as the model's weights. Two effects that a generic weight pass alone misses come out of
them (on the development VM the draft's first steps after a target step lost 1.5-1.6 ms on the
real pair and 1.5-1.6 ms on stand-ins, against 0.7 ms on the weight pass alone):

* :func:`measure_refill`: after the target's step, the draft's first steps re-read both its
  weights and its framework's working set, a little less each step;
* :func:`measure_overlap_cost`: the engine's own asynchronous loop on stand-ins whose steps
  take as long as the real ones: its draft thread and target thread share cores, caches and the
  interpreter lock, and the wall time says what that costs.

Nothing of the models under test runs: ``tests/engine/test_step_standin.py`` checks it.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from ahasd.engine.host_calib import (
    STREAM_SHAPES,
    _generic_weights,
    _spin,
    miniature_lm,
    step_clock,
)
from ahasd.engine.loop_calib import KvShape

REFILL_STEPS = 5  # draft steps after the target's over which the re-read is counted
WARM_STEPS = 3  # further steps whose median is the warm step


class StepStandIn:
    """A model's step without the model: its miniature's step, then a generic weight pass."""

    def __init__(self, lm: Any, kv_len: int):
        """``lm``: the model's :class:`~ahasd.engine.kv.CachedLM` (read for its parameters' size
        and to build the miniature; never stepped); ``kv_len``: the context the steps extend."""
        mini = miniature_lm(lm)
        self.mini = mini[0] if mini is not None else None
        self.kv_len = kv_len
        self.kv_shape = KvShape.of(lm)
        nbytes = sum(p.numel() * p.element_size() for p in lm.model.parameters())
        self.mats, _ = _generic_weights(nbytes, STREAM_SHAPES)
        self.xs: dict[tuple[int, int], torch.Tensor] = {}
        if self.mini is not None:
            self.mini.reset()
            self.mini.step([1 + (i % 200) for i in range(kv_len)])

    def step(self, n_tokens: int = 1) -> None:
        """One ``n_tokens`` step at the context length, rolled back after."""
        if self.mini is not None:
            self.mini.step([7] * n_tokens, last=True)
            self.mini.rollback(self.kv_len)
        for w in self.mats:
            key = (n_tokens, w.shape[1])
            if key not in self.xs:
                self.xs[key] = torch.ones(n_tokens, w.shape[1])
            torch.nn.functional.linear(self.xs[key], w)


def measure_refill(
    draft: StepStandIn,
    target: StepStandIn,
    gap_s: float,
    budget_s: float,
    *,
    target_width: int = 1,
    steps: int = REFILL_STEPS,
) -> tuple[float, float]:
    """(seconds, decay): what the draft's first ``steps`` one-token steps after a target step
    lose over warm steps, and the share of it still missing after each step.

    One sample: a ``target_width`` target stand-in step (the verification), then ``steps`` +
    :data:`WARM_STEPS` draft stand-in steps, each after ``gap_s`` of spinning (the loop's
    per-token work). Per position, the median over the samples within ``budget_s`` (at least
    five); the warm step is the median of the last positions. Step i's excess e_i is modelled as
    refill·(1 − r)·rⁱ (:meth:`ahasd.cost.rounds.LoopCost.refill`), so r = 1 − e_0 / Σe. (0, 0)
    when no step is slower than warm: both models fit the cache, or neither does.
    """
    clock = step_clock()
    samples: list[list[float]] = []
    spent = 0.0
    with torch.inference_mode():
        draft.step()  # untimed: first-call allocations
        while len(samples) < 5 or spent < budget_s:
            t0 = time.perf_counter()
            target.step(target_width)
            times = []
            for _ in range(steps + WARM_STEPS):
                _spin(gap_s)
                c0 = clock()
                draft.step()
                times.append(clock() - c0)
            samples.append(times)
            spent += time.perf_counter() - t0
    per_step = [statistics.median(s[i] for s in samples) for i in range(steps + WARM_STEPS)]
    warm = statistics.median(per_step[steps:])
    excess = [max(t - warm, 0.0) for t in per_step[:steps]]
    total = sum(excess)
    if total <= 0:
        return 0.0, 0.0
    return total, min(max(1.0 - excess[0] / total, 0.0), 1.0)


OVERLAP_GAMMAS: tuple[int, ...] = (1, 2, 4, 8)  # fixed γ of the async stand-in runs
OVERLAP_TOKENS = 48  # committed tokens per run


def _median_step_s(lm: StepStandIn, n_tokens: int, reps: int) -> float:
    """Median wall seconds of ``reps`` back-to-back ``n_tokens`` stand-in steps (one untimed)."""
    lm.step(n_tokens)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        lm.step(n_tokens)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure_overlap_cost(
    draft: StepStandIn,
    target: StepStandIn,
    host: Any,
    budget_s: float,
    *,
    gammas: tuple[int, ...] = OVERLAP_GAMMAS,
    tokens: int = OVERLAP_TOKENS,
    controllers: Any = None,
    alpha: float = 0.8,
    seed: int = 0,
) -> dict[int, float]:
    """Per γ, the wall seconds each second of draft work beside a verification adds in the
    asynchronous engine (−1: hidden entirely; 0: no better than one after the other; > 0:
    worse). Per γ because how the two threads meet depends on it: at γ = 1 every verification
    waits for one draft step, at γ = 8 the draft thread runs ahead in long batches.

    The engine's own asynchronous loop (:func:`~ahasd.engine.async_decode.generate_async`, with
    ``controllers()``'s EDC and TVC, as the runs being predicted) runs at fixed γ of ``gammas``
    on stand-ins of the two models (:class:`~ahasd.engine.loop_calib.StandIn`: random logits,
    a share ``alpha`` of draft tokens accepted) whose every step is a whole-step stand-in's
    (:class:`StepStandIn`), so the two threads contend for cores, caches and the interpreter
    lock as the real ones do, loop work, queue and locks included. Each run's wall time less its
    price one after the other (the round formula with ``host``'s loop terms and re-read, and the
    stand-ins' own steps timed back to back), over its draft work beside a verification (the
    run's ``overlapped_draft_steps`` × a draft step and its loop work), is one sample; the median
    over each γ's samples within ``budget_s`` (at least one per γ, in turn) is its cost.
    """
    from ahasd.engine.async_decode import generate_async
    from ahasd.engine.e2e import Steps, predicted_wall_s
    from ahasd.engine.loop_calib import StandIn, _fixed

    if not budget_s > 0:
        raise ValueError(f"budget_s: got {budget_s}; accepted: a number > 0")
    rng = np.random.default_rng(seed)
    d = StandIn(draft.kv_shape, seed + 1, work=draft.step)
    t = StandIn(target.kv_shape, seed + 2, accept=(rng, alpha), work=target.step)
    costs: dict[int, list[float]] = {g: [] for g in gammas}
    spent, verify, runs = 0.0, {}, 0
    with torch.inference_mode():
        d1 = _median_step_s(draft, 1, 9)
        catch_up = max(_median_step_s(draft, 2, 5) - d1, 0.0)
        while runs < len(gammas) or spent < budget_s:
            g = gammas[runs % len(gammas)]
            runs += 1
            t0 = time.perf_counter()
            edc, tvc = controllers() if controllers else (None, None)
            res = generate_async(d, t, [1], policy=_fixed(g), max_new_tokens=tokens, edc=edc,
                                 tvc=tvc)  # fmt: skip
            for n in {n + 1 for n in res.draft_lens} - verify.keys():
                verify[n] = _median_step_s(target, n, 3)
            serial = predicted_wall_s(res, "async", Steps(d1, verify, catch_up),
                                      replace(host, overlap_cost=None))  # fmt: skip
            beside = res.extras["overlapped_draft_steps"] * (d1 + host.loop.token_s)
            if beside > 0:
                costs[g].append((res.wall_s - serial) / beside)
            spent += time.perf_counter() - t0
    # a γ whose draft never ran beside a verification has nothing to price: 0
    return {g: statistics.median(c) if c else 0.0 for g, c in costs.items()}
