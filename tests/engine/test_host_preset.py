"""The host-cpu preset for the engine on a pair: one figure per field, written and read back."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from ahasd.cost.rounds import LoopCost  # noqa: E402
from ahasd.engine.host_preset import VERIFY_WIDTHS, preset_values  # noqa: E402
from ahasd.engine.loop_calib import LoopOverheads  # noqa: E402
from ahasd.hardware import load_platform  # noqa: E402
from ahasd.hardware.host import write_host_preset  # noqa: E402
from ahasd.models import load_model, ops_for_phase  # noqa: E402

pytestmark = pytest.mark.engine
GB = 1e9


def _cal(scale: float, kept: bool = True) -> dict:
    cal = {
        "fp32_gflops": 100.0 * scale,
        "levels": {
            "cache_bytes": 8 * 2**20,
            "cache_bw": {1: 40 * GB, 2: 20 * GB, 8: 10 * GB},
            "mem_bw": {1: 8 * GB * scale, 2: 4 * GB, 8: 6 * GB},
        },
        "draft_overhead_ms": {1: 0.5 * scale},
        "target_overhead_ms": {1: 1.0 * scale, 2: 9.0},
    }
    if kept:
        cal["draft_cache_bw_after_step_gb_per_s"] = {1: 25.0 * scale}
    return cal


def test_preset_values_are_medians_over_rounds_with_one_figure_per_field():
    shapes = load_model("llama-68m"), load_model("llama2-7b")
    n_ops = sum(op.count for s in shapes for op in ops_for_phase(s, "verify", 1, 64, "fp32"))
    loops = [LoopOverheads(3e-4 * k, 1e-4 * k, 2e-5 * k) for k in (1, 2, 3)]
    cals = [_cal(1.0), _cal(2.0), _cal(3.0, kept=False)]
    refills = [(1e-3, 0.2), (3e-3, 0.6), (2e-3, 0.4)]
    out = preset_values(cals, loops, refills, shapes, 64, [4e-4, 1e-4, 2e-4])
    assert out["fp32_gflops"] == 200.0 and out["mem_bw_gb_per_s"] == 16.0
    # multi-token: a rate per verify width 2..9, linear between the curve's widths 2 and 8
    # (4 .. 6 GB/s), width 9 at the widest measured; no one-rate field beside the tables
    assert tuple(range(2, 10)) == VERIFY_WIDTHS
    want = {w: round(4 + (w - 2) / 3, 4) for w in range(2, 9)} | {9: 6.0}
    assert out["multi_token_mem_bw_by_width_gb_per_s"] == want
    assert out["multi_token_cache_bw_by_width_gb_per_s"][2] == 20.0
    assert out["multi_token_cache_bw_by_width_gb_per_s"][5] == 15.0
    assert "multi_token_mem_bw_gb_per_s" not in out
    # the draft's re-read rate where it was measured, the back-to-back rate otherwise
    assert out["cache_mib"] == 8 and out["cache_bw_gb_per_s"] == 40.0
    assert out["op_sync_us"] == pytest.approx(round(3.0 * 1e3 / n_ops, 4))
    assert (out["round_overhead_us"], out["token_overhead_us"]) == (600.0, 200.0)
    assert out["ar_token_overhead_us"] == 40.0 and out["draft_refill_us"] == 2000.0
    assert out["draft_refill_decay"] == 0.4 and out["draft_catch_up_us"] == 200.0


def test_written_preset_loads_with_the_loop_terms(tmp_path, monkeypatch):
    monkeypatch.setenv("AHASD_HOME", str(tmp_path))
    host = {"fp32_gflops": 90.0, "fp16_gflops": 45.0, "int8_gops": 90.0, "mem_bw_gb_per_s": 9.0,
            "capacity_gib": 8.0, "machine": "test", "seconds": 0.1}  # fmt: skip
    pair = {"mem_bw_gb_per_s": 6.5, "round_overhead_us": 250.0, "token_overhead_us": 90.0,
            "ar_token_overhead_us": 15.0, "op_sync_us": 4.0, "draft_refill_us": 1500.0,
            "draft_refill_decay": 0.5, "draft_catch_up_us": 350.0,
            "multi_token_mem_bw_by_width_gb_per_s": {2: 5.0, 9: 4.0}}  # fmt: skip
    write_host_preset(host, pair=pair)
    plat = load_platform("host-cpu")
    cpu = plat.device("cpu")
    assert cpu.mem_bw_bytes_per_s == pytest.approx(6.5e9)  # the pair's figure wins
    assert cpu.multi_token_mem_bw_by_width_bytes_per_s == ((2, 5e9), (9, 4e9))
    assert LoopCost.of(cpu) == LoopCost(pytest.approx(2.5e-4), pytest.approx(9e-5),
                                        pytest.approx(1.5e-5), pytest.approx(1.5e-3), 0.5,
                                        pytest.approx(3.5e-4))  # fmt: skip
    assert "--draft --target" in plat.config["sources"]["cpu.round_overhead_us"]
    assert "engine on a model pair" in plat.config["description"]


def test_cli_needs_both_dirs(cli, tmp_path):
    run = cli(["calibrate-host", "--draft", str(tmp_path), "--out", str(tmp_path / "h.yaml")])
    assert run.code == 2 and "--draft/--target" in run.err and not (tmp_path / "h.yaml").exists()
