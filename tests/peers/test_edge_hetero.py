"""edge-hetero: the analytic plan and the event simulator agree on every mapping."""

from __future__ import annotations

import pytest

from ahasd.errors import AhasdError
from ahasd.systems import simulate
from ahasd.systems.edge.compare import compare_plans, plan_context
from ahasd.systems.edge.hetero import replay_tau, simulate_edge


@pytest.mark.parametrize(
    ("platform", "draft", "target"),
    [("edge-imx95", "llama-3.2-1b", "llama-3.2-3b"), ("host-cpu", "llama-68m", "llama2-7b")],
)
def test_analytic_and_event_simulator_agree_within_5_percent(platform, draft, target):
    ctx = plan_context(
        draft=draft,
        target=target,
        platform=platform,
        profile=None,
        tokens=256,
        prompt_len=32,
        seed=1,
    )
    rows = compare_plans(ctx, simulate=True)
    n_dev = 2 if platform == "edge-imx95" else 1
    assert len(rows) == n_dev + n_dev * n_dev * 8
    assert {r["gamma"] for r in rows} == set(range(9))
    for r in rows:
        assert abs(r["gap_pct"]) < 5.0, r["label"]


def test_gamma_zero_is_autoregressive():
    cfg = {"draft": "llama-3.2-1b", "target": "llama-3.2-3b", "tokens": 128, "prompt_len": 32}
    res = simulate_edge(cfg, draft_device="gpu", target_device="cpu", gamma=0)
    assert res.tau == 1.0 and res.mean_draft_len == 0.0
    assert res.extras["draft_device"] is None


def test_registered_system_runs_the_best_plan_for_a_fixed_gamma():
    res = simulate(
        system="edge-hetero", draft="llama-3.2-1b", target="llama-3.2-3b", tokens=128, gamma=3
    )
    assert res.config["platform"] == "edge-imx95"
    assert res.extras["gamma"] == 3
    assert res.committed_tokens == 128


def test_unknown_device_is_a_one_line_error():
    with pytest.raises(AhasdError, match="target_device"):
        simulate_edge({"tokens": 64}, draft_device="cpu", target_device="npu", gamma=2)


def test_replay_tau():
    import numpy as np

    runs = np.array([2, 1, 0, 3, 2, 1, 0])
    assert replay_tau(runs, 0, 7) == 1.0
    # γ=2: pos 0 k=2 -> +3; pos 3 k=3 -> +3; pos 6 k=0 -> +1
    assert replay_tau(runs, 2, 7) == pytest.approx(7 / 3)


def test_host_measurement_says_why_it_is_skipped(tmp_path):
    from ahasd.report.peers import _edge_measured

    assert "Skipped in --quick mode" in _edge_measured(quick=True, models=tmp_path)
    text = _edge_measured(quick=False, models=tmp_path)
    assert "Skipped: no demo pair" in text and str(tmp_path) in text
