"""Load a local Hugging Face causal-LM pair: offline by construction, safetensors only.

Anything that is not an existing local directory is refused before transformers is touched, and
``HF_HUB_OFFLINE``/``local_files_only`` make a download impossible even by accident.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ahasd.errors import AhasdError, field_error

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def _transformers() -> Any:
    """Import transformers lazily, offline, with one clear error when it is missing."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        import transformers
    except ImportError as exc:  # pragma: no cover - only without the extra
        from ahasd.engine import INSTALL_HINT

        raise AhasdError(f"ahasd.engine needs transformers; {INSTALL_HINT}") from exc
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


def check_model_dir(path: str | os.PathLike, field: str) -> Path:
    """A model must be an existing local directory with config.json and *.safetensors weights."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise field_error(field, str(path), "an existing local model directory (no hub ids)")
    if not (p / "config.json").is_file():
        raise field_error(field, str(path), "a directory containing config.json")
    if not any(p.glob("*.safetensors")):
        raise field_error(field, str(path), "a directory with *.safetensors weights")
    return p


def resolve_device(device: str) -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N``; CUDA without a visible GPU is an input error."""
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise field_error("device", device, "cpu (no CUDA GPU is visible on this machine)")
        return torch.device(device)
    raise field_error("device", device, "cpu, cuda, cuda:N")


def resolve_dtype(dtype: str) -> torch.dtype:
    if dtype not in DTYPES:
        raise field_error("dtype", dtype, ", ".join(DTYPES))
    return DTYPES[dtype]


def check_safetensors(path: Path, field: str) -> None:
    """A safetensors file's header must parse and its tensors must fill the file exactly.

    Checked here, before transformers, so a truncated download or a file of random bytes is one
    line naming the file rather than the parser's own exception.
    """
    size = path.stat().st_size
    damaged = f"{field}: {path} is damaged (truncated, or not a safetensors file)"
    with open(path, "rb") as fh:
        head = fh.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        if not 0 < n <= min(size - 8, 100 * 2**20):
            raise AhasdError(damaged)
        try:
            header = json.loads(fh.read(n))
            ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            raise AhasdError(damaged) from None
    if 8 + n + max(ends, default=0) != size:
        raise AhasdError(damaged)


def load_causal_lm(path: Path, field: str, device: torch.device, dtype: torch.dtype) -> Any:
    """Load weights from safetensors and fail on any missing, unexpected or mis-shaped key."""
    tf = _transformers()
    for weights in sorted(path.glob("*.safetensors")):
        check_safetensors(weights, field)
    try:
        model, info = tf.AutoModelForCausalLM.from_pretrained(
            str(path),
            local_files_only=True,
            use_safetensors=True,
            dtype=dtype,
            output_loading_info=True,
            ignore_mismatched_sizes=True,  # reported below as one line, with the keys
        )
    except Exception as exc:  # any failure to load a user's folder is bad input, not a bug here
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise AhasdError(f"{field}: cannot load {path}: {first}") from exc
    tied = {"lm_head.weight"} if getattr(model.config, "tie_word_embeddings", False) else set()
    bad = [k for k in info.get("missing_keys", []) if k not in tied]
    bad += list(info.get("unexpected_keys", []))
    bad += [str(m[0] if isinstance(m, tuple) else m) for m in info.get("mismatched_keys", [])]
    if bad:
        raise AhasdError(f"{field}: weights in {path} do not match config.json: {bad[:3]}")
    return model.to(device).eval()


def position_limit(pair: ModelPair) -> int:
    """The longest sequence both models accept (``max_position_embeddings``; 2**31 if unset)."""
    models = (pair.draft, pair.target)
    return int(min(getattr(m.config, "max_position_embeddings", None) or 2**31 for m in models))


def check_positions(pair: ModelPair, field: str, value: int, needed: int, what: str) -> None:
    """Refuse a length that would run past the models' positions (``needed`` of them in all)."""
    limit = position_limit(pair)
    if needed > limit:
        most = value - (needed - limit)
        raise field_error(
            field, value, f"at most {max(most, 0)} here: {what} must fit the models' "
            f"max_position_embeddings ({limit})",
        )  # fmt: skip


def load_tokenizer(path: Path) -> Any:
    tf = _transformers()
    try:
        return tf.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AhasdError(f"tokenizer: cannot load from {path}: {str(exc).splitlines()[0]}") from exc


@dataclass
class ModelPair:
    """A draft and a target sharing one tokenizer, on one device."""

    draft: Any
    target: Any
    tokenizer: Any
    device: torch.device
    dtype: torch.dtype
    draft_dir: Path
    target_dir: Path

    @property
    def name(self) -> str:
        return f"{self.draft_dir.name}->{self.target_dir.name}"


def check_same_vocab(draft: Any, target: Any, draft_tok: Any, target_tok: Any) -> None:
    """Speculative decoding compares token ids, so both models must index the same vocabulary."""
    dv, tv = draft.config.vocab_size, target.config.vocab_size
    if dv != tv:
        raise AhasdError(f"draft: vocab_size {dv} differs from the target's {tv}; need one vocab")
    if draft_tok is not None and draft_tok.get_vocab() != target_tok.get_vocab():
        raise AhasdError("draft: its tokenizer differs from the target's; need a shared tokenizer")


def load_pair(
    draft: str | os.PathLike,
    target: str | os.PathLike,
    *,
    device: str = "cpu",
    dtype: str = "fp32",
) -> ModelPair:
    """Load both models and the target's tokenizer; check they share one vocabulary."""
    ddir, tdir = check_model_dir(draft, "draft"), check_model_dir(target, "target")
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    tok = load_tokenizer(tdir)
    dtok = load_tokenizer(ddir) if any(ddir.glob("tokenizer*")) else None
    dm = load_causal_lm(ddir, "draft", dev, dt)
    tm = load_causal_lm(tdir, "target", dev, dt)
    check_same_vocab(dm, tm, dtok, tok)
    return ModelPair(dm, tm, tok, dev, dt, ddir, tdir)
