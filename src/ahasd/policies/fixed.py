"""``fixed``: always γ draft tokens (classic speculative decoding, Leviathan et al.)."""

from __future__ import annotations

from pydantic import Field, model_validator

from ahasd.policies.base import POLICIES, DraftPolicy, Params


class FixedArgs(Params):
    gamma: int = Field(4, ge=1, le=256)
    max_len: int | None = Field(None, ge=1, le=256)  # alias of gamma (sweeps use max_len)

    @model_validator(mode="after")
    def _same(self) -> FixedArgs:
        both = self.max_len is not None and "gamma" in self.model_fields_set
        if both and self.max_len != self.gamma:
            raise ValueError("gamma and max_len must agree for fixed (give one)")
        return self


@POLICIES.register("fixed")
class Fixed(DraftPolicy):
    name = "fixed"
    Args = FixedArgs

    def reset(self) -> None:
        a = self.args
        self.max_len = a.max_len if a.max_len is not None else a.gamma

    def start_round(self) -> int:
        return self.max_len
