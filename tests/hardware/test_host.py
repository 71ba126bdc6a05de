"""Host calibration: measured values land in the host-cpu preset that load_platform prefers."""

from __future__ import annotations

import pytest

from ahasd.errors import AhasdError
from ahasd.hardware import load_platform
from ahasd.hardware.host import calibrate_host, write_host_preset


def test_calibrate_and_prefer_user_preset(tmp_path, monkeypatch):
    monkeypatch.setenv("AHASD_HOME", str(tmp_path))
    values = calibrate_host(0.05)
    assert values["fp32_gflops"] > 0 and values["mem_bw_gb_per_s"] > 0
    path = write_host_preset(values)
    assert path == tmp_path / "platforms" / "host-cpu.yaml"
    cpu = load_platform("host-cpu").device("cpu")
    assert cpu.fp32_flops_per_s == pytest.approx(values["fp32_gflops"] * 1e9)
    assert "calibrate-host" in load_platform("host-cpu").config["sources"]["cpu.fp32_gflops"]


def test_bad_budget():
    with pytest.raises(AhasdError, match="seconds"):
        calibrate_host(0)
