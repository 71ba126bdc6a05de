"""The vectorised step costs equal ``StepCostTable`` on every preset and placement they cover."""

from __future__ import annotations

import numpy as np
import pytest

from ahasd.cost import StepCostTable
from ahasd.cost.vector import VECTOR_PLACEMENTS, PlatformColumns, step_grid
from ahasd.errors import AhasdError
from ahasd.hardware import list_platforms, load_platform
from ahasd.memory.model import build_memory
from ahasd.models import load_model

PAIRS = (("opt-1.3b", "opt-6.7b"), ("llama2-7b", "llama2-13b"))
WIDTH_TABLES = {  # per-width multi-token rates; opt-1.3b fits this cache, the others do not
    "cpu.cache_mib": 4096, "cpu.cache_bw_gb_per_s": 40,
    "cpu.multi_token_cache_bw_by_width_gb_per_s": {2: 20, 8: 12},
    "cpu.multi_token_mem_bw_by_width_gb_per_s": {2: 8, 4: 6, 9: 5},
}  # fmt: skip
VARIANTS = (  # platform, overrides: presets as shipped and the switches that change the branch
    *((name, {}) for name in list_platforms()),
    ("ahasd-mobile", {"switches.pim_rate": "published"}),
    ("ahasd-mobile", {"switches.pim_rate": "published", "switches.gops_scope": "per-rank"}),
    ("ahasd-mobile", {"pim.n_alu": 4, "lpddr5.data_rate_mtps": 4266, "pim.has_aau": False}),
    ("ahasd-mobile", {"switches.channel_sharing": "blocked", "placement.policy": "interleaved"}),
    ("host-cpu", WIDTH_TABLES),
)
PHASES = (("draft", (1,)), ("verify", (1, 3, 9)), ("prefill", (128,)))
KVS = (0, 64, 1280)  # bucket multiples: the table rounds up, the vector path takes the length


def _cases():
    for name, overrides in VARIANTS:
        plat = load_platform(name, overrides)
        for precision in ("int8", "fp16"):
            for draft, target in PAIRS:
                d, t = load_model(draft), load_model(target)
                try:
                    mem = build_memory(plat, d, t, precision=precision, kv_tokens=1500)
                except AhasdError:  # the pair does not fit this package
                    mem = None
                for role, model in (("draft", d), ("target", t)):
                    wheres = [None] + ([mem.residence(role)] if mem is not None else [])
                    for where in wheres:
                        yield plat, precision, model, where


def _table(plat, model, placement, precision, where):
    """The scalar table, with 30% of the weights offloaded where a host link takes them."""
    weights = model.weight_bytes(precision)
    for offload in (int(weights * 0.3), 0) if placement in ("gpu", "cpu") else (0,):
        table = StepCostTable(plat, model, placement=placement, precision=precision, where=where,
                              offload_bytes=offload)  # fmt: skip
        try:
            table.cost("verify", 1, 64)
        except AhasdError:
            return None
        except ZeroDivisionError:  # no host link: price the weights resident instead
            continue
        return table
    return None


@pytest.mark.parametrize("placement", VECTOR_PLACEMENTS)
def test_vector_costs_equal_the_step_cost_table(placement):
    checked = 0
    for plat, precision, model, where in _cases():
        weights = model.weight_bytes(precision)
        table = _table(plat, model, placement, precision, where)
        if table is None:  # the platform lacks the placement's devices
            continue
        offload = table.offload_bytes
        cols = PlatformColumns([plat, plat], placement, precision)
        spreads = cols.spreads([where, where] if where is not None else None)
        for phase, ns in PHASES:
            got = step_grid(cols, model, phase, ns, KVS, spreads, resident_bytes=float(weights),
                            offload_fraction=offload / weights)  # fmt: skip
            for i, n in enumerate(ns):
                for j, kv in enumerate(KVS):
                    want = table.detail(phase, n, kv)
                    for row in (0, 1):
                        assert got.seconds[row, i, j] == pytest.approx(want.seconds, rel=1e-9)
                        assert got.joules[row, i, j] == pytest.approx(want.joules, rel=1e-9)
                    checked += 1
    assert checked > 0


