"""Model shapes: parsing of each family, parameter counts, precision, bad input."""

from __future__ import annotations

import json

import pytest

from ahasd.errors import AhasdError
from ahasd.models import (
    PRECISIONS,
    bundled_info,
    bytes_per_param,
    list_models,
    load_model,
    shape_from_config,
)

EXPECTED = {"llama-68m", "vicuna-68m", "llama-160m", "llama2-7b", "llama2-13b", "vicuna-7b",
            "opt-125m", "opt-1.3b", "opt-6.7b", "palm-like-8b", "palm-like-30b", "qwen2.5-0.5b",
            "qwen2.5-7b", "llama-3.2-1b", "llama-3.2-3b"}  # fmt: skip


def test_all_issue_models_are_bundled():
    assert set(list_models()) >= EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_param_count_within_two_percent_of_published(name):
    published = bundled_info(name)["_published_params"]
    assert abs(load_model(name).params / published - 1) < 0.02


def test_llama2_7b_hand_count():
    s = load_model("llama2-7b")
    layer = 4 * 4096 * 4096 + 3 * 4096 * 11008 + 2 * 4096
    assert s.params == 32 * layer + 2 * 32000 * 4096 + 4096  # = 6,738,415,616
    assert s.params == 6_738_415_616


def test_precision_sets_weight_and_kv_bytes():
    s = load_model("llama2-7b")
    assert PRECISIONS == ("fp32", "fp16", "bf16", "int8", "int4")
    assert [bytes_per_param(p) for p in PRECISIONS] == [4, 2, 2, 1, 0.5]
    assert s.weight_bytes("fp16") == 2 * s.weight_bytes("int8")
    assert s.weight_bytes("int4") == s.params // 2
    assert s.kv_bytes_per_token("int8") == 2 * 32 * 4096
    assert s.kv_bytes_per_token("fp32") == 4 * 2 * 32 * 4096
    with pytest.raises(AhasdError, match="precision"):
        s.weight_bytes("fp8")


def _write(tmp_path, cfg):
    path = tmp_path / "m" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(cfg))
    return path


def test_gqa_mistral_from_directory(tmp_path):
    cfg = {"model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336,
           "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
           "vocab_size": 32000, "hidden_act": "silu"}  # fmt: skip
    s = load_model(str(_write(tmp_path, cfg).parent))
    assert (s.n_kv_heads, s.head_dim, s.kv_dim, s.gated_ffn) == (8, 128, 1024, True)
    assert s.name == "m"
    assert abs(s.params / 7.24e9 - 1) < 0.02  # Mistral-7B: 7.24B


def test_gpt2_keys(tmp_path):
    cfg = {
        "model_type": "gpt2",
        "n_embd": 768,
        "n_layer": 12,
        "n_head": 12,
        "n_inner": None,
        "vocab_size": 50257,
        "n_positions": 1024,
        "activation_function": "gelu_new",
    }
    s = load_model(str(_write(tmp_path, cfg)))
    assert (s.ffn_hidden, s.norm, s.activation, s.tied_embeddings) == (
        3072,
        "layernorm",
        "gelu",
        True,
    )
    assert abs(s.params / 124.4e6 - 1) < 0.02  # GPT-2 small: 124M


def test_palm_mqa_and_opt():
    palm = load_model("palm-like-8b")
    assert (palm.n_kv_heads, palm.head_dim, palm.tied_embeddings) == (1, 256, True)
    opt = load_model("opt-1.3b")
    assert (opt.activation, opt.gated_ffn, opt.learned_positions) == ("relu", False, True)
    qwen = load_model("qwen2.5-0.5b")
    assert qwen.qkv_bias and qwen.n_kv_heads == 2


@pytest.mark.parametrize(
    ("patch", "match"),
    [
        ({"hidden_size": None}, "missing key 'hidden_size'"),
        ({"num_hidden_layers": -3}, "num_hidden_layers: got -3"),
        ({"vocab_size": 0}, "vocab_size"),
        ({"model_type": "bert"}, "model_type: got 'bert'"),
        ({"num_key_value_heads": 5}, "num_key_value_heads"),
        ({"hidden_act": "tanh"}, "hidden_act"),
    ],
)
def test_bad_config_names_the_field(patch, match):
    cfg = {
        "model_type": "llama",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "vocab_size": 100,
    }
    cfg.update(patch)
    cfg = {k: v for k, v in cfg.items() if v is not None}
    with pytest.raises(AhasdError, match=match):
        shape_from_config(cfg, "bad")


def test_unknown_model_and_bad_json(tmp_path):
    with pytest.raises(AhasdError, match="model: got 'nope'"):
        load_model("nope")
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    with pytest.raises(AhasdError, match="not valid JSON"):
        load_model(str(bad))
