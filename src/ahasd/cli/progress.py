"""Progress for long commands: what runs, step of total, elapsed and ETA, on stderr.

Library code (the engine, the report) stays free of rendering: it takes a plain callback
``progress(label, done, total, note="")`` and calls it as work finishes. :func:`progress`
turns those calls into one rich display with a bar per label, on stderr so ``--json`` output on
stdout stays clean; ``AHASD_NO_PROGRESS=1`` hides it (as for sweeps).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Callback = Callable[..., None]


@contextmanager
def progress() -> Iterator[Callback]:
    """A ``(label, done, total, note="")`` callback drawing one bar per label while open.

    The display starts with the first call, so work that shows its own bar before then (the
    executor's, in ``reproduce``) does not clash with it. Where stderr is not a terminal (a log
    file, CI), rich draws only the final state, so each bar also prints a plain line at every
    tenth of its total.
    """
    from ahasd.explore.executor import progress_bar

    bar = progress_bar("", 1)
    tasks: dict[str, Any] = {}
    logged: dict[str, int] = {}
    started: dict[str, float] = {}
    plain = not bar.console.is_terminal and not bar.disable

    def update(label: str, done: int, total: int, note: str = "") -> None:
        if not tasks:
            bar.start()
        if label not in tasks:
            tasks[label] = bar.add_task(label, total=total)
            started[label] = time.monotonic()
        description = f"{label}: {note}" if note else label
        bar.update(tasks[label], completed=done, total=total, description=description)
        tenth = 10 * done // max(total, 1)
        if plain and logged.get(label, -1) < tenth:
            logged[label] = tenth
            bar.console.print(f"{description} {done}/{total}{_times(started[label], done, total)}",
                              highlight=False, soft_wrap=True)  # fmt: skip

    try:
        yield update
    finally:
        if tasks:
            bar.stop()


def _times(start: float, done: int, total: int) -> str:
    """`` (12 s, eta 1 min 40 s)`` for the plain lines."""
    elapsed = time.monotonic() - start
    if done <= 0 or done >= total:
        return f" ({_span(elapsed)})"
    return f" ({_span(elapsed)}, eta {_span(elapsed / done * (total - done))})"


def _span(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"