def test_vector_traffic_is_what_task_traffic_reads():
    """Bytes the NPU streams, PIM array time and I/O: the inputs of the sharing rule."""
    from ahasd.cost.engines import pim_io_bytes
    from ahasd.models.ops import OpKind
    from ahasd.models.shape import elem_bytes

    plat = load_platform("ahasd-mobile")
    d, t = load_model("llama2-7b"), load_model("llama2-13b")
    mem = build_memory(plat, d, t, precision="int8", kv_tokens=1500)
    for model, placement, role in ((d, "pim-no-aau", "draft"), (t, "npu", "target"),
                                   (t, "pim", "target")):  # fmt: skip
        where = mem.residence(role)
        table = StepCostTable(plat, model, placement=placement, where=where)
        cols = PlatformColumns([plat], placement, "int8")
        got = step_grid(cols, model, "verify", (3,), (256,), cols.spreads([where]))
        detail = table.detail("verify", 3, 256)
        npu = [(op, c) for op, c in detail.ops if c.engine == "npu"]
        pim = [(op, c) for op, c in detail.ops if c.engine == "pim" and "array" in c.times_s]
        assert got.npu_s[0, 0, 0] == pytest.approx(sum(c.seconds for _op, c in npu), rel=1e-9)
        assert got.npu_w_bytes[0, 0, 0] == sum(op.weight_bytes * op.count for op, _c in npu)
        array = sum(c.times_s["array"] for _op, c in pim)
        assert got.pim_array_s[0, 0, 0] == pytest.approx(array, rel=1e-9)
        eb = elem_bytes("int8")
        moved = 0.0
        for op, _c in pim:
            attention = op.kind in (OpKind.ATTN_SCORE, OpKind.ATTN_VALUE)
            spread = where.kv if attention else where.weights
            moved += mem.rates.io_bytes(*pim_io_bytes(op, eb), spread) * op.count
        assert got.pim_io_bytes[0, 0, 0] == pytest.approx(moved, rel=1e-9)


def test_vector_columns_reject_an_unknown_placement():
    with pytest.raises(AhasdError, match="placement"):
        PlatformColumns([load_platform("ahasd-mobile")], "gpu-hbmpim-op", "int8")


def test_one_batch_prices_platforms_that_differ():
    """Rows are independent: a batch equals its platforms priced one by one."""
    plats = [load_platform("ahasd-mobile", {"lpddr5.data_rate_mtps": r}) for r in (3200, 6400)]
    model = load_model("llama2-13b")
    both = PlatformColumns(plats, "npu", "int8")
    got = step_grid(both, model, "verify", (2,), (512,), both.spreads(None))
    for row, plat in enumerate(plats):
        one = PlatformColumns([plat], "npu", "int8")
        alone = step_grid(one, model, "verify", (2,), (512,), one.spreads(None))
        assert got.seconds[row, 0, 0] == alone.seconds[0, 0, 0]
    assert got.seconds[0, 0, 0] > got.seconds[1, 0, 0]  # slower DRAM, slower verification
    assert np.all(got.joules > 0)


def test_one_batch_mixes_platforms_with_and_without_a_width_table():
    """A per-width rate table on one row leaves the other rows' one multi-token rate alone."""
    table = {"cpu.multi_token_mem_bw_by_width_gb_per_s": {2: 8, 4: 6, 9: 5}}
    plats = [load_platform("host-cpu", {"cpu.multi_token_mem_bw_gb_per_s": 7}),
             load_platform("host-cpu", table)]  # fmt: skip
    model = load_model("llama2-7b")
    both = PlatformColumns(plats, "cpu", "fp32")
    got = step_grid(both, model, "verify", (1, 3, 9), (64,), both.spreads(None))
    for row, plat in enumerate(plats):
        want = StepCostTable(plat, model, placement="cpu", precision="fp32")
        for i, n in enumerate((1, 3, 9)):
            assert got.seconds[row, i, 0] == pytest.approx(want.cost("verify", n, 64)[0], rel=1e-9)
