"""The event kernel: ordering, tie-breaks, time monotonicity, run(until)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ahasd.sim.kernel import Kernel, Priority, TimeTravelError


@dataclass(frozen=True, slots=True)
class Ping:
    label: str


def _recorder():
    seen: list[tuple[float, str]] = []
    kernel = Kernel({Ping: lambda ev: seen.append((kernel.now, ev.label))})
    return kernel, seen


def test_events_run_in_time_order():
    kernel, seen = _recorder()
    kernel.schedule(Ping("b"), 2.0)
    kernel.schedule(Ping("a"), 1.0)
    kernel.schedule(Ping("c"), 3.0)
    kernel.run()
    assert seen == [(1.0, "a"), (2.0, "b"), (3.0, "c")]
    assert kernel.events_processed == 3


def test_ties_break_by_priority_then_scheduling_order():
    kernel, seen = _recorder()
    kernel.schedule(Ping("normal-1"), 1.0)
    kernel.schedule(Ping("late"), 1.0, Priority.LATE)
    kernel.schedule(Ping("normal-2"), 1.0)
    kernel.schedule(Ping("feedback"), 1.0, Priority.FEEDBACK)
    kernel.run()
    assert [label for _, label in seen] == ["feedback", "normal-1", "normal-2", "late"]


def test_negative_delay_and_past_time_are_rejected():
    kernel, _ = _recorder()
    with pytest.raises(TimeTravelError):
        kernel.schedule(Ping("x"), -1e-9)
    with pytest.raises(TimeTravelError):
        kernel.schedule(Ping("x"), float("nan"))
    kernel.schedule(Ping("x"), 1.0)
    kernel.run()
    with pytest.raises(TimeTravelError):
        kernel.schedule_at(0.5, Ping("y"))


def test_run_until_stops_before_later_events():
    kernel, seen = _recorder()
    kernel.schedule(Ping("a"), 1.0)
    kernel.schedule(Ping("b"), 5.0)
    assert kernel.run(until=2.0) == 2.0
    assert seen == [(1.0, "a")]
    assert kernel.peek() == 5.0
    kernel.step()
    assert seen[-1] == (5.0, "b")
    assert kernel.peek() == float("inf")


def test_stop_returns_after_current_event():
    seen = []

    def handler(ev):
        seen.append(ev.label)
        kernel.stop()

    kernel = Kernel({Ping: handler})
    kernel.schedule(Ping("a"), 1.0)
    kernel.schedule(Ping("b"), 2.0)
    kernel.run()
    assert seen == ["a"] and len(kernel) == 1


@given(st.lists(st.floats(0.0, 1e3, allow_nan=False), min_size=1, max_size=50))
def test_time_never_decreases(delays):
    kernel, seen = _recorder()
    for i, d in enumerate(delays):
        kernel.schedule(Ping(str(i)), d)
    kernel.run()
    times = [t for t, _ in seen]
    assert times == sorted(times)
    # equal times keep scheduling order
    order = sorted(range(len(delays)), key=lambda i: (delays[i], i))
    assert [label for _, label in seen] == [str(i) for i in order]


def test_call_runs_a_bound_handler_with_its_payload_in_order():
    kernel = Kernel()
    seen: list[tuple[float, object]] = []
    kernel.call(2.0, lambda p: seen.append((kernel.now, p)), "late")
    kernel.call(1.0, lambda p: seen.append((kernel.now, p)), ("early", 1))
    kernel.call(1.0, lambda p: seen.append((kernel.now, p)), "first", int(Priority.FEEDBACK))
    kernel.run()
    assert seen == [(1.0, "first"), (1.0, ("early", 1)), (2.0, "late")]
    assert kernel.events_processed == 3
    with pytest.raises(TimeTravelError):
        kernel.call(-1.0, print)
    with pytest.raises(TypeError, match="no handler"):
        kernel.schedule(Ping("unregistered"))
