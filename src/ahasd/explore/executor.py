"""Executors: run a pure function over many design points, results in input order.

One small interface (``map``) behind three back ends: in-process (``jobs=1``), a local process
pool (default; a ``forkserver``/``spawn`` context so workers never inherit typer/rich state or
threads), and Ray (the ``[ray]`` extra, imported lazily). Items are cut into deterministic,
contiguous chunks, and every back end returns the same list, so results never depend on the
executor (the determinism invariant of docs/metrics.md).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from ahasd.errors import AhasdError, field_error, one_line
from ahasd.explore.workers import Lost, WorkerPool

T = TypeVar("T")
R = TypeVar("R")

OnChunk = Callable[[int, list[Any]], None]
EXECUTORS = ("local", "ray")


class WorkerLost(RuntimeError):
    """A worker process died mid-run (killed, out of memory): not bad input, so not exit 2.

    Every chunk that finished before is already reported through ``on_chunk``; a sweep reruns
    only what is missing.
    """


class Executor(Protocol):
    """Map ``fn`` over ``items``; the result list is in the order of ``items``.

    ``on_chunk(start, results)`` (optional) is called in the calling process as each contiguous
    chunk ``items[start:start + len(results)]`` completes, in completion order: the sweep writes
    its cache there, so an interrupted run keeps every finished chunk.
    """

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        desc: str = "",
        on_chunk: OnChunk | None = None,
        chunk_size: int | None = None,
    ) -> list[R]: ...


def get_executor(
    kind: str = "local", *, jobs: int | None = None, address: str | None = None
) -> Executor:
    """Build an executor: ``local`` (processes; ``jobs=1`` runs in-process) or ``ray``."""
    if jobs is not None and jobs < 1:
        raise field_error("jobs", jobs, "an integer >= 1 (or omitted for one per CPU core)")
    if kind == "local":
        n = jobs or os.cpu_count() or 1
        return SerialExecutor() if n == 1 else LocalExecutor(n)
    if kind == "ray":
        return RayExecutor(address=address, jobs=jobs)
    raise field_error("executor", kind, ", ".join(EXECUTORS))


def chunks(n_items: int, chunk_size: int) -> list[tuple[int, int]]:
    """Deterministic contiguous [start, stop) ranges covering ``range(n_items)``."""
    size = max(1, int(chunk_size))
    return [(s, min(s + size, n_items)) for s in range(0, n_items, size)]


def default_chunk_size(n_items: int, workers: int) -> int:
    """About four chunks per worker (load balance) but no more than 64 items per chunk."""
    return max(1, min(64, -(-n_items // max(1, 4 * workers))))


def _run_chunk(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """Worker body: a module-level function so every back end can ship it."""
    return [fn(item) for item in items]


def progress_bar(desc: str, total: int):
    """A rich progress bar with ETA on stderr (stdout stays clean for --json output)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
        disable=total == 0 or os.environ.get("AHASD_NO_PROGRESS") == "1",
    )


class SerialExecutor:
    """Everything in the calling process (``jobs=1``): simplest to debug and profile."""

    jobs = 1

    def map(self, fn, items, *, desc="", on_chunk=None, chunk_size=None):
        items = list(items)
        out: list[Any] = []
        size = chunk_size or default_chunk_size(len(items), 1)
        with progress_bar(desc or "points", len(items)) as bar:
            task = bar.add_task(desc or "points", total=len(items))
            for start, stop in chunks(len(items), size):
                res = _run_chunk(fn, items[start:stop])
                out.extend(res)
                if on_chunk is not None:
                    on_chunk(start, res)
                bar.advance(task, len(res))
        return out


def _mp_context() -> mp.context.BaseContext:
    """``forkserver`` where available (Linux), else ``spawn``: never plain fork.

    Forking a process that runs typer/rich (a live progress thread) or Ray can deadlock; both
    safe contexts re-import the worker function by module path, so ``fn`` must be importable.
    """
    methods = mp.get_all_start_methods()
    return mp.get_context("forkserver" if "forkserver" in methods else "spawn")


