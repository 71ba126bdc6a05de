"""``ahasd simulate``: JSON output, the timeline file, the ablation table, one-line errors."""

from __future__ import annotations

import gzip
import json

import pytest

JSON_KEYS = {
    "system", "committed_tokens", "wall_s", "throughput_tok_s", "energy_j", "tokens_per_joule",
    "tau", "mean_draft_len", "draft_acceptance_rate", "wasted_draft_fraction", "devices",
    "ar_throughput_tok_s",
}  # fmt: skip


def test_json_has_the_documented_fields(cli):
    run = cli(["simulate", "--system", "ahasd", "--tokens", "128", "--seed", "1", "--json"])
    assert run.code == 0, run.err
    out = json.loads(run.out)
    assert set(out) >= JSON_KEYS
    assert out["committed_tokens"] == 128
    for dev in out["devices"].values():
        assert {"busy_s", "idle_s", "energy_j"} <= set(dev)


def test_timeline_is_valid_chrome_trace(cli, tmp_path):
    path = tmp_path / "run.json.gz"
    run = cli(["simulate", "--tokens", "96", "--timeline", str(path)])
    assert run.code == 0, run.err
    with gzip.open(path, "rt") as fh:
        doc = json.load(fh)
    events = doc["traceEvents"]
    names = {e["args"]["name"] for e in events if e.get("name") == "process_name"}
    assert {"npu", "pim"} <= names
    slices = [e for e in events if e["ph"] == "X"]
    assert {"draft", "verify"} <= {e["name"] for e in slices}
    assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in slices)
    flows = [e for e in events if e["ph"] in ("s", "f")]
    assert flows and len(flows) % 2 == 0
    pids = {e["args"]["name"]: e["pid"] for e in events if e.get("name") == "process_name"}
    starts = {e["id"]: e for e in flows if e["ph"] == "s"}
    finishes = {e["id"]: e for e in flows if e["ph"] == "f"}
    assert starts.keys() == finishes.keys()  # every arrow leaves a draft and lands on a verify
    for fid, s in starts.items():
        f = finishes[fid]
        assert s["pid"] == pids["pim"] and f["pid"] == pids["npu"] and f["ts"] >= s["ts"]


def test_policy_args_are_parsed_and_passed(cli):
    run = cli(["simulate", "--system", "npu-only", "--policy", "fixed", "--policy-arg",
               "gamma=3", "--tokens", "64", "--json"])  # fmt: skip
    assert run.code == 0, run.err
    assert json.loads(run.out)["mean_draft_len"] == 3


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--system", "warp-drive"], "system"),
        (["--policy", "fixed", "--policy-arg", "gamma=lots"], "gamma"),
        (["--policy-arg", "novalue"], "--policy-arg"),
        (["--tokens", "0"], "tokens"),
        (["--trace", "missing.parquet", "--profile", "x"], "--trace"),
    ],
)
def test_bad_input_is_one_line_exit_2(cli, args, needle):
    run = cli(["simulate", *args])
    assert run.code == 2
    lines = [ln for ln in run.err.strip().splitlines() if ln]
    assert len(lines) == 1 and needle in lines[0], run.err


def test_trace_shorter_than_tokens(cli, tmp_path):
    path = tmp_path / "short.parquet"
    assert cli(["trace", "synth", "--profile", "iid-alpha-0.8", "--tokens", "50", "--seed", "1",
                "-o", str(path)]).code == 0  # fmt: skip
    run = cli(["simulate", "--trace", str(path), "--tokens", "100"])
    assert run.code == 2 and "tokens" in run.err and len(run.err.strip().splitlines()) == 1


@pytest.mark.parametrize("system", ["gpu-only", "ahasd", "npu-only", "specpim"])
def test_model_pair_that_fits_nowhere(cli, tmp_path, system):
    huge = tmp_path / "huge"
    huge.mkdir()
    (huge / "config.json").write_text(json.dumps({
        "model_type": "llama", "hidden_size": 32768, "intermediate_size": 131072,
        "num_hidden_layers": 160, "num_attention_heads": 256, "num_key_value_heads": 256,
        "vocab_size": 32000, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
        "hidden_act": "silu", "tie_word_embeddings": False,
    }))  # fmt: skip
    run = cli(["simulate", "--system", system, "--target", str(huge), "--tokens", "16"])
    assert run.code == 2, run.out
    assert len(run.err.strip().splitlines()) == 1
    if system in ("gpu-only", "specpim"):
        assert "host memory" in run.err and "accepted" in run.err  # the host was counted too
    else:  # the rank placement names the model and the shortfall
        assert "huge" in run.err and "short by" in run.err and "accepted" in run.err


def test_compare_prints_the_ablation_chain(cli):
    run = cli(["simulate", "--compare", "--tokens", "64", "--json"])
    assert run.code == 0, run.err
    rows = json.loads(run.out)
    assert list(rows) == ["gpu-only", "specpim", "npu-only", "npu-pim-sync", "npu-pim-async",
                          "+aau", "+edc", "ahasd"]  # fmt: skip
    assert all(r["committed_tokens"] == 64 for r in rows.values())


def test_platform_overrides_reach_the_simulation(cli):
    """``--set`` changes the platform the run uses and is recorded in the result's config."""
    base = ["simulate", "--system", "npu-pim-sync", "--tokens", "64", "--json"]
    plain = json.loads(cli(base).out)
    run = cli([*base, "--set", "switches.pim_rate=published"])
    assert run.code == 0, run.err
    per_rank = json.loads(run.out)
    assert per_rank["config"]["platform_overrides"] == {"switches.pim_rate": "published"}
    assert per_rank["committed_tokens"] == plain["committed_tokens"]
    assert per_rank["wall_s"] != plain["wall_s"]


def test_set_with_compare_or_bad_key_is_one_line(cli):
    run = cli(["simulate", "--compare", "--tokens", "16", "--set", "pim.n_alu=4"])
    assert run.code == 2 and "--set" in run.err
    run = cli(["simulate", "--tokens", "16", "--set", "pim.nonsense=1"])
    assert run.code == 2 and "pim.nonsense" in run.err and len(run.err.strip().splitlines()) == 1
