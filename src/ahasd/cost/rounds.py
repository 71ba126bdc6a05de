"""The speculative round formula, with the decode loop's own time ([edgesd] §III form).

One synchronous round drafts γ tokens, verifies γ + 1 positions and commits:

    T_round(γ) = γ·(T_draft + o_token) + T_refill + T_verify(γ+1) + o_round + T_transfer
    T_AR       = T_verify(1) + o_ar

``o_token`` (per drafted token: sampling, the entropy signal, the policy's decision), ``o_round``
(per round: acceptance over the verified rows, commit, KV rollback, policy feedback) and ``o_ar``
(per autoregressive token: sampling) are the loop's work between the steps. A
:class:`~ahasd.hardware.devices.RooflineDevice` carries them (``round_overhead_s``,
``token_overhead_s``, ``ar_token_overhead_s``; 0 = off, every preset's default), measured for
the real engine by ``ahasd calibrate-host --draft --target`` (:mod:`ahasd.engine.loop_calib`).
With all three 0 the formula is the step-only one every figure used before.

``T_refill`` (``draft_refill_s``, same-device rounds only): on a CPU whose cache holds the draft's
weights but not beside the target's, the target's pass evicts them and the round's first draft
steps re-read them; the seconds they lose over warm steps, measured on generic matrices of the
two models' sizes (:func:`ahasd.engine.host_calib.measure_refill_s`). 0 = off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class LoopCost:
    """Seconds of loop work per round, per drafted token and per autoregressive token, and the
    draft's re-read per round when both models share the device's cache."""

    round_s: float = 0.0
    token_s: float = 0.0
    ar_token_s: float = 0.0
    refill_s: float = 0.0

    @classmethod
    def of(cls, device: Any) -> LoopCost:
        """A device's loop terms (0 for devices without the fields: NPU, PIM)."""
        return cls(
            float(getattr(device, "round_overhead_s", 0.0)),
            float(getattr(device, "token_overhead_s", 0.0)),
            float(getattr(device, "ar_token_overhead_s", 0.0)),
            float(getattr(device, "draft_refill_s", 0.0)),
        )

    @classmethod
    def mapping(cls, draft: LoopCost, target: LoopCost) -> LoopCost:
        """Draft and target on different devices: drafted tokens pay the draft device's term,
        rounds and autoregressive tokens the target device's; no re-read (separate caches)."""
        return cls(target.round_s, draft.token_s, target.ar_token_s)


def round_seconds(
    n_draft: float,
    draft_s: float,
    verify_s: float,
    loop: LoopCost = LoopCost(),
    transfer_s: float = 0.0,
) -> float:
    """One round: ``n_draft`` draft steps of ``draft_s`` (and the re-read of the draft's
    weights), one verification of ``verify_s`` (over n_draft + 1 positions), the hand-off and the
    loop's own time."""
    refill = loop.refill_s if n_draft > 0 else 0.0
    return n_draft * (draft_s + loop.token_s) + refill + verify_s + loop.round_s + transfer_s


def ar_token_seconds(verify1_s: float, loop: LoopCost = LoopCost()) -> float:
    """One autoregressive token: a one-token target step and its sampling."""
    return verify1_s + loop.ar_token_s
