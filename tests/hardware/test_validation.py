"""One rule for every numeric device field: finite, > 0 where zero is meaningless, in range; an
explicit YAML value is never replaced by a switch default; ``1e3`` is a number (issue 17, 3)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import yaml

from ahasd.errors import AhasdError
from ahasd.hardware import list_platforms, load_platform
from ahasd.hardware.devices import (
    COUNT,
    DEVICE_KINDS,
    FRACTION,
    NON_NEGATIVE,
    OPTIONAL_COUNT,
    POSITIVE,
    check_value,
    rule_for,
)
from ahasd.hardware.platform import preset_spec
from ahasd.hardware.units import to_si


def _raw_fields():
    """(platform, device, kind, YAML key, rule) for every number written in every preset."""
    for name in list_platforms():
        for dev, raw in (preset_spec(name).get("devices") or {}).items():
            cls = DEVICE_KINDS.get(raw["kind"])
            fields = {f.name: f for f in dataclasses.fields(cls)}
            for key, value in raw.items():
                f = fields.get(to_si(key, 0.0)[0])
                if f is not None and f.type in ("int", "float") and not isinstance(value, bool):
                    yield name, dev, raw["kind"], key, rule_for(cls, f)


FIELDS = list(_raw_fields())
BAD = [math.nan, math.inf, -math.inf, -1.0]


@pytest.mark.parametrize("bad", BAD)
def test_every_numeric_field_refuses_non_finite_and_negative_values(bad):
    for _platform, dev, kind, key, _rule in FIELDS:
        label = f"devices.{dev}.{key}"
        with pytest.raises(AhasdError, match=rf"^{label}: got .*; accepted: "):
            check_value(kind, to_si(key, 0.0)[0], bad, label)


def test_zero_is_refused_exactly_where_it_is_meaningless():
    for _platform, dev, kind, key, rule in FIELDS:
        label = f"devices.{dev}.{key}"
        if rule in (POSITIVE, FRACTION, COUNT):
            with pytest.raises(AhasdError, match=rf"{label}: got 0"):
                check_value(kind, to_si(key, 0.0)[0], 0, label)
        else:
            check_value(kind, to_si(key, 0.0)[0], 0, label)  # 0 = none / off: accepted


@pytest.mark.parametrize(
    "override", ["pim.alu_gops=.nan", "npu.clock_ghz=inf", "lpddr5.static_mw=-1", "pim.units=0"]
)
def test_load_platform_applies_the_rules_to_set_values(override):
    key, _, value = override.partition("=")
    with pytest.raises(AhasdError, match=rf"^devices\.{key}: got "):
        load_platform("ahasd-mobile", {key: value})


@pytest.mark.parametrize(
    "override",
    [
        "pim.alu_gops=.nan",
        "npu.matrix_tops=0",
        "lpddr5.data_rate_mtps=0",
        "pim.alu_gops=0",
        "npu.clock_ghz=0",
        "npu.static_mw=.nan",
        "npu.ops_per_mac=0",
    ],  # fmt: skip
)
def test_the_audits_bad_overrides_are_one_line_errors(cli, override):
    run = cli(["simulate", "--tokens", "16", "--set", override, "--json"])
    lines = [ln for ln in run.err.splitlines() if ln.strip()]
    assert run.code == 2 and len(lines) == 1, run.err
    assert lines[0].startswith(f"error: devices.{override.split('=')[0]}: got ")
    assert run.out == ""


def test_rules_by_field_name_cover_fields_added_later():
    """A field added later gets a rule from its name, type and default, with no table edit."""

    @dataclasses.dataclass
    class NewDevice:
        t_rcd_s: float  # timing in seconds
        row_bw_bytes_per_s: float  # a rate
        bank_groups: int  # organisation
        clock_hz: float
        bw_efficiency: float
        refresh_bw_bytes_per_s: float = 0.0  # 0 = not modelled
        mode_writes: int = 0  # 0 = none

    rules = {f.name: rule_for(NewDevice, f) for f in dataclasses.fields(NewDevice)}
    assert rules == {
        "t_rcd_s": NON_NEGATIVE, "row_bw_bytes_per_s": POSITIVE, "bank_groups": COUNT,
        "clock_hz": POSITIVE, "bw_efficiency": FRACTION, "refresh_bw_bytes_per_s": NON_NEGATIVE,
        "mode_writes": OPTIONAL_COUNT,
    }  # fmt: skip


def test_zero_means_none_fields_keep_accepting_zero():
    plat = load_platform("gpu-rtx4090-laptop", {"gpu.host_link_bw_gb_per_s": "0"})
    assert plat.device("gpu").host_link_bw_bytes_per_s == 0.0


def test_scientific_notation_in_set_is_a_number():
    plat = load_platform("ahasd-mobile", {"pim.alu_gops": "1e3", "pim.units": "16"})
    assert plat.device("pim").alu_ops_per_s == pytest.approx(1e12)


def test_a_count_with_a_fraction_or_beyond_the_limit_is_refused():
    with pytest.raises(AhasdError, match=r"pim\.n_alu: got 2\.5; accepted: an integer in 1\.\."):
        load_platform("ahasd-mobile", {"pim.n_alu": "2.5"})
    with pytest.raises(AhasdError, match=r"pim\.units: got .*1048576"):
        load_platform("ahasd-mobile", {"pim.units": "1e9"})


def _user_yaml(tmp_path, devices: dict) -> str:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"name": "mine", "base": "ahasd-mobile", "devices": devices}))
    return str(path)


def test_a_yaml_value_is_not_replaced_by_a_switch_default(tmp_path):
    """``efficiency``'s default option sets lpddr5.bw_efficiency 0.85; the file says 0.9."""
    plat = load_platform(_user_yaml(tmp_path, {"lpddr5": {"bw_efficiency": 0.9}}))
    assert plat.device("lpddr5").bw_efficiency == 0.9
    assert plat.device("pim").bw_efficiency == 0.85  # fields the file leaves out: the default


