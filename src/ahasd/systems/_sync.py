"""Synchronous speculative decoding: draft a batch, then verify it, strictly alternating.

Shared by ``gpu-only``, ``npu-only``, ``npu-pim-sync`` and ``specpim``; they differ only in which
devices a task occupies and which cost placement times it. One event per task: a draft batch of
n tokens (n draft steps, one cost lookup at the batch's last KV length — the table's bucket makes
that exact within a bucket) and one verification of n drafts (n + 1 positions).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ahasd.cost import StepCostTable
from ahasd.policies import RoundOutcome
from ahasd.sim.build import builder
from ahasd.sim.kernel import Kernel
from ahasd.sim.metrics import Metrics
from ahasd.sim.result import Result
from ahasd.sim.timeline import Lane, Timelines
from ahasd.systems.base import (
    RunContext,
    System,
    TaskCost,
    ar_baseline,
    build_result,
    prefill_cost,
)

outcome = builder(RoundOutcome, ("proposed", "accepted", "seconds"))  # one per verification


class SyncSystem(System):
    """Draft, then verify, never overlapping; each engine busy for its operators' share.

    Operator-level systems (``npu-pim-sync``, ``specpim``) hold both devices for the whole task;
    each device's timeline shows its operators' total time as one block at the task's start.
    """

    draft_placement: ClassVar[str] = ""
    verify_placement: ClassVar[str] = ""
    uses_memory_model = True  # placed on the platform's DRAM ranks when it describes timing

    def tables(self, ctx: RunContext) -> tuple[StepCostTable, StepCostTable]:
        """(draft table, target table); systems with offload or op maps override this."""
        return ctx.table(ctx.draft, self.draft_placement), ctx.table(
            ctx.target, self.verify_placement
        )

    def ar_table(self, ctx: RunContext) -> StepCostTable:
        return self.tables(ctx)[1]

    def gamma(self, ctx: RunContext) -> int | None:
        """A fixed draft length, or None to let the policy decide each round."""
        return None

    def extras(self, ctx: RunContext) -> dict[str, Any]:
        return {}

    def run(self, ctx: RunContext) -> Result:
        draft_t, verify_t = self.tables(ctx)
        loop = _SyncLoop(self, ctx, draft_t, verify_t)
        loop.kernel.run()
        prefill_s, ttft_s, prefill_j = prefill_cost(ctx, verify_t, draft_t)
        extras = {"rounds": loop.metrics.verifications, "events": loop.kernel.events_processed}
        extras.update(self.extras(ctx))
        return build_result(
            ctx,
            type(self),
            wall_s=loop.kernel.now,
            metrics=loop.metrics,
            timelines=loop.timelines,
            ar=ar_baseline(ctx, verify_t),
            prefill_s=prefill_s,
            extras=extras,
            flow_links=loop.links,
            prefill=(ttft_s, prefill_j),
        )


class _SyncLoop:
    """The per-run state of a synchronous system."""

    def __init__(
        self, system: SyncSystem, ctx: RunContext, draft_t: StepCostTable, verify_t: StepCostTable
    ) -> None:
        self.sys, self.ctx = system, ctx
        self.draft_v, self.verify_v = ctx.view(draft_t), ctx.view(verify_t)
        self.kernel = Kernel()
        self.metrics = Metrics(ctx.n, ctx.replay.match)
        devices = tuple(ctx.platform.devices)
        self.timelines = Timelines(devices, keep_spans=ctx.config.record_timeline)
        self._lanes: dict[tuple[str, str], Lane] = {}
        self.links: dict[int, int] = {}
        self.runs = ctx.replay.runs.tolist()
        self.prompt = ctx.config.prompt_len
        self.cap = system.gamma(ctx)
        self.next_id = 0
        self.n = 0  # drafts in the current round
        self.round_start_s = 0.0
        self.draft_task = -1
        self._start_round()

    def _task(self) -> int:
        self.next_id += 1
        return self.next_id

    def _occupy(self, track: str, tc: TaskCost, scale: float, tid: int, args: tuple) -> float:
        """Hold each engine for its share of the task; returns the task's duration."""
        start = self.kernel.now
        for dev, secs in tc.engine_s.items():
            if secs > 0:
                lane = self._lanes.get((dev, track))
                if lane is None:
                    lane = self._lanes[dev, track] = self.timelines.lane(dev, track)
                lane.add(start, start + secs * scale, track, tid, args)
        self.metrics.on_task_energy(tc.energy, scale)
        return tc.seconds * scale

    def _start_round(self) -> None:
        c = self.metrics.committed
        n, _h = self.ctx.drafter.batch(c, self.cap)
        self.n = n
        self.round_start_s = self.kernel.now
        tid = self.draft_task = self._task()
        tc = self.draft_v("draft", 1, self.prompt + c + n - 1)
        dur = self._occupy("draft", tc, n, tid, (("tokens", n), ("pos", c)))
        self.metrics.on_draft(n)
        self.kernel.call(dur, self._on_draft_done, tid)

    def _on_draft_done(self, draft_tid: int) -> None:
        c, n = self.metrics.committed, self.n
        tid = self._task()
        if self.timelines.keep_spans:  # flow arrows, drawn only in a recorded timeline
            self.links[draft_tid] = tid
        tc = self.verify_v("verify", n + 1, self.prompt + c)
        dur = self._occupy("verify", tc, 1.0, tid, (("tokens", n + 1), ("pos", c)))
        self.kernel.call(dur, self._on_verify_done, tid)

    def _on_verify_done(self, _tid: int) -> None:
        m, c, n = self.metrics, self.metrics.committed, self.n
        accepted = min(n, self.runs[c])
        m.on_verify(accepted < n)
        m.on_commit(c, accepted, 1)
        self.ctx.drafter.policy.observe(outcome(n, accepted, self.kernel.now - self.round_start_s))
        if m.committed < self.ctx.n:
            self._start_round()
