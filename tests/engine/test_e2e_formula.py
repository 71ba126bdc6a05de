"""A run's predicted wall time: the round formula over what the run did (counts, not timings)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("torch")

from ahasd.engine.e2e import HostTerms, Steps, predicted_wall_s  # noqa: E402
from ahasd.engine.loop_calib import LoopOverheads  # noqa: E402

pytestmark = pytest.mark.engine

STEPS = Steps(1e-3, {n: 8e-3 + n * 1e-4 for n in range(1, 10)}, catch_up_s=3e-4)
LOOP = LoopOverheads(round_s=1e-4, token_s=5e-5, ar_token_s=4e-5, async_round_s=2e-5)


def _run(lens, catch_ups=0, **extras):
    return SimpleNamespace(draft_lens=lens, catch_up_steps=catch_ups, proposed=sum(lens),
                           extras=extras)  # fmt: skip


def test_without_host_terms_it_is_the_step_only_formula():
    run = _run([4, 4, 2], catch_ups=2, drafted_tokens=12.0, overlapped_draft_steps=6.0)
    want = sum(n * 1e-3 + STEPS.verify_s[n + 1] for n in (4, 4, 2))
    assert predicted_wall_s(run, "sync", STEPS, None) == pytest.approx(want)
    # async without host terms: every drafted token (two squashed) one after the other
    assert predicted_wall_s(run, "async", STEPS, None) == pytest.approx(want + 2 * 1e-3)


def test_sync_charges_the_refill_per_round_and_each_counted_catch_up_step():
    host = HostTerms(LOOP, refill=(1e-3, 0.5))
    run = _run([4, 1], catch_ups=1)
    per = [n * (1e-3 + 5e-5) + 1e-3 * (1 - 0.5**n) + STEPS.verify_s[n + 1] + 1e-4 for n in (4, 1)]
    assert predicted_wall_s(run, "sync", STEPS, host) == pytest.approx(sum(per) + 3e-4)


def test_async_adds_the_overlap_cost_of_the_draft_steps_beside_a_verification():
    run = _run([4, 4], drafted_tokens=8.0, overlapped_draft_steps=4.0)
    serial = predicted_wall_s(run, "async", STEPS, HostTerms(LOOP))
    assert serial == pytest.approx(8 * 1.05e-3 + 2 * (STEPS.verify_s[5] + 1e-4 + 2e-5))
    even = HostTerms(LOOP, overlap_cost={1: 5.0, 4: 0.0})  # as good as one after the other
    # the cost measured at the run's γ (4 here)
    assert predicted_wall_s(run, "async", STEPS, even, 4) == pytest.approx(serial)
    free = HostTerms(LOOP, overlap_cost={4: -1.0, 8: 3.0})  # two free cores: hidden
    assert predicted_wall_s(run, "async", STEPS, free, 4) == pytest.approx(serial - 4 * 1.05e-3)
    # the re-read is charged for the draft steps not beside a verification only (half here)
    cold = HostTerms(LOOP, refill=(1e-3, 0.0), overlap_cost={4: 0.0})
    assert predicted_wall_s(run, "async", STEPS, cold, 4) == pytest.approx(serial + 2 * 0.5e-3)
