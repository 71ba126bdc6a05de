"""A lean, simpy-shaped discrete-event kernel (no third-party simulation framework).

Heap entries are ``(time_s, priority, seq, handler, payload)``: ties on time break by priority,
then by the order of scheduling (``seq`` from the kernel's own counter), so a run is
deterministic; ``seq`` is unique, so the handler and payload are never compared. Two ways in:
``schedule(event)`` dispatches a plain event object on its type (handler resolved once, when it is
scheduled), and ``call(delay, handler, payload)`` is the allocation-free path hot drivers use. One
event per *task* (a draft batch, a verification, a pre-verification, a mode switch), never per
token or per DRAM command.
"""

from __future__ import annotations

import gc
import heapq
import itertools
import math
from collections.abc import Callable, Mapping
from enum import IntEnum
from typing import Any


class Priority(IntEnum):
    """Tie-break at equal time: feedback before new work, so a squash is seen first."""

    FEEDBACK = 0
    NORMAL = 1
    LATE = 2


class TimeTravelError(RuntimeError):
    """Raised when an event would run before the current time (a driver bug, not user input)."""


Handler = Callable[[Any], None]
_NORMAL = int(Priority.NORMAL)


class Kernel:
    """Event loop: ``schedule`` / ``call``, ``peek``, ``step``, ``run(until)``."""

    __slots__ = ("now", "_heap", "_seq", "_handlers", "events_processed", "_stopped")

    def __init__(self, handlers: Mapping[type, Handler] | None = None) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, int, Handler, Any]] = []
        self._seq = itertools.count()
        self._handlers = dict(handlers or {})
        self.events_processed = 0
        self._stopped = False

    def schedule(self, event: Any, delay_s: float = 0.0, priority: int = Priority.NORMAL) -> float:
        """Schedule ``event`` (dispatched on its type) after ``delay_s`` s; returns its time."""
        return self.call(delay_s, self._handler(event), event, int(priority))

    def call(self, delay_s: float, handler: Handler, payload: Any = None, priority: int = _NORMAL):
        """Run ``handler(payload)`` after ``delay_s`` seconds; returns the absolute time."""
        if not delay_s >= 0.0:  # also rejects NaN
            raise TimeTravelError(f"negative or NaN delay {delay_s!r} for {payload!r}")
        at = self.now + delay_s
        heapq.heappush(self._heap, (at, priority, next(self._seq), handler, payload))
        return at

    def hot_queue(self) -> tuple[list, Any]:
        """``(heap, seq)`` for a driver's most frequent events, pushed without :meth:`call`.

        The driver pushes ``(time_s, priority, next(seq), handler, payload)`` with ``heapq``
        itself and must keep ``time_s >= now`` (a task's cost is never negative).
        """
        return self._heap, self._seq

    def schedule_at(self, at_s: float, event: Any, priority: int = Priority.NORMAL) -> None:
        """Schedule ``event`` at absolute time ``at_s`` (never before ``now``)."""
        if not at_s >= self.now:
            raise TimeTravelError(f"event {event!r} at {at_s!r} s is before now={self.now!r} s")
        entry = (at_s, int(priority), next(self._seq), self._handler(event), event)
        heapq.heappush(self._heap, entry)

    def _handler(self, event: Any) -> Handler:
        try:
            return self._handlers[type(event)]
        except KeyError:
            raise TypeError(f"no handler for event type {type(event).__name__}") from None

    def peek(self) -> float:
        """Time of the next event, or +inf when none is pending."""
        return self._heap[0][0] if self._heap else math.inf

    def step(self) -> None:
        """Pop and handle one event."""
        at, _prio, _seq, handler, payload = heapq.heappop(self._heap)
        if at < self.now:
            raise TimeTravelError(f"time ran backwards: {at!r} < {self.now!r}")
        self.now = at
        self.events_processed += 1
        handler(payload)

    def stop(self) -> None:
        """Ask ``run`` to return after the current event."""
        self._stopped = True

    def run(self, until: float | None = None) -> float:
        """Run until the heap is empty, ``stop()`` is called, or time would pass ``until``."""
        limit = math.inf if until is None else until
        heap = self._heap
        pop = heapq.heappop
        self._stopped = False
        done = 0
        gc_was_on = gc.isenabled()
        gc.disable()  # events and spans are acyclic; pausing the cycle collector saves ~20%
        try:
            while heap and not self._stopped:
                if heap[0][0] > limit:
                    self.now = limit
                    break
                at, _prio, _seq, handler, payload = pop(heap)
                if at < self.now:
                    raise TimeTravelError(f"time ran backwards: {at!r} < {self.now!r}")
                self.now = at
                done += 1
                handler(payload)
        finally:
            self.events_processed += done
            if gc_was_on:
                gc.enable()
        return self.now

    def __len__(self) -> int:
        return len(self._heap)
