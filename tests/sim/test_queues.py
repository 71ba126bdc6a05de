"""Bounded queues: capacity, FIFO order, squash helpers."""

from __future__ import annotations

import pytest

from ahasd.sim.queues import BoundedQueue, QueueFullError


def test_fifo_and_capacity():
    q: BoundedQueue[int] = BoundedQueue("q", 2)
    q.push(1)
    q.push(2)
    assert q.full and q.high_water == 2
    with pytest.raises(QueueFullError):
        q.push(3)
    assert q.pop() == 1 and q.peek() == 2 and len(q) == 1


def test_truncate_and_clear_return_what_they_drop():
    q: BoundedQueue[int] = BoundedQueue("q", 8)
    for i in range(5):
        q.push(i)
    assert q.truncate_after(1) == [2, 3, 4]
    assert list(q) == [0, 1]
    assert q.clear() == [0, 1] and not q


def test_capacity_must_be_positive():
    with pytest.raises(ValueError):
        BoundedQueue("q", 0)
