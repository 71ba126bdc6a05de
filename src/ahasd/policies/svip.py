"""``svip``: stop after a token whose draft entropy H gives √(c·H) > h (SVIP reference: c = 0.15,
h = 0.3, i.e. H > 0.6 nats; cap 40; [svip]). The high-entropy token stays in the
batch. The square root is folded into one precomputed entropy threshold h²/c."""

from __future__ import annotations

from pydantic import Field

from ahasd.policies.base import POLICIES, DraftPolicy, Params, TokenSignals


class SvipArgs(Params):
    h: float = Field(0.3, gt=0.0, le=10.0)
    c: float = Field(0.15, gt=0.0, le=10.0)
    max_len: int = Field(40, ge=1, le=256)


@POLICIES.register("svip")
class Svip(DraftPolicy):
    name = "svip"
    Args = SvipArgs

    def reset(self) -> None:
        self.max_len = self.args.max_len
        self.h_stop = self.args.h**2 / self.args.c  # √(c·H) > h  ⇔  H > h²/c

    def start_round(self) -> int:
        return self.max_len

    def keep_drafting(self, sig: TokenSignals) -> bool:
        return sig.entropy <= self.h_stop
