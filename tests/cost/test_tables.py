"""Memoised tables, bucketing, the sweep grid and the memory plan."""

from __future__ import annotations

import numpy as np
import pytest

from ahasd.cost import StepCostTable, plan_memory, step_cost
from ahasd.errors import AhasdError
from ahasd.hardware import load_platform
from ahasd.models import load_model

MOBILE = load_platform("ahasd-mobile")
L7, L13 = load_model("llama2-7b"), load_model("llama2-13b")


def test_cost_rounds_kv_up_to_bucket_and_memoises():
    t = StepCostTable(MOBILE, L7, placement="pim", kv_bucket=64)
    a = t.cost("draft", 1, 65)
    assert t.cost("draft", 1, 65) is a
    assert t.cost("draft", 1, 128)[0] == a[0]
    direct = step_cost(MOBILE, L7, placement="pim", phase="draft", n_tokens=1, kv_len=128)
    assert a[0] == direct.seconds and a[1] == direct.joules
    assert t.cost("draft", 1, 64)[0] < a[0]
    assert t.detail("draft", 1, 100).seconds == a[0]


def test_grid_matches_cost():
    t = StepCostTable(MOBILE, L13, placement="npu", kv_bucket=32)
    n_values, kv_values = [1, 4, 8], [0, 31, 32, 33, 500]
    secs, joules = t.grid("verify", n_values, kv_values)
    assert secs.shape == joules.shape == (3, 5)
    for i, n in enumerate(n_values):
        for j, kv in enumerate(kv_values):
            s, e, _ = t.cost("verify", n, kv)
            assert secs[i, j] == s and joules[i, j] == e
    assert np.all(np.diff(secs[:, -1]) >= 0)


def test_table_rejects_bad_arguments():
    with pytest.raises(AhasdError, match="placement"):
        StepCostTable(MOBILE, L7, placement="xpu")
    with pytest.raises(AhasdError, match="kv_bucket"):
        StepCostTable(MOBILE, L7, placement="npu", kv_bucket=0)
    t = StepCostTable(MOBILE, L7, placement="npu")
    with pytest.raises(AhasdError, match="phase"):
        t.cost("decode", 1, 0)


def test_plan_memory_fits_offloads_or_raises():
    plan = plan_memory(MOBILE, [L7, L13], precision="int8", device="npu")
    assert plan.fits and plan.required_bytes == L7.weight_bytes("int8") + L13.weight_bytes("int8")
    gpu = load_platform("gpu-rtx4090-laptop")
    plan = plan_memory(gpu, [L7, L13], precision="int8", device="gpu")
    assert not plan.fits and plan.offload_bytes["llama2-7b"] == 0
    assert plan.offload_bytes["llama2-13b"] == plan.required_bytes - plan.capacity_bytes
    with pytest.raises(AhasdError, match="models"):
        plan_memory(gpu, [L7, L13], precision="fp32", device="gpu")  # 79 GB > 16 + 32
    with pytest.raises(AhasdError, match="models"):
        plan_memory(load_platform("lpspec-mobile"), [L13], precision="fp16", device="pim")


@pytest.mark.parametrize("placement", ["npu", "pim", "pim-no-aau", "npu-pim-op"])
def test_shared_operator_memo_changes_nothing(placement):
    """Tables reuse kv-independent operator costs; every entry equals a fresh step_cost."""
    t = StepCostTable(MOBILE, L7, placement=placement, kv_bucket=16)
    for phase, n, kv in [("verify", 4, 0), ("verify", 4, 300), ("draft", 1, 17), ("tree", 4, 300),
                         ("prefill", 32, 0), ("verify", 5, 300)]:  # fmt: skip
        got = t.detail(phase, n, kv)
        ref = step_cost(MOBILE, L7, placement=placement, phase=phase, n_tokens=n,
                        kv_len=t.bucket(kv))  # fmt: skip
        assert (got.seconds, got.joules, got.bound, got.limit) == (
            ref.seconds, ref.joules, ref.bound, ref.limit)  # fmt: skip
        assert dict(got.times_s) == dict(ref.times_s)


def test_plan_memory_keeps_the_kv_cache_on_the_device():
    gpu = load_platform("gpu-rtx4090-laptop")
    bare = plan_memory(gpu, [L7, L13], precision="int8", device="gpu")
    kv = (L7.kv_bytes_per_token("int8") + L13.kv_bytes_per_token("int8")) * 1152
    with_kv = plan_memory(gpu, [L7, L13], precision="int8", device="gpu", kv_tokens=1152)
    assert with_kv.required_bytes == bare.required_bytes + kv
    assert with_kv.offload_bytes["llama2-13b"] == bare.offload_bytes["llama2-13b"] + kv
    with pytest.raises(AhasdError, match="KV caches"):
        plan_memory(gpu, [L7, L13], precision="int8", device="gpu", kv_tokens=10**6)
