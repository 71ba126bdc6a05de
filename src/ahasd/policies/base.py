"""The drafting-policy interface shared by the simulator and the real engine.

Driving loop (docs/dev/contracts.md, policies): ``cap = start_round()``; after each drafted token
``n`` the caller asks ``keep_drafting(sig)`` unless ``n >= cap``; after verification it calls
``observe``. Signals are plain Python floats: the simulator calls ``keep_drafting`` once per
drafted token, so policies keep per-call work to a few float operations.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ahasd.errors import AhasdError, one_line
from ahasd.registry import Registry


@dataclass(frozen=True, slots=True)
class TokenSignals:
    entropy: float  # draft entropy of the distribution the token was drawn from (nats)
    top1_prob: float
    position: int  # 1-based index of this token within the current batch
    features: tuple[float, ...] = ()  # from signal_features(); input of learned heads


@dataclass(frozen=True, slots=True)
class RoundOutcome:
    proposed: int  # draft tokens proposed in the round (batch)
    accepted: int  # of those, accepted by the target (bonus token not counted)
    seconds: float  # wall time of the round (draft + verify)


N_HEAD_FEATURES = 4  # features[:4] feed learned heads; the position is the last feature


def signal_features(entropy: float, top1_prob: float, position: int) -> tuple[float, ...]:
    """(H, p1, √H, ln p1, position): what a learned acceptance head sees for one token."""
    return (
        entropy,
        top1_prob,
        math.sqrt(entropy) if entropy > 0.0 else 0.0,
        math.log(top1_prob) if top1_prob > 1e-12 else -27.6,
        float(position),
    )


class Params(BaseModel):
    """Base of every policy's keyword arguments: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, allow_inf_nan=False)


class DraftPolicy(ABC):
    """Decides each round's draft length: a cap before the round and/or a stop after each token."""

    name: ClassVar[str]
    Args: ClassVar[type[Params]] = Params
    # ``observe`` reads ``RoundOutcome.seconds`` (the analytic path then replays the policy on
    # the design point's own time scale, not only its ratios)
    reads_seconds: ClassVar[bool] = False
    max_len: int

    def __init__(self, args: Params | None = None) -> None:
        self.args = args if args is not None else self.Args()
        self.reset()

    @abstractmethod
    def start_round(self) -> int:
        """Cap for the round about to be drafted, 1..max_len."""

    def keep_drafting(self, sig: TokenSignals) -> bool:  # noqa: ARG002 - default: draft to cap
        return True

    def observe(self, outcome: RoundOutcome) -> None:  # noqa: B027 - optional hook
        """Verification feedback for the round just drafted."""

    def fit(self, trace: Any) -> None:  # noqa: B027 - optional hook
        """Learned heads train on the trace's first part; others ignore it."""

    def reset(self) -> None:  # noqa: B027 - optional hook
        """Forget online state (a new prompt or run)."""


POLICIES: Registry[type[DraftPolicy]] = Registry("policy")


def make_policy(name: str, **kwargs: Any) -> DraftPolicy:
    """Build a registered policy; bad arguments give one-line AhasdErrors naming the argument."""
    _load_all()
    cls = POLICIES.get(name)
    try:
        args = cls.Args(**kwargs)
    except ValidationError as exc:
        raise AhasdError(f"policy {name}: {one_line(exc)}") from None
    return cls(args)


def _load_all() -> None:
    """Import every policy module so the registry is complete."""
    from ahasd.policies import (  # noqa: F401
        adaedl,
        banditspec,
        fixed,
        hf_confidence,
        hf_heuristic,
        specdec_pp,
        svip,
    )
