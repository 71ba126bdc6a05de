"""Device timelines: busy as a union of intervals, no overlap on one engine."""

from __future__ import annotations

import pytest

from ahasd.sim.timeline import Timelines


def test_busy_is_union_across_tracks_and_clipped():
    tl = Timelines(("npu", "pim"))
    tl.record("npu", "verify", 0.0, 2.0, "verify", 1)
    tl.record("npu", "draft-offload", 1.0, 3.0, "draft-ops", 2)  # overlaps the verify
    tl.record("npu", "verify", 4.0, 5.0, "verify", 3)
    tl.record("pim", "draft", 0.0, 1.0, "draft", 4)
    assert tl.busy_s("npu") == pytest.approx(4.0)
    assert tl.busy_s("npu", until_s=4.5) == pytest.approx(3.5)
    assert tl.busy_s("pim") == pytest.approx(1.0)
    assert tl.busy_s("cpu") == 0.0


def test_overlap_on_one_track_is_a_bug():
    tl = Timelines(("npu",))
    tl.record("npu", "verify", 0.0, 2.0, "verify", 1)
    with pytest.raises(RuntimeError):
        tl.record("npu", "verify", 1.0, 3.0, "verify", 2)
    with pytest.raises(RuntimeError):
        tl.record("npu", "other", 3.0, 2.0, "x", 3)


def test_flow_links_fill_flow_to():
    tl = Timelines(("pim", "npu"))
    tl.record("pim", "draft", 0.0, 1.0, "draft", 1)
    tl.record("npu", "verify", 1.0, 2.0, "verify", 2)
    spans = tl.with_flows({1: 2})
    assert spans[0].flow_to == 2 and spans[1].flow_to is None
