"""Token traces: schema, readers/writers, synthetic generator with calibrated profiles, stats."""

from ahasd.traces.io import load_trace, save_trace
from ahasd.traces.profiles import (
    ProfileInfo,
    check_profile,
    default_profile,
    list_profiles,
)
from ahasd.traces.schema import COLUMNS, TokenTrace, TraceMeta
from ahasd.traces.stats import TraceStats, chain_tau, trace_stats
from ahasd.traces.synth import GENERATOR_VERSION, synthesize

__all__ = [
    "COLUMNS",
    "GENERATOR_VERSION",
    "ProfileInfo",
    "TokenTrace",
    "TraceMeta",
    "TraceStats",
    "chain_tau",
    "check_profile",
    "default_profile",
    "list_profiles",
    "load_trace",
    "save_trace",
    "synthesize",
    "trace_stats",
]
