"""``banditspec``: UCB over draft lengths chosen before each round ([banditspec]).

Arms γ ∈ {1, 2, 3, 4}; warm-up plays the arms round-robin for the first ``warmup`` rounds (the
reference: 7); then argmax_i mean_i + √(c·ln t / n_i) with c = 6 and reward = tokens committed in
the round / its wall time. ``count="total"`` reproduces the reference's quirk of dividing by the
total pull count instead of the arm's own n_i. A round with no wall time (seconds ≤ 0) is
rewarded with its token count instead. Asynchronous drivers report a batch after the next one
has started, so ``observe`` credits the arm whose γ equals the batch length (else the last pull).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator

from ahasd.policies.base import POLICIES, DraftPolicy, Params, RoundOutcome


class BanditSpecArgs(Params):
    arms: tuple[int, ...] = (1, 2, 3, 4)
    c: float = Field(6.0, ge=0.0, le=1e6)
    warmup: int = Field(7, ge=0, le=10_000)
    count: Literal["per-arm", "total"] = "per-arm"

    @field_validator("arms")
    @classmethod
    def _arms(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v or any(a < 1 or a > 256 for a in v):
            raise ValueError("arms must be a non-empty list of draft lengths in [1, 256]")
        return tuple(v)


@POLICIES.register("banditspec")
class BanditSpec(DraftPolicy):
    name = "banditspec"
    Args = BanditSpecArgs
    reads_seconds = True  # reward = tokens / round seconds

    def reset(self) -> None:
        k = len(self.args.arms)
        self.max_len = max(self.args.arms)
        self.pulls = [0] * k
        self.sums = [0.0] * k
        self.t = 0  # rewards observed
        self.started = 0  # rounds started (async: may run ahead of t)
        self.arm = 0

    def start_round(self) -> int:
        a = self.args
        self.started += 1
        if self.started <= a.warmup or 0 in self.pulls:
            warm = self.started <= a.warmup
            self.arm = (self.started - 1) % len(a.arms) if warm else self.pulls.index(0)
        else:
            log_t = math.log(max(self.t, 1))
            total = max(self.t, 1)
            best, best_v = 0, -math.inf
            for i, n in enumerate(self.pulls):
                denom = total if a.count == "total" else n
                v = self.sums[i] / n + math.sqrt(a.c * log_t / denom)
                if v > best_v:
                    best, best_v = i, v
            self.arm = best
        return a.arms[self.arm]

    def observe(self, outcome: RoundOutcome) -> None:
        tokens = outcome.accepted + 1
        reward = tokens / outcome.seconds if outcome.seconds > 0 else float(tokens)
        arms = self.args.arms
        arm = arms.index(outcome.proposed) if outcome.proposed in arms else self.arm
        self.pulls[arm] += 1
        self.sums[arm] += reward
        self.t += 1
