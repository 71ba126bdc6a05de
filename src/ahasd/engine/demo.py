"""Demo model pair trained here, on the Python standard library's own source files.

Every machine with Python has this corpus, so ``ahasd demo-models`` needs no download. The
tokenizer is byte-level (256 byte tokens + ``<|endoftext|>``), built with ``tokenizers`` and saved
so ``AutoTokenizer`` loads it offline. Training is deterministic for a seed: fixed step counts,
batch offsets from a numpy Generator, torch seeded once.
"""

from __future__ import annotations

import math
import sysconfig
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ahasd.engine.loading import _transformers
from ahasd.errors import field_error
from ahasd.fileio import replace_dir
from ahasd.validation import json_text

EOS = "<|endoftext|>"
TRAINING_LOG = "training.json"  # written last: marks a folder demo-models made
VOCAB = 257  # 256 bytes + EOS


@dataclass(frozen=True, slots=True)
class ArchSpec:
    hidden: int
    layers: int
    heads: int
    ffn: int
    steps: int
    lr: float


@dataclass(frozen=True, slots=True)
class DemoSize:
    """Corpus bytes, sequence length, batch size, the two architectures, torch threads.

    ``threads`` None keeps torch's default (one per core). The small sizes train on one thread:
    their operators are too small to split, and two threads made a step 4x dearer in CPU time
    (and slower in wall time) on a 2-core host shared with other jobs.
    """

    corpus_bytes: int
    seq_len: int
    batch: int
    target: ArchSpec
    draft: ArchSpec
    threads: int | None = None


SIZES = {
    # ~10.7M / ~1.4M parameters; step counts sized for <= 15 min on 2 cores (docs/engine.md)
    "full": DemoSize(
        4_000_000,
        128,
        16,
        ArchSpec(384, 6, 6, 1024, 330, 1.5e-3),
        ArchSpec(192, 3, 3, 512, 500, 3e-3),
    ),
    # a few seconds: quick experiments
    "small": DemoSize(
        200_000, 32, 8, ArchSpec(48, 2, 4, 96, 60, 3e-3), ArchSpec(24, 1, 2, 48, 60, 3e-3), 1
    ),
    # tests: about a second
    "tiny": DemoSize(
        50_000, 32, 4, ArchSpec(32, 1, 4, 64, 25, 3e-3), ArchSpec(16, 1, 2, 32, 25, 3e-3), 1
    ),
}


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map, used by the ByteLevel pre-tokenizer."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = list(bs), 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs, strict=True)}


def build_tokenizer() -> Any:
    """Byte-level tokenizer whose token id equals the byte value (EOS = 256)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab = {ch: b for b, ch in _bytes_to_unicode().items()}
    vocab[EOS] = 256
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([EOS])
    tf = _transformers()
    return tf.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS)


def stdlib_corpus(n_bytes: int) -> np.ndarray:
    """The first ``n_bytes`` of the stdlib's .py files (sorted paths), as byte ids."""
    root = Path(sysconfig.get_paths()["stdlib"])
    chunks, total = [], 0
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts or "test" in path.parts:
            continue
        data = path.read_bytes() + b"\n"
        chunks.append(data)
        total += len(data)
        if total >= n_bytes:
            break
    return np.frombuffer(b"".join(chunks)[:n_bytes], dtype=np.uint8).astype(np.int64)


def _model(spec: ArchSpec, seq_len: int) -> Any:
    tf = _transformers()
    cfg = tf.LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=spec.hidden,
        intermediate_size=spec.ffn,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.heads,
        max_position_embeddings=max(2048, 4 * seq_len),
        tie_word_embeddings=True,
        bos_token_id=256,
        eos_token_id=256,
    )
    return tf.LlamaForCausalLM(cfg)


def train_one(
    spec: ArchSpec, data: np.ndarray, size: DemoSize, seed: int, progress: Any = None
) -> tuple[Any, list[float]]:
    """Next-byte training with AdamW and a cosine schedule; returns the model and loss curve.

    ``progress(step, steps, loss)``, when given, is called after every step.
    """
    threads = torch.get_num_threads()
    if size.threads is not None:
        torch.set_num_threads(size.threads)
    try:
        return _train(spec, data, size, seed, progress)
    finally:
        torch.set_num_threads(threads)


def _train(
    spec: ArchSpec, data: np.ndarray, size: DemoSize, seed: int, progress: Any
) -> tuple[Any, list[float]]:
    torch.manual_seed(seed)
    model = _model(spec, size.seq_len)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    opt = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=0.01)
    n = len(data) - size.seq_len - 1
    losses: list[float] = []
    model.train()
    for step in range(spec.steps):
        lr = spec.lr * 0.5 * (1 + math.cos(math.pi * step / spec.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = rng.integers(0, n, size=size.batch)
        x = torch.from_numpy(np.stack([data[s : s + size.seq_len + 1] for s in starts]))
        loss = _loss(model, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        if progress is not None:
            progress(step + 1, spec.steps, losses[-1])
    return model.eval(), losses


def _loss(model: Any, x: torch.Tensor) -> torch.Tensor:
    logits = model(input_ids=x[:, :-1]).logits
    return torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), x[:, 1:].reshape(-1))


def _reporter(progress: Any, label: str) -> Any:
    return lambda step, steps, loss: progress(label, step, steps, f"loss {loss:.3f}")


def make_demo_models(
    out: str | Path, *, size: str = "full", seed: int = 0, progress: Any = None
) -> dict:
    """Train and save ``out/target`` and ``out/draft`` (config.json, safetensors, tokenizer).

    ``progress(label, step, steps, note)``, when given, follows each model's training.
    """
    if size not in SIZES:
        raise field_error("size", size, ", ".join(SIZES))
    spec = SIZES[size]
    out = Path(out)
    data = stdlib_corpus(spec.corpus_bytes)
    tok = build_tokenizer()
    summary: dict[str, Any] = {"size": size, "seed": seed, "corpus_bytes": int(len(data))}
    for role, arch, s in (("target", spec.target, seed), ("draft", spec.draft, seed + 1)):
        label = f"training the {role} ({arch.layers} x {arch.hidden})"
        report = None if progress is None else _reporter(progress, label)

        def fill(d: Path, arch: ArchSpec = arch, s: int = s, role: str = role, report=report):
            t0 = time.perf_counter()
            model, losses = train_one(arch, data, spec, s, report)
            model.save_pretrained(str(d), safe_serialization=True)
            tok.save_pretrained(str(d))
            info = {
                "params": sum(p.numel() for p in model.parameters()),
                "final_loss": float(np.mean(losses[-20:])),
                "train_s": time.perf_counter() - t0,
                "arch": asdict(arch),
            }
            (d / TRAINING_LOG).write_text(json_text({**info, "losses": losses}, indent=1))
            summary[role] = info

        # built beside out/ROLE and swapped in whole: an interrupted run leaves no model folder
        # that passes the model check and then fails to load
        replace_dir(out / role, fill, mine=TRAINING_LOG)
    return summary