class LocalExecutor:
    """A process pool on this machine (:mod:`ahasd.explore.workers`); chunks are handed out in
    order, one per idle worker, and gathered in order."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs

    def map(self, fn, items, *, desc="", on_chunk=None, chunk_size=None):
        items = list(items)
        if not items:
            return []
        ranges = chunks(len(items), chunk_size or default_chunk_size(len(items), self.jobs))
        results: list[list[Any] | None] = [None] * len(ranges)
        workers = min(self.jobs, len(ranges))
        with (
            progress_bar(desc or "points", len(items)) as bar,
            WorkerPool(_mp_context(), workers, fn) as pool,
        ):
            task = bar.add_task(desc or "points", total=len(items))
            try:
                for i, res in pool.run([items[a:b] for a, b in ranges]):
                    results[i] = res
                    if on_chunk is not None:
                        on_chunk(ranges[i][0], res)
                    bar.advance(task, len(res))
            except Lost as exc:  # every chunk that finished first was reported above
                raise WorkerLost(
                    "a worker process died (killed or out of memory) before its points finished"
                ) from exc
        return [r for chunk in results for r in chunk]  # type: ignore[union-attr]


def _ray_lost(ray: Any) -> tuple[type[BaseException], ...]:
    """Ray's errors for a dead worker or node (as opposed to an exception raised by a point)."""
    names = ("WorkerCrashedError", "NodeDiedError", "OutOfMemoryError", "LocalRayletDiedError")
    return tuple(getattr(ray.exceptions, n) for n in names if hasattr(ray.exceptions, n))


LOOPBACK = "127.0.0.1"
_RAY_CLUSTER_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def _loopback_only() -> None:
    """Keep a Ray cluster this process starts on 127.0.0.1.

    Ray swaps a loopback node address for the machine's routable one unless its cluster mode
    is off; the switch is an environment variable (read by Ray's own processes too) and, once
    Ray is imported, a module constant.
    """
    os.environ[_RAY_CLUSTER_ENV] = "0"
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None:
        constants.ENABLE_RAY_CLUSTER = False


class RayExecutor:
    """Ray tasks, one per chunk of points (the ``[ray]`` extra).

    Connects with ``ray.init(address=...)`` unless this process is already connected (a test or
    a notebook that started its own cluster). Without an address it starts a local cluster bound
    to 127.0.0.1, so no Ray port listens on a routable address. ``jobs`` only sizes the chunks.
    """

    def __init__(self, *, address: str | None = None, jobs: int | None = None) -> None:
        self.address = address
        self.jobs = jobs

    def _ray(self):
        try:
            import ray
        except ImportError as exc:
            raise AhasdError(
                "executor: 'ray' needs the [ray] extra (pip install 'ahasd[ray]')"
            ) from exc
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address:
                kwargs["address"] = self.address
            else:
                _loopback_only()
                kwargs.update(address="local", _node_ip_address=LOOPBACK)
            ray.init(**kwargs)
        return ray

    def map(self, fn, items, *, desc="", on_chunk=None, chunk_size=None):
        items = list(items)
        if not items:
            return []
        ray = self._ray()
        workers = self.jobs or int(ray.cluster_resources().get("CPU", 1))
        ranges = chunks(len(items), chunk_size or default_chunk_size(len(items), workers))
        remote = ray.remote(_run_chunk)
        fn_ref = ray.put(fn)
        refs = [remote.remote(fn_ref, items[a:b]) for a, b in ranges]
        index = {ref: i for i, ref in enumerate(refs)}
        results: list[list[Any] | None] = [None] * len(ranges)
        pending = list(refs)
        with progress_bar(desc or "points", len(items)) as bar:
            task = bar.add_task(desc or "points", total=len(items))
            try:
                while pending:
                    done, pending = ray.wait(pending, num_returns=1)
                    for ref in done:
                        i = index[ref]
                        try:
                            results[i] = ray.get(ref)
                        except _ray_lost(ray) as exc:  # Ray already retried the task
                            msg = f"a Ray worker or node died ({one_line(exc)})"
                            raise WorkerLost(msg) from exc
                        if on_chunk is not None:
                            on_chunk(ranges[i][0], results[i])
                        bar.advance(task, len(results[i]))
            except BaseException:
                for ref in pending:
                    ray.cancel(ref)
                raise
        return [r for chunk in results for r in chunk]  # type: ignore[union-attr]
