"""Trace recording (teacher-forced statistics) and cost-model validation on a tiny pair."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ahasd.engine.decode import target_only  # noqa: E402
from ahasd.engine.loading import load_pair  # noqa: E402
from ahasd.engine.record import position_stats, read_prompts  # noqa: E402
from ahasd.engine.sampling import SamplingConfig  # noqa: E402
from ahasd.errors import AhasdError  # noqa: E402

pytestmark = pytest.mark.engine


def test_position_stats_follow_their_definitions(pair64):
    draft, target = pair64
    prompt = [3, 4, 5]
    out = target_only(target, prompt, max_new_tokens=20).tokens
    st = position_stats(draft, target, prompt, out, SamplingConfig())
    assert all(len(v) == 20 for v in st.values())
    assert np.all((st["accept_prob"] >= 0) & (st["accept_prob"] <= 1 + 1e-9))
    assert np.all(st["draft_entropy"] >= 0) and np.all(st["target_entropy"] >= 0)
    # rank 0 exactly when the draft's greedy token is the target's (greedy) token
    seq = prompt + out
    for i in range(20):
        with torch.no_grad():
            logits = draft(input_ids=torch.tensor([seq[: len(prompt) + i]])).logits[0, -1]
        assert (st["target_rank"][i] == 0) == (int(logits.argmax()) == out[i])


def test_identical_models_give_beta_one(pair64):
    target = pair64[1]
    out = target_only(target, [1, 2], max_new_tokens=10).tokens
    st = position_stats(target, target, [1, 2], out, SamplingConfig())
    assert np.allclose(st["accept_prob"], 1.0, atol=1e-5)
    assert np.all(st["target_rank"] == 0)


def test_prompts_file_errors(tmp_path):
    with pytest.raises(AhasdError, match="prompts"):
        read_prompts(tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(AhasdError, match="prompts"):
        read_prompts(empty)


def test_trace_record_cli_writes_the_schema(cli, demo_dirs, tmp_path):
    traces = pytest.importorskip("ahasd.traces")
    if not hasattr(traces, "load_trace"):
        pytest.skip("traces layer not built yet")
    prompts = tmp_path / "p.txt"
    prompts.write_text("import os\ndef main():\n")
    out = tmp_path / "t.parquet"
    run = cli(["trace", "record", "--draft", str(demo_dirs[0]), "--target", str(demo_dirs[1]),
               "--prompts", str(prompts), "-o", str(out), "--tokens", "16"])  # fmt: skip
    assert run.code == 0, run.err
    trace = traces.load_trace(out)
    assert len(trace) == 32 and trace.meta.source == "recorded"


def test_validate_reports_measured_and_predicted(demo_dirs, one_thread):
    from ahasd.engine.validate import task_count, validate

    pair = load_pair(*demo_dirs)
    calls = []
    r = validate(pair, kv_len=16, gamma=2, widths=(1, 3), reps=3, calib_s=0.2, rounds=2,
                 max_new_tokens=12, gammas=(1, 2), adaptive="adaedl",
                 progress=lambda *call: calls.append(call))  # fmt: skip
    done = [call[1] for call in calls]
    assert len({call[0] for call in calls}) == 1 and done == list(range(len(done)))
    assert calls[-1][1] == calls[-1][2] == task_count(2, 6)  # 2 rounds, fixed 1, 2 + adaedl x 2
    phases = {(x.phase, x.n_tokens) for x in r["rows"]}
    assert phases == {("draft", 1), ("draft", 2), ("verify", 1), ("verify", 3)}
    assert all(x.measured_s > 0 and x.predicted_s > 0 for x in r["rows"])
    assert r["speedup_predicted"] > 0 and r["tau"] >= 1.0
    cal = r["calibration"]
    assert cal["rounds"] == 2 and len(cal["per_round"]) == 2
    assert cal["draft_overhead_method"] == cal["target_overhead_method"] == "miniature"
    assert {1, 3} <= set(cal["target_overhead_ms"]) and cal["mem_bw_gb_per_s"][3] > 0
    lo = cal["loop_overheads"]
    assert len(lo["per_round"]) == 2 and lo["refill_us"] >= 0 and 0 <= lo["refill_decay"] <= 1
    assert all(c > -1.5 for c in lo["overlap_cost"].values())  # −1: draft work hidden entirely
    # e2e: fixed γ ∈ {1, 2} and adaedl, sync and async, each measured and predicted
    got = {(x["gamma"], x["mode"]) for x in r["e2e"]}
    assert got == {(g, m) for g in (1, 2, "adaedl") for m in ("sync", "async")}
    for x in r["e2e"]:
        assert x["measured_speedup"] > 0 and x["predicted_speedup"] > 0
        err = 100 * (x["predicted_speedup"] - x["measured_speedup"]) / x["measured_speedup"]
        assert x["error_pct"] == pytest.approx(err)
        assert x["noisy"] == (x["measured_spread_pct"] > abs(x["error_pct"]))
        # one torch thread: sync rows also in the decoding thread's CPU time
        assert (x["cpu_error_pct"] is not None) == (x["mode"] == "sync")
    ar = r["target_only"]
    assert ar["measured_tok_s"] > 0 and ar["predicted_tok_s"] > 0 and ar["measured_cpu_tok_s"] > 0
    with pytest.raises(AhasdError, match="rounds"):
        validate(pair, rounds=0)


@pytest.mark.slow
def test_validate_cli_json_has_e2e_rows(cli, demo_dirs):
    import json

    run = cli(["validate", "--draft", str(demo_dirs[0]), "--target", str(demo_dirs[1]),
               "--kv", "16", "--gamma", "1", "--reps", "2", "--calibrate-seconds", "0.1",
               "--rounds", "1", "--json"])  # fmt: skip
    assert run.code == 0, run.err
    data = json.loads(run.out)
    rows = {(x["gamma"], x["mode"]) for x in data["e2e"]}
    assert rows == {(g, m) for g in (1, 2, 4, 8, "adaedl") for m in ("sync", "async")}
    keys = {"policy", "gamma", "mode", "measured_speedup", "predicted_speedup", "error_pct"}
    assert all(keys <= set(x) for x in data["e2e"])
    assert data["target_only"]["predicted_tok_s"] > 0


def test_validate_cli_bad_rounds_exits_2(cli, tmp_path):
    run = cli(["validate", "--draft", str(tmp_path), "--target", str(tmp_path), "--rounds", "0"])
    assert run.code == 2 and "--rounds" in run.err
