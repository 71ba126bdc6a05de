"""Each device kind against a hand-computed roofline (numbers from the presets)."""

from __future__ import annotations

import math

import pytest

from ahasd.cost import op_cost, step_cost
from ahasd.errors import AhasdError
from ahasd.hardware import load_platform
from ahasd.models import Op, OpKind, load_model, ops_for_phase, total

MOBILE = load_platform("ahasd-mobile")
PUBLISHED = load_platform("ahasd-mobile", {"switches.pim_rate": "published"})
L7, L13 = load_model("llama2-7b"), load_model("llama2-13b")


def test_npu_verify_is_weight_streaming():
    step = step_cost(MOBILE, L13, placement="npu", phase="verify", n_tokens=8, kv_len=512)
    ops = ops_for_phase(L13, "verify", 8, 512)
    dram = total(ops, "weight_bytes") + total(ops, "kv_read_bytes") + total(ops, "kv_write_bytes")
    # LPDDR5-6400 x64 less all-bank refresh (tRTP + tRPab + tRFCab + tRCD per tREFI)
    refresh = (10 + 21.25 + 380 + 18.75) / 3906
    hand = dram / (51.2e9 * (1 - refresh))
    assert step.seconds == pytest.approx(hand, rel=0.01)
    assert 0.24 <= step.seconds <= 0.32
    assert step.bound == "memory" and "timing" in step.limit


def test_npu_verify_256_tokens_is_compute_visible():
    small = step_cost(MOBILE, L13, placement="npu", phase="verify", n_tokens=8, kv_len=512)
    big = step_cost(MOBILE, L13, placement="npu", phase="verify", n_tokens=256, kv_len=512)
    assert big.seconds > small.seconds and big.bound == "compute"
    macs = total(ops_for_phase(L13, "verify", 256, 512), "macs")
    assert big.seconds >= macs / (8e12 * 0.8)  # 16 TOPS = 8 T MAC/s, 0.8 derate


def test_npu_tiling_of_a_skinny_gemm():
    op = Op("g", OpKind.GEMM, 1, 256, 256, 256 * 256, 0, 0, 0, 0)
    cost = op_cost(op, MOBILE, "npu")
    cycles = (2 * 2 * 128) / 2 + 128 + 128  # 4 tiles of max(m, 128) cycles on 2 chips + fill
    assert cost.seconds == pytest.approx(cycles / 1e9 / 0.8)


def test_pim_draft_bound_by_102_gops_and_says_so():
    """pim_rate=published: Table 2's roofline as printed (whole PIM, or per rank)."""
    step = step_cost(PUBLISHED, L7, placement="pim", phase="draft", n_tokens=1, kv_len=512)
    macs = total(ops_for_phase(L7, "draft", 1, 512), "macs")
    assert step.bound == "compute" and "102.4 GOPS" in step.limit
    assert step.seconds == pytest.approx(2 * macs / (102.4e9 * 0.8), rel=0.01)
    per_rank = load_platform(
        "ahasd-mobile", {"switches.pim_rate": "published", "switches.gops_scope": "per-rank"}
    )
    fast = step_cost(per_rank, L7, placement="pim", phase="draft", n_tokens=1, kv_len=512)
    assert fast.bound == "memory" and "256 GB/s" in fast.limit


def test_derived_pim_draft_is_bound_by_the_row_cycles_of_its_dies():
    """The default reading: the draft's GEMVs run at the command rate of the dies it uses."""
    step = step_cost(MOBILE, L7, placement="pim", phase="draft", n_tokens=1, kv_len=512)
    assert "array" in step.times_s and "dies" in step.limit
    assert step.times_s["array"] > 10 * step.times_s["io"]
    # 6.7 GB of INT8 weights over all 16 dies at ~43 GB/s each (derived, not Table 2)
    assert 6.7e9 / (16 * 43.1e9) * 0.98 < step.times_s["array"] < 6.7e9 / (16 * 42.9e9) * 1.05


