"""Glue between the CLI/benchmarks and the decode loops: build policy, controllers, runners."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ahasd.engine.async_decode import generate_async
from ahasd.engine.decode import GenerationResult, generate, require_policy, target_only
from ahasd.engine.kv import CachedLM
from ahasd.engine.loading import ModelPair, check_positions
from ahasd.engine.sampling import SamplingConfig
from ahasd.errors import field_error


def controllers(use_edc: bool, use_tvc: bool) -> tuple[Any, Any]:
    """AHASD's EDC (default config) and TVC in nanoseconds (policies/edc.py, policies/tvc.py)."""
    edc = tvc = None
    if use_edc:
        from ahasd.policies.edc import EDC, EdcConfig

        edc = EDC(EdcConfig())
    if use_tvc:
        from ahasd.policies.tvc import TVC, TvcConfig

        # software clocks: every table holds nanoseconds, so no PIM/NPU clock conversion, and
        # no hardware seeds: the tables start empty and fill with measured step times
        tvc = TVC(TvcConfig(pim_per_npu_clock=1.0, seeded=False))
    return edc, tvc


def runners(pair: ModelPair, compile_graphs: bool) -> tuple[CachedLM, CachedLM]:
    if compile_graphs:
        return CachedLM.compiled(pair.draft, widths=(1, 2)), CachedLM.compiled(pair.target)
    return CachedLM(pair.draft), CachedLM(pair.target)


def encode_prompt(pair: ModelPair, prompt: str) -> list[int]:
    if not prompt:
        raise field_error("prompt", prompt, "a non-empty string")
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as exc:  # bytes the shell could not decode (surrogate escapes)
        bad = exc.object[exc.start : exc.end]
        raise field_error("prompt", bad, "UTF-8 text") from None
    ids = pair.tokenizer(prompt)["input_ids"]
    if not ids:
        raise field_error("prompt", prompt, "text that encodes to at least one token")
    return list(ids)


def run_generation(
    pair: ModelPair,
    prompt: str,
    *,
    policy: str = "adaedl",
    policy_args: dict[str, Any] | None = None,
    sampling: SamplingConfig | None = None,
    max_new_tokens: int = 64,
    mode: str = "chain",
    use_async: bool = False,
    use_edc: bool = True,
    use_tvc: bool = True,
    queue_depth: int = 4,
    compile_graphs: bool = False,
    stream: Callable[[list[int]], None] | None = None,
    baseline: bool = False,
) -> GenerationResult:
    """One prompt through target-only, sync (chain/tree) or async speculative decoding."""
    ids = encode_prompt(pair, prompt)
    pol = None if baseline else require_policy(policy, **(policy_args or {}))
    ahead = 0 if pol is None else int(getattr(pol, "max_len", 0) or 0) + 1  # drafted past the end
    check_positions(pair, "max_new_tokens", max_new_tokens, len(ids) + max_new_tokens + ahead,
                    "prompt tokens + new tokens + the longest draft")  # fmt: skip
    d, t = runners(pair, compile_graphs)
    eos = pair.tokenizer.eos_token_id
    if baseline:
        res = target_only(t, ids, sampling=sampling, max_new_tokens=max_new_tokens, eos_id=eos)
    elif use_async:
        if mode != "chain":
            raise field_error("mode", mode, "chain (the async engine drafts chains)")
        edc, tvc = controllers(use_edc, use_tvc)
        res = generate_async(
            d, t, ids, policy=pol, sampling=sampling,
            max_new_tokens=max_new_tokens, edc=edc, tvc=tvc, queue_depth=queue_depth,
            eos_id=eos, stream=stream,
        )  # fmt: skip
    else:
        res = generate(
            d, t, ids, policy=pol, sampling=sampling,
            max_new_tokens=max_new_tokens, mode=mode, eos_id=eos, stream=stream,
        )  # fmt: skip
    res.text = pair.tokenizer.decode(res.tokens, skip_special_tokens=True)
    return res
