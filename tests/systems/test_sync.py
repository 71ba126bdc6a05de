"""Synchronous SD on an i.i.d. trace reproduces Leviathan et al.'s expected tokens and time."""

from __future__ import annotations

import pytest

from ahasd.systems import simulate

ALPHA, GAMMA = 0.8, 4


@pytest.mark.invariant
def test_iid_trace_matches_closed_form_tokens_and_time_per_round():
    # one huge KV bucket makes every step cost constant, so time per round has a closed form
    r = simulate(
        system="specpim",
        profile=f"iid-alpha-{ALPHA}",
        gamma=GAMMA,
        tokens=20_000,
        seed=5,
        kv_bucket=32_768,
    )
    expected_tokens = (1 - ALPHA ** (GAMMA + 1)) / (1 - ALPHA)
    assert r.tau == pytest.approx(expected_tokens, rel=0.02)
    rounds = r.extras["rounds"]
    from ahasd.sim.config import SimConfig
    from ahasd.systems import SYSTEMS
    from ahasd.systems.base import prepare, resolve_platform

    cls = SYSTEMS.get("specpim")
    cfg = resolve_platform(
        SimConfig(system="specpim", gamma=GAMMA, tokens=64, kv_bucket=32_768), cls, False
    )
    ctx = prepare(cfg, cls)
    draft_t, verify_t = cls().tables(ctx)
    t_round = GAMMA * draft_t.cost("draft", 1, 128)[0] + verify_t.cost("verify", GAMMA + 1, 128)[0]
    assert r.wall_s / rounds == pytest.approx(t_round, rel=1e-9)
    assert r.mean_draft_len == GAMMA
    assert r.wasted_draft_fraction == 0.0
