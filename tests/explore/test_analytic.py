"""The closed form of [leviathan23] against its table and the event simulator."""

from __future__ import annotations

import numpy as np
import pytest

from ahasd.explore.analytic import expected_tokens, round_metrics


@pytest.mark.parametrize(
    ("alpha", "gammas", "table"),
    [  # E[tokens per round] for gamma = 3/4/5/7/10, from [leviathan23]'s formula
        (0.6, [3, 4, 5, 7, 10], [2.18, 2.31, 2.38, 2.46, 2.49]),
        (0.8, [3, 4, 5, 7, 10], [2.95, 3.36, 3.69, 4.16, 4.57]),
        (0.9, [3, 4, 5, 7, 10], [3.44, 4.10, 4.69, 5.70, 6.86]),
    ],
)
def test_expected_tokens_matches_leviathan_table(alpha, gammas, table):
    got = expected_tokens(np.full(len(gammas), alpha), np.array(gammas))
    np.testing.assert_allclose(got, table, atol=0.006)


def test_expected_tokens_limits():
    assert expected_tokens(np.array(0.0), np.array(5)) == pytest.approx(1.0)
    assert expected_tokens(np.array(1.0), np.array(5)) == pytest.approx(6.0)


def test_async_round_is_the_slower_side_sync_the_sum():
    common = dict(
        alpha=np.array(0.8),
        gamma=np.array(4),
        t_draft_s=np.array(0.01),
        e_draft_j=np.array(0.1),
        t_verify_s=np.array(0.05),
        e_verify_j=np.array(1.0),
        static_w=2.0,
    )
    sync = round_metrics(**common, overlap=False)
    asyn = round_metrics(**common, overlap=True)
    e = expected_tokens(np.array(0.8), np.array(4))
    assert sync["throughput_tok_s"] == pytest.approx(e / 0.09)
    assert asyn["throughput_tok_s"] == pytest.approx(e / 0.05)
    assert sync["tokens_per_joule"] == pytest.approx(e / (0.4 + 1.0 + 2.0 * 0.09))


@pytest.mark.parametrize("system", ["npu-only", "npu-pim-sync", "gpu-only"])
def test_analytic_matches_the_event_simulator_for_sync_fixed_gamma(system):
    """Synchronous SD on an i.i.d. trace follows the closed form (docs/metrics.md)."""
    pytest.importorskip("ahasd.policies.edc", reason="needs ahasd.policies.edc (issue 3)")
    from ahasd.explore import evaluate
    from ahasd.explore.analytic import evaluate_analytic
    from ahasd.explore.points import build_points
    from ahasd.explore.spec import SweepSpec

    spec = SweepSpec.model_validate({
        "base": {"system": system, "tokens": 2048, "profile": "iid-alpha-0.8", "policy": "fixed"},
        "axes": {"policy_args.gamma": [2, 4]},
    })  # fmt: skip
    points = build_points(spec)
    analytic = evaluate_analytic([p.config for p in points])
    for i, p in enumerate(points):
        event = evaluate(p.config)
        assert analytic["gamma"][i] == p.config.policy_args["gamma"]
        for key in ("throughput_tok_s", "tokens_per_joule"):
            assert analytic[key][i] == pytest.approx(event[key], rel=0.02)


ASYNC_VARIANTS = (
    {"system": "ahasd"},
    {"system": "ahasd", "use_tvc": False},
    {"system": "ahasd", "use_edc": False, "use_tvc": False},
    {"system": "npu-pim-async"},
)


@pytest.mark.parametrize("variant", ASYNC_VARIANTS)
@pytest.mark.parametrize("policy", ["adaedl", "svip"])
def test_async_renewal_model_matches_the_event_simulator(variant, policy):
    """Throughput and tokens/J of the asynchronous systems within 5 % (docs/explore.md)."""
    from ahasd.explore import evaluate
    from ahasd.explore.analytic import evaluate_analytic
    from ahasd.sim.config import SimConfig
    from ahasd.systems.base import SYSTEMS, resolve_platform

    cfg = SimConfig(**variant, policy=policy, tokens=256)
    cfg = resolve_platform(cfg, SYSTEMS.get(cfg.system), False)
    analytic = evaluate_analytic([cfg])
    event = evaluate(cfg)
    for key in ("throughput_tok_s", "tokens_per_joule"):
        assert analytic[key][0] == pytest.approx(event[key], rel=0.05)


def test_a_point_is_priced_the_same_alone_or_in_a_batch():
    from ahasd.explore.analytic import evaluate_analytic
    from ahasd.explore.points import build_points
    from ahasd.explore.spec import SweepSpec

    spec = SweepSpec.model_validate({
        "base": {"system": "ahasd", "tokens": 128},
        "axes": {"platform_overrides.lpddr5.data_rate_mtps": [3200, 4800, 6400],
                 "policy": ["adaedl", "svip"]},
    })  # fmt: skip
    configs = [p.config for p in build_points(spec)]
    together = evaluate_analytic(configs)
    for i, cfg in enumerate(configs):
        alone = evaluate_analytic([cfg])
        for key in ("throughput_tok_s", "tokens_per_joule", "ar_throughput_tok_s"):
            assert alone[key][0] == pytest.approx(together[key][i], rel=1e-12)
