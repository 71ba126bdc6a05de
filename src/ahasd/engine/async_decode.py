"""Task-level asynchronous speculative decoding (AHASD's idea in software, [ahasd26]).

A draft thread drafts batches ahead into a queue while the main thread verifies with the target.
A rejection squashes every look-ahead batch (epoch bump). EDC decides after each batch whether
to keep drafting ahead; when it says stop, TVC's slack rule may still allow a short batch that
fits the predicted remaining verification time (software stand-in for PIM pre-verification: a CPU
has no second target engine). TVC's tables are fed with measured step times in nanoseconds.

Losslessness: every committed token is tested against the target conditioned on the committed
prefix with the exact q it was drawn from ([pearl], [amusd]); when a batch is fully accepted and a
look-ahead batch is already being drafted on top of it, the bonus token is skipped (PEARL's
post-verify mode) so that batch stays valid.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ahasd.engine.decode import GenerationResult, _policy_api, check_prompt
from ahasd.engine.kv import CachedLM
from ahasd.engine.sampling import SamplingConfig, choose, entropy_top1, probs, verify_chain
from ahasd.errors import field_error


@dataclass
class _Batch:
    epoch: int
    batch_id: int
    tokens: list[int]
    qs: list[torch.Tensor]
    draft_s: float


class _Spans:
    """Busy intervals of one thread, for overlap and idle accounting."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []

    def add(self, a: float, b: float) -> None:
        self.spans.append((a, b))

    def busy(self) -> float:
        return sum(b - a for a, b in self.spans)


def _overlap(x: list[tuple[float, float]], y: list[tuple[float, float]]) -> float:
    total, j = 0.0, 0
    for a, b in x:
        while j < len(y) and y[j][1] <= a:
            j += 1
        k = j
        while k < len(y) and y[k][0] < b:
            total += max(0.0, min(b, y[k][1]) - max(a, y[k][0]))
            k += 1
    return total


