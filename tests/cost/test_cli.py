"""``ahasd cost``, ``models``, ``platforms``, ``calibrate-host`` through the real entry point."""

from __future__ import annotations

import json

MUST = ["cost", "llama2-13b", "--platform", "ahasd-mobile", "--device", "npu", "--phase",
        "verify", "--tokens", "8", "--kv", "512", "--json"]  # fmt: skip


def test_must_show_verify(cli):
    run = cli(MUST)
    assert run.code == 0, run.err
    out = json.loads(run.out)
    assert 0.24 <= out["latency_s"] <= 0.32 and out["bound"] == "memory"
    assert out["energy_j"] > 0 and len(out["ops"]) == 15
    big = json.loads(cli([*MUST[:9], "256", *MUST[10:]]).out)
    assert big["latency_s"] > out["latency_s"] and big["bound"] == "compute"


def test_pim_draft_names_the_binding_resource(cli):
    published = ["--set", "switches.pim_rate=published"]
    base = ["cost", "llama2-7b", "--device", "pim", "--phase", "draft", "--kv", "512"]
    run = cli([*base, *published])
    assert run.code == 0 and "bound: compute (pim ALUs 102.4 GOPS)" in run.out
    assert "each resource alone" in run.out
    out = json.loads(cli([*base, *published, "--json"]).out)
    alone = out["time_by_resource"]
    assert out["bound"] == "compute" and alone["compute"] > alone["memory"] > 0
    assert out["latency_s"] == sum(op["seconds"] for op in out["ops"])
    run = cli(base)  # default: the command-timed rate of the dies holding the draft
    assert run.code == 0 and "bound: array (pim 16 dies x" in run.out


def test_device_names_and_overrides(cli):
    run = cli(["cost", "llama2-7b", "--platform", "specpim-2x4090l-hbmpim", "--device", "hbm-pim",
               "--phase", "draft", "--json", "--set", "switches.pim=gddr6-aim"])  # fmt: skip
    assert run.code == 0, run.err
    assert json.loads(run.out)["placement"] == "pim"
    gpu = json.loads(cli(["cost", "llama2-13b", "--platform", "gpu-rtx4090-laptop",
                          "--device", "gpu", "--tokens", "4", "--precision", "fp16",
                          "--json"]).out)  # fmt: skip
    assert gpu["offload_bytes"] > 0 and gpu["bound"] == "link"


def test_models_and_platforms_json(cli):
    models = json.loads(cli(["models", "--json"]).out)
    assert len(models) >= 15 and all({"name", "params"} <= set(m) for m in models)
    assert all(isinstance(m["params"], int) and m["params"] > 0 for m in models)
    plats = json.loads(cli(["platforms", "--json"]).out)
    assert {"ahasd-mobile", "specpim-mobile", "gpu-mobile"} <= {p["name"] for p in plats}
    assert cli(["models"]).code == 0 and cli(["platforms"]).code == 0


def test_bad_input_is_one_line_exit_2(cli, tmp_path):
    bad_cfg = tmp_path / "config.json"
    bad_cfg.write_text(json.dumps({"model_type": "llama", "hidden_size": -4}))
    short = tmp_path / "short" / "config.json"
    short.parent.mkdir()
    short.write_text(json.dumps({"model_type": "llama", "hidden_size": 64,
                                 "num_attention_heads": 4, "num_hidden_layers": 2,
                                 "vocab_size": 100}))  # fmt: skip
    cases = [
        (["cost", "nope"], "model: got 'nope'"),
        (["cost", "llama2-7b", "--platform", "mars"], "platform: got 'mars'"),
        (["cost", "llama2-7b", "--device", "tpu"], "device: got 'tpu'"),
        (["cost", "llama2-7b", "--tokens", "0"], "'--tokens': Input should be greater than"),
        (["cost", str(bad_cfg)], "hidden_size: got -4"),
        (["cost", str(short.parent)], "missing key 'intermediate_size'"),
        (["cost", "llama2-7b", "--tokens", "-3"], "'--tokens': Input should be greater than"),
        (["cost", "llama2-7b", "--kv", "-1"], "'--kv': Input should be greater than"),
        (["cost", "llama2-7b", "--phase", "decode"], "phase: got 'decode'"),
        (["cost", "llama2-7b", "--platform", "npu-lpddr5", "--device", "pim"], "placement"),
        (["cost", "llama2-7b", "--device", "lpddr5"], "device: got 'lpddr5'"),
        (["cost", "llama2-7b", "--set", "pim.nalu=3"], "pim.nalu: unknown field"),
        (["cost", "llama2-7b", "--precision", "fp8"], "precision: got 'fp8'"),
    ]
    for args, msg in cases:
        run = cli(args)
        assert run.code == 2, (args, run.err)
        assert run.err.count("\n") == 1 and msg in run.err and "Traceback" not in run.err


def test_calibrate_host_writes_preset(cli, tmp_path):
    out = tmp_path / "host.yaml"
    run = cli(["calibrate-host", "--out", str(out), "--seconds", "0.05"])
    assert run.code == 0 and out.is_file() and "GFLOP/s" in run.out
