"""Device timelines: busy as a union of intervals, no overlap on one engine."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


def _naive_busy(intervals, until):
    """Sort, merge, add left to right: the reference the vectorised union must match bit for bit."""
    ivs = sorted((s, min(e, until)) for s, e in intervals if s < until)
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


@given(
    tracks=st.lists(
        st.lists(st.tuples(st.floats(0, 5), st.floats(0, 5)), max_size=12), min_size=1, max_size=3
    ),
    until=st.floats(0, 60),
)
def test_busy_union_matches_the_plain_merge_exactly(tracks, until):
    tl = Timelines(("npu",), keep_spans=False)
    everything = []
    for k, gaps in enumerate(tracks):
        t = 0.0
        for gap, dur in gaps:  # back-to-back tasks with gaps on one engine never overlap
            start, end = t + gap, t + gap + dur
            tl.record("npu", f"engine{k}", start, end, "task", len(everything))
            everything.append((start, end))
            t = end
    assert tl.busy_s("npu", until) == _naive_busy(everything, until)
    assert tl.busy_s("npu") == _naive_busy(everything, float("inf"))
    assert tl.spans == []  # keep_spans=False keeps intervals only


def test_spans_are_kept_in_recording_order_with_args():
    tl = Timelines(("pim", "npu"))
    tl.record("pim", "draft", 0.0, 1.0, "draft", 1, args=(("tokens", 3),))
    tl.lane("npu", "verify").add(1.0, 2.0, "verify", 2)
    tl.record("pim", "draft", 1.0, 1.5, "draft", 3, flow_to=9)
    assert [(s.device, s.task_id, s.flow_to) for s in tl.spans] == [
        ("pim", 1, None), ("npu", 2, None), ("pim", 3, 9),
    ]  # fmt: skip
    assert tl.spans[0].args == (("tokens", 3),)


@given(
    gaps=st.lists(st.tuples(st.sampled_from([0.0, 0.0, 0.25, 1.5]), st.floats(0, 2)), max_size=20),
    wall=st.floats(0.5, 40),
)
def test_touching_intervals_merged_without_spans_give_the_same_union_and_gaps(gaps, wall):
    """Without span rows a lane stores back-to-back tasks as one interval; busy time and the
    idle gaps the DRAM background energy reads are bit-identical to one interval per task."""
    import numpy as np

    from ahasd.memory.energy import union_s

    kept, merged = Timelines(("pim",)), Timelines(("pim",), keep_spans=False)
    t = 0.0
    for i, (gap, dur) in enumerate(gaps):
        for tl in (kept, merged):
            tl.record("pim", "draft", t + gap, t + gap + dur, "draft", i)
        t += gap + dur
    a, b = kept.lane("pim", "draft"), merged.lane("pim", "draft")
    assert len(b.starts) <= len(a.starts)
    busy_a, gaps_a = union_s([(a.starts, a.ends)], wall)
    busy_b, gaps_b = union_s([(b.starts, b.ends)], wall)
    assert busy_a == busy_b and np.array_equal(gaps_a, gaps_b)
    assert kept.busy_s("pim", wall) == merged.busy_s("pim", wall)