class AsyncDecoder:
    """Shared state between the draft thread and the verifier, guarded by one condition."""

    def __init__(
        self,
        draft: CachedLM,
        target: CachedLM,
        policy: Any,
        cfg: SamplingConfig,
        *,
        edc: Any = None,
        tvc: Any = None,
        queue_depth: int = 4,
    ) -> None:
        self.draft, self.target, self.policy, self.cfg = draft, target, policy, cfg
        self.edc, self.tvc, self.depth = edc, tvc, queue_depth
        seeds = np.random.SeedSequence(cfg.seed).spawn(2)
        self.rng_d, self.rng_v = (np.random.default_rng(s) for s in seeds)
        self.pol = _policy_api()
        self.cond = threading.Condition()
        self.plock = threading.Lock()
        self.seq: list[int] = []
        self.pending: list[int] = []
        self.queue: deque[_Batch] = deque()
        self.epoch = self.next_id = self.in_flight = 0
        self.hold = self.done = self.drafting = False
        self.dtoks: list[int] = []
        self.drafted = self.wasted = 0
        self.dspans, self.vspans = _Spans(), _Spans()
        self.verify_start = 0.0
        self.verifying = False  # the verifier is inside a verification (read by the draft thread)
        self.catch_ups = 0
        self.overlapped = 0.0
        self.error: BaseException | None = None

    # ---- draft thread -------------------------------------------------------------------------
    def draft_loop(self) -> None:
        """Draft batches until told to stop; on CUDA on its own stream, so the draft's kernels
        can run beside the target's (every q is complete before it is queued: drawing a token
        from it synchronises that stream)."""
        dev = self.draft.device
        if dev.type == "cuda":
            with torch.cuda.stream(torch.cuda.Stream(device=dev)):
                self._draft_forever()
        else:
            self._draft_forever()

    def _draft_forever(self) -> None:
        try:
            while True:
                with self.cond:
                    self.cond.wait_for(lambda: self.done or self._may_draft())
                    if self.done:
                        return
                    base, ep, cap = self.seq + self.pending, self.epoch, self._cap()
                    self.drafting = True
                self._draft_batch(base, ep, cap)
        except BaseException as exc:  # surfaced by the verifier
            with self.cond:
                self.error, self.done = exc, True
                self.cond.notify_all()

    def _may_draft(self) -> bool:
        return self.in_flight < self.depth and (not self.hold or self._tvc_slack() > 0)

    def _cap(self) -> int:
        with self.plock:
            cap = self.policy.start_round()
        return min(cap, self._tvc_slack()) if self.hold else cap

    def _tvc_slack(self) -> int:
        """Tokens TVC allows into the target's remaining verify time (0 without TVC)."""
        if self.tvc is None or not self.in_flight:
            return 0
        elapsed_ns = int((time.perf_counter() - self.verify_start) * 1e9)
        return int(self.tvc.plan(elapsed_ns, len(self.seq)))

    def _draft_batch(self, base: list[int], ep: int, cap: int) -> None:
        t0 = time.perf_counter()
        lcp = next(
            (i for i, (a, b) in enumerate(zip(self.dtoks, base, strict=False)) if a != b), None
        )
        keep = min(len(self.dtoks) if lcp is None else lcp, len(base) - 1)
        self.draft.rollback(keep)
        self.dtoks = self.dtoks[:keep]
        toks, qs, ents = [], [], []
        while True:
            ctx = base + toks
            ts = time.perf_counter()
            fed, busy = ctx[len(self.dtoks) :], self.verifying
            q = probs(self.draft.step(fed, last=True)[-1], self.cfg)
            # counts for the round formula: two-token steps, and steps beside a verification
            # (half for each end that fell inside one: a sampled estimate of the overlap)
            self.catch_ups += len(fed) > 1
            self.overlapped += 0.5 * (busy + self.verifying)
            self.dtoks = list(ctx)
            toks.append(choose(q, self.cfg, self.rng_d))
            qs.append(q)
            h, p1 = entropy_top1(q)
            ents.append(h)
            if self.tvc is not None:
                step_ns = int((time.perf_counter() - ts) * 1e9)
                with self.cond:  # TVC's tables are shared with the verifier thread
                    self.tvc.record_draft(step_ns, 1)
                    self.tvc.record_preverify(step_ns, 1)  # slack is filled by drafting here
            sig = self.pol.TokenSignals(
                h, p1, len(toks), self.pol.signal_features(h, p1, len(toks))
            )
            with self.plock:
                more = len(toks) < cap and self.policy.keep_drafting(sig)
            if not more or self.epoch != ep:
                break
        t1 = time.perf_counter()
        self.dspans.add(t0, t1)
        with self.cond:
            self.drafting = False
            self.drafted += len(toks)
            if self.epoch != ep or self.done:
                self.wasted += len(toks)
            else:
                b = _Batch(ep, self.next_id, toks, qs, t1 - t0)
                self.next_id += 1
                self.queue.append(b)
                self.pending += toks
                self.in_flight += 1
                ahead = (
                    True
                    if self.edc is None
                    else self.edc.after_batch(b.batch_id, float(np.mean(ents)))
                )
                self.hold = not ahead
            self.cond.notify_all()

    # ---- verifier (caller's thread) -----------------------------------------------------------
    def verify_next(self, res: GenerationResult) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.queue or self.done)
            if self.error is not None:
                raise self.error
            b = self.queue.popleft()
            self.verify_start = time.perf_counter()
            self.verifying = True
        t0 = self.verify_start
        logits = self.target.step(self.seq[self.target.length :] + b.tokens)
        p = probs(logits[-(len(b.tokens) + 1) :], self.cfg)
        m, nxt = verify_chain(p, torch.stack(b.qs), b.tokens, self.cfg, self.rng_v)
        self.verifying = False
        t1 = time.perf_counter()
        self.vspans.add(t0, t1)
        with self.cond:
            if self.tvc is not None:
                self.tvc.record_verify(int((t1 - t0) * 1e9), len(self.seq))
        self._settle(b, m, nxt, res, t1 - t0)

    def _settle(self, b: _Batch, m: int, nxt: int, res: GenerationResult, v_s: float) -> None:
        n = len(b.tokens)
        with self.cond:
            self.in_flight -= 1
            self.pending = self.pending[n:]
            full = m == n
            if full and (self.queue or self.drafting):
                self.seq += b.tokens  # look-ahead is built on d_n: skip the bonus, keep it valid
            else:
                self.seq += b.tokens[:m] + [nxt]
                self.wasted += sum(len(x.tokens) for x in self.queue)
                self.queue.clear()
                self.pending, self.in_flight = [], 0
                self.epoch += 1
            if self.edc is not None:
                self.edc.on_verified(b.batch_id, full)
            self.hold = False  # a verification result releases EDC's hold on look-ahead
            self.cond.notify_all()
        self.target.rollback(len(self.seq) - 1)
        res.rounds += 1
        res.proposed += n
        res.accepted += m
        res.draft_s += b.draft_s
        res.verify_s += v_s
        res.draft_lens.append(n)
        with self.plock:
            self.policy.observe(self.pol.RoundOutcome(n, m, b.draft_s + v_s))


