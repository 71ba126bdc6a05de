"""explore layer: executors, ``evaluate``, sweeps with a result cache, search and Pareto fronts.

``get_executor`` and ``evaluate`` are the contract (docs/dev/contracts.md); ``reproduce`` and
``sweep`` run their points through them. Heavier parts (optuna, Ray, pyarrow) load lazily.
"""

from __future__ import annotations

from ahasd.explore.evaluate import evaluate
from ahasd.explore.executor import (
    Executor,
    LocalExecutor,
    RayExecutor,
    SerialExecutor,
    WorkerLost,
    get_executor,
)

__all__ = [
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "SerialExecutor",
    "WorkerLost",
    "evaluate",
    "get_executor",
]
