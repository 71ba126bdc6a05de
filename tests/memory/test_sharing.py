"""Rate sharing between NPU streaming and PIM work: conservation and symmetry."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ahasd.hardware import load_platform
from ahasd.memory.model import dram_spec, pim_rates
from ahasd.memory.pim import Spread
from ahasd.memory.sharing import npu_usage, overlap_factor, pim_usage

SPEC = dram_spec(load_platform("ahasd-mobile"))
RATES = pim_rates(load_platform("ahasd-mobile"), load_platform("ahasd-mobile").device("pim"),
                  "int8")  # fmt: skip
EVERY = Spread((1, 1, 1, 1))
usage = st.dictionaries(st.sampled_from([("dq", 0), ("ca", 0), ("npu",), ("mode", 1)]),
                        st.floats(0.0, 1.0), max_size=4)  # fmt: skip


@given(a=usage, b=usage)
@settings(max_examples=200, deadline=None)
def test_shared_rate_never_overcommits_and_is_symmetric(a, b):
    f = overlap_factor(a, b)
    assert f == overlap_factor(b, a) and 0 < f <= 1
    for res in set(a) | set(b):  # scaled loads fit every resource
        assert (a.get(res, 0) + b.get(res, 0)) * f <= 1 + 1e-9
    if not set(a) & set(b):
        assert f == 1.0


def test_two_tasks_saturating_one_resource_each_run_at_half_speed():
    assert overlap_factor({("dq", 0): 1.0}, {("dq", 0): 1.0}) == pytest.approx(0.5)


def test_npu_stream_and_drafting_on_other_dies_share_only_the_buses():
    stream = npu_usage(1.0, [((4, 5), EVERY, 0.9 * SPEC.peak_bytes_per_s)], SPEC, npu_s=1.0,
                       blocked=False)  # fmt: skip
    draft = pim_usage(1.0, (0, 1), EVERY, RATES, array_s=0.95, io_bytes=0.5e9, npu_s=0.0,
                      blocked=False)  # fmt: skip
    assert overlap_factor(stream, draft) == 1.0  # one PIM die per channel fits beside a stream
    blocked = pim_usage(1.0, (0, 1), EVERY, RATES, array_s=0.95, io_bytes=0.5e9, npu_s=0.0,
                        blocked=True)  # fmt: skip
    stream_b = npu_usage(1.0, [((4, 5), EVERY, 0.9 * SPEC.peak_bytes_per_s)], SPEC, npu_s=1.0,
                         blocked=True)  # fmt: skip
    assert overlap_factor(stream_b, blocked) == pytest.approx(1 / 1.9)  # the channel alternates


def test_pim_on_the_dies_the_npu_reads_time_shares_them():
    stream = npu_usage(1.0, [((4, 5), EVERY, 0.9 * SPEC.peak_bytes_per_s)], SPEC, npu_s=1.0,
                       blocked=False)  # fmt: skip
    pre = pim_usage(1.0, (4, 5), EVERY, RATES, array_s=1.0, io_bytes=0.0, npu_s=0.0,
                    blocked=False)  # fmt: skip
    assert overlap_factor(stream, pre) == pytest.approx(1 / 1.9)


def test_pair_rate_memo_keeps_its_keys_alive():
    """Entries are keyed by id(); the memo holds the mappings, so a new mapping never takes a
    remembered id (and never meets a stale rate)."""
    import gc

    from ahasd.memory.sharing import PAIR_RATES, overlap_factor, pair_rate

    a, b = {("dq", 0): 0.9}, {("dq", 0): 0.8}
    assert pair_rate(a, b) == PAIR_RATES[(id(a), id(b))] == overlap_factor(a, b) < 1.0
    remembered = {id(a), id(b)}
    del a, b
    gc.collect()
    fresh = [{("dq", 1): 0.1} for _ in range(2000)]  # freed dicts' memory is reused at once
    assert not remembered & {id(x) for x in fresh}
