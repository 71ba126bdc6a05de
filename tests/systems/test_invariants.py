"""The invariants of docs/metrics.md over every registered system (new ones inherit them)."""

from __future__ import annotations

import math

import pytest

from ahasd.sim.config import SimConfig
from ahasd.systems import SYSTEMS, simulate
from ahasd.systems.base import ar_baseline, kv_groups, prepare, resolve_platform

pytestmark = pytest.mark.invariant

TOKENS = 256


PAIR = {"draft": "llama-68m", "target": "llama2-7b"}  # fits every platform (LP-Spec's 12 GB PIM)


@pytest.fixture(scope="module")
def results():
    """One run per system on the same pair, policy, trace and seed."""
    return {name: simulate(system=name, tokens=TOKENS, seed=3, **PAIR) for name in SYSTEMS.names()}


@pytest.mark.parametrize("name", SYSTEMS.names())
def test_commits_exactly_the_trace_tokens(results, name):
    r = results[name]
    assert r.committed_tokens == TOKENS
    assert r.system == name
    # every verification commits at least the target's own token
    assert 1.0 <= r.tau <= TOKENS
    assert 0.0 <= r.draft_acceptance_rate <= 1.0 and 0.0 <= r.wasted_draft_fraction <= 1.0


def test_every_system_sees_the_same_trace(results):
    assert len({r.trace_hash for r in results.values()}) == 1


@pytest.mark.parametrize("name", SYSTEMS.names())
def test_busy_never_exceeds_wall_and_energy_above_static_floor(results, name):
    r = results[name]
    assert r.wall_s > 0 and math.isfinite(r.wall_s)
    static = 0.0
    for dev in r.devices.values():
        assert -1e-12 <= dev["busy_s"] <= r.wall_s + 1e-12
        assert dev["idle_s"] == pytest.approx(r.wall_s - dev["busy_s"])
        static += dev["energy_j"].get("static", 0.0)
    assert r.energy_j >= static - 1e-12
    assert r.energy_j == pytest.approx(sum(r.energy_by_component.values()))
    assert r.throughput_tok_s == pytest.approx(TOKENS / r.wall_s)


@pytest.mark.parametrize("name", SYSTEMS.names())
def test_deterministic_for_a_seed(results, name):
    again = simulate(system=name, tokens=TOKENS, seed=3, **PAIR)
    assert again.to_dict() == results[name].to_dict()


@pytest.mark.parametrize("name", SYSTEMS.names())
def test_ar_baseline_is_the_closed_form(results, name):
    cls = SYSTEMS.get(name)
    cfg = resolve_platform(SimConfig(system=name, tokens=TOKENS, seed=3, **PAIR), cls, False)
    ctx = prepare(cfg, cls)
    try:
        table = cls().ar_table(ctx)
    except NotImplementedError:
        pytest.skip(f"{name} has its own AR baseline (no System.ar_table); tested in its module")
    seconds = joules = 0.0
    for i in range(TOKENS):  # one lookup per position, no bucket grouping
        s, j, _ = table.cost("verify", 1, cfg.prompt_len + i)
        seconds += s
        joules += j
    from ahasd.memory.energy import package_power

    floor, _draft_w, target_w = package_power(ctx.mem)  # the DRAM dies' background
    static_w = sum(getattr(d, "static_w", 0.0) for d in ctx.platform.devices.values())
    joules += (static_w + floor + target_w) * seconds
    r = results[name]
    assert r.ar_throughput_tok_s == pytest.approx(TOKENS / seconds, rel=1e-12)
    assert r.ar_tokens_per_joule == pytest.approx(TOKENS / joules, rel=1e-12)
    assert ar_baseline(ctx, table) == pytest.approx((TOKENS / seconds, TOKENS / joules))


def test_kv_groups_round_up_to_the_bucket():
    assert kv_groups(126, 5, 64) == [(128, 3), (192, 2)]
    assert sum(c for _, c in kv_groups(1, 1000, 64)) == 1000


def test_sampled_decoding_commits_the_same_tokens_and_is_seeded():
    kw = {"tokens": 200, "seed": 9, "decoding": "sampled"}
    a = simulate(system="npu-only", **kw)
    b = simulate(system="npu-pim-async", **kw)
    assert a.committed_tokens == b.committed_tokens == 200
    assert simulate(system="npu-only", **kw).to_dict() == a.to_dict()
