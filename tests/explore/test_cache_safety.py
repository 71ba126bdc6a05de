"""The result cache knows its own files: foreign folders and files are refused and kept, one run
at a time holds a cache, damaged caches say how to recover (issue 17, defects 1, 2 and 6)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ahasd.errors import AhasdError
from ahasd.explore import get_executor
from ahasd.explore.cache import LOCK, MANIFEST, MARKER, ResultCache
from ahasd.explore.spec import SweepSpec, validate_spec
from ahasd.explore.sweep import run_sweep

pytest.importorskip("ahasd.policies.edc", reason="needs ahasd.policies.edc (issue 3)")

SPEC = {
    "name": "safe",
    "base": {"system": "npu-only", "tokens": 32, "policy": "fixed"},
    "axes": {"seed": [0, 1, 2]},
    "batch": 1,
}


def _sweep(out: Path, **kw):
    return run_sweep(SweepSpec.model_validate(SPEC), executor=get_executor("local", jobs=1),
                     out_dir=out, **kw)  # fmt: skip


def _spec_file(tmp_path: Path, **changes) -> Path:
    import yaml

    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({**SPEC, **changes}))
    return path


def _one_line(run) -> str:
    lines = [ln for ln in run.err.splitlines() if ln.strip()]
    assert run.code == 2 and len(lines) == 1 and lines[0].startswith("error: "), run.err
    return lines[0]


def test_sweep_refuses_a_folder_with_a_foreign_file_in_parts_and_keeps_it(tmp_path, cli):
    out = tmp_path / "out"
    (out / "parts").mkdir(parents=True)
    notes = out / "parts" / "notes.txt"
    notes.write_text("mine")
    line = _one_line(cli(["sweep", _spec_file(tmp_path), "--out", out, "--jobs", "1"]))
    assert "notes.txt" in line and "not an ahasd result cache" in line
    assert notes.read_text() == "mine"
    assert sorted(p.name for p in out.rglob("*")) == ["notes.txt", "parts"]


def test_a_foreign_file_in_a_real_cache_is_refused_not_deleted(tmp_path):
    _sweep(tmp_path / "out")
    notes = tmp_path / "out" / "parts" / "notes.txt"
    notes.write_text("mine")
    with pytest.raises(AhasdError, match="notes.txt was not written by ahasd"):
        _sweep(tmp_path / "out")
    assert notes.read_text() == "mine"


def test_a_non_empty_folder_that_is_not_a_cache_is_refused(tmp_path):
    (tmp_path / "report.md").write_text("mine")
    with pytest.raises(AhasdError, match="not an ahasd result cache"):
        _sweep(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]


@pytest.mark.parametrize("name", ["../../x", "/abs/x", "a/b", ".hidden", "", "x" * 65])
def test_spec_names_that_could_leave_the_output_folder_are_refused(name):
    with pytest.raises(ValueError, match="spec name"):
        validate_spec({**SPEC, "name": name})


def test_cli_refuses_a_spec_named_dot_dot(tmp_path, cli):
    line = _one_line(cli(["sweep", _spec_file(tmp_path, name="../../x"), "--jobs", "1"]))
    assert line.startswith("error: name:") and "../../x" in line


def test_a_second_run_on_a_locked_cache_refuses_with_a_message(tmp_path):
    with ResultCache(tmp_path / "out"), pytest.raises(AhasdError, match=r"in use .*pid \d+"):
        ResultCache(tmp_path / "out")
    ResultCache(tmp_path / "out").close()  # released: usable again


def test_the_lock_of_a_dead_process_does_not_block(tmp_path):
    out = tmp_path / "out"
    code = (
        "import sys, os; from ahasd.explore.cache import ResultCache; "
        "ResultCache(sys.argv[1]); os._exit(0)"
    )  # dies holding the lock, never closing
    subprocess.run([sys.executable, "-c", code, str(out)], check=True,
                   env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})  # fmt: skip
    assert (out / LOCK).read_text().strip().isdigit()  # the dead pid is still written there
    res = _sweep(out)
    assert res.computed == 3


def test_a_sweep_on_a_cache_another_run_holds_refuses_and_changes_nothing(tmp_path, cli):
    out = tmp_path / "out"
    _sweep(out)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.name != LOCK}
    with ResultCache(out):  # another run, mid-sweep
        line = _one_line(cli(["sweep", _spec_file(tmp_path), "--out", out, "--jobs", "1"]))
    assert "in use by another ahasd run" in line
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.name != LOCK} == before


@pytest.mark.parametrize(
    "damage,needle",
    [
        (lambda out: (out / MANIFEST).write_text("{torn"), "manifest.json is damaged"),
        (lambda out: (out / MANIFEST).write_text('{"version": 1, "parts": 3}'), "bad parts"),
        (lambda out: next((out / "parts").iterdir()).unlink(), "listed in manifest.json but"),
        (lambda out: next((out / "parts").iterdir()).write_bytes(b"junk"), "is damaged"),
        (lambda out: (out / MARKER).write_text("?"), ".ahasd-cache is damaged"),
    ],
)
def test_a_damaged_cache_is_one_line_with_the_rebuild_hint(tmp_path, cli, damage, needle):
    out = tmp_path / "out"
    _sweep(out)
    damage(out)
    spec = _spec_file(tmp_path)
    line = _one_line(cli(["sweep", spec, "--out", out, "--jobs", "1"]))
    assert needle in line and "--rebuild" in line
    run = cli(["sweep", spec, "--out", out, "--jobs", "1", "--rebuild", "--json"])
    assert run.code == 0, run.err
    assert json.loads(run.out)["computed"] == 3


def test_rebuild_deletes_only_the_caches_own_files(tmp_path):
    out = tmp_path / "out"
    _sweep(out)
    (out / "notes.md").write_text("mine")
    res = _sweep(out, rebuild=True)
    assert res.computed == 3 and (out / "notes.md").read_text() == "mine"


def test_a_run_that_fails_before_any_point_leaves_no_folder(tmp_path, monkeypatch):
    from ahasd.explore.executor import SerialExecutor

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(SerialExecutor, "map", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _sweep(tmp_path / "new" / "out")
    assert not (tmp_path / "new" / "out").exists()


def test_a_cache_of_the_first_format_is_adopted(tmp_path):
    """Caches written before the marker existed (manifest and parts only) still resume."""
    out = tmp_path / "out"
    _sweep(out)
    (out / MARKER).unlink()
    (out / LOCK).unlink()
    res = _sweep(out)
    assert (res.cached, res.computed) == (3, 0) and (out / MARKER).exists()


def test_a_grid_beyond_the_point_limit_is_refused_before_expanding(tmp_path, cli):
    axes = {"seed": {"low": 0, "high": 10**5, "num": 10**5, "integer": True},
            "tokens": {"low": 1, "high": 1000, "num": 10**5, "integer": True}}  # fmt: skip
    line = _one_line(cli(["sweep", _spec_file(tmp_path, axes=axes), "--jobs", "1"]))
    assert "10,000,000,000 points" in line and "1,000,000" in line


@pytest.mark.parametrize("bound", [float("nan"), float("inf")])
def test_a_range_with_a_non_finite_bound_is_one_line(tmp_path, cli, bound):
    axes = {"tokens": {"low": bound, "high": 10.0, "num": 3}}
    line = _one_line(cli(["sweep", _spec_file(tmp_path, axes=axes), "--jobs", "1"]))
    assert "axes.tokens" in line and "finite" in line
