"""The edge CPU/GPU partitioning cost model (paper C, [edgesd] §III).

Every mapping of (draft, target) onto the SoC's devices and every draft length γ = 0..γ_max is
ranked by the round formula of :mod:`ahasd.cost.rounds`, ``T_iter = γ·(T_draft + o_token) +
T_refill(γ) + P_full(γ)·T_catch + T_verify(γ+1) + o_round + T_transfer``, and ``speedup =
E[tokens](γ) · T_AR / T_iter``, where T_AR (``T_verify(1) + o_ar``) is the best single-device
autoregressive step and P_full(γ) the share of rounds accepting all γ drafts. The loop terms
``o_*``, the refill and the catch-up step are the devices' own (0 unless a calibrated platform
sets them). γ = 0 is plain autoregressive
decoding on the target's device (the paper allows it). Step costs come from the cost layer; this
module only enumerates and ranks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ahasd.cost.rounds import LoopCost, ar_token_seconds, round_seconds
from ahasd.errors import field_error

GAMMA_MAX = 8


@dataclass(frozen=True, slots=True)
class DeviceSteps:
    """Step costs of the pair on one device (dynamic seconds/joules from the cost layer)."""

    device: str
    draft_s: float
    draft_j: float
    verify_s: tuple[float, ...]  # index m - 1: target forward over m tokens, m = 1..γ_max + 1
    verify_j: tuple[float, ...]
    loop: LoopCost = LoopCost()  # the decode loop's own time on this device


@dataclass(frozen=True, slots=True)
class Plan:
    """One (mapping, γ) point, ranked by speedup."""

    draft_device: str | None  # None when γ = 0 (no draft model runs)
    target_device: str
    gamma: int
    t_iter_s: float
    expected_tokens: float
    speedup: float
    tokens_per_s: float
    joules_per_token: float

    @property
    def label(self) -> str:
        if self.draft_device is None:
            return f"AR on {self.target_device}"
        return f"draft {self.draft_device} / target {self.target_device} / γ={self.gamma}"


def iid_expected_tokens(alpha: float, gamma_max: int = GAMMA_MAX) -> tuple[float, ...]:
    """Leviathan's E[N+1] = (1 − α^(γ+1))/(1 − α) for γ = 0..γ_max ([leviathan23])."""
    if not 0.0 <= alpha <= 1.0:
        raise field_error("alpha", alpha, "a probability in [0, 1]")
    if alpha == 1.0:
        return tuple(float(g + 1) for g in range(gamma_max + 1))
    return tuple((1.0 - alpha ** (g + 1)) / (1.0 - alpha) for g in range(gamma_max + 1))


TransferFn = Callable[[str, str, int], tuple[float, float]]
"""``transfer(draft_device, target_device, gamma) -> (seconds, joules)`` per iteration."""


def _check(steps: Mapping[str, DeviceSteps], expected: Sequence[float], gamma_max: int) -> None:
    if not steps:
        raise field_error("devices", [], "at least one device")
    if gamma_max < 0:
        raise field_error("gamma_max", gamma_max, "an integer >= 0")
    if len(expected) < gamma_max + 1:
        raise field_error("expected_tokens", len(expected), f"{gamma_max + 1} values (γ = 0..)")
    for dev in steps.values():
        if len(dev.verify_s) < gamma_max + 1:
            raise field_error(f"{dev.device}.verify_s", len(dev.verify_s), f">= {gamma_max + 1}")


def enumerate_plans(
    steps: Mapping[str, DeviceSteps],
    expected_tokens: Sequence[float],
    transfer: TransferFn,
    *,
    gamma_max: int = GAMMA_MAX,
    static_w: float = 0.0,
    full_accept: Sequence[float] | None = None,
) -> list[Plan]:
    """All mappings × γ, best speedup first (ties: fewer joules per token, then the label).

    ``full_accept[γ]``: the share of rounds that accept all γ drafts, each followed by a
    two-token catch-up draft step (the devices' ``catch_up_s``); None: no catch-up priced."""
    _check(steps, expected_tokens, gamma_max)
    full = full_accept or [0.0] * (gamma_max + 1)
    t_ar = min(ar_token_seconds(dev.verify_s[0], dev.loop) for dev in steps.values())
    plans: list[Plan] = []
    for target in steps.values():
        plans.append(_plan(None, target, 0, 1.0, t_ar, (0.0, 0.0), static_w))
        for draft in steps.values():
            for gamma in range(1, gamma_max + 1):
                xfer = transfer(draft.device, target.device, gamma)
                exp = float(expected_tokens[gamma])
                plans.append(_plan(draft, target, gamma, exp, t_ar, xfer, static_w, full[gamma]))
    plans.sort(key=lambda p: (-p.speedup, p.joules_per_token, p.label))
    return plans


def _plan(
    draft: DeviceSteps | None,
    target: DeviceSteps,
    gamma: int,
    exp: float,
    t_ar: float,
    xfer: tuple[float, float],
    static_w: float,
    full: float = 0.0,
) -> Plan:
    j_draft = gamma * draft.draft_j if draft else 0.0
    if draft is None:
        t_iter = ar_token_seconds(target.verify_s[0], target.loop) + xfer[0]
    else:
        same = draft.device == target.device
        loop = target.loop if same else LoopCost.mapping(draft.loop, target.loop)
        t_iter = round_seconds(gamma, draft.draft_s, target.verify_s[gamma], loop, xfer[0], full)
    j_iter = j_draft + target.verify_j[gamma] + xfer[1] + static_w * t_iter
    return Plan(
        draft.device if draft else None,
        target.device,
        gamma,
        t_iter,
        exp,
        exp * t_ar / t_iter,
        exp / t_iter,
        j_iter / exp,
    )
