"""The speculative round formula, with the decode loop's own time ([edgesd] §III form).

One synchronous round drafts γ tokens, verifies γ + 1 positions and commits:

    T_round(γ) = γ·(T_draft + o_token) + T_refill(γ) + c·T_catch + T_verify(γ+1) + o_round
                 + T_transfer
    T_AR       = T_verify(1) + o_ar

``o_token`` (per drafted token: sampling, the entropy signal, the policy's decision), ``o_round``
(per round: acceptance over the verified rows, commit, KV rollback, policy feedback) and ``o_ar``
(per autoregressive token: sampling) are the loop's work between the steps. A
:class:`~ahasd.hardware.devices.RooflineDevice` carries them (``round_overhead_s``,
``token_overhead_s``, ``ar_token_overhead_s``; 0 = off, every preset's default), measured for
the real engine by ``ahasd calibrate-host --draft --target`` (:mod:`ahasd.engine.loop_calib`).
With every term 0 the formula is the step-only one every figure used before.

``T_refill(γ)`` (``draft_refill_s``, ``draft_refill_decay``; same-device rounds only): on a CPU
whose cache holds the draft's weights but not beside the target's, the target's pass evicts the
draft's weights and its framework's working set, and the round's first draft steps re-read them.
Each step brings back part of what is missing, so step i of the round loses ``refill·(1 − r)·rⁱ``
and γ steps lose ``refill·(1 − r^γ)`` (r = ``draft_refill_decay``; 0: all of it on the first
step). Measured on stand-ins of the two models' steps (:func:`ahasd.engine.host_calib.
measure_refill`). 0 = off.

``c·T_catch`` (``draft_catch_up_s``): after a fully accepted round the draft has not seen its own
last token nor the bonus token, so the next round's first draft step feeds two tokens; it costs
``T_catch`` more than a one-token step (the cost model's two-token draft step less its one-token
step). ``c`` is how many such steps the round has: 1 or 0 for a replayed or measured round, the
probability of a full acceptance for an expected one. 0 = off.

Two threads at once (:func:`overlapped_seconds`): the asynchronous engine drafts ahead in a
second thread while the target verifies; on a CPU the two contend for cores, caches and the
interpreter lock, so each second of draft work beside a verification adds ``overlap_cost``
seconds of wall time to the rounds priced one after the other (−1: hidden entirely, two free
cores; 0: no better than one after the other; > 0: worse). Measured by running the engine's own
asynchronous loop on stand-ins of the two steps (:func:`ahasd.engine.step_standin.
measure_overlap_cost`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class LoopCost:
    """Seconds of loop work per round, per drafted token and per autoregressive token; the
    draft's re-read per round when both models share the device's cache (and the share of it
    still missing after each step); the extra of a two-token catch-up draft step."""

    round_s: float = 0.0
    token_s: float = 0.0
    ar_token_s: float = 0.0
    refill_s: float = 0.0
    refill_decay: float = 0.0
    catch_up_s: float = 0.0

    @classmethod
    def of(cls, device: Any) -> LoopCost:
        """A device's loop terms (0 for devices without the fields: NPU, PIM)."""
        return cls(
            float(getattr(device, "round_overhead_s", 0.0)),
            float(getattr(device, "token_overhead_s", 0.0)),
            float(getattr(device, "ar_token_overhead_s", 0.0)),
            float(getattr(device, "draft_refill_s", 0.0)),
            float(getattr(device, "draft_refill_decay", 0.0)),
            float(getattr(device, "draft_catch_up_s", 0.0)),
        )

    @classmethod
    def mapping(cls, draft: LoopCost, target: LoopCost) -> LoopCost:
        """Draft and target on different devices: drafted tokens and the catch-up step pay the
        draft device's terms, rounds and autoregressive tokens the target device's; no re-read
        (separate caches)."""
        return cls(target.round_s, draft.token_s, target.ar_token_s, catch_up_s=draft.catch_up_s)

    def refill(self, n_draft: float) -> float:
        """What the round's first ``n_draft`` draft steps lose re-reading the draft."""
        if n_draft <= 0 or not self.refill_s:
            return 0.0
        return self.refill_s * (1.0 - self.refill_decay**n_draft)


def draft_seconds(
    n_draft: float, draft_s: float, loop: LoopCost = LoopCost(), catch_up: float = 0.0
) -> float:
    """A round's drafting: ``n_draft`` steps of ``draft_s`` and their loop work, the re-read of
    the draft's weights, and ``catch_up`` two-token first steps."""
    return n_draft * (draft_s + loop.token_s) + loop.refill(n_draft) + catch_up * loop.catch_up_s


def round_seconds(
    n_draft: float,
    draft_s: float,
    verify_s: float,
    loop: LoopCost = LoopCost(),
    transfer_s: float = 0.0,
    catch_up: float = 0.0,
) -> float:
    """One round: drafting (:func:`draft_seconds`), one verification of ``verify_s`` (over
    n_draft + 1 positions), the hand-off and the loop's own time."""
    drafting = draft_seconds(n_draft, draft_s, loop, catch_up)
    return drafting + verify_s + loop.round_s + transfer_s


def ar_token_seconds(verify1_s: float, loop: LoopCost = LoopCost()) -> float:
    """One autoregressive token: a one-token target step and its sampling."""
    return verify1_s + loop.ar_token_s


def overlapped_seconds(
    serial_s: float, draft_overlap_s: float, overlap_cost: float | None
) -> float:
    """Wall seconds of two threads' work priced one after the other (``serial_s``), of which
    ``draft_overlap_s`` seconds of draft work ran beside a verification, each adding
    ``overlap_cost`` seconds; ``overlap_cost`` None: ``serial_s`` (off)."""
    if overlap_cost is None:
        return serial_s
    return serial_s + overlap_cost * draft_overlap_s
