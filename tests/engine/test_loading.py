"""Loading is local-only and checked; bad input is one line and exit code 2; demo models are
deterministic; the CLI's JSON has the documented keys."""

from __future__ import annotations

import json
import shutil

import pytest

torch = pytest.importorskip("torch")

from ahasd.engine.loading import load_pair  # noqa: E402
from ahasd.errors import AhasdError  # noqa: E402

pytestmark = pytest.mark.engine


def test_hub_ids_and_missing_dirs_are_refused(demo_dirs):
    draft, _ = demo_dirs
    with pytest.raises(AhasdError, match="local model directory"):
        load_pair(draft, "meta-llama/Llama-2-7b-hf")


def test_directory_without_safetensors_is_refused(demo_dirs, tmp_path):
    draft, target = demo_dirs
    bad = tmp_path / "nosafe"
    shutil.copytree(target, bad)
    (bad / "model.safetensors").unlink()
    with pytest.raises(AhasdError, match="safetensors"):
        load_pair(draft, bad)


def test_mismatched_vocabulary_is_refused(demo_dirs, tmp_path):
    from tests.engine.engine_helpers import tiny_llama

    draft, _ = demo_dirs
    other = tmp_path / "other"
    tiny_llama(300, 16, 1, seed=0).save_pretrained(other)
    with pytest.raises(AhasdError, match="vocab"):
        load_pair(draft, other)


def test_pair_loads_offline_and_tokenizer_round_trips(demo_dirs):
    pair = load_pair(*demo_dirs)
    text = "def f(x):\n    return x  # é"
    assert pair.tokenizer.decode(pair.tokenizer(text)["input_ids"]) == text


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--draft", "/no/such/dir"], "--draft"),
        (["--draft", "llama2-7b"], "demo-models"),
        (["--prompt", ""], "prompt"),
        (["--torch-device", "cuda:7"], "device"),
        (["--dtype", "int3"], "dtype"),
    ],
)
def test_bad_generate_input_is_one_line_exit_2(cli, demo_dirs, args, needle):
    if needle == "device" and torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    base = {"--draft": str(demo_dirs[0]), "--target": str(demo_dirs[1]), "--prompt": "import"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [x for kv in base.items() for x in kv]
    run = cli(["generate", *flat])
    assert run.code == 2
    assert needle in run.err and len(run.err.strip().splitlines()) == 1


def test_generate_json_keys(cli, demo_dirs):
    run = cli(["generate", "--draft", str(demo_dirs[0]), "--target", str(demo_dirs[1]),
               "--prompt", "import os\n", "--tokens", "12", "--json"])  # fmt: skip
    assert run.code == 0, run.err
    out = json.loads(run.out)
    for key in ("tokens_per_s", "tau", "mean_draft_len", "text", "acceptance_rate"):
        assert key in out
    assert out["new_tokens"] <= 12 and out["tau"] >= 1.0


def test_generate_async_json(cli, demo_dirs):
    run = cli(["generate", "--draft", str(demo_dirs[0]), "--target", str(demo_dirs[1]),
               "--prompt", "class A:", "--tokens", "12", "--async", "--json",
               "--no-edc", "--no-tvc"])  # fmt: skip
    assert run.code == 0, run.err
    out = json.loads(run.out)
    assert {"overlap_fraction", "wasted_draft_fraction", "draft_idle_s"} <= set(out)


def test_demo_models_are_deterministic(demo_dirs, tmp_path):
    from ahasd.engine.demo import SIZES, make_demo_models

    calls = []
    make_demo_models(tmp_path, size="tiny", seed=0, progress=lambda *call: calls.append(call))
    labels = list(dict.fromkeys(call[0] for call in calls))
    assert len(labels) == 2 and "target" in labels[0] and "draft" in labels[1]
    steps = SIZES["tiny"].target.steps
    assert [c[1:3] for c in calls if c[0] == labels[0]] == [(i, steps) for i in range(1, steps + 1)]
    assert all(c[3].startswith("loss ") for c in calls)
    for role in ("draft", "target"):
        a = (demo_dirs[0].parent / role / "model.safetensors").read_bytes()
        assert a == (tmp_path / role / "model.safetensors").read_bytes()


def _damaged_copy(target, tmp_path, name: str):
    """A copy of the demo target with one thing broken (issue 17, defect 5)."""
    bad = tmp_path / name
    shutil.copytree(target, bad)
    weights = bad / "model.safetensors"
    if name == "truncated":
        data = weights.read_bytes()
        weights.write_bytes(data[: len(data) // 2])
    elif name == "random":
        weights.write_bytes(bytes(range(256)) * 20)
    elif name == "wider-config":
        cfg = json.loads((bad / "config.json").read_text())
        cfg.update(hidden_size=2 * cfg["hidden_size"], head_dim=2 * cfg["head_dim"])
        (bad / "config.json").write_text(json.dumps(cfg))
    return bad


@pytest.mark.parametrize(
    "name,needle",
    [
        ("truncated", "is damaged (truncated, or not a safetensors file)"),
        ("random", "is damaged (truncated, or not a safetensors file)"),
        ("wider-config", "do not match config.json"),
    ],  # fmt: skip
)
def test_damaged_weights_are_one_line(cli, demo_dirs, tmp_path, name, needle):
    bad = _damaged_copy(demo_dirs[1], tmp_path, name)
    run = cli(["generate", "--draft", demo_dirs[0], "--target", bad, "--prompt", "x"])
    lines = run.err.strip().splitlines()
    assert run.code == 2 and len(lines) == 1 and needle in lines[0], run.err
    assert lines[0].startswith("error: target: ")


def test_lengths_past_the_models_positions_are_refused(cli, demo_dirs):
    from ahasd.engine.loading import position_limit

    limit = position_limit(load_pair(*demo_dirs))
    d, t = (str(x) for x in demo_dirs)
    run = cli(["generate", "--draft", d, "--target", t, "--prompt", "ab", "--tokens",
               str(limit)])  # fmt: skip
    assert run.code == 2 and f"max_position_embeddings ({limit})" in run.err, run.err
    run = cli(["validate", "--draft", d, "--target", t, "--kv", str(limit)])
    assert run.code == 2 and "kv: got" in run.err and f"({limit})" in run.err, run.err


def test_non_utf8_prompts_are_one_line(cli, demo_dirs, tmp_path):
    prompts = tmp_path / "p.txt"
    prompts.write_bytes(b"def f():\n\xff\xfe\n")
    d, t = (str(x) for x in demo_dirs)
    run = cli(["trace", "record", "--draft", d, "--target", t, "--prompts", prompts,
               "-o", tmp_path / "t.parquet"])  # fmt: skip
    assert run.code == 2 and "not UTF-8 text (byte 0xff at offset 9)" in run.err, run.err
    run = cli(["generate", "--draft", d, "--target", t, "--prompt", "a\udcff"])
    assert run.code == 2 and "prompt: got '\\udcff'; accepted: UTF-8 text" in run.err, run.err


def test_an_interrupted_demo_build_leaves_no_model_folder(tmp_path, monkeypatch):
    import ahasd.engine.demo as demo

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "train_one", interrupted)
    with pytest.raises(KeyboardInterrupt):
        demo.make_demo_models(tmp_path / "demo", size="tiny")
    assert not (tmp_path / "demo").exists()
