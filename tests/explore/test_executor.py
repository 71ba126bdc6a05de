"""Executors return the same ordered results whatever the back end (determinism)."""

from __future__ import annotations

import math
import os
import signal
import time
from unittest.mock import patch

import pytest

from ahasd.errors import AhasdError
from ahasd.explore import executor, get_executor
from ahasd.explore.executor import LocalExecutor, SerialExecutor, WorkerLost, chunks
from ahasd.explore.workers import WorkerPool

ITEMS = list(range(37))
EXPECTED = [math.factorial(i) for i in ITEMS]


def test_jobs_one_runs_in_process_and_keeps_order():
    ex = get_executor("local", jobs=1)
    assert isinstance(ex, SerialExecutor)
    assert ex.map(math.factorial, ITEMS, desc="t") == EXPECTED


def test_process_pool_matches_serial_and_reports_every_chunk():
    ex = get_executor("local", jobs=2)
    assert isinstance(ex, LocalExecutor)
    seen: list[tuple[int, list[int]]] = []
    out = ex.map(math.factorial, ITEMS, on_chunk=lambda s, r: seen.append((s, r)), chunk_size=5)
    assert out == EXPECTED
    rebuilt = [x for _, r in sorted(seen) for x in r]
    assert rebuilt == EXPECTED
    assert sorted(s for s, _ in seen) == list(range(0, 37, 5))


def test_worker_errors_propagate():
    with pytest.raises(ValueError):
        get_executor("local", jobs=2).map(math.sqrt, [1.0, -1.0, 4.0], chunk_size=1)


def _die_at_seven(x: int) -> int:
    """A point whose worker is killed (as the OOM killer would) while the others keep going."""
    if x == 7:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.01)
    return x


def test_a_killed_worker_stops_the_run_and_leaves_no_process():
    """The pool notices a dead worker through its own pipe (never waits for it forever), keeps
    the chunks that finished, and stops the survivors."""
    pools: list[WorkerPool] = []

    class Recorded(WorkerPool):
        def __init__(self, *args):
            super().__init__(*args)
            pools.append(self)

    seen: list[int] = []
    with (
        patch.object(executor, "WorkerPool", Recorded),
        pytest.raises(WorkerLost, match="worker process died"),
    ):
        get_executor("local", jobs=2).map(
            _die_at_seven, list(range(40)), on_chunk=lambda s, r: seen.extend(r), chunk_size=2
        )
    assert seen and 7 not in seen and set(seen) <= set(range(40))
    assert len(pools) == 1 and not any(p.is_alive() for p in pools[0].processes)


def test_chunks_cover_range_exactly():
    assert chunks(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert chunks(0, 4) == []


@pytest.mark.parametrize(("kind", "jobs"), [("dask", None), ("local", 0)])
def test_bad_executor_arguments_are_one_line_errors(kind, jobs):
    with pytest.raises(AhasdError) as err:
        get_executor(kind, jobs=jobs)
    assert "\n" not in str(err.value)
    assert ("executor" if kind == "dask" else "jobs") in str(err.value)
