"""A lean, simpy-shaped discrete-event kernel (STYLE.md rule 6).

Heap entries are ``(time_s, priority, seq, event)``: ties on time break by priority, then by the
order of scheduling (``seq`` from the kernel's own counter), so a run is deterministic. Events are
plain slotted objects; the system driver maps each event type to a handler method. One event per
*task* (a draft batch, a verification, a pre-verification, a mode switch), never per token or per
DRAM command.
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


class Kernel:
    """Event loop: ``schedule``, ``peek``, ``step``, ``run(until)``."""

    __slots__ = ("now", "_heap", "_seq", "_handlers", "events_processed", "_stopped")

    def __init__(self, handlers: Mapping[type, Handler]) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, int, Any]] = []
        self._seq = itertools.count()
        self._handlers = dict(handlers)
        self.events_processed = 0
        self._stopped = False

    def schedule(self, event: Any, delay_s: float = 0.0, priority: int = Priority.NORMAL) -> float:
        """Schedule ``event`` after ``delay_s`` seconds; returns its absolute time."""
        if not delay_s >= 0.0:  # also rejects NaN
            raise TimeTravelError(f"negative or NaN delay {delay_s!r} for {event!r}")
        at = self.now + delay_s
        heapq.heappush(self._heap, (at, int(priority), next(self._seq), event))
        return at

    def schedule_at(self, at_s: float, event: Any, priority: int = Priority.NORMAL) -> None:
        """Schedule ``event`` at absolute time ``at_s`` (never before ``now``)."""
        if not at_s >= self.now:
            raise TimeTravelError(f"event {event!r} at {at_s!r} s is before now={self.now!r} s")
        heapq.heappush(self._heap, (at_s, int(priority), next(self._seq), event))

    def peek(self) -> float:
        """Time of the next event, or +inf when none is pending."""
        return self._heap[0][0] if self._heap else math.inf

    def step(self) -> None:
        """Pop and handle one event."""
        at, _prio, _seq, event = heapq.heappop(self._heap)
        if at < self.now:
            raise TimeTravelError(f"time ran backwards: {at!r} < {self.now!r}")
        self.now = at
        self.events_processed += 1
        self._handlers[type(event)](event)

    def stop(self) -> None:
        """Ask ``run`` to return after the current event."""
        self._stopped = True

    def run(self, until: float | None = None) -> float:
        """Run until the heap is empty, ``stop()`` is called, or time would pass ``until``."""
        limit = math.inf if until is None else until
        heap = self._heap
        handlers = self._handlers
        pop = heapq.heappop
        self._stopped = False
        gc_was_on = gc.isenabled()
        gc.disable()  # events and spans are acyclic; pausing the cycle collector saves ~20%
        try:
            while heap and not self._stopped:
                if heap[0][0] > limit:
                    self.now = limit
                    break
                at, _prio, _seq, event = pop(heap)
                if at < self.now:
                    raise TimeTravelError(f"time ran backwards: {at!r} < {self.now!r}")
                self.now = at
                self.events_processed += 1
                handlers[type(event)](event)
        finally:
            if gc_was_on:
                gc.enable()
        return self.now

    def __len__(self) -> int:
        return len(self._heap)
