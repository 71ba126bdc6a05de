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

The loop is the simulator's hot path (``benchmarks/bench_sim.py``); every speed-up keeps the
results bit-identical (``tests/sim/test_golden.py``). With two event sources a heap is not
needed: the next event is the lane whose task ends first (ties: feedback before new work, as the
kernel's priorities order them), so a rate change is two assignments, never a stale event. Most
events are draft batches finishing while the NPU verifies: :meth:`AsyncLoop._on_draft_done`
ends each following batch itself while it ends before the NPU's task (the same float operations
and event count as going back to the loop). Timelines are :class:`~ahasd.sim.timeline.Lane`
appends, step costs (with their cost views) and pair rates
(:data:`~ahasd.memory.sharing.PAIR_RATES`) are memoised across runs, and an entropy-threshold
policy sizes batches through its ``stop_rule`` without building per-token signals. The module is
compiled with mypyc at install (:mod:`ahasd.native`): its annotations are what make it fast.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Any

from ahasd.memory.sharing import PAIR_RATES, pair_rate
from ahasd.policies import RoundOutcome
from ahasd.sim.build import builder
from ahasd.sim.kernel import Priority
from ahasd.sim.metrics import Metrics
from ahasd.sim.queues import BoundedQueue
from ahasd.sim.timeline import Timelines
from ahasd.systems._async_parts import AsyncParts

if TYPE_CHECKING:
    from ahasd.policies.edc import EDC
    from ahasd.sim.replay import Drafter

_FEEDBACK, _NORMAL, _LATE = int(Priority.FEEDBACK), int(Priority.NORMAL), int(Priority.LATE)
_CHUNK = 256  # events per call of AsyncLoop._advance
# what a lane's task is, i.e. which handler its end goes to (AsyncLoop._advance)
_DRAFT, _VERIFY, _SWITCH, _PREVERIFY = 0, 1, 2, 3

outcome = builder(RoundOutcome, ("proposed", "accepted", "seconds"))  # one per verification

# a draft step's memoised cost: (seconds, energy split, usage, TaskCost)
Step = tuple[float, Any, Any, Any]


class Batch:
    """A draft batch: positions ``start .. start + n - 1``, drafted from ``t0`` as task ``tid``
    (mean draft entropy ``mean_h``): ``n`` times ``step``, ``dur`` full-speed seconds."""

    __slots__ = ("start", "n", "tid", "t0", "mean_h", "dur", "step")

    def __init__(
        self, start: int, n: int, tid: int, t0: float, mean_h: float, dur: float, step: Step
    ) -> None:
        self.start, self.n, self.tid, self.t0 = start, n, tid, t0
        self.mean_h, self.dur, self.step = mean_h, dur, step


class _Slot:
    """One lane's task in flight: remaining full-speed seconds, current rate and end time."""

    __slots__ = ("active", "left", "rate", "since", "end", "usage", "kind", "payload", "prio",
                 "stalled")  # fmt: skip

    def __init__(self) -> None:
        self.active = False
        self.left = self.since = self.end = self.stalled = 0.0
        self.rate = 1.0
        self.usage: Any = {}
        self.kind = _DRAFT
        self.payload: Any = None
        self.prio = _NORMAL


def _retime(slot: _Slot, now: float, rate: float) -> None:
    """Bank ``slot``'s progress at its old rate, then move its end to the new ``rate``."""
    dt = now - slot.since
    left = slot.left - slot.rate * dt
    slot.stalled += (1.0 - slot.rate) * dt
    slot.left = left = left if left > 0.0 else 0.0
    slot.rate, slot.since = rate, now
    slot.end = now + left / rate


def _shared_rate(usage: Any, theirs: Any) -> float:
    """The rate two overlapping tasks share (:data:`PAIR_RATES`, computed on a miss)."""
    if not usage or not theirs:
        return 1.0
    got = PAIR_RATES.get((id(usage), id(theirs)))
    return pair_rate(usage, theirs) if got is None else got