def test_an_explicitly_chosen_switch_wins_over_yaml_and_set_wins_over_both(tmp_path):
    path = _user_yaml(tmp_path, {"lpddr5": {"bw_efficiency": 0.9}})
    assert load_platform(path, {"switches.efficiency": "ideal"}).device("lpddr5").bw_efficiency == 1
    both = {"switches.efficiency": "ideal", "lpddr5.bw_efficiency": "0.7"}
    assert load_platform(path, both).device("lpddr5").bw_efficiency == 0.7


@pytest.mark.parametrize("name", list_platforms())
def test_presets_agree_with_their_switch_defaults(name):
    """The precedence rule changes no preset: each writes what its default options set."""
    spec = preset_spec(name)
    for sw, s in (spec.get("switches") or {}).items():
        for dotted, value in (s["options"][s["default"]] or {}).items():
            dev, _, key = dotted.partition(".")
            written = {to_si(k, v)[0]: to_si(k, v)[1] for k, v in spec["devices"][dev].items()}
            assert written.get(to_si(key, 0.0)[0]) == to_si(key, value)[1], (sw, dotted)


WIDTH_KEY = "cpu.multi_token_mem_bw_by_width_gb_per_s"
WIDTH_ACCEPTED = "accepted: a mapping of token width (an integer 1..1048576) to a finite rate > 0"


@pytest.mark.parametrize(
    ("value", "bad"),
    [("{0: 5}", "[0]: got 0"), ("{2: 0}", "[2]: got 0"), ("{2: -1.5}", "[2]: got -1.5"),
     ("{2: .nan}", "[2]: got nan"), ("{two: 5}", "['two']: got 'two'"), ("[2, 5]", ": got [2, 5]")],
)  # fmt: skip
def test_a_bad_width_table_is_a_one_line_error(cli, value, bad):
    """A width below 1, a rate not > 0 (in the units written) or a non-mapping: exit 2."""
    run = cli(["simulate", "--system", "edge-hetero", "--platform", "host-cpu", "--draft",
               "llama-68m", "--target", "llama2-7b", "--tokens", "8", "--set",
               f"{WIDTH_KEY}={value}"])  # fmt: skip
    lines = [ln for ln in run.err.splitlines() if ln.strip()]
    assert run.code == 2 and len(lines) == 1, run.err
    assert lines[0].startswith(f"error: devices.{WIDTH_KEY}{bad}; {WIDTH_ACCEPTED}"), lines[0]
