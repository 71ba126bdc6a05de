"""``ahasd trace synth | profiles | stats``."""

from __future__ import annotations

import json

import pytest


def test_synth_then_stats_json(cli, tmp_path):
    path = tmp_path / "v.parquet"
    run = cli(["trace", "synth", "--profile", "vicuna-68m-vicuna-7b", "--tokens", "20000",
               "--seed", "0", "-o", str(path)])  # fmt: skip
    assert run.code == 0, run.err
    run = cli(["trace", "stats", str(path), "--json"])
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert set(data["tau_by_gamma"]) == {str(g) for g in range(1, 9)}
    assert abs(data["tau_by_gamma"]["5"] - 2.28) <= 0.08
    assert 0 < data["alpha"] < 1 and data["meta"]["source"] == "synthetic"
    for key in ("mean_entropy", "entropy_accept_corr", "burstiness"):
        assert key in data
    assert "tau (greedy chain)" in cli(["trace", "stats", str(path)]).out


def test_profiles_lists_targets(cli):
    run = cli(["trace", "profiles"])
    assert run.code == 0 and "vicuna-68m-vicuna-7b" in run.out and "iid-alpha-X" in run.out
    data = json.loads(cli(["trace", "profiles", "--json"]).out)
    assert all(p["target"] and p["source"] for p in data)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["synth", "--profile", "nope", "--tokens", "5", "-o", "{tmp}/x.parquet"], "profile"),
        (
            ["synth", "--profile", "iid-alpha-0.5", "--tokens", "0", "-o", "{tmp}/x.parquet"],
            "tokens",
        ),
        (["stats", "{tmp}/missing.parquet"], "does not exist"),
        (["stats", "{tmp}/bad.csv"], "missing column"),
    ],
)
def test_bad_input_one_line_exit_2(cli, tmp_path, args, needle):
    (tmp_path / "bad.csv").write_text("draft_entropy\n0.1\n")
    run = cli(["trace", *[a.replace("{tmp}", str(tmp_path)) for a in args]])
    assert run.code == 2
    lines = [ln for ln in run.err.strip().splitlines() if ln]
    assert len(lines) == 1 and needle in lines[0], run.err


def test_malformed_trace_metadata_is_one_line_exit_2(cli, tmp_path):
    path = tmp_path / "t.jsonl"
    row = {"draft_entropy": 0.1, "draft_top1_prob": 0.9, "target_rank": 0, "accept_prob": 0.8,
           "target_entropy": 0.2}  # fmt: skip
    path.write_text(json.dumps({"meta": {"seed": "x"}}) + "\n" + json.dumps(row) + "\n")
    run = cli(["trace", "stats", str(path)])
    assert run.code == 2 and "meta.seed" in run.err and len(run.err.strip().splitlines()) == 1
