"""Sweeps: one row per point, a resumable cache, and a kill midway loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ahasd.explore import get_executor
from ahasd.explore.spec import SweepSpec
from ahasd.explore.sweep import run_sweep

# Until the traces/policies layer (issue 3) lands, SimConfig cannot be imported: skip, not fail.
pytest.importorskip("ahasd.policies.edc", reason="needs ahasd.policies.edc (issue 3)")


SPEC = {
    "name": "t",
    "base": {"system": "npu-only", "tokens": 64, "policy": "fixed"},
    "axes": {"seed": [0, 1, 2], "queue_depth": [4, 8]},
    "batch": 2,
}


def _rows(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def test_sweep_writes_one_row_per_point_and_rerun_is_all_cached(tmp_path):
    spec = SweepSpec.model_validate(SPEC)
    ex = get_executor("local", jobs=1)
    first = run_sweep(spec, executor=ex, out_dir=tmp_path)
    assert (first.cached, first.computed) == (0, 6)
    rows = _rows(first.results_path)
    assert len(rows) == 6 and len({r["point_hash"] for r in rows}) == 6
    assert all(r["mode"] == "event" and r["error"] is None for r in rows)
    assert [r["axis.seed"] for r in rows] == [0, 0, 1, 1, 2, 2]
    again = run_sweep(spec, executor=ex, out_dir=tmp_path)
    assert (again.cached, again.computed) == (6, 0)
    assert _rows(again.results_path) == rows


def test_growing_a_sweep_only_computes_the_new_points(tmp_path):
    ex = get_executor("local", jobs=1)
    run_sweep(SweepSpec.model_validate(SPEC), executor=ex, out_dir=tmp_path)
    bigger = {**SPEC, "axes": {**SPEC["axes"], "seed": [0, 1, 2, 3]}}
    res = run_sweep(SweepSpec.model_validate(bigger), executor=ex, out_dir=tmp_path)
    assert (res.cached, res.computed) == (6, 2)


KILL_PARTS = 40
KILL_SPEC = {
    **SPEC,
    # the event-driven system at 2048 tokens: tens of ms per point, so the sweep is still running
    # when the test stops it even on a loaded 2-core machine (npu-only at 512 tokens finished the
    # whole sweep before the signal landed there)
    "base": {**SPEC["base"], "system": "ahasd", "tokens": 2048},
    "axes": {"seed": list(range(KILL_PARTS)), "queue_depth": [4, 8]},
}  # 2 * KILL_PARTS points in KILL_PARTS parts of 2


def _sweep_cmd(spec: Path, out: Path, jobs: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ahasd.cli.main",
        "sweep",
        str(spec),
        "--jobs",
        str(jobs),
        "--out",
        str(out),
        "--json",
    ]


def _parts(out: Path) -> int:
    try:
        return len(json.loads((out / "manifest.json").read_text())["parts"])
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc)."""
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                kids.append(int(entry.name))
    return kids


def _like_a_terminal() -> None:
    """Run the sweep as a shell runs a foreground job: Ctrl-C at its default. A test run started
    in the background by a non-interactive shell (``pytest &``, a CI script) has SIGINT ignored,
    which its children inherit, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _kill_a_pool_worker(sweep_pid: int) -> None:
    """SIGKILL one process-pool worker (a child of the sweep's forkserver)."""
    for kid in _children(sweep_pid):
        try:
            cmdline = Path(f"/proc/{kid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"forkserver" in cmdline:
            workers = _children(kid)
            if workers:
                os.kill(workers[0], signal.SIGKILL)
                return
    raise AssertionError("no process-pool worker found to kill")


@pytest.fixture(scope="module")
def clean_rows(tmp_path_factory) -> list[dict]:
    """The kill spec run start to finish without interruption (the reference)."""
    res = run_sweep(
        SweepSpec.model_validate(KILL_SPEC),
        executor=get_executor("local", jobs=1),
        out_dir=tmp_path_factory.mktemp("clean"),
    )
    return _rows(res.results_path)


@pytest.mark.parametrize(
    ("how", "jobs", "code"),
    [
        ("sigkill-sweep", 1, -signal.SIGKILL),  # the whole sweep process dies at once
        ("ctrl-c", 2, 130),  # SIGINT to the process group, as a terminal's Ctrl-C
        ("sigkill-worker", 2, 1),  # one pool worker dies (the OOM killer, say)
    ],
)
def test_interrupted_sweep_resumes_with_exactly_one_row_per_point(
    tmp_path, clean_rows, how, jobs, code
):
    if how == "sigkill-worker" and not Path("/proc/self/stat").exists():
        pytest.skip("finding pool workers needs Linux /proc")
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps(KILL_SPEC))  # JSON is YAML
    out = tmp_path / "out"
    env = {**os.environ, "AHASD_NO_PROGRESS": "1"}
    proc = subprocess.Popen(
        _sweep_cmd(path, out, jobs),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, so Ctrl-C reaches only the sweep
        preexec_fn=_like_a_terminal,
    )
    deadline = time.monotonic() + 120
    while _parts(out) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the sweep finished before it could be stopped"
    if how == "sigkill-sweep":
        proc.send_signal(signal.SIGKILL)
    elif how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        _kill_a_pool_worker(proc.pid)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err.decode()[-2000:]
    if how != "sigkill-sweep":  # a one-line note, not a traceback
        text = err.decode().strip()
        assert len(text.splitlines()) == 1, text
        assert "rerun the same command to resume" in text, text
    kept = _parts(out)
    assert 2 <= kept < KILL_PARTS
    assert not (out / "results.parquet").exists()

    done = subprocess.run(
        _sweep_cmd(path, out, jobs), env=env, capture_output=True, text=True, check=True
    )
    summary = json.loads(done.stdout)
    assert summary["cached"] >= 2 * kept and summary["computed"] > 0
    assert summary["cached"] + summary["computed"] == 2 * KILL_PARTS
    rows = _rows(out / "results.parquet")
    assert len(rows) == 2 * KILL_PARTS and len({r["point_hash"] for r in rows}) == 2 * KILL_PARTS
    assert rows == clean_rows


@pytest.mark.parametrize("jobs", [2])
def test_process_pool_gives_the_same_rows_as_serial(tmp_path, jobs):
    spec = SweepSpec.model_validate(SPEC)
    a = run_sweep(spec, executor=get_executor("local", jobs=1), out_dir=tmp_path / "a")
    b = run_sweep(spec, executor=get_executor("local", jobs=jobs), out_dir=tmp_path / "b")
    assert _rows(a.results_path) == _rows(b.results_path)


def test_analytic_sweep_rows_are_labelled_and_the_summary_says_so(cli, tmp_path):
    spec = tmp_path / "a.yaml"
    spec.write_text(
        json.dumps(
            {
                "name": "a",
                "base": {"system": "ahasd", "tokens": 256},
                "axes": {"platform_overrides.pim.n_alu": [1, 4], "queue_depth": [2, 8]},
            }
        )
    )
    run = cli(["sweep", spec, "--analytic", "--out", tmp_path / "out", "--top", "2"])
    assert run.code == 0, run.err
    assert "4 points (analytic)" in run.out
    assert "mode=analytic rows come from the analytic" in run.out
    assert "best 2 by throughput_tok_s" in run.out
    rows = _rows(tmp_path / "out" / "results.parquet")
    assert len(rows) == 4 and {r["mode"] for r in rows} == {"analytic"}
