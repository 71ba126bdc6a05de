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
* :func:`measure_contention`: a draft thread and a target thread at once (the asynchronous
  engine) share cores, caches and the interpreter lock, so each keeps only part of its speed.

Nothing of the models under test runs: ``tests/engine/test_step_standin.py`` checks it.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

import torch

from ahasd.cost.rounds import Contention
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


def _rates(runners: dict[str, tuple[StepStandIn, int]], seconds: float) -> dict[str, float]:
    """Stand-in steps per wall second of each runner, all in their own threads at once.

    After ``seconds`` each thread takes its rate at its next finished step, and keeps stepping
    until every thread has: a thread whose last step runs on alone would look faster than it is.
    """
    stop, finished, lock = threading.Event(), threading.Event(), threading.Lock()
    out: dict[str, float] = {}

    def run(name: str, lm: StepStandIn, width: int) -> None:
        done, t0 = 0, time.perf_counter()
        with torch.inference_mode():
            while not finished.is_set():
                lm.step(width)
                done += 1
                if stop.is_set() and name not in out:
                    with lock:
                        out[name] = done / (time.perf_counter() - t0)
                        if len(out) == len(runners):
                            finished.set()

    threads = [threading.Thread(target=run, args=(k, *v)) for k, v in runners.items()]
    for th in threads:
        th.start()
    time.sleep(seconds)
    stop.set()
    for th in threads:
        th.join()
    return out


def measure_contention(
    draft: StepStandIn, target: StepStandIn, budget_s: float, *, target_width: int = 1
) -> Contention:
    """The share of its alone speed each stand-in keeps while both step at once in two threads
    (wall time: what two threads sharing a host lose to each other is the point).

    Half of ``budget_s`` together, between two alone runs of each (an eighth each), whose mean
    is the alone rate: a host that drifts during the benchmark moves both sides alike. Each
    thread runs torch at the process's thread count, as the engine's two threads do.
    """
    if not budget_s > 0:
        raise ValueError(f"budget_s: got {budget_s}; accepted: a number > 0")
    runners = {"d": (draft, 1), "t": (target, target_width)}

    def alone() -> dict[str, float]:
        return {k: _rates({k: v}, budget_s / 8)[k] for k, v in runners.items()}

    before = alone()
    both = _rates(runners, budget_s / 2)
    after = alone()
    d, t = ((both[k] * 2 / (before[k] + after[k])) for k in ("d", "t"))
    return Contention(d, t)
