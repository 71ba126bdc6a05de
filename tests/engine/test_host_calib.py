"""Host micro-benchmarks behind ``ahasd validate``: generic shapes, never the model's timings."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import ahasd.engine.host_calib as hc  # noqa: E402
from ahasd.engine.kv import CachedLM  # noqa: E402
from ahasd.engine.loading import load_pair  # noqa: E402
from ahasd.models import load_model, ops_for_phase  # noqa: E402

pytestmark = pytest.mark.engine

GB = 1e9


def _curve(single: dict[int, float], multi: float = 0.5) -> dict[int, dict[int, float]]:
    return {1: single, 2: {s: r * multi for s, r in single.items()}}


def test_memory_levels_find_the_knee():
    lv = hc.memory_levels(_curve({2: 40 * GB, 8: 38 * GB, 16: 21 * GB, 64: 7 * GB, 128: 6 * GB}))
    assert lv.cache_bytes == 16 * 2**20  # 21 >= 40 / 2; 64 MiB is below half
    assert lv.cache_bw[1] == pytest.approx(38 * GB)  # median of the sets the cache holds
    assert lv.cache_bw[2] == pytest.approx(19 * GB)
    assert lv.mem_bw == {1: 6 * GB, 2: 3 * GB}


def test_memory_levels_flat_curve_has_no_cache_and_one_low_point_does_not_hide_it():
    flat = hc.memory_levels(_curve({2: 8 * GB, 16: 7 * GB, 128: 6 * GB}))
    assert flat.cache_bytes == 0 and flat.cache_bw == {} and flat.mem_bw[1] == 6 * GB
    hiccup = hc.memory_levels(_curve({2: 5 * GB, 4: 40 * GB, 8: 39 * GB, 128: 6 * GB}))
    assert hiccup.cache_bytes == 8 * 2**20


def test_rate_at_interpolates_between_measured_widths_and_clamps_outside():
    table = {1: 10.0, 2: 4.0, 4: 6.0, 8: 8.0}
    assert hc.rate_at(table, 4) == 6.0
    assert hc.rate_at(table, 5) == pytest.approx(6.5) and hc.rate_at(table, 3) == 5.0
    assert hc.rate_at(table, 16) == 8.0 and hc.rate_at({2: 3.0}, 1) == 3.0


def test_stream_curve_uses_generic_shapes_and_takes_off_the_call_cost(monkeypatch):
    seen = []
    real = torch.nn.functional.linear

    def spy(x, w):
        seen.append(tuple(w.shape))
        return real(x, w)

    monkeypatch.setattr(torch.nn.functional, "linear", spy)
    curve = hc.measure_stream_curve(0.02, sizes_mib=(1, 2), widths=(1, 2))
    assert set(curve) == {1, 2} and all(set(c) == {1, 2} for c in curve.values())
    assert all(r > 0 for c in curve.values() for r in c.values())
    assert set(seen) <= set(hc.STREAM_SHAPES) | {(8, 8)}  # the 8 x 8 call-cost probe
    with pytest.raises(ValueError, match="budget_s"):
        hc.measure_stream_curve(0)


def test_retained_rates_spin_the_gap_before_every_timed_pass(monkeypatch):
    gaps = []
    monkeypatch.setattr(hc, "_spin", gaps.append)
    rates = hc.measure_retained_rates(2**20, 0.003, 0.0, widths=(1, 4))
    assert set(rates) == {1, 4} and all(r > 0 for r in rates.values())
    assert gaps == [0.003] * 18  # at least nine timed passes per width, each after the gap


def test_miniature_keeps_the_architecture_and_shrinks_the_widths(pair64):
    target = pair64[1]
    mini = hc.miniature(target)
    cfg, big = mini.config, target.config
    assert type(mini) is type(target)
    assert cfg.num_hidden_layers == big.num_hidden_layers
    assert cfg.num_attention_heads == big.num_attention_heads
    assert cfg.hidden_size == big.num_attention_heads * hc.MINI_HEAD_DIM
    assert cfg.vocab_size <= hc.MINI_VOCAB and cfg.intermediate_size == hc.MINI_INTERMEDIATE
    again = hc.miniature(target)  # seeded: the same weights every time
    pairs = zip(mini.parameters(), again.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    lm = CachedLM(target)
    mlm, shape = hc.miniature_lm(lm)
    assert (mlm.lean is None) == (lm.lean is None) and shape.n_layers == big.num_hidden_layers

    class NoWidths:
        config = type("C", (), {"hidden_size": None})()

    assert hc.miniature(NoWidths()) is None


def test_host_platform_spreads_the_overhead_and_takes_the_rates_of_its_width(demo_dirs):
    shape = load_model(str(demo_dirs[1]))
    lv = hc.MemoryLevels(8 * 2**20, {1: 40 * GB, 2: 16 * GB, 8: 10 * GB},
                         {1: 8 * GB, 2: 5 * GB, 8: 6 * GB})  # fmt: skip
    cal = {"fp32_gflops": 100.0, "levels": hc.asdict(lv)}
    plat = hc.host_platform(cal, 1e-3, shape, 16)
    n_cm = sum(op.count for op in ops_for_phase(shape, "verify", 1, 16, "fp32"))
    cpu = plat.device("cpu")
    assert cpu.op_sync_s == pytest.approx(1e-3 / n_cm, rel=1e-3)
    assert (cpu.cache_bytes, cpu.cache_bw_bytes_per_s, cpu.mem_bw_bytes_per_s) == (
        8 * 2**20, 40 * GB, 8 * GB)  # fmt: skip
    assert cpu.multi_token_mem_bw_bytes_per_s == 5 * GB  # width 1: the 2-token rate, unused
    wide = hc.host_platform(cal, 0.0, shape, 16, 8).device("cpu")
    assert (wide.multi_token_mem_bw_bytes_per_s, wide.multi_token_cache_bw_bytes_per_s) == (
        6 * GB, 10 * GB)  # fmt: skip
    kept = hc.host_platform(cal, 0.0, shape, 16, 8, cache_bw={1: 20 * GB, 8: 9 * GB})
    assert kept.device("cpu").cache_bw_bytes_per_s == 20 * GB
    assert kept.device("cpu").multi_token_cache_bw_bytes_per_s == 9 * GB


def test_host_platform_keeps_its_widths_rates_over_a_calibrated_presets_tables(
    demo_dirs, tmp_path, monkeypatch
):
    """A host-cpu preset in $AHASD_HOME with per-width tables (``calibrate-host --draft
    --target``) would otherwise override the rates ``validate`` measured this round."""
    from ahasd.hardware.host import write_host_preset

    monkeypatch.setenv("AHASD_HOME", str(tmp_path))
    host = {"fp32_gflops": 90.0, "fp16_gflops": 45.0, "int8_gops": 90.0, "mem_bw_gb_per_s": 9.0,
            "capacity_gib": 8.0}  # fmt: skip
    write_host_preset(host, pair={"multi_token_mem_bw_by_width_gb_per_s": {2: 1.0, 9: 1.0}})
    lv = hc.MemoryLevels(0.0, {}, {1: 8 * GB, 2: 5 * GB, 8: 6 * GB})
    cal = {"fp32_gflops": 100.0, "levels": hc.asdict(lv)}
    cpu = hc.host_platform(cal, 0.0, load_model(str(demo_dirs[1])), 16, 8).device("cpu")
    assert cpu.multi_token_mem_bw_by_width_bytes_per_s == ()
    assert cpu.stream_bw(1e12, 8) == (6 * GB, "memory")


def test_predictions_never_run_the_models_under_test(demo_dirs, monkeypatch):
    """Calibration is micro-benchmarks only: the real draft and target are not stepped."""
    pair = load_pair(*demo_dirs)
    d, t = CachedLM(pair.draft), CachedLM(pair.target)
    steps = []
    for lm in (d, t):

        def counted(tokens, last=False, real=lm.step):
            steps.append(len(tokens))
            return real(tokens, last)

        monkeypatch.setattr(lm, "step", counted)
    shapes = load_model(str(demo_dirs[0])), load_model(str(demo_dirs[1]))
    pred = hc.predict_steps(d, t, shapes, 16, (1, 2), calib_s=0.1, reps=2)
    assert steps == [] and pred.measured_s == {}
    priced = pred.calibration["target_miniature_priced_pct"]
    # a share, in percent: small on an idle host, larger when a loaded host slows the 0.1 s
    # calibration; a unit slip (ms for s) would put it off by 1000x
    assert set(priced) == {1, 2} and all(0 < v < 1000 for v in priced.values()), priced
    assert pred.draft_s > 0 and set(pred.verify_s) == {1, 2}
    # the two-token catch-up draft step: priced with the LM head for its last row only
    assert pred.draft2_s > 0 and pred.catch_up_s == max(pred.draft2_s - pred.draft_s, 0.0)
    assert pred.seconds("draft", 2) == pred.draft2_s
    paired = hc.predict_steps(d, t, shapes, 16, (1, 2), calib_s=0.1, reps=2, measure=True)
    want = {("draft", 1), ("draft", 2), ("verify", 1), ("verify", 2)}
    assert set(paired.measured_s) == want and steps


def test_without_a_miniature_the_overhead_falls_back_to_counting_ops(demo_dirs, monkeypatch):
    monkeypatch.setattr(hc, "miniature", lambda model: None)
    pair = load_pair(*demo_dirs)
    shapes = load_model(str(demo_dirs[0])), load_model(str(demo_dirs[1]))
    pred = hc.predict_steps(CachedLM(pair.draft), CachedLM(pair.target), shapes, 16, (1,),
                            calib_s=0.1, reps=2)  # fmt: skip
    cal = pred.calibration
    assert cal["draft_overhead_method"] == cal["target_overhead_method"] == "op count"
    assert cal["draft_overhead_ms"][1] > 0
    off = hc.predict_steps(CachedLM(pair.draft), CachedLM(pair.target), shapes, 16, (1,),
                           calib_s=0.1, reps=2, overhead=False)  # fmt: skip
    assert off.calibration["draft_overhead_ms"][1] == 0 and off.draft_s < pred.draft_s


def test_one_torch_thread_times_in_cpu_time(one_thread):
    """A busy host's preemptions drop out of one thread's CPU time; several threads need wall."""
    import time

    assert hc.step_clock() is time.thread_time
    torch.set_num_threads(2)
    assert hc.step_clock() is time.perf_counter