def test_pim_n_alu_steps_when_bandwidth_bound():
    p = load_platform(
        "lpspec-mobile", {"switches.internal_bw": "text", "switches.pim_rate": "published"}
    )
    bw = 409.6e9 * 0.85

    def t(m):
        op = Op("g", OpKind.GEMM, m, 1000, 1000, m, 10**9, 0, 0, 0)  # negligible compute
        return op_cost(op, p, "pim").seconds

    assert t(1) == pytest.approx(1e9 / bw)
    assert t(4) == pytest.approx(t(1))
    assert t(5) == pytest.approx(2 * t(1))
    assert t(9) == pytest.approx(math.ceil(9 / 4) * t(1))


def test_aau_latency_formula():
    op = Op("softmax", OpKind.SOFTMAX, 32, 513, 1, 0, 0, 100, 0, 0, count=1)
    cost = op_cost(op, MOBILE, "pim")
    per_unit = math.ceil(32 * 513 / 16)
    cycles = 8 + 3 * math.ceil(per_unit / 16)
    assert cost.seconds == pytest.approx(cycles / 800e6)
    assert cost.energy_j["aau"] == pytest.approx(32 * 513 * 1e-12)


def test_pim_no_aau_moves_attention_to_npu():
    step = step_cost(MOBILE, L7, placement="pim-no-aau", phase="draft", n_tokens=1, kv_len=512)
    engines = {op.name: c.engine for op, c in step.ops}
    assert engines["attn-score"] == "npu" and engines["softmax"] == "npu"
    assert engines["ffn-up"] == "pim"
    with_aau = step_cost(MOBILE, L7, placement="pim", phase="draft", n_tokens=1, kv_len=512)
    assert step.seconds > with_aau.seconds


def test_npu_pim_op_picks_faster_engine_plus_barrier():
    for op in ops_for_phase(L7, "verify", 4, 256):
        best = op_cost(op, MOBILE, "npu-pim-op")
        npu = op_cost(op, MOBILE, "npu")
        assert best.seconds <= npu.seconds + 500e-9 * op.count + 1e-15
        assert best.seconds >= 500e-9 * op.count


def test_gpu_roofline_and_offload_link():
    p = load_platform("gpu-rtx4090-laptop")
    op = Op("g", OpKind.GEMM, 1, 4096, 4096, 4096 * 4096, 4096 * 4096, 0, 0, 0)
    cost = op_cost(op, p, "gpu", precision="int8")
    hand = max(2 * op.macs / (132e12 * 0.7), op.weight_bytes / (576e9 * 0.85)) + 3e-6
    assert cost.seconds == pytest.approx(hand) and cost.bound == "memory"
    half = op_cost(op, p, "gpu", precision="int8", offload_fraction=0.5)
    assert half.bound == "link"
    assert half.seconds == pytest.approx(op.weight_bytes / 2 / 25e9 + 3e-6)


def test_cpu_roofline_edge():
    p = load_platform("edge-imx95")
    op = Op("g", OpKind.GEMM, 64, 2048, 2048, 64 * 2048 * 2048, 2048 * 2048, 0, 0, 0)
    cost = op_cost(op, p, "cpu", precision="fp16")
    flops_t = 2 * op.macs / (172.8e9 * 0.5)
    assert cost.seconds == pytest.approx(max(flops_t, 2048 * 2048 / (25.6e9 * 0.7)) + 5e-6)
    assert cost.bound == "compute"


def test_gpu_hbmpim_op_mapping():
    p = load_platform("specpim-2x4090l-hbmpim")
    on_gpu = step_cost(p, L7, placement="gpu-hbmpim-op", phase="verify", n_tokens=9,
                       kv_len=128, op_engine={"gemm": "gpu", "lm-head": "gpu"})  # fmt: skip
    engines = {op.name: c.engine for op, c in on_gpu.ops}
    assert engines["ffn-up"] == "gpu" and engines["lm-head"] == "gpu"
    pim = step_cost(p, L7, placement="gpu-hbmpim-op", phase="verify", n_tokens=9, kv_len=128,
                    op_engine={"ffn-up": "hbm-pim"})  # fmt: skip
    assert {op.name: c.engine for op, c in pim.ops}["ffn-up"] == "hbm-pim"
    best = step_cost(p, L7, placement="gpu-hbmpim-op", phase="verify", n_tokens=9, kv_len=128)
    assert best.seconds <= min(on_gpu.seconds, pim.seconds) + 1e-12
    with pytest.raises(AhasdError, match="op_engine"):
        step_cost(p, L7, placement="gpu-hbmpim-op", phase="verify", n_tokens=9, kv_len=128,
                  op_engine={"ffn-up": "tpu"})  # fmt: skip


