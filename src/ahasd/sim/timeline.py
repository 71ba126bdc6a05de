"""Device timelines: every busy interval with its task, per device and engine track.

Busy time per device is the *union* of its tracks' intervals, so two engines of one device that
overlap (an NPU verifying while it also runs a draft's offloaded softmax) are not counted twice.
Spans are kept as small tuples in a list; the Chrome-trace writer (``ahasd.report.timeline``)
turns them into Perfetto events.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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


@dataclass(slots=True)
class Timelines:
    """All devices' intervals for one run, in the order they were recorded."""

    devices: tuple[str, ...]
    spans: list[Span] = field(default_factory=list)
    _track_end: dict[tuple[str, str], float] = field(default_factory=dict)

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
        self.spans.append(
            Span(device, track, start_s, end_s, name, task_id, flow_to=flow_to, args=args)
        )

    def busy_s(self, device: str, until_s: float = float("inf")) -> float:
        """Union length of all of ``device``'s intervals, clipped at ``until_s``."""
        ivs = sorted(
            (s.start_s, min(s.end_s, until_s))
            for s in self.spans
            if s.device == device and s.start_s < until_s
        )
        total, cur_start, cur_end = 0.0, None, None
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
        for s in self.spans:
            dest = links.get(s.task_id)
            if dest is not None and s.flow_to is None:
                s = Span(s.device, s.track, s.start_s, s.end_s, s.name, s.task_id, dest, s.args)
            out.append(s)
        return out
