"""Edge mapping enumeration: every (draft, target) device pair × γ = 0..8, ranked by speedup."""

from __future__ import annotations

import pytest

from ahasd.errors import AhasdError
from ahasd.systems.edge.plan import DeviceSteps, enumerate_plans, iid_expected_tokens


def _steps(device, draft_s, verify_1, slope):
    verify = tuple(verify_1 + slope * m for m in range(9))
    return DeviceSteps(device, draft_s, draft_s, verify, verify)


STEPS = {"cpu": _steps("cpu", 0.02, 0.20, 0.01), "gpu": _steps("gpu", 0.01, 0.30, 0.002)}


def _xfer(d, t, g):
    return (0.0, 0.0) if d == t else (0.001, 0.0)


def test_enumerates_every_mapping_and_gamma_including_zero():
    plans = enumerate_plans(STEPS, iid_expected_tokens(0.7), _xfer)
    # 2 AR plans (γ = 0 on either device) + 2 x 2 mappings x 8 γ
    assert len(plans) == 2 + 4 * 8
    ar = [p for p in plans if p.gamma == 0]
    assert {p.target_device for p in ar} == {"cpu", "gpu"}
    assert all(p.draft_device is None for p in ar)
    best_ar = next(p for p in ar if p.target_device == "cpu")
    assert best_ar.speedup == pytest.approx(1.0)  # T_AR is the best single-device AR step


def test_speedup_formula_and_ranking():
    exp = iid_expected_tokens(0.7)
    plans = enumerate_plans(STEPS, exp, _xfer)
    p = next(q for q in plans if (q.draft_device, q.target_device, q.gamma) == ("gpu", "cpu", 3))
    t_iter = 3 * 0.01 + STEPS["cpu"].verify_s[3] + 0.001
    assert p.t_iter_s == pytest.approx(t_iter)
    assert p.speedup == pytest.approx(exp[3] * 0.20 / t_iter)
    assert [q.speedup for q in plans] == sorted((q.speedup for q in plans), reverse=True)


def test_no_speculation_wins_when_acceptance_is_zero():
    plans = enumerate_plans(STEPS, iid_expected_tokens(0.0), _xfer)
    assert plans[0].gamma == 0 and plans[0].speedup == pytest.approx(1.0)


def test_iid_expected_tokens():
    assert iid_expected_tokens(0.8)[5] == pytest.approx((1 - 0.8**6) / 0.2)
    assert iid_expected_tokens(1.0)[3] == 4.0
    with pytest.raises(AhasdError, match="alpha"):
        iid_expected_tokens(1.5)


def test_short_inputs_raise():
    with pytest.raises(AhasdError, match="expected_tokens"):
        enumerate_plans(STEPS, (1.0, 1.5), _xfer)
    with pytest.raises(AhasdError, match="devices"):
        enumerate_plans({}, iid_expected_tokens(0.5), _xfer)
