"""End-to-end: ``ahasd reproduce --quick`` on the real simulator, and result determinism."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ahasd.report.matrix import MatrixSpec, points, quick_spec
from ahasd.report.reproduce import rows_table, run_matrix, write_parquet

EXPECTED_COLUMNS = {
    "variant", "pair", "cfg.system", "cfg.draft", "cfg.target", "cfg.policy", "cfg.seed",
    "cfg.tokens", "cfg.use_edc", "cfg.use_tvc", "throughput_tok_s", "tokens_per_joule", "tau",
    "energy_j", "wall_s", "config_hash", "trace_hash",
}  # fmt: skip


def test_rows_table_takes_the_union_of_columns(rows):
    rows = [*rows, {**rows[0], "odd": 1}, {**rows[1], "odd": "text"}]
    table = rows_table(rows)
    assert table.column_names[:4] == ["variant", "pair", "cfg.policy", "cfg.seed"]
    assert table.num_rows == len(rows)
    assert table.column("extras.preverify_count").null_count > 0
    assert table.column("odd").to_pylist()[-2:] == ["1", "text"]  # mixed types kept as text


def test_matrix_points_are_ordered_and_labelled():
    pts = points(MatrixSpec(seeds=(0, 1)))
    assert len(pts) == 3 * 4 * 10 * 2  # 8 systems + 2 baselines at matched (mobile) scale
    ablation = {p["variant"]: p["config"] for p in pts[:20]}
    assert ablation["gpu-only-mobile"] == {**ablation["gpu-only"], "platform": "gpu-mobile"}
    assert ablation["+aau"] == {**ablation["ahasd"], "use_edc": False, "use_tvc": False}
    assert ablation["+edc"] == {**ablation["ahasd"], "use_tvc": False}
    assert all(p["config"]["tokens"] == 1024 for p in pts)


def test_same_seed_gives_identical_parquet_across_executors(tmp_path):
    spec = MatrixSpec(pairs=(("opt-1.3b", "opt-6.7b"),), policies=("adaedl",), tokens=128,
                      seeds=(3,))  # fmt: skip
    a = write_parquet(run_matrix(spec, jobs=1, traces=None), tmp_path / "a.parquet")
    b = write_parquet(run_matrix(spec, jobs=2, traces=None), tmp_path / "b.parquet")
    assert a.read_bytes() == b.read_bytes()
    seeds = MatrixSpec(pairs=spec.pairs, policies=spec.policies, tokens=128, seeds=(4,))
    c = write_parquet(run_matrix(seeds, jobs=1, traces=None), tmp_path / "c.parquet")
    assert pq.read_table(c).column("cfg.seed").to_pylist()[0] == 4


FILES = ("results.parquet", "report.md", "report.html", "throughput.png", "energy_efficiency.png",
         "ablation.png", "utilisation.png", "energy_breakdown.png", "draft_lengths.png",
         "timeline.png", "throughput_abs.png", "energy_abs.png", "latency_split.png")  # fmt: skip


def _git_head() -> str:
    import subprocess

    import ahasd

    run = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                         cwd=Path(ahasd.__file__).parent)  # fmt: skip
    return run.stdout.strip() if run.returncode == 0 else "unknown"


def _assert_provenance_and_hardware(page: str, command: str) -> None:
    """Must show (issue 16): "Hardware parameters" and "Provenance" naming the git commit."""
    assert '<h2 id="hardware-parameters">Hardware parameters</h2>' in page
    assert '<h2 id="provenance">Provenance</h2>' in page
    assert f"<code>{_git_head()}</code>" in page and f"<code>{command}" in page
    assert '<a href="#provenance">Provenance</a>' in page  # table of contents


def test_reproduce_on_a_small_matrix_writes_every_output(tmp_path):
    import ahasd.report.reproduce as rep

    spec = MatrixSpec(pairs=(("opt-1.3b", "opt-6.7b"),), policies=("svip",), tokens=128, seeds=(0,))
    # peers=False: the peer sections have their own tests
    outcome = rep.reproduce(tmp_path, spec=spec, quick=True, jobs=1, peers=False)
    for name in FILES:
        assert (tmp_path / name).is_file(), name
    table = pq.read_table(tmp_path / "results.parquet")
    assert set(table.column_names) >= EXPECTED_COLUMNS
    assert table.num_rows == 10 == len(outcome.rows)
    assert sorted(table.column("variant").to_pylist()) == sorted(spec.variants)
    md = (tmp_path / "report.md").read_text()
    assert "Where we differ from the paper and why" in md and "Weight-streaming bound" in md
    assert "Why, per pair" in md and "built-in profile `opt-1.3b-opt-6.7b`" in md
    assert "## LP-Spec" not in md and "### lpspec-mobile" not in md  # peers left out
    assert "### ahasd-mobile" in md and "### gpu-rtx4090-laptop" in md  # platforms the rows used
    assert "| ahasd |" in md.split("## Latency split per token")[1]
    _assert_provenance_and_hardware((tmp_path / "report.html").read_text(), "(Python API) repro")
    assert not list(tmp_path.glob(".*.tmp"))


def test_user_trace_drives_its_pair(tmp_path):
    """A trace given with --traces is what the pair's runs consume (its hash is in the rows)."""
    from dataclasses import replace

    from ahasd.report.matrix import find_traces, workload_markdown
    from ahasd.traces import save_trace, synthesize

    plain = synthesize("iid-alpha-0.9", 200, 11)  # meta pair "any": name it, as a recording does
    trace = replace(plain, meta=replace(plain.meta, pair="opt-1.3b->opt-6.7b"))
    (tmp_path / "traces").mkdir()
    save_trace(trace, tmp_path / "traces" / "mine.parquet")
    spec = MatrixSpec(pairs=(("opt-1.3b", "opt-6.7b"), ("llama2-7b", "llama2-13b")),
                      policies=("adaedl",), variants=("gpu-only", "ahasd"), tokens=128,
                      seeds=(0, 1))  # fmt: skip
    found = find_traces(tmp_path / "traces", spec.pairs, min_tokens=spec.tokens)
    rows = run_matrix(spec, jobs=1, traces=found)
    want = trace.slice(0, 128).content_hash
    by_pair: dict[str, set[str]] = {}
    for r in rows:
        by_pair.setdefault(r["pair"], set()).add(r["trace_hash"])
    assert by_pair["opt-1.3b→opt-6.7b"] == {want}  # every seed and system read the user trace
    assert want not in by_pair["llama2-7b→llama2-13b"]
    assert len(by_pair["llama2-7b→llama2-13b"]) == 2  # built-in profile: one trace per seed
    md = workload_markdown(spec, found)
    assert f"user trace `{tmp_path / 'traces' / 'mine.parquet'}`" in md
    assert trace.content_hash[:12] in md and "built-in profile `llama2-7b-llama2-13b`" in md


