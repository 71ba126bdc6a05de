"""Device timelines: every busy interval with its task, per device and engine track.

Busy time per device is the *union* of its tracks' intervals, so two engines of one device that
overlap (an NPU verifying while it also runs a draft's offloaded softmax) are not counted twice.
Each engine track is a :class:`Lane` holding parallel arrays of starts and ends (no object per
interval); the full rows behind the Chrome trace (``ahasd.report.timeline``) are kept only when
the run records its timeline.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True, slots=True)
class Span:
    """One busy interval of one engine (``track``) of one device."""

    device: str
    track: str
    start_s: float
    end_s: float
    name: str  # task kind: draft, verify, pre-verify, switch, ...
    task_id: int  # unique per run; flow arrows link draft batches to their verification
    flow_to: int | None = None  # task_id of the verification this draft batch fed, if any
    args: tuple[tuple[str, object], ...] = ()

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, object]:
        return {
            "device": self.device,
            "track": self.track,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "name": self.name,
            "task_id": self.task_id,
            "flow_to": self.flow_to,
            "args": dict(self.args),
        }


class Lane:
    """One engine track of one device: its intervals, and the check that they never overlap.

    Without span rows, an interval that starts where the previous one ended extends it: busy
    time and idle gaps are computed on the union, which is the same either way.
    """

    __slots__ = ("device", "track", "end", "starts", "ends", "_rows")

    def __init__(self, device: str, track: str, rows: list[tuple] | None) -> None:
        self.device, self.track = device, track
        self.end = 0.0
        self.starts = array("d")  # C doubles: no float objects kept, read by numpy without a copy
        self.ends = array("d")
        self._rows = rows  # the Timelines' shared row list, or None when spans are not kept

    def add(
        self,
        start_s: float,
        end_s: float,
        name: str,
        task_id: int,
        args: tuple[tuple[str, object], ...] = (),
    ) -> None:
        """Add one interval. An engine never runs two tasks at once: overlap raises."""
        if end_s < start_s:
            raise RuntimeError(f"span {name}#{task_id} ends before it starts")
        if start_s < self.end - 1e-12:
            raise RuntimeError(
                f"overlapping tasks on {self.device}/{self.track} at {start_s!r} s ({name})"
            )
        if self._rows is not None:
            self._rows.append((self.device, self.track, start_s, end_s, name, task_id, None, args))
        elif start_s == self.end and self.ends:
            self.end = self.ends[-1] = end_s
            return
        self.end = end_s
        self.starts.append(start_s)
        self.ends.append(end_s)


class Timelines:
    """All devices' intervals for one run.

    ``keep_spans=False`` keeps only what busy time needs (hot loops of runs without
    ``--timeline``); :attr:`spans` is then empty.
    """

    __slots__ = ("devices", "keep_spans", "_rows", "_lanes")

    def __init__(self, devices: tuple[str, ...], *, keep_spans: bool = True) -> None:
        self.devices = devices
        self.keep_spans = keep_spans
        self._rows: list[tuple] = []
        self._lanes: dict[tuple[str, str], Lane] = {}

    def lane(self, device: str, track: str) -> Lane:
        """The lane of ``device``'s engine ``track`` (created on first use)."""
        key = (device, track)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = Lane(device, track, self._rows if self.keep_spans else None)
        return lane

    def record(
        self,
        device: str,
        track: str,
        start_s: float,
        end_s: float,
        name: str,
        task_id: int,
        *,
        flow_to: int | None = None,
        args: tuple[tuple[str, object], ...] = (),
    ) -> None:
        """Add one interval. An engine never runs two tasks at once: overlap on a track raises."""
        lane = self.lane(device, track)
        lane.add(start_s, end_s, name, task_id, args)
        if flow_to is not None and self.keep_spans:
            row = self._rows[-1]
            self._rows[-1] = (*row[:6], flow_to, row[7])

    def lanes(self) -> dict[tuple[str, str], Lane]:
        """Every lane by (device, track)."""
        return dict(self._lanes)

    @property
    def spans(self) -> list[Span]:
        return [Span(*row) for row in self._rows]

    def busy_s(self, device: str, until_s: float = float("inf")) -> float:
        """Union length of all of ``device``'s intervals, clipped at ``until_s``.

        Vectorised, but summed left to right like a plain loop over the merged intervals.
        """
        lanes = [lane for (dev, _), lane in self._lanes.items() if dev == device]
        if not lanes:
            return 0.0
        starts = np.concatenate([np.frombuffer(lane.starts, dtype=np.float64) for lane in lanes])
        ends = np.concatenate([np.frombuffer(lane.ends, dtype=np.float64) for lane in lanes])
        keep = starts < until_s
        starts, ends = starts[keep], np.minimum(ends[keep], until_s)
        if starts.size == 0:
            return 0.0
        order = np.lexsort((ends, starts))
        starts, ends = starts[order], ends[order]
        reach = np.maximum.accumulate(ends)  # end of the merged interval so far
        first = np.flatnonzero(np.r_[True, starts[1:] > reach[:-1]])  # each merged interval
        last = np.r_[first[1:] - 1, starts.size - 1]
        lengths = reach[last] - starts[first]
        return float(np.add.accumulate(lengths)[-1])

    def with_flows(self, links: dict[int, int]) -> list[Span]:
        """Spans with ``flow_to`` filled from ``links`` (draft task id -> verify task id)."""
        out = []
        for row in self._rows:
            span = Span(*row)
            dest = links.get(span.task_id)
            if dest is not None and span.flow_to is None:
                span = replace(span, flow_to=dest)
            out.append(span)
        return out
