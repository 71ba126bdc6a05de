"""A model plus its KV cache, with rollback to an accepted length and tree-masked steps.

Invariant kept by the decode loops: the cache holds exactly ``tokens[:length]`` of the sequence
the caller tracks, so "feed what is missing" is always correct after a rollback.

Two backends: Llama-architecture models run through :mod:`ahasd.engine.lean` (preallocated KV,
rollback by length, few kernels per layer); anything else, and compiled graphs, run through the
Hugging Face forward with a ``DynamicCache``.
"""

from __future__ import annotations

from typing import Any

import torch

from ahasd.engine import lean


class CachedLM:
    """One causal LM with its KV cache; every step returns fp32 logits [n, vocab].

    ``fast=False`` forces the Hugging Face forward even for a supported Llama (benchmarks use
    it to show what the lean path is worth).
    """

    def __init__(
        self, model: Any, compiled: Any = None, widths: tuple[int, ...] = (), fast: bool = True
    ) -> None:
        self.model = model
        self.step_fn = model if compiled is None else compiled
        self.widths = tuple(sorted(widths))  # compiled graphs: pad steps to these widths
        self.device = next(model.parameters()).device
        self.cache: Any = None
        self.length = 0
        self.lean = (
            lean.LeanLlama(model) if fast and compiled is None and lean.supports(model) else None
        )
        self._kw = _cache_kwarg(model)

    @classmethod
    def compiled(cls, model: Any, widths: tuple[int, ...] = (1, 2, 4, 8, 16)) -> CachedLM:
        """Steps through ``torch.compile`` (dynamic KV length) with verify widths padded to a
        fixed set, so only a few graphs are built (the edge-SD paper's compiled flow)."""
        return cls(model, torch.compile(model, dynamic=True), widths)

    def reset(self) -> None:
        self.cache, self.length = None, 0

    @property
    def cached_length(self) -> int:
        """Positions actually held by the backend's cache (tests check it equals ``length``)."""
        if self.lean is not None:
            return self.length
        return 0 if self.cache is None else self.cache.get_seq_length()

    def _new_cache(self) -> Any:
        from transformers import DynamicCache

        return DynamicCache(config=self.model.config)

    @torch.inference_mode()
    def step(self, tokens: list[int], last: bool = False) -> torch.Tensor:
        """Append ``tokens`` causally; logits for each of them (only the last if ``last``)."""
        if self.lean is not None:
            n, start = len(tokens), self.length
            ids = torch.tensor(tokens, dtype=torch.long, device=self.device)
            pos = torch.arange(start, start + n, device=self.device)
            mask = None
            if n > 1:  # causal with an offset: query i sees keys [0, start + i]
                keys = torch.arange(start + n, device=self.device)
                mask = keys[None, :] <= pos[:, None]
            out = self.lean.forward(ids, start, pos, mask, last)
            self.length += n
            return out
        if self.cache is None:
            self.cache = self._new_cache()
        n = len(tokens)
        width = next((w for w in self.widths if w >= n), n)
        padded = list(tokens) + [tokens[-1]] * (width - n)  # causal: padding never leaks back
        ids = torch.tensor([padded], dtype=torch.long, device=self.device)
        pos = torch.arange(self.length, self.length + width, device=self.device)[None]
        out = self.step_fn(
            input_ids=ids, position_ids=pos, use_cache=True, **{self._kw: self.cache}
        )
        self.length += width
        if width > n:
            self.rollback(self.length - (width - n))
        return out.logits[0, n - 1 : n].float() if last else out.logits[0, :n].float()

    def begin_tree(self) -> None:
        """Mark the cache position where a tree segment starts (nodes index from here)."""
        self.tree_start, self.tree_rows = self.length, []

    @torch.inference_mode()
    def step_tree(self, tokens: list[int], parents: list[int], depths: list[int]) -> torch.Tensor:
        """Append tree nodes; a node sees the prefix before the tree, its ancestors and itself.

        ``parents`` index the tree segment since :meth:`begin_tree` (-1 = attached to the
        prefix); positions are tree start + depth ([specinfer]).
        """
        n, seg0 = len(tokens), self.length - self.tree_start
        for i, par in enumerate(parents):
            row = torch.zeros(seg0 + n, dtype=torch.bool)
            if par >= 0:
                prow = self.tree_rows[par]
                row[: prow.shape[0]] = prow
            row[seg0 + i] = True
            self.tree_rows.append(row)
        rows = torch.stack([r[: seg0 + n] for r in self.tree_rows[seg0:]])
        allowed = torch.cat([torch.ones(n, self.tree_start, dtype=torch.bool), rows], dim=1)
        if self.lean is not None:
            pos = torch.tensor([self.tree_start + d for d in depths], device=self.device)
            ids = torch.tensor(tokens, dtype=torch.long, device=self.device)
            out = self.lean.forward(ids, self.length, pos, allowed.to(self.device), False)
            self.length += n
            return out
        if self.cache is None:
            self.cache = self._new_cache()
        mask = allowed[None, None].to(self.device)
        if self.model.config._attn_implementation == "eager" or self.model.dtype != torch.float32:
            mask = torch.zeros(mask.shape, dtype=self.model.dtype, device=self.device).masked_fill(
                ~mask, torch.finfo(self.model.dtype).min
            )
        ids = torch.tensor([tokens], dtype=torch.long, device=self.device)
        pos = [self.tree_start + d for d in depths]
        out = self.model(
            input_ids=ids,
            position_ids=torch.tensor([pos], dtype=torch.long, device=self.device),
            attention_mask=mask,
            use_cache=True,
            **{self._kw: self.cache},
        )
        self.length += n
        return out.logits[0].float()

    def rollback(self, length: int) -> None:
        """Drop every cached position from ``length`` on (rejection squashes them)."""
        if self.lean is not None:
            self.length = min(self.length, length)  # the buffer stays; later steps overwrite
            return
        if self.cache is not None and length < self.length:
            self.cache.crop(length - self.length)  # negative: remove that many (transformers 5)
            self.length = length

    def keep(self, start: int, offsets: list[int]) -> None:
        """Keep positions [0, start) plus start+offsets, compacted (the accepted tree path)."""
        if self.lean is not None:
            self.lean.compact(start, offsets)
            self.length = start + len(offsets)
            return
        idx = torch.tensor(list(range(start)) + [start + o for o in offsets], device=self.device)
        for layer in self.cache.layers:
            layer.keys = layer.keys.index_select(-2, idx)
            layer.values = layer.values.index_select(-2, idx)
        self.length = len(idx)


def _cache_kwarg(model: Any) -> str:
    """``cache`` on newer transformers 5.x forwards, ``past_key_values`` on older ones."""
    import inspect

    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover - exotic wrappers
        return "past_key_values"
    return "cache" if "cache" in params else "past_key_values"