def test_too_short_user_trace_is_refused_before_running(tmp_path, cli):
    from ahasd.traces import default_profile, save_trace, synthesize

    save_trace(synthesize(default_profile("opt-1.3b", "opt-6.7b"), 100, 1), tmp_path / "t.parquet")
    run = cli(["reproduce", "--quick", "--out", tmp_path / "o", "--traces", tmp_path])
    assert run.code == 2
    assert run.err.startswith("error: traces:") and "at least 512" in run.err
    assert not (tmp_path / "o" / "results.parquet").exists()


@pytest.mark.slow  # ~15-20 s on 2 cores: the real `--quick` run, peers included
def test_quick_reproduce_writes_report_and_parquet(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("AHASD_NO_PROGRESS", "1")
    run = cli(["reproduce", "--quick", "--out", tmp_path / "r", "--jobs", "2"])
    assert run.code == 0, run.err
    out = tmp_path / "r"
    for name in FILES:
        assert (out / name).is_file(), name
    table = pq.read_table(out / "results.parquet")
    assert set(table.column_names) >= EXPECTED_COLUMNS
    spec = quick_spec()
    assert table.num_rows == len(spec.pairs) * len(spec.policies) * len(spec.variants)
    assert "ours/claimed" in run.out
    md = (out / "report.md").read_text()
    assert "Where we differ from the paper and why" in md and "Weight-streaming bound" in md
    page = (out / "report.html").read_text()
    pngs = sorted(out.glob("*.png"))
    assert page.count("data:image/png;base64,") == len(pngs) >= len(FILES) - 3  # all embedded
    assert "missing figure" not in page and 'src="' not in page.replace('src="data:', "")
    _assert_provenance_and_hardware(page, f"ahasd reproduce --quick --out {out} --jobs 2")
    assert "### lpspec-mobile" in md and "### edge-imx95" in md


@pytest.mark.parametrize(
    ("args", "field"),
    [(["--seeds", "-1"], "'--seeds'"), (["--seeds", "101"], "'--seeds'"),
     (["--jobs", "-2"], "'--jobs'"), (["--traces", "/nonexistent-dir"], "error: traces")],
)  # fmt: skip
def test_bad_arguments_exit_2(cli, tmp_path, args, field):
    run = cli(["reproduce", "--quick", "--out", tmp_path, *args])
    assert run.code == 2 and len(run.err.strip().splitlines()) == 1
    assert field in run.err


def test_out_that_is_a_file_is_a_one_line_error(cli, tmp_path):
    (tmp_path / "f").write_text("x")
    run = cli(["reproduce", "--quick", "--out", tmp_path / "f"])
    assert run.code == 2 and run.err.startswith("error: out:") and "Traceback" not in run.err


def test_unreadable_user_trace_names_the_file(cli, tmp_path):
    (tmp_path / "bad.csv").write_text("garbage\n")
    run = cli(["reproduce", "--quick", "--out", tmp_path / "o", "--traces", tmp_path])
    assert run.code == 2 and run.err.startswith("error: traces:") and "bad.csv" in run.err


def test_user_traces_map_to_pairs_by_their_metadata(tmp_path):
    from ahasd.errors import AhasdError
    from ahasd.report.matrix import find_traces
    from ahasd.traces import default_profile, save_trace, synthesize

    trace = synthesize(default_profile("opt-1.3b", "opt-6.7b"), 64, 1)
    save_trace(trace, tmp_path / "opt.parquet")
    assert find_traces(tmp_path) == {"opt-1.3b→opt-6.7b": tmp_path / "opt.parquet"}
    with pytest.raises(AhasdError, match="traces: no trace"):
        find_traces(tmp_path, pairs=(("llama2-7b", "llama2-13b"),))
    pts = points(MatrixSpec(seeds=(0,)), find_traces(tmp_path))
    assert {p["config"].get("trace") for p in pts if p["pair"].startswith("opt")} == {
        str(tmp_path / "opt.parquet")
    }
    assert all("trace" not in p["config"] for p in pts if not p["pair"].startswith("opt"))