def test_missing_device_for_placement():
    with pytest.raises(AhasdError, match="placement: got 'pim'"):
        step_cost(load_platform("npu-lpddr5"), L7, placement="pim", phase="draft", n_tokens=1,
                  kv_len=0)  # fmt: skip
    with pytest.raises(AhasdError, match="placement"):
        step_cost(MOBILE, L7, placement="tpu", phase="draft", n_tokens=1, kv_len=0)


def test_published_pim_draft_reports_both_resources():
    """The output says which of 102.4 GOPS or 256 GB/s binds, and by how much."""
    step = step_cost(PUBLISHED, L7, placement="pim", phase="draft", n_tokens=1, kv_len=512)
    ops = ops_for_phase(L7, "draft", 1, 512)
    alu_s = 2 * total(ops, "macs") / (102.4e9 * 0.8)
    in_bank = (
        total(ops, "weight_bytes") + total(ops, "kv_read_bytes") + total(ops, "kv_write_bytes")
    )
    assert step.times_s["memory"] == pytest.approx(in_bank / (256e9 * 0.85), rel=1e-9)
    # matrix ops on the ALUs; the AAU's vector ops add a few microseconds
    assert step.times_s["compute"] == pytest.approx(alu_s, rel=0.01)
    assert step.times_s["compute"] > 5 * step.times_s["memory"]


def test_npu_vector_unit():
    op = Op("softmax", OpKind.SOFTMAX, 32, 513, 1, 0, 0, 2 * 32 * 513, 0, 0, count=3)
    cost = op_cost(op, MOBILE, "npu")
    assert cost.bound == "compute"
    assert cost.seconds == pytest.approx(3 * 32 * 513 * 5 / (8.2e12 * 0.8))


def test_hbm_pim_per_stack_scopes():
    p = load_platform("specpim-2x4090l-hbmpim", {"switches.pim_rate": "published"})
    op = Op("g", OpKind.GEMM, 1, 4096, 4096, 4096 * 4096, 4096 * 4096, 0, 0, 0)
    cost = op_cost(op, p, "pim", device="hbm-pim")
    compute = 2 * op.macs / (4 * 1200e9 * 0.8)  # 1.2 TFLOPS per stack x 4 stacks
    memory = op.weight_bytes / (4 * 1228.8e9 * 0.85)  # 1228.8 GB/s per stack x 4
    assert cost.seconds == pytest.approx(max(compute, memory)) and cost.bound == "compute"
    assert cost.times_s["memory"] == pytest.approx(memory)
    aim = load_platform(
        "specpim-2x4090l-hbmpim", {"switches.pim": "gddr6-aim", "switches.pim_rate": "published"}
    )
    cost = op_cost(op, aim, "pim", device="hbm-pim")
    compute = 2 * op.macs / (8 * 512e9 * 0.8)  # 512 GFLOPS per channel x 8 channels
    assert cost.seconds == pytest.approx(max(compute, op.weight_bytes / (8 * 512e9 * 0.85)))


