"""The Chrome/Perfetto trace writer produces valid, parseable trace-event JSON."""

from __future__ import annotations

import gzip
import json

from ahasd.report.timeline import write_chrome_trace
from ahasd.sim.timeline import Span


def test_trace_has_processes_tracks_slices_and_flows(tmp_path):
    spans = [
        Span("pim", "draft", 0.0, 0.010, "draft", 1, flow_to=2, args=(("tokens", 4),)),
        Span("npu", "verify", 0.010, 0.030, "verify", 2),
        Span("npu", "draft-offload", 0.031, 0.032, "draft-ops", 3),
    ]
    path = write_chrome_trace(spans, tmp_path / "t.json.gz")
    with gzip.open(path, "rt") as fh:
        doc = json.load(fh)
    events = doc["traceEvents"]
    procs = {e["args"]["name"]: e["pid"] for e in events if e["name"] == "process_name"}
    assert set(procs) == {"pim", "npu"}
    threads = [e for e in events if e["name"] == "thread_name"]
    assert {t["args"]["name"] for t in threads} == {"draft", "verify", "draft-offload"}
    slices = [e for e in events if e["ph"] == "X"]
    assert len(slices) == 3
    verify = next(e for e in slices if e["name"] == "verify")
    assert verify["ts"] == 10_000.0 and abs(verify["dur"] - 20_000.0) < 1e-6
    assert verify["pid"] == procs["npu"]
    start = next(e for e in events if e["ph"] == "s")
    finish = next(e for e in events if e["ph"] == "f")
    assert start["id"] == finish["id"] and finish["bp"] == "e"
    assert finish["pid"] == procs["npu"] and start["pid"] == procs["pim"]
    for e in events:  # every event has the keys the format requires
        assert {"ph", "name", "pid"} <= set(e)
