"""The memory layer's laws against command-level calculations and the published figures."""

from __future__ import annotations

import dataclasses

import pytest

from ahasd.hardware import load_platform
from ahasd.memory import commands
from ahasd.memory.model import dram_spec, pim_rates
from ahasd.memory.pim import PimRates, Spread
from ahasd.memory.spec import DramSpec

MOBILE = load_platform("ahasd-mobile")
SPEC = dram_spec(MOBILE)
HBM = load_platform("specpim-2x4090l-hbmpim")
AIM = load_platform("specpim-2x4090l-hbmpim", {"switches.pim": "gddr6-aim"})


def test_lpddr5_6400_package_figures():
    assert SPEC.channel_peak_bytes_per_s == pytest.approx(12.8e9)
    assert SPEC.peak_bytes_per_s == pytest.approx(51.2e9)
    assert SPEC.column_bytes == 32 and SPEC.columns_per_row == 64
    assert SPEC.dies == 16 and SPEC.dies_per_channel == 4
    # all-bank refresh of a > 16 Gb die: tRTP + tRPab + tRFCab + tRCD every tREFI
    assert SPEC.refresh_loss == pytest.approx((10 + 21.25 + 380 + 18.75) / 3906)


def test_sustained_stream_matches_the_command_level_calculation():
    """The closed form (timing-derived, no fixed derate) against every command issued."""
    n = 4 << 20
    measured = n / commands.stream_read(SPEC, n)
    assert measured == pytest.approx(SPEC.channel_sustained_bytes_per_s, rel=0.02)
    no_refresh = dataclasses.replace(SPEC, timing={**SPEC.timing, "tREFI": 1.0})
    assert n / commands.stream_read(no_refresh, n) == pytest.approx(12.8e9, rel=0.01)


def test_a_model_on_one_channel_streams_at_one_channel():
    from ahasd.cost.engines import stream_bytes_per_s

    assert stream_bytes_per_s(SPEC, Spread((4, 0, 0, 0))) == pytest.approx(
        SPEC.channel_sustained_bytes_per_s
    )
    assert stream_bytes_per_s(SPEC, Spread((1, 1, 1, 1))) == pytest.approx(
        4 * SPEC.channel_sustained_bytes_per_s
    )
    assert SPEC.channel_sustained_bytes_per_s < 12.8e9


@pytest.mark.parametrize("weight_bytes", [1.0, 2.0])
@pytest.mark.parametrize("platform", [MOBILE, HBM, AIM], ids=["lpddr5-pim", "hbm-pim", "aim"])
def test_pim_gemv_time_matches_the_command_count(platform, weight_bytes):
    """rows x row cycle / (1 - refresh) against every ACT, MAC, PRE and REF issued."""
    pim = next(d for d in platform.devices.values() if d.kind.endswith(("pim", "aim")))
    rates = PimRates.of(dram_spec(platform), pim, weight_bytes)
    rows = 1500
    closed = rows * rates.row_s / (1 - rates.dram.refresh_gap_loss)
    assert commands.pim_gemv(rates, rows) == pytest.approx(closed, rel=0.015)


def test_derived_peaks_equal_the_published_figures():
    """The command model's peaks reproduce the products' figures; sustained rates are lower."""
    lp = pim_rates(MOBILE, MOBILE.device("pim"), "int8")
    assert lp.peak_ops_per_s == pytest.approx(102.4e9)  # Samsung LPDDR5-PIM per die
    assert lp.peak_bytes_per_s == pytest.approx(102.4e9)  # = 8 x the 12.8 GB/s channel
    hbm = pim_rates(HBM, HBM.device("hbm-pim"), "fp16")
    assert hbm.peak_ops_per_s * 16 == pytest.approx(1228.8e9, rel=1e-6)  # Aquabolt-XL per stack
    aim = pim_rates(AIM, AIM.device("hbm-pim"), "fp16")
    assert aim.peak_ops_per_s == pytest.approx(512e9)  # AiM per channel
    assert aim.peak_bytes_per_s == pytest.approx(512e9)
    # row switching and refresh cut the sustained rate (AiM: ~56% MAC-busy before refresh)
    assert aim.row_efficiency == pytest.approx(64 / 113, rel=0.01)
    for r in (lp, hbm, aim):
        assert 0.4 < r.gemv_bytes_per_s / r.peak_bytes_per_s * (2 if r is lp else 1) < 0.95


def test_int8_on_16_lanes_takes_two_pim_cycles_per_burst():
    r8 = pim_rates(MOBILE, MOBILE.device("pim"), "int8")
    r16 = pim_rates(MOBILE, MOBILE.device("pim"), "fp16")
    assert r8.cmd_s == pytest.approx(2 * r16.cmd_s) == pytest.approx(10e-9)


def test_tfaw_caps_per_bank_activation():
    """Per-bank ACTs: 16 activates, tRRD apart and at most four in any tFAW window."""
    pim = dataclasses.replace(MOBILE.device("pim"), all_bank_act=False)
    base = PimRates.of(SPEC, pim, 1.0)
    assert base.open_s == pytest.approx(15 * 5e-9 + 18.75e-9)  # tRRD binds at tFAW 20 ns
    slow = dataclasses.replace(SPEC, timing={**SPEC.timing, "tFAW": 40e-9})  # 8B-mode tFAW
    capped = PimRates.of(slow, pim, 1.0)
    assert capped.open_s == pytest.approx(3 * 40e-9 + 3 * 5e-9 + 18.75e-9)
    assert capped.row_s > base.row_s
    all_bank = PimRates.of(SPEC, MOBILE.device("pim"), 1.0)
    assert all_bank.row_s < base.row_s
    assert commands.pim_gemv(capped, 200) == pytest.approx(
        200 * capped.row_s / (1 - SPEC.refresh_gap_loss), rel=0.02
    )


def test_table2_timing_reading_is_selectable():
    t2 = dram_spec(load_platform("ahasd-mobile", {"switches.dram_timing": "table2"}))
    assert t2.timing["tCCD_L"] == pytest.approx(3.75e-9) and t2.timing["tFAW"] == 40e-9
    assert t2.refresh_loss < SPEC.refresh_loss  # tRFC 350 ns (560 x 0.625) vs JEDEC 380


def test_a_spec_without_the_required_timing_is_a_one_line_error():
    from ahasd.errors import AhasdError

    dev = dataclasses.replace(MOBILE.device("lpddr5"), timing_s=(("tCK", 1e-9),))
    with pytest.raises(AhasdError, match="timing_ns: missing"):
        DramSpec.from_device(dev)


def test_a_data_rate_override_moves_the_clock_bound_timings():
    """tCK follows the data rate; tCCD_S/L are given in clocks, so the stream and the PIM
    cycle scale with it (LPDDR5X-8533: tCK 0.9375 ns)."""
    fast = dram_spec(load_platform("ahasd-mobile", {"lpddr5.data_rate_mtps": 8533}))
    assert fast.timing["tCK"] == pytest.approx(16 / (2 * 8533e6))
    assert fast.timing["tCCD_L"] == pytest.approx(4 * fast.timing["tCK"])
    ratio = fast.channel_sustained_bytes_per_s / SPEC.channel_sustained_bytes_per_s
    assert 1.3 < ratio < 8533 / 6400 + 1e-9  # the bus is faster; refresh (in ns) is not
    assert fast.timing["tRCD"] == SPEC.timing["tRCD"]  # analog timings stay in ns
