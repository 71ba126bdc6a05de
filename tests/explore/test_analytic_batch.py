"""The analytic batch sets points up as the simulator's ``prepare`` does: placement, sharing."""

from __future__ import annotations

import numpy as np
import pytest

from ahasd.explore.analytic_batch import PointBatch, at_kv, kv_knots, memory_model
from ahasd.hardware import load_platform
from ahasd.memory.model import build_memory
from ahasd.memory.sharing import overlap_factor
from ahasd.models import load_model

D, T = load_model("llama2-7b"), load_model("llama2-13b")
VARIANTS = (
    {},
    {"switches.channel_sharing": "blocked"},
    {"placement.policy": "interleaved"},
    {"placement.policy": "dedicated-channel"},
    {"placement.draft_ranks": 8, "lpddr5.ranks": 32},
    {"switches.pim_rate": "published"},
)


@pytest.mark.parametrize("overrides", VARIANTS)
def test_memory_model_places_the_models_as_build_memory(overrides):
    plat = load_platform("ahasd-mobile", overrides)
    ours = memory_model(plat, D, T, precision="int8", kv_tokens=1280)
    ref = build_memory(plat, D, T, precision="int8", kv_tokens=1280)
    for role in ("draft", "target"):
        assert ours.residence(role) == ref.residence(role)
    assert ours.placement.ranks == ref.placement.ranks
    assert (ours.rates, ours.blocked) == (ref.rates, ref.blocked)


@pytest.mark.parametrize("overrides", VARIANTS)
def test_sharing_rates_equal_the_event_loops_pair_rates(overrides):
    """Draft, pre-verification and mode switch against a verification: ``overlap_factor`` of
    the tasks' usages (``CostView``) equals the vectorised rate."""
    from ahasd.sim.config import SimConfig
    from ahasd.systems._async_parts import AsyncParts
    from ahasd.systems.base import SYSTEMS, prepare

    plat = load_platform("ahasd-mobile", overrides)
    kv = 512
    mem = memory_model(plat, D, T, precision="int8", kv_tokens=1280)
    batch = PointBatch([plat], [mem], D, T, precision="int8", kv_low=kv, kv_high=kv + 256)
    share = batch.sharing()
    verify = batch.table(T, "npu", "verify", (2,))
    usage = share.verify_usage(_at(verify, 0))
    cfg = SimConfig(system="ahasd", platform_overrides=overrides, tokens=1280 - 128 - 64)
    ctx = prepare(cfg, SYSTEMS.get("ahasd"))
    for aau in (True, False):
        parts = AsyncParts(ctx, use_aau=aau, use_edc=True, use_tvc=True, use_gtsu=aau)
        v_tc = parts.verify_v("verify", 2, kv)
        placement = "pim" if aau else "pim-no-aau"
        draft = batch.table(D, placement, "draft", (1,))
        pre = batch.table(T, placement, "verify", (2,))
        want = overlap_factor(parts.draft_v("draft", 1, kv).usage, v_tc.usage)
        got = share.pim_rate(_at(draft, 0), usage, on_target=False)
        assert got[0, 0] == pytest.approx(want, rel=1e-9)
        want = overlap_factor(parts.pre_v("verify", 2, kv).usage, v_tc.usage)
        assert share.pim_rate(_at(pre, 0), usage, on_target=True)[0, 0] == pytest.approx(want)
        want = overlap_factor(parts.switch_usage, v_tc.usage) if parts.switch_usage else 1.0
        assert share.switch_rate(usage, not aau)[0, 0] == pytest.approx(want, rel=1e-9)


def _at(table, col):
    """The first knot of column ``col``: arrays (platform, 1)."""
    from ahasd.cost.vector import StepArrays

    return StepArrays(*(getattr(table, f)[:, col, :1] for f in StepArrays.__slots__))


def test_kv_interpolation_is_linear_between_knots():
    knots = kv_knots(100, 700)
    assert knots[0] <= 100 and knots[-1] >= 700 and np.all(np.diff(knots) == 256)
    table = np.array([[10.0 + k for k in knots]])
    kv = np.array([100.0, 300.0, 700.0])
    got = at_kv(table, knots, np.zeros(3, dtype=np.int64), kv)
    np.testing.assert_allclose(got, 10.0 + kv, rtol=1e-5)
