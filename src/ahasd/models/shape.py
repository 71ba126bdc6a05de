"""Transformer shapes read from a Hugging Face ``config.json``, without importing transformers.

Only the numbers that decide cost are kept: layer count, widths, head layout (MHA/GQA/MQA), FFN
size and gating, vocabulary, norm/activation kinds and embedding tying. Families: llama,
mistral, qwen2 (GQA, q/k/v bias), opt and gpt2 (learned positions, biases everywhere) and a
PaLM-like MQA family (``model_type: palm`` with ``multi_query: true``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ahasd.errors import AhasdError, field_error

PRECISIONS = ("fp32", "fp16", "bf16", "int8", "int4")
_BYTES = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
FAMILIES = ("llama", "mistral", "qwen2", "opt", "gpt2", "palm")


def bytes_per_param(precision: str) -> float:
    """Weight bytes per parameter (fp32 is what the real engine runs on CPU)."""
    try:
        return _BYTES[precision]
    except KeyError:
        raise field_error("precision", precision, ", ".join(PRECISIONS)) from None


def elem_bytes(precision: str) -> float:
    """Bytes per activation or KV element: the weight width, but at least one byte.

    int4 is a weight-only format here (activations and KV stay int8), which is how W4A8 mobile
    deployments run; every other precision keeps activations and KV at the weight width.
    """
    return max(1.0, bytes_per_param(precision))


@dataclass(frozen=True, slots=True)
class ModelShape:
    """The cost-relevant shape of a decoder-only transformer."""

    name: str
    family: str
    n_layers: int
    hidden: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    ffn_hidden: int
    gated_ffn: bool
    vocab: int
    norm: str
    activation: str
    tied_embeddings: bool
    max_positions: int
    qkv_bias: bool = False  # qwen2
    linear_bias: bool = False  # opt, gpt2: every linear layer has a bias
    learned_positions: bool = False  # opt, gpt2: a position-embedding table
    embed_dim: int = 0  # opt-350m's word_embed_proj_dim; 0 = hidden (no projections)

    @property
    def embed_width(self) -> int:
        """Width of the token embedding and LM head (OPT may project it to ``hidden``)."""
        return self.embed_dim or self.hidden

    @property
    def embed_projected(self) -> bool:
        return self.embed_width != self.hidden

    @property
    def q_dim(self) -> int:
        return self.n_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.n_kv_heads * self.head_dim

    def layer_params(self) -> int:
        """Parameters of one decoder layer (attention, FFN, two norms, biases)."""
        attn = self.hidden * (self.q_dim + 2 * self.kv_dim) + self.q_dim * self.hidden
        ffn = (3 if self.gated_ffn else 2) * self.hidden * self.ffn_hidden
        norms = 2 * self.hidden * (2 if self.norm == "layernorm" else 1)
        bias = 0
        if self.linear_bias:
            bias = self.q_dim + 2 * self.kv_dim + self.hidden + self.ffn_hidden + self.hidden
        elif self.qkv_bias:
            bias = self.q_dim + 2 * self.kv_dim
        return attn + ffn + norms + bias

    @property
    def params(self) -> int:
        """Total parameters, counting a tied LM head once."""
        embed = self.vocab * self.embed_width
        head = 0 if self.tied_embeddings else self.vocab * self.embed_width
        if self.embed_projected:  # project_in and project_out, no bias
            embed += 2 * self.embed_width * self.hidden
        pos = self.max_positions * self.hidden if self.learned_positions else 0
        final_norm = self.hidden * (2 if self.norm == "layernorm" else 1)
        return self.n_layers * self.layer_params() + embed + head + pos + final_norm

    def weight_bytes(self, precision: str) -> int:
        return math.ceil(self.params * bytes_per_param(precision))

    def kv_bytes_per_token(self, precision: str) -> int:
        """K and V of one token over all layers."""
        return math.ceil(2 * self.n_layers * self.kv_dim * elem_bytes(precision))


# --- parsing ------------------------------------------------------------------------------

_ACT = {"silu": "silu", "swish": "silu", "swiglu": "silu", "gelu": "gelu", "gelu_new": "gelu",
        "gelu_pytorch_tanh": "gelu", "gelu_fast": "gelu", "relu": "relu"}  # fmt: skip


def _int(cfg: dict, key: str, src: str, *, default: int | None = None, low: int = 1) -> int:
    value = cfg.get(key)
    if value is None:  # absent or JSON null (HF writes e.g. "num_key_value_heads": null)
        value = default
    if value is None:
        raise AhasdError(f"{src}: missing key {key!r} (a positive integer)")
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise field_error(f"{src}: {key}", value, f"an integer >= {low}")
    return value


def _activation(cfg: dict, key: str, src: str, default: str) -> str:
    raw = cfg.get(key, default)
    if raw not in _ACT:
        raise field_error(f"{src}: {key}", raw, ", ".join(sorted(_ACT)))
    return _ACT[raw]


def _family(cfg: dict, src: str) -> str:
    kind = cfg.get("model_type")
    if kind is None:
        raise AhasdError(f"{src}: missing key 'model_type' (one of {', '.join(FAMILIES)})")
    if kind not in FAMILIES:
        raise field_error(f"{src}: model_type", kind, ", ".join(FAMILIES))
    return kind


def shape_from_config(cfg: dict, name: str, src: str = "config.json") -> ModelShape:
    """Build a :class:`ModelShape` from a parsed HF config dict (AhasdError on bad input)."""
    if not isinstance(cfg, dict):
        raise AhasdError(f"{src}: expected a JSON object")
    family = _family(cfg, src)
    if family == "gpt2":
        hidden = _int(cfg, "n_embd", src)
        heads = _int(cfg, "n_head", src)
        layers = _int(cfg, "n_layer", src)
        ffn = _int(cfg, "n_inner", src, default=4 * hidden)
        kv_heads, gated, tied = heads, False, True
        act = _activation(cfg, "activation_function", src, "gelu_new")
        positions = _int(cfg, "n_positions", src, default=1024)
    else:
        hidden = _int(cfg, "hidden_size", src)
        heads = _int(cfg, "num_attention_heads", src)
        layers = _int(cfg, "num_hidden_layers", src)
        ffn_key = "ffn_dim" if family == "opt" else "intermediate_size"
        ffn = _int(cfg, ffn_key, src)
        positions = _int(cfg, "max_position_embeddings", src, default=2048)
        if family == "opt":
            kv_heads, gated = heads, False
            act = _activation(cfg, "activation_function", src, "relu")
        else:
            default_kv = 1 if cfg.get("multi_query") else heads
            kv_heads = _int(cfg, "num_key_value_heads", src, default=default_kv)
            gated = True
            act = _activation(cfg, "hidden_act", src, "silu")
        tied = bool(cfg.get("tie_word_embeddings", family in ("opt", "palm")))
    embed_dim = 0
    if family == "opt":
        embed_dim = _int(cfg, "word_embed_proj_dim", src, default=hidden)
        embed_dim = 0 if embed_dim == hidden else embed_dim
    head_dim = _int(cfg, "head_dim", src) if cfg.get("head_dim") is not None else None
    if head_dim is None:
        if hidden % heads:
            raise field_error(f"{src}: num_attention_heads", heads, f"a divisor of {hidden}")
        head_dim = hidden // heads
    if heads % kv_heads:
        raise field_error(f"{src}: num_key_value_heads", kv_heads, f"a divisor of {heads}")
    return ModelShape(
        name=name, family=family, n_layers=layers, hidden=hidden, n_heads=heads,
        n_kv_heads=kv_heads, head_dim=head_dim, ffn_hidden=ffn, gated_ffn=gated,
        vocab=_int(cfg, "vocab_size", src), norm="layernorm" if family in ("opt", "gpt2")
        else "rmsnorm", activation=act, tied_embeddings=tied, max_positions=positions,
        qkv_bias=family == "qwen2", linear_bias=family in ("opt", "gpt2"),
        learned_positions=family in ("opt", "gpt2"), embed_dim=embed_dim,
    )  # fmt: skip


def _bundled() -> dict[str, Path]:
    root = resources.files("ahasd.models") / "configs"
    return {Path(str(p)).stem: Path(str(p)) for p in root.iterdir() if str(p).endswith(".json")}


_BUNDLED = _bundled()
_CACHE: dict[str, ModelShape] = {}


def list_models() -> list[str]:
    return sorted(_BUNDLED)


def bundled_info(name: str) -> dict:
    """The bundled config's provenance fields (``_source``, ``_published_params``)."""
    cfg = json.loads(_BUNDLED[name].read_text())
    return {k: v for k, v in cfg.items() if k.startswith("_")}


def _read(path: Path, name: str) -> ModelShape:
    try:
        cfg = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise AhasdError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return shape_from_config(cfg, name, str(path))


def load_model(name_or_path: str) -> ModelShape:
    """A bundled model by name, a directory holding ``config.json``, or a config file."""
    key = str(name_or_path)
    if key in _CACHE:
        return _CACHE[key]
    if key in _BUNDLED:
        shape = _read(_BUNDLED[key], key)
    else:
        path = Path(key)
        if path.is_dir():
            path = path / "config.json"
        if not path.is_file():
            raise field_error(
                "model", key, f"a bundled name ({', '.join(list_models())}) or a config.json path"
            )
        stem = path.parent.name if path.name == "config.json" else path.stem
        shape = _read(path, stem)
    _CACHE[key] = shape
    return shape
