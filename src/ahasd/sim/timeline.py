"""Device timelines: every busy interval with its task, per device and engine track.

Busy time per device is the *union* of its tracks' intervals, so two engines of one device that
overlap (an NPU verifying while it also runs a draft's offloaded softmax) are not counted twice.
Spans are kept as small tuples in a list; the Chrome-trace writer (``ahasd.report.timeline``)
turns them into Perfetto events.
"""

from __future__ import annotations

from dataclasses import dataclass


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


class Timelines:
    """All devices' intervals for one run, in the order they were recorded.

    Intervals are kept as plain tuples (cheap in the event loop); :attr:`spans` builds the
    :class:`Span` objects when a timeline is exported.
    """

    __slots__ = ("devices", "_rows", "_track_end")

    def __init__(self, devices: tuple[str, ...]) -> None:
        self.devices = devices
        self._rows: list[tuple] = []
        self._track_end: dict[tuple[str, str], float] = {}

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
        if end_s < start_s:
            raise RuntimeError(f"span {name}#{task_id} ends before it starts")
        key = (device, track)
        if start_s < self._track_end.get(key, 0.0) - 1e-12:
            raise RuntimeError(f"overlapping tasks on {device}/{track} at {start_s!r} s ({name})")
        self._track_end[key] = end_s
        self._rows.append((device, track, start_s, end_s, name, task_id, flow_to, args))

    @property
    def spans(self) -> list[Span]:
        return [Span(*row) for row in self._rows]

    def busy_s(self, device: str, until_s: float = float("inf")) -> float:
        """Union length of all of ``device``'s intervals, clipped at ``until_s``."""
        ivs = sorted(
            (r[2], min(r[3], until_s)) for r in self._rows if r[0] == device and r[2] < until_s
        )
        total, cur_start, cur_end = 0.0, 0.0, None
        for start, end in ivs:
            if cur_end is None or start > cur_end:
                if cur_end is not None:
                    total += cur_end - cur_start
                cur_start, cur_end = start, end
            elif end > cur_end:
                cur_end = end
        if cur_end is not None:
            total += cur_end - cur_start
        return total

    def with_flows(self, links: dict[int, int]) -> list[Span]:
        """Spans with ``flow_to`` filled from ``links`` (draft task id -> verify task id)."""
        out = []
        for row in self._rows:
            span = Span(*row)
            dest = links.get(span.task_id)
            if dest is not None and span.flow_to is None:
                span = Span(*row[:6], dest, row[7])
            out.append(span)
        return out
