"""The round formula: step times plus the decode loop's own time, which is off by default."""

from __future__ import annotations

import pytest

from ahasd.cost.rounds import (
    LoopCost,
    ar_token_seconds,
    draft_seconds,
    overlapped_seconds,
    round_seconds,
)
from ahasd.hardware import load_platform


def test_zero_overheads_reduce_to_the_step_only_formula():
    for gamma in range(0, 9):
        got = round_seconds(gamma, 0.002, 0.011, transfer_s=0.0005)
        assert got == pytest.approx(gamma * 0.002 + 0.011 + 0.0005)
    assert round_seconds(4, 0.002, 0.011, LoopCost()) == round_seconds(4, 0.002, 0.011)
    assert ar_token_seconds(0.009) == 0.009


def test_overheads_are_charged_per_round_per_drafted_token_and_per_ar_token():
    loop = LoopCost(round_s=3e-4, token_s=1e-4, ar_token_s=2e-5)
    assert round_seconds(4, 0.002, 0.011, loop) == pytest.approx(4 * 0.0021 + 0.011 + 3e-4)
    assert ar_token_seconds(0.009, loop) == pytest.approx(0.00902)
    both = LoopCost.mapping(LoopCost(1.0, 2.0, 3.0, 7.0), LoopCost(4.0, 5.0, 6.0, 8.0))
    assert both == LoopCost(4.0, 2.0, 6.0, 0.0)  # drafted tokens: the draft device's term


def test_every_preset_leaves_the_loop_off_and_overrides_set_it(monkeypatch, tmp_path):
    monkeypatch.setenv("AHASD_HOME", str(tmp_path))  # the built-in host-cpu, not a calibrated one
    for name in ("host-cpu", "edge-imx95"):
        plat = load_platform(name)
        assert all(LoopCost.of(d) == LoopCost() for d in plat.devices.values())
    over = {"cpu.round_overhead_us": 300, "cpu.token_overhead_us": 100,
            "cpu.ar_token_overhead_us": 20, "cpu.draft_refill_us": 900}  # fmt: skip
    cpu = load_platform("host-cpu", overrides=over).device("cpu")
    assert LoopCost.of(cpu) == LoopCost(pytest.approx(3e-4), pytest.approx(1e-4),
                                        pytest.approx(2e-5), pytest.approx(9e-4))  # fmt: skip


def test_the_refill_is_charged_once_per_round_and_only_on_one_device():
    loop = LoopCost(refill_s=1e-3)
    assert round_seconds(0, 0.002, 0.011, loop) == 0.011  # no draft step, no re-read
    assert round_seconds(2, 0.002, 0.011, loop) == pytest.approx(0.016)
    assert LoopCost.mapping(loop, loop).refill_s == 0.0  # separate devices, separate caches


def test_the_new_terms_at_zero_give_the_formula_without_them():
    old = LoopCost(3e-4, 1e-4, 2e-5, 9e-4)
    for gamma in range(0, 9):
        refill = 9e-4 if gamma else 0.0
        want = gamma * (0.002 + 1e-4) + refill + 0.011 + 3e-4 + 5e-4
        assert round_seconds(gamma, 0.002, 0.011, old, 5e-4, catch_up=1.0) == want  # exactly


def test_the_refill_decays_over_the_first_draft_steps():
    loop = LoopCost(refill_s=1e-3, refill_decay=0.5)
    assert [loop.refill(n) for n in (0, 1, 2, 3)] == pytest.approx([0.0, 5e-4, 7.5e-4, 8.75e-4])
    assert draft_seconds(2, 0.002, loop) == pytest.approx(0.004 + 7.5e-4)


def test_a_catch_up_step_is_charged_per_fully_accepted_round_on_the_draft_device():
    loop = LoopCost(catch_up_s=4e-4)
    assert round_seconds(3, 0.002, 0.011, loop, catch_up=1.0) == pytest.approx(0.0174)
    assert round_seconds(3, 0.002, 0.011, loop, catch_up=0.25) == pytest.approx(0.0171)
    assert LoopCost.mapping(loop, LoopCost(catch_up_s=9.0)).catch_up_s == 4e-4


def test_draft_work_beside_a_verification_adds_its_overlap_cost():
    assert overlapped_seconds(0.100, 0.020, None) == 0.100  # off
    assert overlapped_seconds(0.100, 0.020, 0.0) == 0.100  # no better than one after the other
    assert overlapped_seconds(0.100, 0.020, -1.0) == pytest.approx(0.080)  # hidden: free cores
    assert overlapped_seconds(0.100, 0.020, 0.5) == pytest.approx(0.110)  # worse: contention
