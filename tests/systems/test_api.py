"""The Python API mirrors the CLI: ``ahasd.simulate`` returns a ``Result``."""

from __future__ import annotations

import pytest

import ahasd
from ahasd.errors import AhasdError
from ahasd.sim.config import SimConfig


def test_simulate_from_fields_and_from_config():
    r = ahasd.simulate(system="npu-pim-async", tokens=64, seed=2)
    assert isinstance(r, ahasd.Result)
    cfg = ahasd.SimConfig(system="npu-pim-async", tokens=64, seed=2)
    assert ahasd.simulate(cfg).to_dict() == r.to_dict()
    assert ahasd.simulate(cfg, seed=3).config["seed"] == 3


def test_each_system_runs_on_its_own_platform_unless_one_is_named():
    assert ahasd.simulate(system="gpu-only", tokens=32).config["platform"] == "gpu-rtx4090-laptop"
    with pytest.raises(AhasdError, match="platform"):
        ahasd.simulate(system="gpu-only", platform="ahasd-mobile", tokens=32)


def test_config_rejects_unknown_fields_and_hash_is_stable():
    with pytest.raises(Exception, match="extra"):
        SimConfig(tokenz=5)
    assert SimConfig(tokens=5).config_hash() == SimConfig(tokens=5).config_hash()
    assert SimConfig(tokens=5).config_hash() != SimConfig(tokens=6).config_hash()


def test_result_row_is_flat():
    row = ahasd.simulate(tokens=64).to_row()
    assert row["cfg.system"] == "ahasd" and "cfg.edc" not in row
    assert all(not isinstance(v, (dict, list)) for v in row.values())
    assert row["committed_tokens"] == 64


def test_ablation_flags_change_the_ahasd_run():
    full = ahasd.simulate(tokens=256, seed=1)
    no_aau = ahasd.simulate(tokens=256, seed=1, use_aau=False)
    assert no_aau.extras["npu_stolen_s"] > 0 and full.extras["npu_stolen_s"] == 0
    plain = ahasd.simulate(system="npu-pim-async", tokens=256, seed=1)
    assert plain.extras["flags"] == {
        "use_aau": False, "use_edc": False, "use_tvc": False, "use_gtsu": False,
    }  # fmt: skip
