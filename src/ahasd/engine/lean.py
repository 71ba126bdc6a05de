"""A lean forward pass for Llama-architecture models with a preallocated, length-indexed KV cache.

Why: for the small models speculative decoding drafts with, a step through the Hugging Face
module tree costs more in Python (module hooks, output dataclasses, mask builders, a
``torch.cat`` cache append that copies the whole cache every step) than in arithmetic. This
module runs the same maths on the model's own weights with a handful of torch calls per layer:
fused QKV and gate/up projections, one rotary pass over queries and keys together, keys and
values written in place into a buffer that doubles when full, so rollback is a length change and
nothing is copied. Models outside the supported Llama subset keep the Hugging Face path (see
:func:`supports`); tests check the logits match Hugging Face's to float tolerance.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812

_HAS_GQA = tuple(int(x) for x in torch.__version__.split(".")[:2]) >= (2, 5)  # enable_gqa
_STATIC_ROPE = {"default", "linear", "llama3", "yarn"}  # position tables fixed at load time


def supports(model: Any) -> bool:
    """True for a plain Llama decoder: SiLU MLP, no biases, static RoPE, full attention."""
    if type(model).__name__ != "LlamaForCausalLM":
        return False
    cfg = model.config
    rope = getattr(cfg, "rope_parameters", None) or getattr(cfg, "rope_scaling", None) or {}
    rope_type = rope.get("rope_type", rope.get("type", "default")) if isinstance(rope, dict) else ""
    return (
        getattr(cfg, "hidden_act", "") == "silu"
        and not getattr(cfg, "attention_bias", False)
        and not getattr(cfg, "mlp_bias", False)
        and getattr(cfg, "pretraining_tp", 1) == 1
        and rope_type in _STATIC_ROPE
        and hasattr(model.model, "rotary_emb")
        and (cfg.num_key_value_heads == cfg.num_attention_heads or _HAS_GQA)
    )


class LeanLlama:
    """Weights of one Llama model regrouped for few kernel launches, plus its KV buffers."""

    def __init__(self, model: Any, capacity: int = 256) -> None:
        cfg = model.config
        self.model = model
        self.heads = cfg.num_attention_heads
        self.kv_heads = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.heads
        self.eps = cfg.rms_norm_eps
        self.scale = self.head_dim**-0.5
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        base = model.model
        self.embed = base.embed_tokens.weight
        self.norm = base.norm.weight
        self.lm_head = model.lm_head.weight
        with torch.no_grad():
            self.layers = [
                (
                    lay.input_layernorm.weight,
                    torch.cat(
                        [
                            lay.self_attn.q_proj.weight,
                            lay.self_attn.k_proj.weight,
                            lay.self_attn.v_proj.weight,
                        ]
                    ),  # fmt: skip
                    lay.self_attn.o_proj.weight,
                    lay.post_attention_layernorm.weight,
                    torch.cat([lay.mlp.gate_proj.weight, lay.mlp.up_proj.weight]),
                    lay.mlp.down_proj.weight,
                )
                for lay in base.layers
            ]
        self.cos = self.sin = torch.empty(0)
        self.k: list[torch.Tensor] = []
        self.v: list[torch.Tensor] = []
        self._grow_rope(max(capacity, 64))
        self._alloc(capacity)

    # ---- buffers ------------------------------------------------------------------------------
    def _alloc(self, cap: int, keep: int = 0) -> None:
        """(Re)allocate KV buffers of ``cap`` positions, keeping the first ``keep``."""
        shape = (self.kv_heads, cap, self.head_dim)
        new_k = [torch.empty(shape, dtype=self.dtype, device=self.device) for _ in self.layers]
        new_v = [torch.empty(shape, dtype=self.dtype, device=self.device) for _ in self.layers]
        for old, new in zip(self.k + self.v, new_k + new_v, strict=False):
            new[:, :keep] = old[:, :keep]
        self.k, self.v = new_k, new_v

    @property
    def capacity(self) -> int:
        return self.k[0].shape[1]

    def _grow_rope(self, n: int) -> None:
        """cos/sin tables for positions [0, n) from the model's own rotary module."""
        pos = torch.arange(n, device=self.device)[None]
        probe = torch.zeros(1, dtype=self.dtype, device=self.device)
        with torch.no_grad():
            cos, sin = self.model.model.rotary_emb(probe, pos)
        self.cos, self.sin = cos[0][:, None, :], sin[0][:, None, :]  # [n, 1, head_dim]

    def ensure(self, length: int) -> None:
        """Room for ``length`` cached positions (doubling, so appends stay amortised O(1))."""
        if length > self.capacity:
            cap = self.capacity
            while cap < length:
                cap *= 2
            self._alloc(cap, keep=self.capacity)
        if length > self.cos.shape[0]:
            self._grow_rope(max(length, 2 * self.cos.shape[0]))

    def compact(self, start: int, offsets: list[int]) -> None:
        """Move cached positions start+offsets to start, start+1, ... (an accepted tree path)."""
        idx = torch.tensor([start + o for o in offsets], device=self.device)
        for buf in self.k + self.v:
            buf[:, start : start + len(offsets)] = buf.index_select(1, idx)

    # ---- forward ------------------------------------------------------------------------------
    def _rms(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return w * xf.to(x.dtype)

    def forward(
        self,
        ids: torch.Tensor,
        start: int,
        positions: torch.Tensor,
        mask: torch.Tensor | None,
        last_only: bool,
    ) -> torch.Tensor:
        """Logits for ``ids`` (1-D) written at cache slots [start, start+n); fp32 [n or 1, vocab].

        ``positions`` are the rotary positions (a tree's differ from its slots); ``mask`` is a
        bool [n, start+n] of allowed keys, or None when every query may see every key (n = 1).
        """
        n = ids.shape[0]
        end = start + n
        self.ensure(end)
        h, kvh, hd = self.heads, self.kv_heads, self.head_dim
        cos, sin = self.cos[positions], self.sin[positions]
        x = F.embedding(ids, self.embed)
        half = hd // 2
        gqa = h != kvh
        for i, (ln1, wqkv, wo, ln2, wgu, wd) in enumerate(self.layers):
            qkv = F.linear(self._rms(x, ln1), wqkv).view(n, h + 2 * kvh, hd)
            qk, v = qkv[:, : h + kvh], qkv[:, h + kvh :]
            rot = torch.cat((-qk[..., half:], qk[..., :half]), dim=-1)
            qk = qk * cos + rot * sin
            kbuf, vbuf = self.k[i], self.v[i]
            kbuf[:, start:end] = qk[:, h:].transpose(0, 1)
            vbuf[:, start:end] = v.transpose(0, 1)
            q = qk[:, :h].transpose(0, 1)[None]
            att = F.scaled_dot_product_attention(
                q, kbuf[None, :, :end], vbuf[None, :, :end], attn_mask=mask, scale=self.scale,
                enable_gqa=gqa,
            )  # fmt: skip
            x = x + F.linear(att[0].transpose(0, 1).reshape(n, h * hd), wo)
            gu = F.linear(self._rms(x, ln2), wgu)
            gate, up = gu.chunk(2, dim=-1)
            x = x + F.linear(F.silu(gate) * up, wd)
        if last_only:
            x = x[-1:]
        return F.linear(self._rms(x, self.norm), self.lm_head).float()