def generate_async(
    draft: Any,
    target: Any,
    prompt_ids: list[int],
    *,
    policy: Any,
    sampling: SamplingConfig | None = None,
    max_new_tokens: int = 64,
    edc: Any = None,
    tvc: Any = None,
    queue_depth: int = 4,
    eos_id: int | None = None,
    stream: Callable[[list[int]], None] | None = None,
) -> GenerationResult:
    """Asynchronous speculative decoding of one prompt; extras report overlap, idle, waste."""
    check_prompt(prompt_ids, max_new_tokens)
    if queue_depth < 1:
        raise field_error("queue_depth", queue_depth, ">= 1 (batches in flight)")
    cfg = sampling or SamplingConfig()
    d = CachedLM(draft) if isinstance(draft, torch.nn.Module) else draft
    t = CachedLM(target) if isinstance(target, torch.nn.Module) else target
    d.reset()
    t.reset()
    policy.reset()
    dec = AsyncDecoder(d, t, policy, cfg, edc=edc, tvc=tvc, queue_depth=queue_depth)
    t0 = time.perf_counter()
    dec.seq = list(prompt_ids)
    if len(prompt_ids) > 1:
        t.step(prompt_ids[:-1])
        d.step(prompt_ids[:-1])
        dec.dtoks = list(prompt_ids[:-1])
    res = GenerationResult([], 0.0, time.perf_counter() - t0)
    t1 = time.perf_counter()
    worker = threading.Thread(target=dec.draft_loop, name="ahasd-draft", daemon=True)
    worker.start()
    try:
        while True:
            dec.verify_next(res)
            new = dec.seq[len(prompt_ids) :]
            if stream is not None:
                stream(new[:max_new_tokens])
            if eos_id is not None and eos_id in new:
                res.tokens = new[: new.index(eos_id) + 1]
                break
            if len(new) >= max_new_tokens:
                res.tokens = new[:max_new_tokens]
                break
    finally:
        with dec.cond:
            dec.done = True
            dec.cond.notify_all()
        worker.join()
    res.wall_s = time.perf_counter() - t1
    res.catch_up_steps = dec.catch_ups
    _report(dec, res)
    return res


def _report(dec: AsyncDecoder, res: GenerationResult) -> None:
    wall = res.wall_s or 1e-12
    d_busy, v_busy = dec.dspans.busy(), dec.vspans.busy()
    res.extras.update(
        {
            "overlap_s": _overlap(dec.dspans.spans, dec.vspans.spans),
            "overlap_fraction": _overlap(dec.dspans.spans, dec.vspans.spans) / wall,
            "draft_idle_s": max(0.0, wall - d_busy),
            "target_idle_s": max(0.0, wall - v_busy),
            "drafted_tokens": float(dec.drafted),
            "wasted_drafts": float(dec.wasted),
            "wasted_draft_fraction": dec.wasted / dec.drafted if dec.drafted else 0.0,
            "overlapped_draft_steps": dec.overlapped,
        }
    )
