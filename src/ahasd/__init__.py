"""ahasd: adaptive speculative decoding on heterogeneous mobile hardware.

The public API is imported lazily so that ``import ahasd`` stays cheap (the CLI starts fast and
the simulator never pulls in torch).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ahasd import native as _native

__version__ = "0.1.0"
_native.install()  # the compiled event loop, or its source where that changed (ahasd.native)

# name -> module that defines it
_LAZY = {
    "AhasdError": "ahasd.errors",
    "load_model": "ahasd.models",
    "load_platform": "ahasd.hardware",
    "synthesize": "ahasd.traces",
    "load_trace": "ahasd.traces",
    "make_policy": "ahasd.policies",
    "SimConfig": "ahasd.systems",
    "simulate": "ahasd.systems",
    "Result": "ahasd.sim.result",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ahasd' has no attribute {name!r}")
