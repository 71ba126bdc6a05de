"""Metrics hooks: commit contiguity, acceptance checked against the trace, formulas."""

from __future__ import annotations

import numpy as np
import pytest

from ahasd.sim.metrics import CommitError, Metrics


def _metrics():
    match = np.array([True, True, False, True, False, True, True, True])
    return Metrics(len(match), match, {"mem_off_chip": "lpddr5"})


def test_commit_must_be_contiguous_and_match_the_trace():
    m = _metrics()
    m.on_commit(0, 2, 1)  # positions 0, 1 accepted; 2 from the target
    with pytest.raises(CommitError):
        m.on_commit(2, 1, 1)  # wrong start
    with pytest.raises(CommitError):
        m.on_commit(3, 2, 1)  # position 4 does not match
    m.on_commit(3, 2, 1, corrected=1)  # ... unless a pre-verification fixed it
    assert m.committed == 6
    m.on_commit(6, 5, 1)  # truncated at the trace end
    assert m.committed == 8


def test_summary_formulas():
    m = _metrics()
    m.on_draft(3)
    m.on_verify(rejected=True)
    m.on_commit(0, 2, 1)
    m.on_draft(4)
    m.on_discard(4)
    m.on_abort(1)
    s = m.summary()
    assert s["committed_tokens"] == 3
    assert s["tau"] == 3.0
    assert s["alpha_hat"] == pytest.approx(2 / 3)
    assert s["mean_draft_len"] == pytest.approx(8 / 2)
    assert s["draft_acceptance_rate"] == pytest.approx(2 / 8)
    assert s["wasted_draft_fraction"] == pytest.approx(5 / 8)
    assert s["draft_len_hist"] == {3: 1, 4: 1}


def test_energy_components_can_be_charged_to_another_device():
    m = _metrics()
    m.on_task_end("npu", {"compute": 1.0, "mem_off_chip": 2.0}, scale=2.0)
    assert m.energy == {"npu": {"compute": 2.0}, "lpddr5": {"mem_off_chip": 4.0}}


def test_accepted_mask_and_drafted_bonus():
    m = _metrics()
    m.on_commit(0, 2, 1, drafted_bonus=False)
    m.on_commit(3, 0, 1, drafted_bonus=True)  # position 3 matches: the drafted bonus counts
    with pytest.raises(CommitError):
        m.on_commit(4, 0, 1, drafted_bonus=True)  # position 4 does not match
    assert m.accepted_mask.tolist() == [True, True, False, True] + [False] * 4
    assert m.accepted == 3 and m.target_tokens == 1
