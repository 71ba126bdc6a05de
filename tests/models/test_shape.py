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

# Published sizes, typed here independently of the bundled configs (so editing a config's
# ``_published_params`` cannot make the 2% check pass): model cards and papers.
PUBLISHED = {
    "llama-68m": 68e6,  # JackFram/llama-68m model card
    "vicuna-68m": 68e6,  # double7/vicuna-68m (llama-68m fine-tune)
    "llama-160m": 160e6,  # JackFram/llama-160m model card
    "llama2-7b": 6.74e9,  # Llama 2 paper / HF card (6.74B)
    "llama2-13b": 13.0e9,  # Llama 2 paper Table 1 (13B; HF 13.0B)
    "vicuna-7b": 6.74e9,  # lmsys/vicuna-7b-v1.5 (Llama-2-7B fine-tune)
    "opt-125m": 125e6,  # OPT paper Table 1
    "opt-1.3b": 1.3e9,  # OPT paper Table 1
    "opt-6.7b": 6.7e9,  # OPT paper Table 1
    "palm-like-8b": 8.63e9,  # PaLM paper Table 1 (8.63B)
    "palm-like-30b": 30e9,  # AHASD's nominal size of its PaLM-like surrogate
    "qwen2.5-0.5b": 0.49e9,  # Qwen2.5 technical report Table 1 (0.49B)
    "qwen2.5-7b": 7.61e9,  # Qwen2.5 technical report Table 1 (7.61B)
    "llama-3.2-1b": 1.23e9,  # Meta Llama 3.2 model card (1.23B)
    "llama-3.2-3b": 3.21e9,  # Meta Llama 3.2 model card (3.21B)
}
EXPECTED = set(PUBLISHED)


def test_all_issue_models_are_bundled():
    assert set(list_models()) >= EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_param_count_within_two_percent_of_published(name):
    assert abs(load_model(name).params / PUBLISHED[name] - 1) < 0.02
    # the provenance field in the bundled config agrees with the published size
    assert abs(bundled_info(name)["_published_params"] / PUBLISHED[name] - 1) < 0.01


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


# Trimmed copies of public config.json files, with the keys we ignore left in (real configs
# carry many); each is checked against its published parameter count.
REAL_CONFIGS = {
    "llama": (
        {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_size": 4096,
            "intermediate_size": 11008,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "num_key_value_heads": None,
            "vocab_size": 32000,
            "rms_norm_eps": 1e-5,
            "max_position_embeddings": 2048,
            "hidden_act": "silu",
            "torch_dtype": "float16",
            "tie_word_embeddings": False,
            "rope_scaling": None,
        },
        6.74e9,
        (32, 32, 128),
    ),  # huggyllama/llama-7b (null kv heads = MHA)
    "qwen2": (
        {
            "model_type": "qwen2",
            "hidden_size": 1536,
            "intermediate_size": 8960,
            "num_hidden_layers": 28,
            "num_attention_heads": 12,
            "num_key_value_heads": 2,
            "vocab_size": 151936,
            "max_position_embeddings": 131072,
            "hidden_act": "silu",
            "sliding_window": 131072,
            "use_sliding_window": False,
            "rope_theta": 1e6,
            "tie_word_embeddings": True,
        },
        1.54e9,
        (12, 2, 128),
    ),  # Qwen/Qwen2.5-1.5B: 1.54B
    "opt": (
        {
            "model_type": "opt",
            "hidden_size": 1024,
            "ffn_dim": 4096,
            "num_hidden_layers": 24,
            "num_attention_heads": 16,
            "vocab_size": 50272,
            "max_position_embeddings": 2048,
            "word_embed_proj_dim": 512,
            "do_layer_norm_before": False,
            "activation_function": "relu",
            "enable_bias": True,
        },
        331e6,
        (16, 16, 64),
    ),  # facebook/opt-350m: 331M, embeddings projected 512 <-> 1024
    "palm": (
        {
            "model_type": "palm",
            "hidden_size": 4096,
            "intermediate_size": 16384,
            "num_hidden_layers": 32,
            "num_attention_heads": 16,
            "head_dim": 256,
            "multi_query": True,
            "vocab_size": 256000,
            "hidden_act": "swiglu",
        },
        8.63e9,
        (16, 1, 256),
    ),  # PaLM 8B (paper Table 1), MQA
}


@pytest.mark.parametrize("family", sorted(REAL_CONFIGS))
def test_real_config_files_parse_to_published_sizes(tmp_path, family):
    cfg, published, heads = REAL_CONFIGS[family]
    s = load_model(str(_write(tmp_path, cfg)))
    assert s.family == family
    assert (s.n_heads, s.n_kv_heads, s.head_dim) == heads
    assert abs(s.params / published - 1) < 0.02


def test_opt_projected_embeddings_show_in_ops(tmp_path):
    from ahasd.models import ops_for_phase, total

    s = load_model(str(_write(tmp_path, REAL_CONFIGS["opt"][0])))
    assert (s.embed_width, s.hidden) == (512, 1024)
    ops = {o.name: o for o in ops_for_phase(s, "verify", 4, 16)}
    assert (ops["lm-head"].k, ops["lm-head"].n) == (512, 50272)
    assert ops["embed-proj-in"].macs == ops["embed-proj-out"].macs == 4 * 512 * 1024
    # int8: the weights read are every linear layer, both projections, the LM head and the
    # gathered embedding rows
    layer_linear = 4 * 1024 * 1024 + 2 * 1024 * 4096
    expected = 24 * layer_linear + 2 * 512 * 1024 + 50272 * 512 + 4 * 512
    assert total(ops_for_phase(s, "verify", 4, 16), "weight_bytes") == expected
    plain = load_model("opt-125m")
    assert not plain.embed_projected
    assert "embed-proj-in" not in {o.name for o in ops_for_phase(plain, "draft", 1, 0)}


@pytest.mark.parametrize(
    ("patch", "match"),
    [
        ({"n_embd": -768}, "n_embd: got -768"),
        ({"n_layer": None}, "missing key 'n_layer'"),
        ({"n_inner": 0}, "n_inner: got 0"),
    ],
)
def test_bad_gpt2_config(patch, match):
    cfg = {"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257}
    cfg.update(patch)
    cfg = {k: v for k, v in cfg.items() if v is not None}
    with pytest.raises(AhasdError, match=match):
        shape_from_config(cfg, "bad")


def test_bad_head_dim_and_opt_proj():
    base = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
            "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100}  # fmt: skip
    with pytest.raises(AhasdError, match="head_dim: got 0"):
        shape_from_config({**base, "head_dim": 0}, "bad")
    opt = {**base, "model_type": "opt", "ffn_dim": 128, "word_embed_proj_dim": -1}
    with pytest.raises(AhasdError, match="word_embed_proj_dim: got -1"):
        shape_from_config(opt, "bad")
