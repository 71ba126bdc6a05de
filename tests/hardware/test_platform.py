"""Presets: contract device keys, a source for every number, switches and checked overrides."""

from __future__ import annotations

import pytest

from ahasd.errors import AhasdError
from ahasd.hardware import PimDevice, list_platforms, load_platform
from ahasd.hardware.platform import preset_spec
from ahasd.hardware.units import to_si

CONTRACT = {
    "ahasd-mobile": {"npu", "pim", "cpu", "lpddr5"},
    "npu-lpddr5": {"npu", "lpddr5"},
    "lpspec-mobile": {"npu", "pim", "lpddr5"},
    "gpu-rtx4090-laptop": {"gpu", "host"},
    "specpim-2x4090l-hbmpim": {"gpu", "hbm-pim"},
    "specpim-mobile": {"gpu", "pim", "lpddr5"},
    "gpu-mobile": {"gpu", "lpddr5"},
    "edge-imx95": {"cpu", "gpu"},
    "host-cpu": {"cpu"},
}


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_preset_has_contract_devices(name):
    p = load_platform(name)
    assert CONTRACT[name] <= set(p.devices)
    for dev in p.devices.values():
        assert dev.static_w >= 0 and dev.capacity_bytes >= 0


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_every_device_field_has_a_source(name):
    p = load_platform(name)
    sources = p.config["sources"]
    for dev, fields in p.config["devices"].items():
        for key in fields:
            if key in ("kind", "memory"):
                continue
            assert f"{dev}.{key}" in sources, f"{name}: no source for {dev}.{key}"


def _numbers(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, dict) and any(_numbers(v) for v in value.values())


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_every_switch_option_number_has_a_source(name):
    spec = preset_spec(name)
    sources = load_platform(name).config["sources"]
    for sw, body in (spec.get("switches") or {}).items():
        for option, sets in body["options"].items():
            if _numbers(sets or {}):
                assert f"switches.{sw}.{option}" in sources, f"{name}: no source for {sw}={option}"


def test_every_number_in_the_yaml_is_sourced():
    """Walk each preset file itself: every numeric leaf under devices needs a source entry."""
    for name in CONTRACT:
        spec = preset_spec(name)
        for dev, fields in spec["devices"].items():
            for key, value in fields.items():
                if _numbers(value):
                    assert f"{dev}.{key}" in spec["sources"], f"{name}: {dev}.{key}"


def test_all_presets_listed():
    assert set(CONTRACT) <= set(list_platforms())


def test_ahasd_table2_numbers_and_derived_bandwidth():
    p = load_platform("ahasd-mobile")
    pim = p.device("pim")
    assert isinstance(pim, PimDevice)
    assert pim.peak_ops_per_s == pytest.approx(102.4e9)
    assert pim.internal_bw_total_bytes_per_s == pytest.approx(256e9)
    assert pim.external_bw_bytes_per_s == pytest.approx(51.2e9)  # 6400 MT/s x 64 bit / 8
    assert (pim.gtsu_switch_s, pim.gtsu_switch_j) == (pytest.approx(55e-9), pytest.approx(20e-9))
    assert p.device("npu").matrix_ops_per_s == pytest.approx(16e12)


def test_switches_change_the_reading():
    per_rank = load_platform("ahasd-mobile", {"switches.gops_scope": "per-rank"})
    assert per_rank.device("pim").peak_ops_per_s == pytest.approx(16 * 102.4e9)
    text = load_platform("lpspec-mobile", {"switches.internal_bw": "text"})
    assert text.device("pim").internal_bw_total_bytes_per_s == pytest.approx(409.6e9)
    table = load_platform("lpspec-mobile")
    assert table.device("pim").internal_bw_total_bytes_per_s == pytest.approx(51.2e12)
    agg = load_platform("lpspec-mobile", {"switches.gops": "aggregate"})
    assert agg.device("pim").peak_ops_per_s == pytest.approx(409.6e9)
    assert table.device("pim").peak_ops_per_s == pytest.approx(12 * 409.6e9)
    attacc = load_platform("ahasd-mobile", {"switches.energy": "attacc"})
    assert attacc.device("pim").in_bank_j_per_bit == pytest.approx(0.55e-12)


