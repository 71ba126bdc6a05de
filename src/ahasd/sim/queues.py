"""Bounded FIFO queues linking devices (AHASD's unverified-draft and feedback queues).

The paper gives no sizes ([ahasd26] §4.1); the depth is ``SimConfig.queue_depth``. A full
queue is back-pressure: the producer must wait, so ``push`` on a full queue is a driver bug.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Generic, TypeVar

from ahasd.sim.faults import QueueFullError

T = TypeVar("T")


class BoundedQueue(Generic[T]):
    """FIFO with a capacity and a high-water mark.

    ``items`` is the underlying deque, for hot loops that only *read* it (``len``, ``[0]``):
    reading it directly skips a Python-level method call; every change goes through the methods.
    """

    __slots__ = ("name", "capacity", "_items", "high_water")

    def __init__(self, name: str, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"queue {name!r}: capacity must be >= 1, got {capacity}")
        self.name = name
        self.capacity = capacity
        self._items: deque[T] = deque()
        self.high_water = 0

    @property
    def items(self) -> deque[T]:
        return self._items

    def push(self, item: T) -> None:
        items = self._items
        if len(items) >= self.capacity:
            raise QueueFullError(f"queue {self.name!r} is full ({self.capacity})")
        items.append(item)
        if len(items) > self.high_water:
            self.high_water = len(items)

    def pop(self) -> T:
        return self._items.popleft()

    def peek(self) -> T:
        return self._items[0]

    def clear(self) -> list[T]:
        """Remove everything (a squash); returns what was dropped, oldest first."""
        dropped = list(self._items)
        self._items.clear()
        return dropped

    def replace(self, index: int, item: T) -> None:
        """Put ``item`` in place of the ``index``-th item (a batch cut short)."""
        self._items[index] = item

    def truncate_after(self, index: int) -> list[T]:
        """Keep the first ``index + 1`` items, drop the rest; returns what was dropped."""
        dropped = []
        while len(self._items) > index + 1:
            dropped.append(self._items.pop())
        dropped.reverse()
        return dropped

    @property
    def full(self) -> bool:
        return len(self._items) >= self.capacity

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    def __getitem__(self, i: int) -> T:
        return self._items[i]
