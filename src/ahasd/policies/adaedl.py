"""``adaedl``: stop after a token whose entropy lower bound 1 − √(γ_e·H) falls below λ
([adaedl]; γ_e = 0.2), with λ adapted online.

We could not check [adaedl]'s update law for λ. Default law ``"target"`` (ours): after each round
λ ← clip(λ + η·(ρ* − ρ), λ_min, λ_max) with ρ = accepted/proposed. Why: it is a Robbins–Monro
controller whose fixed point makes the draft acceptance rate ρ*, so λ rises in hard stretches
(shorter drafts, less waste) and falls in easy runs (longer drafts) — λ tracks the acceptance
regime in the direction that helps throughput. ``"ema"`` is a plain reading of "adapted online"
(λ ← λ + η·(EMA of ρ − λ)), kept for comparison; ``"fixed"`` never adapts.
The bound test is folded into an entropy threshold: 1 − √(γ_e·H) < λ ⇔ H > (1 − λ)²/γ_e (λ < 1).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ahasd.policies.base import POLICIES, DraftPolicy, Params, RoundOutcome, TokenSignals


class AdaEdlArgs(Params):
    gamma_e: float = Field(0.2, gt=0.0, le=10.0)
    lam0: float = Field(0.4, ge=0.0, lt=1.0)
    law: Literal["target", "ema", "fixed"] = "target"
    eta: float = Field(0.05, ge=0.0, le=1.0)
    target_rate: float = Field(0.7, gt=0.0, lt=1.0)  # ρ* of the "target" law
    ema: float = Field(0.1, gt=0.0, le=1.0)  # smoothing of the "ema" law
    lam_min: float = Field(0.0, ge=0.0, lt=1.0)
    lam_max: float = Field(0.9, ge=0.0, lt=1.0)
    max_len: int = Field(8, ge=1, le=256)


@POLICIES.register("adaedl")
class AdaEdl(DraftPolicy):
    name = "adaedl"
    Args = AdaEdlArgs

    def reset(self) -> None:
        a = self.args
        self.max_len = a.max_len
        self.rate_ema = a.target_rate
        self._set_lambda(a.lam0)

    def _set_lambda(self, lam: float) -> None:
        a = self.args
        self.lam = min(max(lam, a.lam_min), a.lam_max)
        self.h_stop = (1.0 - self.lam) ** 2 / a.gamma_e

    def start_round(self) -> int:
        return self.max_len

    def keep_drafting(self, sig: TokenSignals) -> bool:
        return sig.entropy <= self.h_stop

    def observe(self, outcome: RoundOutcome) -> None:
        """Adapt λ; runs once per verification, so ``_set_lambda``'s clamp is inlined here
        (plain comparisons pick the same float as ``min(max(...))``)."""
        a = self.args
        law, proposed = a.law, outcome.proposed
        if law == "fixed" or proposed <= 0:
            return
        rate = outcome.accepted / proposed
        if law == "target":
            lam = self.lam + a.eta * (a.target_rate - rate)
        else:
            self.rate_ema += a.ema * (rate - self.rate_ema)
            lam = self.lam + a.eta * (self.rate_ema - self.lam)
        if lam < a.lam_min:
            lam = a.lam_min
        if lam > a.lam_max:
            lam = a.lam_max
        self.lam = lam
        self.h_stop = (1.0 - lam) ** 2 / a.gamma_e