def test_dotted_overrides_are_converted_and_hashed():
    base = load_platform("ahasd-mobile")
    p = load_platform("ahasd-mobile", {"pim.n_alu": "8", "pim.clock_ghz": 1.0})
    assert p.device("pim").n_alu == 8
    assert p.device("pim").clock_hz == pytest.approx(1e9)
    assert p.config_hash != base.config_hash
    assert load_platform("ahasd-mobile", {"pim.n_alu": "8", "pim.clock_ghz": 1.0}) is p  # memoised


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"pim.nalu": 3}, "devices.pim.nalu: unknown field"),
        ({"gpu.n_alu": 3}, "override gpu.n_alu"),
        ({"pim.n_alu": 0}, "n_alu: got 0"),
        ({"pim.bw_efficiency": 1.5}, r"fraction in \(0, 1\]"),
        ({"switches.gops_scope": "half"}, "switches.gops_scope: got 'half'"),
        ({"switches.nope": "x"}, "switch: got 'nope'"),
        ({"lpddr5.static_mw": -1}, "static_mw: got -1"),
    ],
)
def test_bad_overrides_name_the_field(overrides, match):
    with pytest.raises(AhasdError, match=match):
        load_platform("ahasd-mobile", overrides)


def test_unknown_platform():
    with pytest.raises(AhasdError, match="platform: got 'mars'"):
        load_platform("mars")
    with pytest.raises(AhasdError, match="device: got 'gpu'"):
        load_platform("npu-lpddr5").device("gpu")


def test_units():
    assert to_si("clock_ghz", 1.5) == ("clock_hz", 1.5e9)
    assert to_si("bw_gb_per_s", 51.2) == ("bw_bytes_per_s", 51.2e9)
    assert to_si("off_chip_pj_per_bit", 7) == ("off_chip_j_per_bit", pytest.approx(7e-12))
    assert to_si("capacity_gib", 1) == ("capacity_bytes", 2.0**30)
    assert to_si("n_alu", 4) == ("n_alu", 4)


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("ahasd-mobile", {"lpddr5.data_rate_mtps": 4000, "npu.matrix_tops": 8}),
        ("ahasd-mobile", {"switches.pim_rate": "published", "pim.lanes": 32}),
        ("ahasd-mobile", {"lpddr5.off_chip_pj_per_bit": 5, "pim.internal_bw_gb_per_s": 300}),
        ("npu-lpddr5", {"lpddr5.ranks": 8}),
        ("lpspec-mobile", {"pim.n_alu": 2}),
    ],
)
def test_overrides_built_incrementally_equal_a_full_build(name, overrides):
    """Only the overridden fields are converted and checked; the result equals converting and
    checking every field of the overridden YAML (devices, config and its canonical hash)."""
    from ahasd.hardware import platform as P

    plat = load_platform(name, overrides)
    _si, devices, _final = P._resolve(plat.config["devices"])
    assert devices == dict(plat.devices) and list(devices) == list(plat.devices)
    assert plat.config_hash == P._hash(plat.config)
    # a PIM device on the overridden DRAM takes the DRAM's new bus and energies
    if "lpddr5.off_chip_pj_per_bit" in overrides:
        assert plat.devices["pim"].off_chip_j_per_bit == pytest.approx(5e-12)


def test_matched_scale_baselines_share_the_mobile_memory_of_ahasd():
    """specpim-mobile is ahasd-mobile's LPDDR5 and PIM with a mobile GPU instead of the NPU."""
    ahasd, spim, gpu = (load_platform(n) for n in ("ahasd-mobile", "specpim-mobile", "gpu-mobile"))
    assert ahasd.device("lpddr5") == spim.device("lpddr5")
    # gpu-only has no memory model behind a GPU: its DRAM's background comes as static power,
    # 16 dies x (36 mW active standby + 22 nJ refresh per 3.906 us) = 666 mW
    dram = ahasd.device("lpddr5")
    t_refi = dict(dram.timing_s)["tREFI"]
    background = dram.ranks * (dram.active_standby_w + dram.refresh_j / t_refi)
    assert gpu.device("lpddr5").static_w == pytest.approx(background, rel=0.01)
    a, s = ahasd.device("pim"), spim.device("pim")
    for field in ("units", "alu_ops_per_s", "internal_bw_bytes_per_s", "external_bw_bytes_per_s"):
        assert getattr(a, field) == getattr(s, field), field
    assert (a.has_aau, s.has_aau) == (True, False)  # the AAU is AHASD's addition
    g = spim.device("gpu")
    assert g == gpu.device("gpu")
    assert g.mem_bw_bytes_per_s == ahasd.device("lpddr5").external_bw_bytes_per_s == 51.2e9
    assert g.capacity_bytes == ahasd.device("lpddr5").capacity_bytes  # unified 64 GB
    assert load_platform("gpu-mobile", {"switches.gpu_memory": "part"}).device(
        "gpu"
    ).mem_bw_bytes_per_s == pytest.approx(68e9)
    energy = load_platform("gpu-mobile", {"switches.energy": "attacc"})
    assert energy.device("gpu").mem_j_per_bit == energy.device("lpddr5").off_chip_j_per_bit
