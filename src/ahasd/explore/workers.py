"""A small process pool with one pipe per worker, so a killed worker is always noticed.

``concurrent.futures.ProcessPoolExecutor`` shares one result pipe between all workers: when the
OOM killer (or a user) kills a worker while it is writing a result, the pool's manager thread
blocks forever reading the rest of that message, since the other workers keep the pipe open;
the sweep then hangs instead of stopping (seen with CPython 3.11). Here each worker has its own
pipe, whose only writer is that worker: its death reads as end-of-file or as its process
sentinel, never as a half message someone else might finish.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

_JOIN_S = 5.0  # how long a stopping worker gets before it is killed


def _serve(conn: Connection, fn: Callable[[Any], Any]) -> None:
    """Worker body: run each chunk it is sent, answer ``(index, ok, results or exception)``.

    Ctrl-C is the parent's to handle (a terminal signals the whole process group); ``None`` or
    a closed pipe ends the worker.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        index, items = msg
        try:
            reply = (index, True, [fn(item) for item in items])
        except Exception as exc:  # a failed point: the parent raises it
            reply = (index, False, exc)
        try:
            conn.send(reply)
        except Exception as exc:  # an unpicklable result or exception: say what it was
            conn.send((index, False, RuntimeError(f"{type(exc).__name__}: {exc}")))


class Lost(RuntimeError):
    """A worker died (killed, out of memory) before it answered."""


class WorkerPool:
    """``n`` workers of ``ctx`` running ``fn``; :meth:`run` yields ``(index, results)``.

    Chunks are handed out one per idle worker, in index order, and answers are yielded as they
    arrive. Use it as a context manager: leaving stops every worker, killing any that does not
    stop in time (a Ctrl-C or a failed chunk leaves nothing running).
    """

    def __init__(self, ctx: Any, n: int, fn: Callable[[Any], Any]) -> None:
        self._workers: list[tuple[Any, Connection]] = []
        for _ in range(n):
            mine, theirs = ctx.Pipe(duplex=True)
            proc = ctx.Process(target=_serve, args=(theirs, fn), daemon=True)
            proc.start()
            theirs.close()  # the worker now holds the only other end
            self._workers.append((proc, mine))

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(graceful=exc[0] is None)

    @property
    def processes(self) -> list[Any]:
        return [proc for proc, _ in self._workers]

    def run(self, chunks: Sequence[Sequence[Any]]) -> Iterator[tuple[int, list[Any]]]:
        """Run every chunk; raises :class:`Lost` when a worker dies and re-raises a chunk's
        exception (after the chunks that finished before it were yielded)."""
        queued = iter(range(len(chunks)))
        busy: dict[Connection, tuple[Any, int]] = {}  # pipe -> (process, chunk index)

        def give(proc: Any, conn: Connection) -> None:
            index = next(queued, None)
            if index is None:
                return
            try:
                conn.send((index, list(chunks[index])))
            except OSError as exc:  # the worker is gone
                raise Lost("a worker process died before it took its chunk") from exc
            busy[conn] = (proc, index)

        for proc, conn in self._workers:
            give(proc, conn)
        while busy:
            sentinels = {proc.sentinel: conn for conn, (proc, _) in busy.items()}
            ready = wait([*busy, *sentinels])
            for obj in ready:
                conn = sentinels.get(obj, obj)
                if conn not in busy:
                    continue
                proc, index = busy[conn]
                if not conn.poll():  # the process ended without an answer on its pipe
                    raise Lost(f"a worker process died (exit code {proc.exitcode})")
                try:
                    got, ok, payload = conn.recv()
                except (EOFError, OSError) as exc:  # it died mid-answer
                    raise Lost("a worker process died while sending its results") from exc
                del busy[conn]
                if not ok:
                    raise payload
                yield got, payload
                give(proc, conn)

    def close(self, *, graceful: bool) -> None:
        """Stop the workers: ask politely after a clean run, terminate otherwise; kill
        whatever is still alive after :data:`_JOIN_S`."""
        for proc, conn in self._workers:
            if graceful:
                with contextlib.suppress(OSError):  # already gone: joined below
                    conn.send(None)
            elif proc.is_alive():
                proc.terminate()
        for proc, conn in self._workers:
            proc.join(_JOIN_S)
            if proc.is_alive():
                proc.kill()
                proc.join()
            conn.close()
