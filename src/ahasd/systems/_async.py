"""Task-level asynchronous NPU + LPDDR5-PIM speculative decoding ([ahasd26] §3–§4).

The draft model drafts batches on PIM into the bounded unverified-draft queue, on top of tokens
not yet verified (look-ahead); the target verifies the oldest batch on the NPU. Acceptance
replay: the current draft chain is anchored at a position A whose prefix is known to be true, and
its first wrong token is at ``first_wrong = A + k_A``. A verification commits the accepted drafts
plus the target's token; a mismatch (or a bonus token landing on ``first_wrong``) squashes every
later draft and the DLM restarts from the corrected token. Optional AHASD features (flags):
AAU (the draft's attention and non-linear ops stay in PIM; off = they run on the NPU and share
it with verification), EDC (stop look-ahead), TVC (pre-verify the oldest queued tokens with the
target on PIM when the NPU's remaining time allows; a mismatch found there truncates the
look-ahead early, only the NPU commits) and GTSU (the rank switch around each pre-verify takes
the gate's time; without it, a plain controller's mode change, :mod:`ahasd.memory.gating`).

Two lanes, PIM and NPU, each run one task at a time. While both run, they share the memory
resources both use (channels, dies, the NPU itself) at rates recomputed whenever a task starts
or ends (:mod:`ahasd.memory.sharing`): a task's remaining work is kept in full-speed seconds and
its end time moves when its rate changes.

The loop is the simulator's hot path. With two event sources a heap is not needed: the next
event is the lane whose task ends first (ties: feedback before new work, as the kernel's
priorities order them), so a rate change is two assignments, never a stale event. Timelines
are :class:`~ahasd.sim.timeline.Lane` appends, pair rates are memoised per pair of step costs,
and the controllers' methods are bound once per run.
"""

from __future__ import annotations

import gc

from ahasd.memory.sharing import overlap_factor
from ahasd.policies import RoundOutcome
from ahasd.sim.build import builder
from ahasd.sim.kernel import Priority
from ahasd.sim.metrics import Metrics
from ahasd.sim.queues import BoundedQueue
from ahasd.sim.timeline import Timelines
from ahasd.systems._async_parts import AsyncParts, Batch

_FEEDBACK, _NORMAL, _LATE = int(Priority.FEEDBACK), int(Priority.NORMAL), int(Priority.LATE)
_PIM, _NPU = 0, 1

outcome = builder(RoundOutcome, ("proposed", "accepted", "seconds"))  # one per verification


class _Slot:
    """One lane's task in flight: remaining full-speed seconds, current rate and end time."""

    __slots__ = ("active", "left", "rate", "since", "end", "usage", "handler", "payload", "prio",
                 "stalled")  # fmt: skip

    def __init__(self) -> None:
        self.active = False
        self.left = self.since = self.end = self.stalled = 0.0
        self.rate = 1.0
        self.usage: dict = {}
        self.handler = self.payload = None
        self.prio = _NORMAL


