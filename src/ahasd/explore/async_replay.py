"""The asynchronous systems' controllers replayed over a trace, on a nominal clock.

The analytic model of ``ahasd`` / ``npu-pim-async`` (:mod:`ahasd.explore.renewal`) prices
renewal cycles with a platform's costs, but what happens inside a cycle — batch lengths
(the drafting policy), EDC's stops, TVC's pre-verifications — is decided by controllers whose
state depends on the order of drafts and verifications, and that order on the ratio of the
step times. This module runs the controllers once per workload and *clock*: the same decision
logic as the event loop (:mod:`ahasd.systems._async`: look-ahead, squash, correction, queue
bound, EDC wait, TVC slack and range), but on nominal durations — a draft token takes
``draft_s``, a verification ``verify_s`` whatever its length, a pre-verified token ``pv_s``,
and overlapping tasks share rates by two constant factors. It records decisions, not times:
per renewal cycle (a stretch from an anchor to the next rejected draft token), the batches
drafted, whether EDC stopped after each, and which pre-verifications ran on which range.

The clock is a handful of ratios (:class:`Clock`), so every design point whose ratios fall in
the same grid cell shares one replay. The prompt length enters the loop only through TVC's
per-KV-token tables, whose predictions are ratios of KV lengths a few tokens apart; the replay
uses ``REPLAY_PROMPT`` for every point, so points that differ only in their prompt share it too.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from ahasd.policies import RoundOutcome, make_policy

REPLAY_PROMPT = 128  # KV length before the first generated token, for TVC's tables


@dataclass(frozen=True)
class Clock:
    """Nominal durations (s) and rate-sharing factors of one replay."""

    draft_s: float  # one draft token on PIM
    verify_s: float  # one verification on the NPU (any length: weight streaming dominates)
    pv_s: float  # one pre-verified token on PIM (alone)
    r_pv: float  # rate of a pre-verify and a verification while both run
    r_dv: float  # rate of a draft and a verification while both run
    pim_hz: float
    npu_hz: float
    # relative growth of each duration per generated token (the KV cache grows): 0 on a
    # shared clock; a policy that reads seconds gets its point's own
    draft_slope: float = 0.0
    verify_slope: float = 0.0


@dataclass(frozen=True)
class Decisions:
    """Per renewal cycle (rows) and batch of its chain (columns, padded with 0 / False)."""

    anchors: np.ndarray  # (C,) first position of the cycle's chain
    runs: np.ndarray  # (C,) matching draft tokens from the anchor (k)
    sizes: np.ndarray  # (C, M) batch lengths, in drafting order
    stops: np.ndarray  # (C, M) EDC said stop after this batch
    pv_n: np.ndarray  # (C, M) tokens pre-verified after this batch (0: none)
    pv_hit: np.ndarray  # (C, M) the pre-verification found the cycle's rejected token
    last: np.ndarray  # (C,) the batch whose verification ends the cycle (if no correction)


def replay(cfg: Any, trace: Any, runs: np.ndarray, flags: dict[str, bool], clock: Clock):
    """Run the controllers of ``cfg`` over ``trace`` against ``clock``; see :class:`Decisions`."""
    loop = _Replay(cfg, trace, runs, flags, clock)
    loop.run()
    return loop.decisions()


class _Slot:
    __slots__ = ("active", "left", "rate", "since", "end", "kind", "handler", "payload")

    def __init__(self) -> None:
        self.active = False
        self.left = self.since = self.end = 0.0
        self.rate = 1.0
        self.kind = ""
        self.handler: Any = None
        self.payload: Any = None


class _Replay:
    """One pass of the event loop's control logic (``systems._async.AsyncLoop``) on ``clock``."""

    def __init__(self, cfg, trace, runs, flags, clock: Clock) -> None:
        from ahasd.policies.edc import EDC
        from ahasd.policies.tvc import TVC
        from ahasd.sim.replay import Drafter

        self.cfg, self.clock = cfg, clock
        policy = make_policy(cfg.policy, **cfg.policy_args)
        policy.fit(trace)
        self.batch, self.observe = Drafter(policy, trace).batch, policy.observe
        self.edc = EDC(cfg.edc) if flags["use_edc"] else None
        self.tvc = TVC(cfg.tvc, profile=self._profile()) if flags["use_tvc"] else None
        self.keeps_drafting = self.tvc.drafts_when_no_slack if self.tvc is not None else True
        self.runs = runs.tolist()
        self.n, self.prompt, self.depth = cfg.tokens, REPLAY_PROMPT, cfg.queue_depth
        self.now = 0.0
        self.committed = self.frontier = self.pv_upto = self.version = 0
        self.first_wrong = self.runs[0]
        self.corrected: set[int] = set()
        self.queue: deque[list] = deque()  # [id, start, n, mean_h, t0]
        self.current: list | None = None
        self.verifying: list | None = None
        self.verify_t0 = 0.0
        self.waiting = self.blocked = self.in_target = self.stopped = False
        self.pending_pv = (0, 0, -1)
        self.pim, self.npu = _Slot(), _Slot()
        self._handlers = {"draft": self._on_draft, "switch": self._on_switch, "pv": self._on_pv,
                          "verify": self._on_verify}  # fmt: skip
        # the record: drafts [start, n, stop], pre-verifies [draft index, start, n, hit],
        # restarts (index of the first draft of the new chain, anchor)
        self.drafts: list[list] = []
        self.pvs: list[list] = []
        self.restarts: list[tuple[int, int]] = [(0, 0)]
        self._start_draft()

    def _profile(self) -> tuple[float, float, float]:
        """TVC's offline seeds on this clock (as ``AsyncParts.offline_profile`` on costs)."""
        c, kv = self.clock, REPLAY_PROMPT
        scale = self.cfg.tvc.pim_per_npu_clock
        return c.verify_s * c.npu_hz * scale / kv, c.draft_s * c.pim_hz, c.pv_s * c.pim_hz

    # --- two lanes with fluid rate sharing (as AsyncLoop._begin/_retime/_stop) ---------------
    def _pair_rate(self) -> float:
        if not (self.pim.active and self.npu.active):
            return 1.0
        kind = self.pim.kind
        return self.clock.r_dv if kind == "draft" else self.clock.r_pv if kind == "pv" else 1.0

    def _begin(self, slot: _Slot, dur: float, kind: str, payload: Any) -> None:
        slot.active, slot.left, slot.since, slot.kind = True, dur, self.now, kind
        slot.handler, slot.payload = self._handlers[kind], payload
        rate = self._pair_rate()
        other = self.npu if slot is self.pim else self.pim
        if other.active and other.rate != rate:
            self._retime(other, rate)
        slot.rate = rate
        slot.end = self.now + dur / rate

    def _retime(self, slot: _Slot, rate: float) -> None:
        left = slot.left - slot.rate * (self.now - slot.since)
        slot.left = left if left > 0.0 else 0.0
        slot.rate, slot.since = rate, self.now
        slot.end = self.now + slot.left / rate

    def _stop(self, slot: _Slot) -> None:
        slot.left -= slot.rate * (self.now - slot.since)
        slot.active = False
        other = self.npu if slot is self.pim else self.pim
        if other.active and other.rate != 1.0:
            self._retime(other, 1.0)

    def run(self) -> None:
        pim, npu = self.pim, self.npu
        while not self.stopped:
            if npu.active and (not pim.active or npu.end <= pim.end):
                slot = npu
            elif pim.active:
                slot = pim
            else:
                break
            self.now = slot.end
            self._stop(slot)
            slot.handler(slot.payload)

    # --- PIM: drafting, pre-verification, rank switches ------------------------------------
    def _anchor(self, pos: int) -> None:
        self.frontier = self.pv_upto = pos
        self.first_wrong = pos + (self.runs[pos] if pos < self.n else 0)

    def _start_draft(self) -> None:
        if self.pim.active or self.waiting or self.frontier >= self.n:
            return
        if len(self.queue) >= self.depth:
            self.blocked = True
            return
        if self.in_target:
            self._begin(self.pim, 0.0, "switch", (self.version, False))
            return
        start = self.frontier
        n, mean_h = self.batch(start)
        self.drafts.append([start, n, False])
        b = self.current = [len(self.drafts) - 1, start, n, mean_h, self.now]
        self.frontier = start + n
        c = self.clock
        self._begin(self.pim, n * c.draft_s * (1.0 + c.draft_slope * start), "draft", b)

    def _on_draft(self, b: list) -> None:
        self.current = None
        if self.tvc is not None:
            self.tvc.record_draft((self.now - b[4]) * self.clock.pim_hz, b[2])
        self.queue.append(b)
        keep = self.edc is None or self.edc.after_batch(b[0], b[3])
        self.drafts[b[0]][2] = not keep
        if self.verifying is None:
            self._try_verify()
        if keep:
            self._start_draft()
        elif self.tvc is not None and self._try_preverify(b[0]):
            return
        elif self.tvc is not None and self.keeps_drafting:
            self._start_draft()
        else:
            self.waiting = True

    def _try_preverify(self, after: int) -> bool:
        first = self.queue[0][1] if self.queue else self.frontier
        start = max(self.pv_upto, first, self.committed)
        if self.frontier - start < 1:
            return False
        elapsed = self.now - self.verify_t0 if self.verifying else 0.0
        c = self.clock
        n_plan = int(self.tvc.plan(elapsed * c.npu_hz, self.prompt + self.committed,
                                   len(self.queue)))  # fmt: skip
        n = min(n_plan, self.frontier - start)
        if n < 1:
            return False
        self.pending_pv = (start, n, after)
        self._begin(self.pim, 0.0, "switch", (self.version, True))
        return True

    def _on_switch(self, payload: tuple[int, bool]) -> None:
        version, to_target = payload
        self.in_target = to_target
        if not to_target:
            self._start_draft()
        elif version != self.version:
            self._begin(self.pim, 0.0, "switch", (self.version, False))
        else:
            start, n, after = self.pending_pv
            self.pvs.append([after, start, n, False])
            payload = (self.version, start, n, self.now, len(self.pvs) - 1)
            self._begin(self.pim, n * self.clock.pv_s, "pv", payload)

    def _on_pv(self, payload: tuple) -> None:
        version, start, n, t0, index = payload
        self.tvc.record_preverify((self.now - t0) * self.clock.pim_hz, n)
        w = self.first_wrong
        busy_end = self.verifying[1] + self.verifying[2] if self.verifying else 0
        if version == self.version and start <= w < start + n and w >= busy_end:
            self.pvs[index][3] = True
            self._correct_at(w)
        elif version == self.version:
            self.pv_upto = max(self.pv_upto, start + n)
        self._begin(self.pim, 0.0, "switch", (self.version, False))

    def _correct_at(self, w: int) -> None:
        self.corrected.add(w)
        for i, b in enumerate(self.queue):
            if b[1] <= w < b[1] + b[2]:
                while len(self.queue) > i + 1:
                    self.queue.pop()
                b[2] = w + 1 - b[1]
                break
        self.version += 1
        self._anchor(w + 1)
        self.restarts.append((len(self.drafts), w + 1))

    # --- NPU: verification --------------------------------------------------------------
    def _try_verify(self) -> None:
        if self.verifying is not None or not self.queue:
            return
        b = self.queue.popleft()
        self.verifying, self.verify_t0 = b, self.now
        c = self.clock
        self._begin(self.npu, c.verify_s * (1.0 + c.verify_slope * self.committed), "verify", b)
        if self.blocked:
            self.blocked = False
            self._start_draft()

    def _on_verify(self, b: list) -> None:
        self.verifying = None
        c, start, n = self.committed, b[1], b[2]
        end = start + n
        n_eff = end - c if end > c else 0
        w = self.first_wrong
        accepted = min(n_eff, w - c)
        fixed = self.corrected
        corrected = sum(1 for x in fixed if c <= x < c + accepted) if fixed else 0
        full = accepted == n_eff
        new_c = min(c + accepted + 1, self.n)
        confirmed = c - start if c > start else 0
        if fixed:
            confirmed -= sum(1 for x in fixed if start <= x < c)
        self.observe(RoundOutcome(n, confirmed + accepted - corrected, self.now - b[4]))
        if self.tvc is not None:
            self.tvc.record_verify((self.now - self.verify_t0) * self.clock.npu_hz, self.prompt + c)
        if self.edc is not None:
            self.edc.on_verified(b[0], full)
        self.committed = new_c
        if new_c >= self.n:
            self.stopped = True
            return
        if not full or w == end:
            self._squash(new_c, rejected_next=full)
        else:
            if fixed:
                self.corrected = {x for x in fixed if x >= new_c - 1}
            if self.frontier < new_c:  # nothing drafted past the verified batch: a new chain
                self._anchor(new_c)
                self.restarts.append((len(self.drafts), new_c))
        self.waiting = False
        self._try_verify()
        self._start_draft()

    def _squash(self, restart: int, *, rejected_next: bool) -> None:
        dropped = list(self.queue)
        self.queue.clear()
        if rejected_next and dropped and self.edc is not None:
            self.edc.on_verified(dropped[0][0], False)
        if self.current is not None:  # the batch in flight is cut (its tokens are wasted)
            self._stop(self.pim)
            self.current = None
        self.corrected.clear()
        self.blocked = False
        self.version += 1
        self._anchor(restart)
        self.restarts.append((len(self.drafts), restart))

    # --- the record, per renewal cycle ---------------------------------------------------
    def decisions(self) -> Decisions:
        marks = self.restarts + [(len(self.drafts), self.n)]
        chains = [(a, marks[i][0], marks[i + 1][0]) for i, (_j, a) in enumerate(marks[:-1])]
        chains = [ch for ch in chains if ch[0] < self.n]
        width = max(1, max(hi - lo for _a, lo, hi in chains))
        shape = (len(chains), width)
        sizes, stops = np.zeros(shape, np.int64), np.zeros(shape, bool)
        pv_n, pv_hit = np.zeros(shape, np.int64), np.zeros(shape, bool)
        owner = {}
        for row, (_anchor, lo, hi) in enumerate(chains):
            for j in range(lo, hi):
                _start, n, stop = self.drafts[j]
                sizes[row, j - lo], stops[row, j - lo] = n, stop
                owner[j] = (row, j - lo)
        for after, _start, n, hit in self.pvs:
            pv_n[owner[after]], pv_hit[owner[after]] = n, hit
        anchors = np.array([a for a, _lo, _hi in chains], dtype=np.int64)
        runs = np.array([self.runs[a] for a in anchors], dtype=np.int64)
        # the batch holding the rejected token (or the end of the run), else the chain's last
        # (a chain also ends when its last batch is verified with nothing drafted past it)
        ends = np.cumsum(sizes, axis=1)
        need = np.minimum(runs, self.n - anchors - 1)[:, None]
        reach = ends >= need
        count = (sizes > 0).sum(axis=1)
        last = np.where(reach.any(axis=1), np.argmax(reach, axis=1), count - 1)
        return Decisions(anchors, runs, sizes, stops, pv_n, pv_hit, last)
