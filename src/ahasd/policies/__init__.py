"""Drafting policies (one interface for simulator and engine), tree builders, EDC and TVC."""

from ahasd.policies.base import (
    POLICIES,
    DraftPolicy,
    RoundOutcome,
    TokenSignals,
    make_policy,
    signal_features,
)
from ahasd.policies.base import _load_all as _load

_load()

__all__ = [
    "POLICIES",
    "DraftPolicy",
    "RoundOutcome",
    "TokenSignals",
    "make_policy",
    "signal_features",
]