class AsyncLoop:
    """Per-run state of the asynchronous system; one event per task (plus reschedules)."""

    def __init__(self, parts: AsyncParts) -> None:
        self.p = p = parts
        ctx = p.ctx
        self.now = 0.0
        self.events = 0
        self._stopped = False
        self.m = Metrics(ctx.n, ctx.replay.match)
        self.rec = ctx.config.record_timeline  # keep span rows and their args
        self.tl = tl = Timelines(tuple(ctx.platform.devices), keep_spans=self.rec)
        self._pim_draft = tl.lane("pim", "draft")
        self._npu_verify = tl.lane("npu", "verify")
        self._offload = tl.lane("npu", "draft-offload")
        self.links: dict[int, int] = {}
        self.queue: BoundedQueue[Batch] = BoundedQueue("unverified", ctx.config.queue_depth)
        self._queued = self.queue.items  # read-only view for the hot checks
        self._depth = ctx.config.queue_depth
        self.runs = ctx.replay.runs.tolist()
        self.n_total, self.prompt = ctx.n, ctx.config.prompt_len
        self.corrected: set[int] = set()
        self.first_wrong = self.runs[0]
        self.frontier = 0  # next position a new draft batch starts at
        self.pv_upto = 0  # tokens before this were pre-verified (or are committed)
        self.version = 0  # bumped by every squash: stale PIM results are ignored
        self.ids = 0
        self.batch_ids = 0
        self.in_target_mode = False
        self.current: Batch | None = None  # batch being drafted
        self.verifying: Batch | None = None
        self.verify_t0 = 0.0
        self.waiting = False  # EDC stopped look-ahead until the next feedback
        self.blocked = False  # the DLM waits for room in the full queue
        self._pending_pv = (0, 0)
        self._pim_task: tuple = ("", 0.0, 0, (), ())
        self._slots = (_Slot(), _Slot())
        self._pim, self._npu = self._slots
        self._pair: dict[tuple[int, int], float] = {}  # (id(usage), id(usage)) -> shared rate
        # bound once: these run once per draft batch or verification
        self._batch = ctx.drafter.batch
        self._observe = ctx.drafter.policy.observe
        self._draft_view = p.draft_v
        self._draft_memo: dict[int, object] = {}  # KV bucket -> one draft step's TaskCost
        self._verify_memo: dict[int, object] = {}  # (KV bucket, drafts) -> cost
        self._bucket = p.draft_v.bucket
        if p.verify_v.bucket != self._bucket:
            raise ValueError("draft and verify tables must share one KV bucket")
        self._verify_view = p.verify_v
        self._edc_after = p.edc.after_batch if p.edc is not None else None
        self._edc_verified = p.edc.on_verified if p.edc is not None else None
        self._tvc = p.tvc
        self._pim_hz, self._npu_hz = p.pim_hz, p.npu_hz
        self._use_aau, self._use_tvc = p.use_aau, p.use_tvc
        self.counters = {"edc_stops": 0, "preverifies": 0, "squashes": 0, "npu_stolen_s": 0.0}
        self.switch_s = self.switch_j = 0.0
        self._start_draft()

    # --- lanes: start, reschedule, finish ------------------------------------------------------
    def _begin(self, slot: _Slot, dur: float, usage, handler, payload, prio: int) -> None:
        """Start a task of ``dur`` full-speed seconds on ``slot``; both lanes get their shared
        rate."""
        now = self.now
        other = self._npu if slot is self._pim else self._pim
        rate = 1.0
        if other.active:
            theirs = other.usage
            if usage and theirs:
                key = (id(usage), id(theirs))
                rate = self._pair.get(key)
                if rate is None:
                    rate = self._pair[key] = overlap_factor(usage, theirs)
            if rate != other.rate:
                self._retime(other, now, rate)
        slot.active, slot.left, slot.rate, slot.since = True, dur, rate, now
        slot.usage, slot.handler, slot.payload, slot.prio = usage, handler, payload, prio
        slot.end = now + dur / rate

    @staticmethod
    def _retime(slot: _Slot, now: float, rate: float) -> None:
        """Bank ``slot``'s progress at its old rate, then move its end to the new ``rate``."""
        dt = now - slot.since
        left = slot.left - slot.rate * dt
        slot.stalled += (1.0 - slot.rate) * dt
        slot.left = left = left if left > 0.0 else 0.0
        slot.rate, slot.since = rate, now
        slot.end = now + left / rate

    def _stop(self, slot: _Slot) -> None:
        """``slot``'s task ends (done or aborted) now; the other lane runs at full speed."""
        now = self.now
        dt = now - slot.since
        slot.left -= slot.rate * dt
        slot.stalled += (1.0 - slot.rate) * dt
        slot.active = False
        other = self._npu if slot is self._pim else self._pim
        if other.active and other.rate != 1.0:
            self._retime(other, now, 1.0)

    def run(self) -> float:
        """Run to the last commit: always the lane whose task ends first (at a tie, the one with
        the higher priority: feedback before new work, a switch last)."""
        pim, npu = self._pim, self._npu
        stop = self._stop
        gc_was_on = gc.isenabled()
        gc.disable()  # tasks and spans are acyclic; pausing the cycle collector saves ~20%
        try:
            while not self._stopped:
                if pim.active:
                    if npu.active and (
                        npu.end < pim.end or (npu.end == pim.end and npu.prio < pim.prio)
                    ):
                        slot = npu
                    else:
                        slot = pim
                elif npu.active:
                    slot = npu
                else:
                    break
                self.now = slot.end
                self.events += 1
                stop(slot)
                slot.handler(slot.payload)
        finally:
            if gc_was_on:
                gc.enable()
        return self.now

    # --- helpers ---------------------------------------------------------------------------
    def _task(self) -> int:
        self.ids += 1
        return self.ids

    def _anchor(self, pos: int) -> None:
        """The DLM restarts from ``pos`` with a true prefix."""
        self.frontier = self.pv_upto = pos
        self.first_wrong = pos + (self.runs[pos] if pos < self.n_total else 0)

    # --- PIM: drafting ---------------------------------------------------------------------
    def _start_draft(self) -> None:
        if self._pim.active or self.waiting or self.frontier >= self.n_total:
            return
        if len(self._queued) >= self._depth:
            self.blocked = True
            return
        if self.in_target_mode:  # a squash hit during a pre-verify: switch ranks back first
            self._switch(to_target=False)
            return
        start = self.frontier
        n, mean_h = self._batch(start)
        kv = self.prompt + start + n - 1
        tc = self._draft_memo.get(-(-kv // self._bucket))
        if tc is None:
            tc = self._draft_memo[-(-kv // self._bucket)] = self._draft_view("draft", 1, kv)
        dur = tc.seconds * n
        self.batch_ids += 1
        self.ids += 1
        now = self.now
        b = self.current = Batch(self.batch_ids, start, n, mean_h, self.ids, now, dur, tc)
        self.frontier = start + n
        self._begin(self._pim, dur, tc.usage, self._on_draft_done, self.version, _NORMAL)
        if not self._use_aau:  # attention and non-linear ops run on the NPU (shared via usage)
            secs = self.p.npu_share_s(tc) * n
            self.counters["npu_stolen_s"] += secs
            at = max(now, self._offload.end)  # an aborted batch's ops may still be drawn
            self._offload.add(at, at + secs, "draft-ops", b.task_id)

    def _on_draft_done(self, version: int) -> None:
        b, now, m = self.current, self.now, self.m
        self.current = None
        n = b.n
        args = (("tokens", n), ("pos", b.start)) if self.rec else ()
        self._pim_draft.add(b.t0, now, "draft", b.task_id, args)
        m.on_task_energy(b.cost.energy, n)
        m.proposed += n  # Metrics.on_draft, inlined
        m.batches += 1
        m.hist[n] += 1
        if self._tvc is not None:
            self._tvc.record_draft((now - b.t0) * self._pim_hz, n)
        self.queue.push(b)
        keep = self._edc_after is None or self._edc_after(b.batch_id, b.mean_h)
        if self.verifying is None:
            self._try_verify()
        if keep:
            self._start_draft()
            return
        self.counters["edc_stops"] += 1
        if self._use_tvc and self._try_preverify():
            return
        if self._use_tvc and self.p.tvc_keeps_drafting:
            self._start_draft()  # paper: TVC found no slack -> keep drafting
        else:
            self.waiting = True

    def _abort_draft(self) -> None:
        """A squash cuts the batch in flight: its finished share was proposed and wasted."""
        b = self.current
        if b is None:
            return
        self._stop(self._pim)
        frac = 1.0 - self._pim.left / b.dur if b.dur > 0 else 1.0
        frac = min(max(frac, 0.0), 1.0)
        self._pim_draft.add(b.t0, self.now, "draft (squashed)", b.task_id)
        self.m.on_task_energy(b.cost.energy, b.n * frac)
        self.m.on_abort(int(b.n * frac))
        self.current = None

    # --- PIM: pre-verification (TVC) and rank switching (GTSU) -------------------------------
    def _try_preverify(self) -> bool:
        queued, committed = self._queued, self.m.committed
        first = queued[0].start if queued else self.frontier
        start = max(self.pv_upto, first, committed)
        if self.frontier - start < 1:  # nothing unverified to check: no need to ask TVC
            return False
        elapsed = self.now - self.verify_t0 if self.verifying else 0.0
        n_plan = self.p.tvc_plan(elapsed, self.prompt + committed, len(queued))
        n = min(n_plan, self.frontier - start)
        if n < 1:
            return False
        self.counters["preverifies"] += 1
        self._pending_pv = (start, n)
        self._switch(to_target=True)
        return True

    def _switch(self, *, to_target: bool) -> None:
        p, now = self.p, self.now
        secs, joules = p.switch_cost()
        device = "pim" if p.use_gtsu else (p.ctx.mem.spec.name if p.ctx.mem else "pim")
        split = ((device, {p.switch_kind: joules}),)
        self._pim_task = ("switch", now, self._task(), split, ())
        self.switch_j += joules
        self._begin(self._pim, secs, p.switch_usage, self._on_switch_done,
                    (self.version, to_target), _LATE)  # fmt: skip

    def _finish_pim_task(self) -> float:
        """Record the switch or pre-verify that just ended; returns its duration."""
        name, t0, tid, energy, args = self._pim_task
        now = self.now
        if now > t0:
            track = "gtsu" if name == "switch" else name
            self.tl.record("pim", track, t0, now, name, tid, args=args)
        self.m.on_task_energy(energy)
        return now - t0

    def _on_switch_done(self, ev: tuple[int, bool]) -> None:
        version, to_target = ev
        self.switch_s += self._finish_pim_task()
        self.m.switches += 1
        self.in_target_mode = to_target
        if not to_target:
            self._start_draft()
            return
        if version != self.version:  # squashed while switching: nothing left to check
            self._switch(to_target=False)
            return
        start, n = self._pending_pv
        tc = self.p.preverify_cost(n, self.prompt + start)
        args = (("tokens", n), ("pos", start))
        self._pim_task = ("pre-verify", self.now, self._task(), tc.energy, args)
        self.m.preverify_tokens += n
        self._begin(self._pim, tc.seconds, tc.usage, self._on_preverify_done,
                    (self.version, start, n), _NORMAL)  # fmt: skip

    def _on_preverify_done(self, ev: tuple[int, int, int]) -> None:
        version, start, n = ev
        self.p.tvc_record_preverify(self._finish_pim_task(), n)
        w = self.first_wrong
        busy_end = self.verifying.start + self.verifying.n if self.verifying else 0
        if version == self.version and start <= w < start + n and w >= busy_end:
            self._correct_at(w)
        elif version == self.version:
            self.pv_upto = max(self.pv_upto, start + n)
        self._switch(to_target=False)

    def _correct_at(self, w: int) -> None:
        """Pre-verify found the first wrong draft at ``w``: keep drafts through it, drop later."""
        self.m.preverify_corrections += 1
        self.corrected.add(w)
        for i, b in enumerate(self.queue):
            if b.start <= w < b.start + b.n:
                dropped = self.queue.truncate_after(i)
                self.m.on_discard(b.start + b.n - (w + 1) + sum(d.n for d in dropped))
                b.n = w + 1 - b.start
                break
        self.version += 1
        self._anchor(w + 1)

    # --- NPU: verification -----------------------------------------------------------------
    def _try_verify(self) -> None:
        if self.verifying is not None or not self._queued:
            return
        b = self.queue.pop()
        c = self.m.committed
        end = b.start + b.n
        n_eff = end - c if end > c else 0
        kv = self.prompt + c
        key = (-(-kv // self._bucket) << 32) | n_eff  # an int key: nothing for gc to track
        tc = self._verify_memo.get(key)
        if tc is None:
            tc = self._verify_memo[key] = self._verify_view("verify", n_eff + 1, kv)
        self.verifying, self.verify_t0 = b, self.now
        self.ids += 1
        tid = self.ids
        if self.rec:  # flow arrows draft -> verify, drawn only in a recorded timeline
            self.links[b.task_id] = tid
        self.m.on_task_energy(tc.energy)
        self._begin(self._npu, tc.seconds, tc.usage, self._on_verify_done, tid, _FEEDBACK)
        if self.blocked:  # the pop made room in the queue
            self.blocked = False
            self._start_draft()

    def _on_verify_done(self, tid: int) -> None:
        b, now, m = self.verifying, self.now, self.m
        self.verifying = None
        c = m.committed
        end = b.start + b.n
        n_eff = end - c if end > c else 0
        first_wrong = self.first_wrong
        accepted = min(n_eff, first_wrong - c)
        fixed = self.corrected
        corrected = sum(1 for w in fixed if c <= w < c + accepted) if fixed else 0
        args = (("tokens", n_eff + 1), ("pos", c), ("accepted", accepted)) if self.rec else ()
        self._npu_verify.add(self.verify_t0, now, "verify", tid, args)
        full = accepted == n_eff
        # the bonus token was already drafted by the look-ahead chain, and it matched
        drafted_bonus = full and first_wrong > end and self.frontier > end
        drafted_bonus = drafted_bonus and end not in fixed
        m.verifications += 1  # Metrics.on_verify, inlined
        m.rejections += not full
        m.on_commit(c, accepted, 1, corrected, drafted_bonus=drafted_bonus)
        # this batch's tokens that a previous bonus token already confirmed (not corrected ones)
        confirmed = c - b.start if c > b.start else 0
        if fixed:
            confirmed -= sum(1 for w in fixed if b.start <= w < c)
        self._observe(outcome(b.n, confirmed + accepted - corrected, now - b.t0))
        if self._tvc is not None:
            self._tvc.record_verify((now - self.verify_t0) * self._npu_hz, self.prompt + c)
        if self._edc_verified is not None:
            self._edc_verified(b.batch_id, full)
        c_new = m.committed
        if c_new >= self.n_total:
            self._stopped = True
            return
        if not full or first_wrong == end:
            self._squash(c_new, rejected_next=full)
        else:
            if fixed:
                self.corrected = {w for w in fixed if w >= c_new - 1}
            if self.frontier < c_new:
                self._anchor(c_new)
        self.waiting = False
        self._try_verify()
        self._start_draft()

    def _squash(self, restart: int, *, rejected_next: bool) -> None:
        """Drop every draft built on a wrong token; the DLM restarts from ``restart``."""
        self.counters["squashes"] += 1
        dropped = self.queue.clear()
        if rejected_next and dropped:
            self.p.edc_on_verified(dropped[0].batch_id, False)
        self.m.on_discard(sum(d.n for d in dropped))
        self._abort_draft()  # a switch or pre-verify in progress finishes; its result is stale
        self.corrected.clear()
        self.blocked = False
        self.version += 1
        self._anchor(restart)

    def contention(self) -> dict[str, float]:
        """Seconds each lane lost to sharing with the other (proportional sharing: together)."""
        return {"npu_stalled_by_pim": self._npu.stalled, "pim_stalled_by_npu": self._pim.stalled}
