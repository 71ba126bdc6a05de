"""The speculative round formula, with the decode loop's own time (edge SD, paper C §4.3 form).

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

``T_refill`` (:func:`refill_seconds`): on a device with a cache level (a calibrated CPU), a draft
whose weights fit the cache streams them from it between its own steps, but the target's pass in
between evicts them when both models do not fit together: the round's first draft step re-reads
them from memory. 0 on devices without a cache level (every built-in preset) and when the two
models run on different devices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class LoopCost:
    """Seconds of loop work per round, per drafted token and per autoregressive token."""

    round_s: float = 0.0
    token_s: float = 0.0
    ar_token_s: float = 0.0

    @classmethod
    def of(cls, device: Any) -> LoopCost:
        """A device's loop terms (0 for devices without the fields: NPU, PIM)."""
        return cls(
            float(getattr(device, "round_overhead_s", 0.0)),
            float(getattr(device, "token_overhead_s", 0.0)),
            float(getattr(device, "ar_token_overhead_s", 0.0)),
        )

    @classmethod
    def mapping(cls, draft: LoopCost, target: LoopCost) -> LoopCost:
        """Draft and target on different devices: drafted tokens pay the draft device's term,
        rounds and autoregressive tokens the target device's."""
        return cls(target.round_s, draft.token_s, target.ar_token_s)


def round_seconds(
    n_draft: float,
    draft_s: float,
    verify_s: float,
    loop: LoopCost = LoopCost(),
    transfer_s: float = 0.0,
    refill_s: float = 0.0,
) -> float:
    """One round: ``n_draft`` draft steps of ``draft_s`` (the first re-reading the draft's
    weights, ``refill_s``), one verification of ``verify_s`` (over n_draft + 1 positions), the
    hand-off and the loop's own time."""
    refill = refill_s if n_draft > 0 else 0.0
    return n_draft * (draft_s + loop.token_s) + refill + verify_s + loop.round_s + transfer_s


def refill_seconds(
    draft_bytes: float, target_bytes: float, cache_bytes: float, cache_bw: float, mem_bw: float
) -> float:
    """Extra seconds of a round's first draft step: its weights streamed at the memory rate
    rather than the cache rate (bytes/s), when they fit the cache but not beside the target's."""
    fits = 0 < draft_bytes <= cache_bytes < draft_bytes + target_bytes
    if not fits or cache_bw <= 0 or mem_bw <= 0:
        return 0.0
    return max(draft_bytes / mem_bw - draft_bytes / cache_bw, 0.0)


def device_refill_seconds(device: Any, draft_bytes: float, target_bytes: float) -> float:
    """:func:`refill_seconds` with a roofline device's one-token rates (0 for other devices)."""
    eff = float(getattr(device, "bw_efficiency", 1.0))
    return refill_seconds(
        draft_bytes,
        target_bytes,
        float(getattr(device, "cache_bytes", 0.0)),
        float(getattr(device, "cache_bw_bytes_per_s", 0.0)) * eff,
        float(getattr(device, "mem_bw_bytes_per_s", 0.0)) * eff,
    )


def ar_token_seconds(verify1_s: float, loop: LoopCost = LoopCost()) -> float:
    """One autoregressive token: a one-token target step and its sampling."""
    return verify1_s + loop.ar_token_s
