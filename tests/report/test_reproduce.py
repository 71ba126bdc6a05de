"""End-to-end: ``ahasd reproduce --quick`` on the real simulator, and result determinism."""

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
    assert len(pts) == 3 * 4 * 8 * 2
    ablation = {p["variant"]: p["config"] for p in pts[:16]}
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
         "timeline.png")  # fmt: skip


def test_reproduce_on_a_small_matrix_writes_every_output(tmp_path, monkeypatch):
    import ahasd.report.reproduce as rep

    monkeypatch.setattr(rep, "_peer_sections", lambda *a, **k: [])  # peers have their own tests
    spec = MatrixSpec(pairs=(("opt-1.3b", "opt-6.7b"),), policies=("svip",), tokens=128, seeds=(0,))
    outcome = rep.reproduce(tmp_path, spec=spec, quick=True, jobs=1)
    for name in FILES:
        assert (tmp_path / name).is_file(), name
    table = pq.read_table(tmp_path / "results.parquet")
    assert set(table.column_names) >= EXPECTED_COLUMNS
    assert table.num_rows == 8 == len(outcome.rows)
    assert sorted(table.column("variant").to_pylist()) == sorted(spec.variants)
    md = (tmp_path / "report.md").read_text()
    assert "Where we differ from the paper and why" in md and "Weight-streaming bound" in md
    assert not list(tmp_path.glob(".*.tmp"))


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
    assert "data:image/png;base64," in (out / "report.html").read_text()


@pytest.mark.parametrize(
    ("args", "field"),
    [(["--seeds", "-1"], "seeds"), (["--seeds", "101"], "seeds"), (["--jobs", "-2"], "jobs"),
     (["--traces", "/nonexistent-dir"], "traces")],
)  # fmt: skip
def test_bad_arguments_exit_2(cli, tmp_path, args, field):
    run = cli(["reproduce", "--quick", "--out", tmp_path, *args])
    assert run.code == 2
    assert run.err.startswith(f"error: {field}")


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
