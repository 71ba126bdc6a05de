"""``hf-heuristic``: Hugging Face's old schedule, γ += 2 after a fully accepted round, else γ −= 1
(floor 1), capped at ``max_len`` (SVIP's baseline cap 40; [hf-assisted], [svip])."""

from __future__ import annotations

from pydantic import Field

from ahasd.policies.base import POLICIES, DraftPolicy, Params, RoundOutcome


class HfHeuristicArgs(Params):
    gamma0: int = Field(5, ge=1, le=256)  # HF's old default num_assistant_tokens
    max_len: int = Field(40, ge=1, le=256)
    step_up: int = Field(2, ge=0, le=64)
    step_down: int = Field(1, ge=0, le=64)


@POLICIES.register("hf-heuristic")
class HfHeuristic(DraftPolicy):
    name = "hf-heuristic"
    Args = HfHeuristicArgs

    def reset(self) -> None:
        self.max_len = self.args.max_len
        self.gamma = min(self.args.gamma0, self.max_len)

    def start_round(self) -> int:
        return self.gamma

    def observe(self, outcome: RoundOutcome) -> None:
        if outcome.accepted >= outcome.proposed:
            self.gamma = min(self.gamma + self.args.step_up, self.max_len)
        else:
            self.gamma = max(1, self.gamma - self.args.step_down)
