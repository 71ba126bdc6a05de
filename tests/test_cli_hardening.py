"""Regression tests for issue 17's audit: file-system errors, atomic outputs, bounds and
conflicting flags, loopback Ray (defects 4, 6 and 7; 1-3 in tests/explore/test_cache_safety.py
and tests/hardware/test_validation.py, 5 in tests/engine/test_loading.py, 8 in
tests/engine/test_sampling.py)."""

from __future__ import annotations

import errno
import os
import sys
import types
from pathlib import Path

import pytest

import ahasd.fileio as fileio


def one_line(run) -> str:
    lines = [ln for ln in run.err.splitlines() if ln.strip()]
    assert run.code == 2 and len(lines) == 1 and lines[0].startswith("error: "), run.err
    assert "Traceback" not in run.err
    return lines[0]


def _failing_replace(code: int, text: str):
    def replace(src, dst):
        raise OSError(code, text, str(dst))

    return replace


@pytest.mark.parametrize(
    "code,text",
    [
        (errno.EACCES, "Permission denied"),
        (errno.ENOSPC, "No space left on device"),
        (errno.EROFS, "Read-only file system"),
    ],  # fmt: skip
)
def test_a_failed_timeline_write_is_one_line_and_leaves_nothing(cli, tmp_path, monkeypatch, code,
                                                                text):  # fmt: skip
    monkeypatch.setattr(fileio.os, "replace", _failing_replace(code, text))
    target = tmp_path / "new" / "deeper" / "t.json.gz"
    line = one_line(cli(["simulate", "--tokens", "16", "--timeline", target]))
    assert str(target) in line and text in line
    assert list(tmp_path.iterdir()) == []  # no temporary file, no folder made for it


def test_calibrate_host_out_errors_name_the_path(cli, tmp_path, monkeypatch):
    import ahasd.hardware.host as host

    values = {"fp32_gflops": 1.0, "fp16_gflops": 1.0, "int8_gops": 1.0, "mem_bw_gb_per_s": 1.0,
              "capacity_gib": 1.0, "seconds": 0.1}  # fmt: skip
    monkeypatch.setattr(host, "calibrate_host", lambda *a, **k: values)
    monkeypatch.setattr(fileio.os, "replace", _failing_replace(errno.EACCES, "Permission denied"))
    out = tmp_path / "p" / "host.yaml"
    line = one_line(cli(["calibrate-host", "--out", out, "--seconds", "0.1"]))
    assert f"{out}: cannot write (Permission denied)" in line
    assert list(tmp_path.iterdir()) == []


def test_an_output_under_a_file_is_one_line(cli, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("mine")
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: s\nbase: {system: npu-only, tokens: 16, policy: fixed}\n"
                    "axes: {seed: [0]}\n")  # fmt: skip
    for args in (["sweep", spec, "--out", blocker / "out", "--jobs", "1"],
                 ["trace", "synth", "--profile", "iid-alpha-0.7", "-o", blocker / "t.parquet"],
                 ["simulate", "--tokens", "16", "--timeline", blocker / "t.json.gz"]):  # fmt: skip
        line = one_line(cli(args))
        assert "file.txt" in line
    assert blocker.read_text() == "mine"


def test_atomic_writes_replace_whole_files_only(tmp_path, monkeypatch):
    path = tmp_path / "a.txt"
    fileio.write_text(path, "old")
    monkeypatch.setattr(fileio.os, "replace", _failing_replace(errno.ENOSPC, "No space left"))
    with pytest.raises(Exception, match="No space left"):
        fileio.write_text(path, "new")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_replace_dir_is_all_or_nothing_and_never_takes_a_foreign_folder(tmp_path):
    from ahasd.errors import AhasdError

    def interrupted(d: Path) -> None:
        (d / "config.json").write_text("{}")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fileio.replace_dir(tmp_path / "target", interrupted, mine="training.json")
    assert list(tmp_path.iterdir()) == []  # no half-built folder that looks like a model
    fileio.replace_dir(tmp_path / "target", lambda d: (d / "training.json").write_text("1"),
                       mine="training.json")  # fmt: skip
    with pytest.raises(KeyboardInterrupt):  # a failed rebuild keeps the previous folder
        fileio.replace_dir(tmp_path / "target", interrupted, mine="training.json")
    assert (tmp_path / "target" / "training.json").read_text() == "1"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.md").write_text("x")
    with pytest.raises(AhasdError, match="not written by ahasd"):
        fileio.replace_dir(mine, lambda d: None, mine="training.json")
    assert (mine / "notes.md").read_text() == "x"


@pytest.mark.parametrize(
    "args,needle",
    [
        (["lpspec-dau", "--max-nodes", "100000000"], "--max-nodes"),
        (["sweep", "s.yaml", "--top", "-1"], "--top"),
        (["explore", "s.yaml", "--confirm", "-1"], "--confirm"),
        (["explore", "s.yaml", "--population", "1"], "--population"),
        (["generate", "--prompt", "x", "--tokens", "100000000"], "--tokens"),
        (["simulate", "--tokens", "100000000"], "--tokens"),
        (["calibrate-host", "--seconds", "1e9"], "--seconds"),
        (["reproduce", "--seeds", "1000"], "--seeds"),
        (["generate", "--prompt", "x", "--greedy", "--temperature", "0.8"], "--greedy"),
        (["generate", "--prompt", "x", "--target-only", "--async"], "--async"),
        (["edge-plan", "--platform", "ahasd-mobile"], "npu, pim would be ignored"),
    ],
)
def test_sizes_are_bounded_and_conflicting_flags_refused(cli, args, needle):
    assert needle in one_line(cli(args))


def test_help_states_the_bounds(cli):
    run = cli(["lpspec-dau", "--help"])
    assert "1<=x<=1024" in run.out


def test_local_ray_binds_loopback_unless_an_address_is_given(monkeypatch):
    """The CLI's executor: no address -> a local cluster on 127.0.0.1 (Ray's cluster mode off
    so it does not swap in the routable address); an address is passed through untouched."""
    from ahasd.explore.executor import RayExecutor

    calls: list[dict] = []
    constants = types.SimpleNamespace(ENABLE_RAY_CLUSTER=True)
    fake = types.SimpleNamespace(is_initialized=lambda: False, init=lambda **kw: calls.append(kw))
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setitem(sys.modules, "ray._private.ray_constants", constants)
    monkeypatch.delenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", raising=False)
    RayExecutor()._ray()
    assert calls[-1]["_node_ip_address"] == "127.0.0.1" and calls[-1]["address"] == "local"
    assert os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0"
    assert constants.ENABLE_RAY_CLUSTER is False
    RayExecutor(address="10.0.0.5:6379")._ray()
    assert calls[-1] == {"include_dashboard": False, "log_to_driver": False,
                         "address": "10.0.0.5:6379"}  # fmt: skip
