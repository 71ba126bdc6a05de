"""The tandem recursion of a renewal cycle, against cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from ahasd.explore.renewal import CycleInputs, run_cycles


class _Flat:
    """Every verification takes ``verify_s`` (1 J), every pre-verified token ``pv_s``."""

    def __init__(self, verify_s: float, pv_s: float = 1.0) -> None:
        self.verify_s, self.pv_s = verify_s, pv_s

    def verify(self, rows, tokens):
        return np.full(np.shape(rows), self.verify_s), np.ones(np.shape(rows))

    def preverify(self, rows, tokens):
        return self.pv_s * np.asarray(tokens, dtype=np.float64), np.zeros(np.shape(rows))


def _inputs(sizes, *, run, last, verify_s, r_dv=1.0, stops=None, pv_n=None, pv_hit=None,
            pv_s=1.0, r_pv=1.0, first=None) -> CycleInputs:  # fmt: skip
    sizes = np.atleast_2d(np.asarray(sizes, dtype=np.int64))
    rows = sizes.shape[0]
    zeros = np.zeros(sizes.shape, bool)
    full = lambda v: np.full(rows, float(v))  # noqa: E731
    return CycleInputs(
        sizes=sizes,
        stops=zeros if stops is None else np.atleast_2d(np.asarray(stops, bool)),
        pv_n=np.zeros(sizes.shape, np.int64) if pv_n is None else np.atleast_2d(pv_n),
        pv_hit=zeros if pv_hit is None else np.atleast_2d(np.asarray(pv_hit, bool)),
        run=np.asarray(run, np.int64).reshape(rows), last=np.asarray(last, np.int64).reshape(rows),
        first=np.ones(rows, bool) if first is None else np.asarray(first, bool),
        draft_s=full(1.0), draft_j=full(0.5), switch_s=full(0.0), switch_j=full(0.0),
        r_dv=full(r_dv), r_pv=full(r_pv), r_sw=full(1.0), costs=_Flat(verify_s, pv_s),
    )  # fmt: skip


def _run(x, *, depth=8, use_tvc=False, keeps=True):
    return run_cycles(x, depth=depth, use_tvc=use_tvc, keeps_drafting=keeps)


def test_a_cycle_is_its_first_draft_then_its_verifications():
    """Batch 1 (2 tokens) drafts alone; batch 2 overlaps its verification; the squash comes
    with batch 2's verification, which starts when the NPU frees up."""
    out = _run(_inputs([[2, 1]], run=2, last=1, verify_s=3.0))
    assert out.seconds[0] == pytest.approx(2 + 3 + 3)
    assert out.drafted[0] == 3 and out.verifies[0] == 2 and out.batches[0] == 2
    assert out.joules[0] == pytest.approx(3 * 0.5 + 2 * 1.0)
    assert out.npu_busy[0] == pytest.approx(6) and out.draft_busy[0] == pytest.approx(3)


def test_overlapping_tasks_share_rates():
    """Draft (1 s of work) and verification (3 s) overlap at rate 0.5: both take 2 s for 1 s of
    progress, then the verification finishes its last 2 s alone."""
    out = _run(_inputs([[1, 1]], run=0, last=0, verify_s=3.0, r_dv=0.5))
    assert out.seconds[0] == pytest.approx(1 + 2 + 2)
    assert out.overlap_dv[0] == pytest.approx(2)


def test_a_full_queue_stops_drafting_and_a_squash_cuts_the_batch_in_flight():
    out = _run(_inputs([[1, 1, 1, 1, 1]], run=0, last=0, verify_s=10.0), depth=2)
    assert out.seconds[0] == pytest.approx(11)
    # batches 2 and 3 fill the queue; the verification's end squashes before any more start
    assert out.drafted[0] == 3 and out.batches[0] == 3


def test_edc_stop_waits_for_the_next_verification():
    x = _inputs([[1, 1, 1]], run=1, last=1, verify_s=4.0, stops=[[True, False, False]])
    out = _run(x, use_tvc=False)
    # batch 2 starts only when batch 1's verification ends (t = 5), then verifies until 10
    assert out.seconds[0] == pytest.approx(1 + 4 + 1 + 4)
    assert out.draft_busy[0] == pytest.approx(3)  # batch 3 drafts beside the last verification


def test_a_pre_verification_that_finds_the_rejected_token_hands_the_rest_on():
    """After batch 2 (stop), TVC pre-verifies its 2 tokens (hit: k = 2). The next chain starts
    when the switch back ends; batch 1's verification (3 s left of 4) and the cut batch 2 go on
    to the next cycle, which starts with them on the NPU."""
    sizes = [[1, 2, 1], [1, 1, 0]]
    x = _inputs(sizes, run=[2, 0], last=[1, 0], verify_s=4.0, stops=[[False, True, False],
                [False, False, False]], pv_n=[[0, 2, 0], [0, 0, 0]],
                pv_hit=[[False, True, False], [False, False, False]], pv_s=0.5,
                first=[True, False])  # fmt: skip
    out = _run(x, use_tvc=True)
    assert out.corrected.tolist() == [True, False]
    assert out.seconds[0] == pytest.approx(1 + 2 + 1)  # draft 1, draft 2, pre-verify 2 x 0.5
    assert out.npu_carry[0] == pytest.approx(4 - 3 + 4)
    # the next chain's first draft overlaps that residual; its token was committed by the cut
    # verification and k = 0 there, so the chain is squashed when the residual ends
    assert out.seconds[1] == pytest.approx(5)
    assert out.preverifies[0] == 1 and out.pv_tokens[0] == 2


def test_rows_are_independent_apart_from_their_carries():
    one = _run(_inputs([[2, 1]], run=2, last=1, verify_s=3.0))
    many = _run(_inputs([[2, 1]] * 5, run=[2] * 5, last=[1] * 5, verify_s=3.0))
    np.testing.assert_allclose(many.seconds, one.seconds[0])
