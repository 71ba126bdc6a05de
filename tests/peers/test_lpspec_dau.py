"""DAU: balanced NPU/PIM column split, NMC concurrency, N_ALU stepping (also in the cost layer)."""

from __future__ import annotations

import pytest

from ahasd.errors import AhasdError
from ahasd.systems.lpspec.dau import allocation_row, balanced_split, pim_passes, stepped_pim_time


def test_balanced_split_makes_both_engines_finish_together():
    s = balanced_split(3.0, 1.0, 6.0, 2.0)
    assert s.r_npu == pytest.approx(0.25)
    assert s.r_npu * 3.0 == pytest.approx((1 - s.r_npu) * 1.0) == pytest.approx(s.seconds)
    assert s.seconds == pytest.approx(3.0 * 1.0 / 4.0)
    assert s.joules == pytest.approx(0.25 * 6.0 + 0.75 * 2.0)


def test_without_the_near_data_controller_the_faster_engine_takes_all():
    s = balanced_split(3.0, 1.0, 6.0, 2.0, concurrent=False)
    assert (s.r_npu, s.seconds, s.joules) == (0.0, 1.0, 2.0)
    assert balanced_split(1.0, 3.0, 1.0, 1.0, concurrent=False).r_npu == 1.0


def test_a_split_not_worth_its_hand_off_goes_to_one_engine():
    s = balanced_split(1.0, 1.0, 1.0, 1.0, sync_s=0.1)
    assert s.r_npu == 0.5 and s.seconds == pytest.approx(0.6)
    assert balanced_split(1.0, 1.0, 1.0, 1.0, sync_s=0.6).r_npu == 1.0


def test_split_never_slower_than_either_engine():
    for t_npu, t_pim in [(1.0, 1.0), (10.0, 0.1), (0.1, 10.0)]:
        s = balanced_split(t_npu, t_pim, 1.0, 1.0)
        assert s.seconds <= min(t_npu, t_pim)


@pytest.mark.parametrize(
    ("n", "passes"), [(1, 1), (4, 1), (5, 2), (8, 2), (9, 3), (16, 4), (17, 5)]
)
def test_pim_passes_step_by_n_alu(n, passes):
    assert pim_passes(n, 4) == passes
    assert stepped_pim_time(2.0, n, 4) == pytest.approx(2.0 * passes)


def test_allocation_row_keeps_nonlinear_ops_on_the_npu():
    row = allocation_row(8, [(2.0, 2.0, 1.0, 1.0, True), (0.5, 9.0, 0.1, 9.0, False)])
    assert row.r_npu == (0.5, 1.0)
    assert row.seconds == pytest.approx(1.0 + 0.5)
    assert row.joules == pytest.approx(1.0 + 0.1)


def test_bad_inputs_raise():
    with pytest.raises(AhasdError, match="n_tokens"):
        pim_passes(0, 4)
    with pytest.raises(AhasdError, match="t_npu_s"):
        balanced_split(-1.0, 1.0, 0.0, 0.0)
