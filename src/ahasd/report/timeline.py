"""Chrome / Perfetto trace writer: one process per device, one thread (track) per engine.

Format: the Trace Event Format's JSON object form (``{"traceEvents": [...]}``), gzipped. Busy
intervals are complete events (``"ph": "X"``, ``ts``/``dur`` in µs); a draft batch links to the
verification that consumed it with a flow arrow (``"s"`` at the end of the draft, ``"f"`` with
``"bp": "e"`` inside the verification). Open the file at https://ui.perfetto.dev.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ahasd.errors import AhasdError
from ahasd.fileio import write_bytes
from ahasd.sim.timeline import Span
from ahasd.validation import json_text

_US = 1e6


def chrome_trace_events(spans: Iterable[Span]) -> list[dict[str, Any]]:
    """Trace events (metadata, slices, flows) for ``spans``; deterministic order."""
    spans = list(spans)
    pids: dict[str, int] = {}
    tids: dict[tuple[str, str], int] = {}
    for s in spans:
        pids.setdefault(s.device, len(pids) + 1)
        tids.setdefault((s.device, s.track), len(tids) + 1)
    events: list[dict[str, Any]] = []
    for device, pid in pids.items():
        events.append({"ph": "M", "name": "process_name", "pid": pid, "args": {"name": device}})
        events.append(
            {"ph": "M", "name": "process_sort_index", "pid": pid, "args": {"sort_index": pid}}
        )
    for (device, track), tid in tids.items():
        meta = {"ph": "M", "name": "thread_name", "pid": pids[device], "tid": tid}
        events.append({**meta, "args": {"name": track}})
    by_task = {s.task_id: s for s in spans}
    for s in spans:
        pid, tid = pids[s.device], tids[(s.device, s.track)]
        args = {k: _plain(v) for k, v in s.args}
        args["task_id"] = s.task_id
        events.append(
            {
                "ph": "X",
                "name": s.name,
                "cat": s.name,
                "pid": pid,
                "tid": tid,
                "ts": s.start_s * _US,
                "dur": max(s.end_s - s.start_s, 0.0) * _US,
                "args": args,
            }
        )
        dest = by_task.get(s.flow_to) if s.flow_to is not None else None
        if dest is not None:
            flow = {"name": "draft->verify", "cat": "flow", "id": s.task_id}
            events.append({**flow, "ph": "s", "pid": pid, "tid": tid, "ts": s.end_s * _US})
            end_ts = max(dest.start_s, s.end_s) * _US
            d_pid, d_tid = pids[dest.device], tids[(dest.device, dest.track)]
            events.append({**flow, "ph": "f", "bp": "e", "pid": d_pid, "tid": d_tid, "ts": end_ts})
    return events


def write_chrome_trace(result_or_spans: Any, path: str | Path) -> Path:
    """Write a gzipped Chrome trace of a ``Result`` (recorded with a timeline) or of spans."""
    spans = getattr(result_or_spans, "timeline", result_or_spans)
    if spans is None:
        raise AhasdError("timeline: the result has no timeline; simulate with record_timeline=True")
    path = Path(path)
    doc = {"traceEvents": chrome_trace_events(spans), "displayTimeUnit": "ms"}
    config = getattr(result_or_spans, "config", None)
    if config is not None:
        doc["otherData"] = {"system": getattr(result_or_spans, "system", ""), "config": config}
    text = json_text(doc, separators=(",", ":"), default=_plain)
    return write_bytes(path, gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0))


def _plain(v: Any) -> Any:
    if hasattr(v, "item"):
        return v.item()
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)
