"""edge-hetero: the analytic plan and the event simulator agree on every mapping."""

from __future__ import annotations

import numpy as np
import pytest

from ahasd.errors import AhasdError
from ahasd.systems import simulate
from ahasd.systems.edge.compare import compare_plans, plan_context
from ahasd.systems.edge.hetero import replay_full, replay_tau, simulate_edge


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


LOOP = {"cpu.round_overhead_us": 400, "cpu.token_overhead_us": 150,
        "cpu.ar_token_overhead_us": 30, "cpu.draft_refill_us": 900}  # fmt: skip
# the re-read spread over the first draft steps, and the two-token catch-up step
LOOP_CATCH_UP = {**LOOP, "cpu.draft_refill_decay": 0.5, "cpu.draft_catch_up_us": 2000}


@pytest.mark.parametrize("overrides", [{}, LOOP, LOOP_CATCH_UP])
def test_the_plan_and_the_simulator_charge_the_same_loop_terms(monkeypatch, tmp_path, overrides):
    """Zero overheads give today's step-only round; set ones enter plan and simulator alike."""
    from ahasd.cost.rounds import LoopCost
    from ahasd.systems.edge.hetero import device_steps, replay_full

    monkeypatch.setenv("AHASD_HOME", str(tmp_path))
    ctx = plan_context(draft="llama-68m", target="llama2-7b", platform="host-cpu", profile=None,
                       tokens=256, prompt_len=32, seed=1, overrides=overrides)  # fmt: skip
    steps = device_steps(ctx, "cpu")
    loop = LoopCost.of(ctx.platform.device("cpu"))
    assert (loop == LoopCost()) == (not overrides)
    rows = compare_plans(ctx, simulate=True)
    t_ar = steps.verify_s[0] + loop.ar_token_s
    for r in rows:
        g = r["gamma"]
        step_only = g * steps.draft_s + steps.verify_s[g] if g else steps.verify_s[0]
        full = replay_full(ctx.replay.runs, g, ctx.n)  # rounds followed by a catch-up step
        refill = loop.refill_s * (1 - loop.refill_decay**g)
        extra = g * loop.token_s + refill + full * loop.catch_up_s + loop.round_s
        extra = extra if g else loop.ar_token_s
        assert r["t_iter_s"] == pytest.approx(step_only + extra)
        assert r["speedup"] == pytest.approx(r["expected_tokens"] * t_ar / r["t_iter_s"])
        assert abs(r["gap_pct"]) < 5.0, r["label"]
    if overrides:  # the loop's time lowers every speculative plan's speedup over AR
        base = plan_context(draft="llama-68m", target="llama2-7b", platform="host-cpu",
                            profile=None, tokens=256, prompt_len=32, seed=1)  # fmt: skip
        off = {r["gamma"]: r["speedup"] for r in compare_plans(base, simulate=False)}
        assert all(r["speedup"] < off[r["gamma"]] for r in rows if r["gamma"] > 0)


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


def test_replay_full_counts_rounds_that_accept_every_draft():
    runs = np.array([3, 2, 1, 0, 0, 9, 9, 9, 9, 9])
    # γ = 2 from 0: takes 2 (full), pos 3: 0, pos 4: 0, pos 5: 2 (full), pos 8: 2 (full)
    assert replay_full(runs, 2, 10) == pytest.approx(3 / 5)
    assert replay_full(runs, 0, 10) == 0.0


def test_replay_tau():

    runs = np.array([2, 1, 0, 3, 2, 1, 0])
    assert replay_tau(runs, 0, 7) == 1.0
    # γ=2: pos 0 k=2 -> +3; pos 3 k=3 -> +3; pos 6 k=0 -> +1
    assert replay_tau(runs, 2, 7) == pytest.approx(7 / 3)


def test_host_measurement_says_why_it_is_skipped(tmp_path):
    from ahasd.report.peers import _edge_measured

    assert "Skipped in --quick mode" in _edge_measured(quick=True, models=tmp_path)
    text = _edge_measured(quick=False, models=tmp_path)
    assert "Skipped: no demo pair" in text and str(tmp_path) in text
