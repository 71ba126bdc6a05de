"""Record token traces from real models by teacher-forcing the target's own output.

For every generated position the target's token is fixed; one forward of each model over the
whole sequence gives p and q at every position, from which the trace schema's columns follow
(docs/dev/contracts.md, traces; docs/traces.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ahasd.engine.decode import target_only
from ahasd.engine.kv import CachedLM
from ahasd.engine.loading import ModelPair, check_positions
from ahasd.engine.run import encode_prompt
from ahasd.engine.sampling import SamplingConfig, probs
from ahasd.errors import AhasdError, field_error

GENERATOR_VERSION = "engine-record-1"


def read_prompts(path: str | Path) -> list[str]:
    """One prompt per line (.txt) or a JSON-lines file with a "prompt"/"text" field (.jsonl)."""
    import json

    p = Path(path)
    if not p.is_file():
        raise field_error("prompts", str(path), "an existing text or .jsonl file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise AhasdError(
            f"prompts: {p} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
            f"{exc.start})"
        ) from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if p.suffix == ".jsonl":
        try:
            lines = [str(json.loads(ln).get("prompt") or json.loads(ln)["text"]) for ln in lines]
        except (ValueError, KeyError, AttributeError) as exc:
            raise AhasdError(f"prompts: {p}: each line needs a 'prompt' or 'text' field") from exc
    if not lines:
        raise field_error("prompts", str(path), "a file with at least one non-empty prompt")
    return [ln.replace("\\n", "\n") for ln in lines]


def _entropy(pr: torch.Tensor) -> np.ndarray:
    logp = torch.where(pr > 0, pr.log(), torch.zeros_like(pr))
    return (-(pr * logp).sum(-1)).double().numpy()


@torch.inference_mode()
def position_stats(
    draft: Any, target: Any, prompt_ids: list[int], out_ids: list[int], cfg: SamplingConfig
) -> dict[str, np.ndarray]:
    """Per generated position: draft entropy/top-1, target rank in q, beta, target entropy."""
    seq = list(prompt_ids) + list(out_ids)
    n0, n = len(prompt_ids), len(out_ids)
    dl, tl = CachedLM(draft), CachedLM(target)
    q = probs(dl.step(seq[:-1])[n0 - 1 :], cfg)
    p = probs(tl.step(seq[:-1])[n0 - 1 :], cfg)
    tok = torch.tensor(out_ids[:n])
    q_tok = q.gather(1, tok[:, None])
    return {
        "draft_entropy": _entropy(q),
        "draft_top1_prob": q.max(-1).values.double().numpy(),
        "target_rank": (q > q_tok).sum(-1).numpy().astype(np.int32),
        "accept_prob": torch.minimum(p, q).sum(-1).double().numpy(),
        "target_entropy": _entropy(p),
    }


def record_trace(
    pair: ModelPair,
    prompts: list[str],
    *,
    max_new_tokens: int = 128,
    sampling: SamplingConfig | None = None,
    dataset: str = "prompts",
    progress: Any = None,
) -> Any:
    """A TokenTrace whose rows are the target's generated positions, prompts concatenated.

    ``progress(label, done, total)``, when given, is called as each prompt finishes.
    """
    from ahasd.traces import TokenTrace, TraceMeta

    cfg = sampling or SamplingConfig()
    cols: dict[str, list[np.ndarray]] = {}
    encoded = [encode_prompt(pair, text) for text in prompts]
    longest = max(len(ids) for ids in encoded)
    check_positions(pair, "max_new_tokens", max_new_tokens, longest + max_new_tokens,
                    "the longest prompt + new tokens")  # fmt: skip
    for i, ids in enumerate(encoded):
        run_cfg = SamplingConfig(cfg.temperature, cfg.top_k, cfg.top_p, cfg.seed + i)
        out = target_only(pair.target, ids, sampling=run_cfg, max_new_tokens=max_new_tokens)
        for k, v in position_stats(pair.draft, pair.target, ids, out.tokens, cfg).items():
            cols.setdefault(k, []).append(v)
        if progress is not None:
            progress(f"recording {max_new_tokens} tokens per prompt", i + 1, len(prompts))
    meta = TraceMeta(
        pair=pair.name,
        dataset=dataset,
        temperature=cfg.temperature,
        source="recorded",
        seed=cfg.seed,
        generator_version=GENERATOR_VERSION,
        profile=None,
    )
    return TokenTrace(**{k: np.concatenate(v) for k, v in cols.items()}, meta=meta)
