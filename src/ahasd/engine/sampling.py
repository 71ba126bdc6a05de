"""Lossless speculative sampling ([leviathan23], [chen23]; tree children as [specinfer], [eagle2]).

Everything here works on fp32 probabilities that are *exactly* the distributions sampled from:
temperature, top-k and top-p are applied by one function to both p (target) and q (draft), so the
q-mismatch bug of [hf-assisted] issue #47932 (and DeepSpec #31) cannot happen. Random numbers come
from a numpy Generator, so a seed fixes every draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ahasd.errors import field_error


@dataclass(frozen=True, slots=True)
class SamplingConfig:
    """temperature 0 = greedy; top_k 0 = off; top_p 1 = off."""

    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temperature) and 0.0 <= self.temperature <= 100.0):
            raise field_error("temperature", self.temperature, "0 (greedy) .. 100")
        if self.top_k < 0:
            raise field_error("top_k", self.top_k, ">= 0 (0 = off)")
        if not 0.0 < self.top_p <= 1.0:
            raise field_error("top_p", self.top_p, "(0, 1]")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


def probs(logits: torch.Tensor, cfg: SamplingConfig) -> torch.Tensor:
    """fp32 distribution over the last axis after temperature, top-k and top-p (same for p and q).

    Greedy returns the raw softmax (temperature 1): it feeds the policies' entropy signals, while
    the token choice itself is an argmax.
    """
    x = logits.float()
    if cfg.greedy:
        return torch.softmax(x, dim=-1)
    x = x / cfg.temperature
    if cfg.top_k and cfg.top_k < x.shape[-1]:
        kth = torch.topk(x, cfg.top_k, dim=-1).values[..., -1:]
        x = x.masked_fill(x < kth, float("-inf"))
    pr = torch.softmax(x, dim=-1)
    if cfg.top_p < 1.0:
        sp, idx = torch.sort(pr, dim=-1, descending=True)
        drop = (torch.cumsum(sp, dim=-1) - sp) >= cfg.top_p  # keep the smallest set reaching top_p
        pr = pr.scatter(-1, idx, sp.masked_fill(drop, 0.0))
        pr = pr / pr.sum(dim=-1, keepdim=True)
    return pr


def entropy_top1(pr: torch.Tensor) -> tuple[float, float]:
    """Entropy (nats) and top-1 probability of one distribution."""
    nz = pr[pr > 0]
    return float(-(nz * nz.log()).sum()), float(pr.max())


def sample(pr: torch.Tensor, rng: np.random.Generator) -> int:
    """Inverse-CDF draw from a 1-D distribution with a uniform from the numpy generator."""
    cdf = torch.cumsum(pr.double(), dim=-1)
    u = torch.tensor([rng.random() * float(cdf[-1])], dtype=torch.float64, device=pr.device)
    return min(int(torch.searchsorted(cdf, u, right=True)), pr.shape[-1] - 1)


def choose(pr: torch.Tensor, cfg: SamplingConfig, rng: np.random.Generator) -> int:
    return int(pr.argmax()) if cfg.greedy else sample(pr, rng)


def residual(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """norm(max(0, p - q)); an all-zero residual (p == q) falls back to p, not NaN."""
    r = torch.clamp(p - q, min=0.0)
    total = float(r.sum())
    return p if total <= 0.0 or not math.isfinite(total) else r / total


def verify_chain(
    p: torch.Tensor,
    q: torch.Tensor,
    tokens: list[int],
    cfg: SamplingConfig,
    rng: np.random.Generator,
) -> tuple[int, int]:
    """Accept draft tokens left to right; return (accepted count, correction or bonus token).

    ``p`` has len(tokens)+1 rows (target), ``q`` len(tokens) rows (the draft distributions the
    tokens were drawn from). Greedy: accept while the token is the target's argmax.
    """
    for i, tok in enumerate(tokens):
        if cfg.greedy:
            if tok != int(p[i].argmax()):
                return i, int(p[i].argmax())
            continue
        pi, qi = float(p[i, tok]), float(q[i, tok])
        if not (qi <= pi or rng.random() * qi <= pi):  # accept with prob min(1, p/q)
            return i, sample(residual(p[i], q[i]), rng)
    return len(tokens), choose(p[len(tokens)], cfg, rng)


def verify_children(
    p: torch.Tensor, children: list[int], cfg: SamplingConfig, rng: np.random.Generator
) -> tuple[int | None, int]:
    """Multi-candidate acceptance for deterministic (top-k) children ([eagle2]).

    The proposal is a point mass: accept child x with probability p(x); on rejection zero p(x),
    renormalise and try the next. Returns (index of the accepted child or None, token emitted).
    """
    if cfg.greedy:
        best = int(p.argmax())
        return (children.index(best) if best in children else None), best
    cur = p.clone()
    for j, tok in enumerate(children):
        total = float(cur.sum())
        if total <= 0.0:
            break
        if rng.random() * total < float(cur[tok]):
            return j, tok
        cur[tok] = 0.0
    if float(cur.sum()) <= 0.0:  # every token with mass was a rejected child: cannot happen
        cur = p  # pragma: no cover - guard only
    return None, sample(cur, rng)