class AsyncLoop:
    """Per-run state of the asynchronous system; one event per task (plus reschedules).

    Slotted: every attribute load in the hot loop is a slot read (a field read in the compiled
    build). Step costs are memoised as plain tuples ``(seconds, energy split, usage, TaskCost)``
    (a NamedTuple's fields are slower to read).
    """

    __slots__ = (
        "p", "now", "events", "_stopped", "m", "rec", "tl", "links", "queue", "_depth",
        "runs", "n_total", "prompt", "corrected", "first_wrong", "frontier", "pv_upto", "version",
        "ids", "in_target_mode", "current", "verifying", "verify_t0", "waiting", "blocked",
        "_pending_pv", "_pim_task", "_pim", "_npu", "_drafter", "_policy", "_rule",
        "_draft_view", "_draft_memo", "_verify_memo", "_bucket", "_verify_view", "_pv_view",
        "_pv_bucket", "_pv_memo", "_edc", "_tvc", "_pim_hz", "_npu_hz",
        "_use_aau", "_use_tvc", "counters", "switch_s", "switch_j", "_switch_cost",
        "_switch_comps", "_switch_split", "_pim_draft", "_npu_verify", "_offload", "_gtsu_lane",
        "_pv_lane",
    )  # fmt: skip

    def __init__(self, parts: AsyncParts) -> None:
        self.p = p = parts
        ctx = p.ctx
        self.now = 0.0
        self.events = 0
        self._stopped = False
        self.m = Metrics(ctx.n, ctx.replay.match)
        # (attributes read from configs and arrays are annotated: the compiled build types them)
        self.rec: bool = ctx.config.record_timeline  # keep span rows and their args
        self.tl = tl = Timelines(tuple(ctx.platform.devices), keep_spans=self.rec)
        self._pim_draft = tl.lane("pim", "draft")
        self._npu_verify = tl.lane("npu", "verify")
        self._offload = tl.lane("npu", "draft-offload")
        self._gtsu_lane, self._pv_lane = tl.lane("pim", "gtsu"), tl.lane("pim", "pre-verify")
        self.links: dict[int, int] = {}
        self.queue: BoundedQueue[Batch] = BoundedQueue("unverified", ctx.config.queue_depth)
        self._depth: int = ctx.config.queue_depth
        self.runs: list[int] = ctx.replay.runs.tolist()
        self.n_total: int = ctx.n
        self.prompt: int = ctx.config.prompt_len
        self.corrected: set[int] = set()
        self.first_wrong = self.runs[0]
        self.frontier = 0  # next position a new draft batch starts at
        self.pv_upto = 0  # tokens before this were pre-verified (or are committed)
        self.version = 0  # bumped by every squash: stale PIM results are ignored
        self.ids = 0
        self.in_target_mode = False
        self.current: Batch | None = None  # batch being drafted
        self.verifying: Batch | None = None
        self.verify_t0 = 0.0
        self.waiting = False  # EDC stopped look-ahead until the next feedback
        self.blocked = False  # the DLM waits for room in the full queue
        self._pending_pv = (0, 0)
        self._pim_task: tuple[str, float, int, Any, tuple] = ("", 0.0, 0, (), ())
        self._pim, self._npu = _Slot(), _Slot()
        # read once per draft batch or verification
        self._drafter: Drafter = ctx.drafter
        self._policy = ctx.drafter.policy
        # (cap, entropy threshold) until the next observe
        self._rule: tuple[int, float] | None = self._policy.stop_rule()
        self._draft_view = p.draft_v
        # KV bucket -> one draft step's cost; (KV bucket, drafts) -> a verification's; as plain
        # tuples (seconds, energy split, usage, TaskCost), kept with the views across runs
        self._draft_memo: dict[int, Step] = p.draft_v.derived("async-draft")
        self._verify_memo: dict[int, tuple] = p.verify_v.derived("async-verify")
        self._bucket: int = p.draft_v.bucket
        if p.verify_v.bucket != self._bucket:
            raise ValueError("draft and verify tables must share one KV bucket")
        self._verify_view = p.verify_v
        self._pv_view = p.pre_v
        self._pv_bucket: int = p.pre_v.bucket
        # (KV bucket, tokens) -> a pre-verification's (seconds, energy split, usage)
        self._pv_memo: dict[int, tuple] = p.pre_v.derived("async-preverify")
        self._edc: EDC | None = p.edc
        self._tvc = p.tvc
        self._pim_hz: float = p.pim_hz
        self._npu_hz: float = p.npu_hz
        self._use_aau: bool = p.use_aau
        self._use_tvc: bool = p.use_tvc
        self.counters = {"edc_stops": 0, "preverifies": 0, "squashes": 0, "npu_stolen_s": 0.0}
        self.switch_s = self.switch_j = 0.0
        self._switch_cost = p.switch_cost()  # (seconds, joules) of every rank switch
        device = "pim" if p.use_gtsu else (ctx.mem.spec.name if ctx.mem else "pim")
        self._switch_comps: dict[str, float] = {}
        self._switch_split = ((device, self._switch_comps),)
        self._start_draft()

    # --- lanes: start, reschedule, finish ------------------------------------------------------
    def _begin(
        self, slot: _Slot, dur: float, usage: Any, kind: int, payload: Any, prio: int
    ) -> None:
        """Start a task (``kind``: ``_DRAFT`` ...) of ``dur`` full-speed seconds on ``slot``;
        both lanes get their shared rate."""
        now = self.now
        other = self._npu if slot is self._pim else self._pim
        rate = 1.0
        if other.active:
            rate = _shared_rate(usage, other.usage)
            if rate != other.rate:
                _retime(other, now, rate)
        slot.active, slot.left, slot.rate, slot.since = True, dur, rate, now
        slot.usage, slot.kind, slot.payload, slot.prio = usage, kind, payload, prio
        slot.end = now + dur / rate

    def _stop(self, slot: _Slot) -> None:
        """``slot``'s task ends (done or aborted) now; the other lane runs at full speed."""
        now = self.now
        dt = now - slot.since
        slot.left -= slot.rate * dt
        slot.stalled += (1.0 - slot.rate) * dt
        slot.active = False
        other = self._npu if slot is self._pim else self._pim
        if other.active and other.rate != 1.0:
            _retime(other, now, 1.0)

    def run(self) -> float:
        """Run to the last commit: always the lane whose task ends first (at a tie, the one with
        the higher priority: feedback before new work, a switch last)."""
        gc_was_on = gc.isenabled()
        gc.disable()  # tasks and spans are acyclic; pausing the cycle collector saves ~20%
        try:
            while self._advance(_CHUNK):
                pass
        finally:
            if gc_was_on:
                gc.enable()
        return self.now

    def _advance(self, budget: int) -> bool:
        """Handle up to ``budget`` events; False once the run is over. :meth:`run` calls this in
        chunks because CPython 3.11 specialises a function's bytecode only after it has been
        called a few times, never inside one long call (3x more work per event)."""
        pim, npu = self._pim, self._npu
        for handled in range(budget):  # events counted once per call
            if self._stopped:
                self.events += handled
                return False
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
                self.events += handled
                return False
            self.now = slot.end
            self._stop(slot)
            kind = slot.kind
            if kind == _DRAFT:
                self._on_draft_done(slot.payload)
            elif kind == _VERIFY:
                self._on_verify_done(slot.payload)
            elif kind == _SWITCH:
                self._on_switch_done(slot.payload)
            else:
                self._on_preverify_done(slot.payload)
        self.events += budget
        return True

    # --- helpers ---------------------------------------------------------------------------
    def _anchor(self, pos: int) -> None:
        """The DLM restarts from ``pos`` with a true prefix."""
        self.frontier = self.pv_upto = pos
        self.first_wrong = pos + (self.runs[pos] if pos < self.n_total else 0)

    # --- PIM: drafting ---------------------------------------------------------------------
    def _start_draft(self) -> None:
        if self._pim.active or self.waiting or self.frontier >= self.n_total:
            return
        if len(self.queue) >= self._depth:
            self.blocked = True
            return
        if self.in_target_mode:  # a squash hit during a pre-verify: switch ranks back first
            self._switch(to_target=False)
            return
        self.current = b = self._next_batch(self.frontier)
        self._begin(self._pim, b.dur, b.step[2], _DRAFT, self.version, _NORMAL)

    def _next_batch(self, start: int) -> Batch:
        """Size the draft batch at ``start`` and book it (not its lane)."""
        rule = self._rule
        if rule is None:
            n, mean_h = self._drafter.batch(start)
        else:
            n, mean_h = self._drafter.scan(start, rule[0], rule[1])
        kv = self.prompt + start + n - 1
        bucket = -(-kv // self._bucket)
        step = self._draft_memo.get(bucket)
        if step is None:
            tc = self._draft_view("draft", 1, kv)
            step = self._draft_memo[bucket] = (tc.seconds, tc.energy, tc.usage, tc)
        self.ids = tid = self.ids + 1
        self.frontier = start + n
        if not self._use_aau:  # attention and non-linear ops run on the NPU (shared via usage)
            secs = self.p.npu_share_s(step[3]) * n
            self.counters["npu_stolen_s"] += secs
            at = max(self.now, self._offload.end)  # an aborted batch's ops may still be drawn
            self._offload.add(at, at + secs, "draft-ops", tid)
        return Batch(start, n, tid, self.now, mean_h, step[0] * n, step)

    def _on_draft_done(self, _version: int) -> None:
        """A draft batch ended: queue it, then draft on. The hot path: while the next batch
        starts at once and ends before the NPU's task, this loop also ends it without handing
        it to :meth:`run` or the PIM slot (the same float operations and event count as
        :meth:`_start_draft` and :meth:`run` would do). The NPU's return to full speed when a batch
        ends and its slow-down when the next one starts, at the same instant, are one retime:
        the second of two retimes at one time banks nothing."""
        m, pim, npu, lane, queue = self.m, self._pim, self._npu, self._pim_draft, self.queue
        edc, tvc = self._edc, self._tvc
        b, now = self.current, self.now
        assert b is not None  # the batch that just ended
        self.current = None
        last_usage = last_theirs = None
        last_rate = 1.0
        while True:
            n = b.n
            args = (("tokens", n), ("pos", b.start)) if self.rec else ()
            lane.add(b.t0, now, "draft", b.tid, args)
            m.on_task_energy(b.step[1], n)
            m.on_draft(n)
            if tvc is not None:
                tvc.record_draft((now - b.t0) * self._pim_hz, n)
            queue.push(b)
            keep = edc is None or edc.after_batch(b.tid, b.mean_h)
            if self.verifying is None:
                self._try_verify()
            start = self.frontier
            if (not keep or self.waiting or start >= self.n_total or len(queue) >= self._depth
                    or self.in_target_mode):  # fmt: skip
                if npu.active and npu.rate != 1.0:  # the retime deferred from the batch's end
                    _retime(npu, now, 1.0)
                if keep:
                    self._start_draft()  # _start_draft's own guards decide (the same tests)
                else:
                    self._edc_stopped()
                return
            b = self._next_batch(start)
            dur, usage = b.dur, b.step[2]
            rate = 1.0
            if npu.active:
                theirs = npu.usage
                if usage is not last_usage or theirs is not last_theirs:  # mostly the last pair
                    last_usage, last_theirs = usage, theirs
                    last_rate = _shared_rate(usage, theirs)
                rate = last_rate
                if rate != 1.0 or npu.rate != 1.0:
                    _retime(npu, now, rate)
                end = now + dur / rate
                if npu.end < end or (npu.end == end and npu.prio < _NORMAL):
                    # the NPU's task ends first: the batch goes to the PIM slot and the loop
                    pim.active, pim.left, pim.rate, pim.since = True, dur, rate, now
                    pim.usage, pim.kind, pim.payload = usage, _DRAFT, self.version
                    pim.prio, pim.end = _NORMAL, end
                    self.current = b
                    return
            else:
                end = now + dur / rate
            pim.stalled += (1.0 - rate) * (end - now)  # the batch ends (its _stop)
            self.now = now = end
            self.events += 1

    def _edc_stopped(self) -> None:
        """EDC stopped look-ahead: pre-verify in the slack (TVC), keep drafting or wait."""
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
        dur = b.dur
        self._stop(self._pim)
        frac = 1.0 - self._pim.left / dur if dur > 0 else 1.0
        frac = min(max(frac, 0.0), 1.0)
        self._pim_draft.add(b.t0, self.now, "draft (squashed)", b.tid)
        self.m.on_task_energy(b.step[1], b.n * frac)
        self.m.on_abort(int(b.n * frac))
        self.current = None

    # --- PIM: pre-verification (TVC) and rank switching (GTSU) -------------------------------
    def _try_preverify(self) -> bool:
        queued, committed = self.queue, self.m.committed
        first = queued[0].start if queued else self.frontier
        start = max(self.pv_upto, first, committed)
        if self.frontier - start < 1:  # nothing unverified to check: no need to ask TVC
            return False
        elapsed = self.now - self.verify_t0 if self.verifying else 0.0
        tvc = self._tvc
        assert tvc is not None  # EDC stops consult TVC only when it is on
        # tokens TVC would pre-verify, given the NPU's elapsed cycles
        n_plan = int(tvc.plan(elapsed * self._npu_hz, self.prompt + committed, len(queued)))
        n = min(n_plan, self.frontier - start)
        if n < 1:
            return False
        self.counters["preverifies"] += 1
        self._pending_pv = (start, n)
        self._switch(to_target=True)
        return True

    def _switch(self, *, to_target: bool) -> None:
        secs, joules = self._switch_cost
        self.ids += 1
        self._pim_task = ("switch", self.now, self.ids, None, ())
        self.switch_j += joules
        self._begin(self._pim, secs, self.p.switch_usage, _SWITCH, (self.version, to_target),
                    _LATE)  # fmt: skip

    def _finish_pim_task(self) -> float:
        """Record the switch or pre-verify that just ended; returns its duration.

        Every switch costs the same joules, so the run charges one split whose value the
        switches add up here: the same sequential sum one split per switch would give.
        """
        name, t0, tid, energy, args = self._pim_task
        now = self.now
        if name == "switch":
            if now > t0:
                self._gtsu_lane.add(t0, now, name, tid)
            comps = self._switch_comps
            if not comps:  # the first switch to finish charges the run's switch split
                comps[self.p.switch_kind] = 0.0
                self.m.on_task_energy(self._switch_split)
            comps[self.p.switch_kind] += self._switch_cost[1]
        else:
            if now > t0:
                self._pv_lane.add(t0, now, name, tid, args)
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
        kv = self.prompt + start
        key = (-(-kv // self._pv_bucket) << 32) | n
        cost = self._pv_memo.get(key)
        if cost is None:
            tc = self._pv_view("verify", n, kv)
            cost = self._pv_memo[key] = (tc.seconds, tc.energy, tc.usage)
        seconds, energy, usage = cost
        args = (("tokens", n), ("pos", start))
        self.ids += 1
        self._pim_task = ("pre-verify", self.now, self.ids, energy, args)
        self.m.preverify_tokens += n
        self._begin(self._pim, seconds, usage, _PREVERIFY, (self.version, start, n),
                    _NORMAL)  # fmt: skip

    def _on_preverify_done(self, ev: tuple[int, int, int]) -> None:
        version, start, n = ev
        secs = self._finish_pim_task()
        if self._tvc is not None:
            self._tvc.record_preverify(secs * self._pim_hz, n)
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
            start, n = b.start, b.n
            if start <= w < start + n:
                dropped = self.queue.truncate_after(i)
                self.m.on_discard(start + n - (w + 1) + sum(d.n for d in dropped))
                cut = Batch(start, w + 1 - start, b.tid, b.t0, b.mean_h, b.dur, b.step)
                self.queue.replace(i, cut)
                break
        self.version += 1
        self._anchor(w + 1)

    # --- NPU: verification -----------------------------------------------------------------
    def _try_verify(self) -> None:
        if self.verifying is not None or not self.queue:
            return
        b = self.queue.pop()
        c = self.m.committed
        end = b.start + b.n
        n_eff = end - c if end > c else 0
        kv = self.prompt + c
        key = (-(-kv // self._bucket) << 32) | n_eff  # an int key: nothing for gc to track
        cost = self._verify_memo.get(key)
        if cost is None:
            tc = self._verify_view("verify", n_eff + 1, kv)
            cost = self._verify_memo[key] = (tc.seconds, tc.energy, tc.usage, tc)
        seconds, energy, usage, _tc = cost
        self.verifying, self.verify_t0 = b, self.now
        self.ids += 1
        tid = self.ids
        if self.rec:  # flow arrows draft -> verify, drawn only in a recorded timeline
            self.links[b.tid] = tid
        self.m.on_task_energy(energy)
        self._begin(self._npu, seconds, usage, _VERIFY, tid, _FEEDBACK)
        if self.blocked:  # the pop made room in the queue
            self.blocked = False
            self._start_draft()

    def _on_verify_done(self, tid: int) -> None:
        now, m, b = self.now, self.m, self.verifying
        assert b is not None  # the verification that just ended
        start, n, draft_tid, t0 = b.start, b.n, b.tid, b.t0
        self.verifying = None
        c = m.committed
        end = start + n
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
        m.on_verify(not full)
        m.on_commit(c, accepted, 1, corrected, drafted_bonus=drafted_bonus)
        # this batch's tokens that a previous bonus token already confirmed (not corrected ones)
        confirmed = c - start if c > start else 0
        if fixed:
            confirmed -= sum(1 for w in fixed if start <= w < c)
        policy = self._policy
        policy.observe(outcome(n, confirmed + accepted - corrected, now - t0))
        self._rule = policy.stop_rule()
        if self._tvc is not None:
            self._tvc.record_verify((now - self.verify_t0) * self._npu_hz, self.prompt + c)
        if self._edc is not None:
            self._edc.on_verified(draft_tid, full)
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
        if dropped:
            if rejected_next and self._edc is not None:
                self._edc.on_verified(dropped[0].tid, False)
            self.m.on_discard(sum(d.n for d in dropped))
        self._abort_draft()  # a switch or pre-verify in progress finishes; its result is stale
        self.corrected.clear()
        self.blocked = False
        self.version += 1
        self._anchor(restart)

    def contention(self) -> dict[str, float]:
        """Seconds each lane lost to sharing with the other (proportional sharing: together)."""
        return {"npu_stalled_by_pim": self._npu.stalled, "pim_stalled_by_npu": self._pim.stalled}