def test_cpu_cache_level_and_multi_token_rates():
    """Weights that fit the cache stream at the cache rate; m >= 2 ops at the multi-token rates."""
    over = {"cpu.mem_bw_gb_per_s": 8, "cpu.multi_token_mem_bw_gb_per_s": 6, "cpu.cache_mib": 8,
            "cpu.cache_bw_gb_per_s": 40, "cpu.multi_token_cache_bw_gb_per_s": 16,
            "cpu.op_sync_us": 0, "cpu.fp32_gflops": 1e6}  # fmt: skip
    p = load_platform("host-cpu", overrides=over)
    op = Op("g", OpKind.GEMM, 1, 512, 512, 512 * 512, 512 * 512 * 4, 0, 0, 0)
    two = Op("g", OpKind.GEMM, 2, 512, 512, 2 * 512 * 512, 512 * 512 * 4, 0, 0, 0)
    small, big = 4 * 2**20, 64 * 2**20
    cases = ((op, small, 40e9, "cache"), (two, small, 16e9, "cache"),
             (op, big, 8e9, "memory"), (two, big, 6e9, "memory"))  # fmt: skip
    for o, resident, rate, level in cases:
        c = op_cost(o, p, "cpu", precision="fp32", resident_bytes=resident)
        assert c.seconds == pytest.approx(o.weight_bytes / rate), (o.m, resident)
        assert level in c.limit
    # step_cost passes the model's weights (llama-68m: ~270 MB in fp32) to pick the level
    m68 = load_model("llama-68m")

    def memory_s(cache_mib: float) -> float:
        plat = load_platform("host-cpu", overrides={**over, "cpu.cache_mib": cache_mib})
        return step_cost(plat, m68, placement="cpu", phase="draft", n_tokens=1, kv_len=64,
                         precision="fp32").times_s["memory"]  # fmt: skip

    assert memory_s(0) / memory_s(512) == pytest.approx(40 / 8)
    assert memory_s(128) == pytest.approx(memory_s(0))
    # a per-width table (here the cache level's) takes over from the one rate of its level
    wide = load_platform("host-cpu", {**over, "cpu.multi_token_cache_bw_by_width_gb_per_s":
                                      {2: 20, 4: 10}})  # fmt: skip
    c = op_cost(two, wide, "cpu", precision="fp32", resident_bytes=small)
    assert c.seconds == pytest.approx(two.weight_bytes / 20e9) and "cache 20 GB/s" in c.limit
    # presets without the optional fields are unchanged: one rate whatever m and size
    plain = load_platform("edge-imx95").device("cpu")
    one_rate = (plain.mem_bw_bytes_per_s, "memory")
    assert plain.stream_bw(1.0, 1) == plain.stream_bw(1.0, 8) == one_rate


def test_multi_token_rate_per_width_interpolates_between_measured_widths():
    """m >= 2 takes the table's rate at m, linear between measured widths, the nearest outside;
    m = 1 keeps the one-token rate."""
    table = {2: 8.0, 4: 6.0, 8: 5.0}
    over = {"cpu.mem_bw_gb_per_s": 10, "cpu.multi_token_mem_bw_gb_per_s": 7,
            "cpu.multi_token_mem_bw_by_width_gb_per_s": table}  # fmt: skip
    cpu = load_platform("host-cpu", over).device("cpu")
    want = {1: 10e9, 2: 8e9, 3: 7e9, 4: 6e9, 6: 5.5e9, 8: 5e9, 9: 5e9, 64: 5e9}
    for m, rate in want.items():
        assert cpu.stream_bw(1e12, m) == (pytest.approx(rate), "memory"), m


def test_an_empty_width_table_reproduces_the_one_rate_costs_exactly():
    """No table (every preset) and an empty one price every step bit for bit alike."""
    over = {"cpu.multi_token_mem_bw_gb_per_s": 6, "cpu.cache_mib": 64, "cpu.cache_bw_gb_per_s": 40,
            "cpu.multi_token_cache_bw_gb_per_s": 16}  # fmt: skip
    empty = {"cpu.multi_token_mem_bw_by_width_gb_per_s": {},
             "cpu.multi_token_cache_bw_by_width_gb_per_s": {}}  # fmt: skip
    plain = load_platform("host-cpu", over)
    with_empty = load_platform("host-cpu", {**over, **empty})
    assert with_empty.device("cpu").multi_token_mem_bw_by_width_bytes_per_s == ()
    for model in (load_model("llama-68m"), load_model("llama2-7b")):  # in / out of the cache
        for phase, n in (("draft", 1), ("verify", 1), ("verify", 5), ("verify", 9)):
            a, b = (step_cost(p, model, placement="cpu", phase=phase, n_tokens=n, kv_len=128,
                              precision="fp32") for p in (plain, with_empty))  # fmt: skip
            assert (a.seconds, a.joules) == (b.seconds, b.joules)
