"""``specdec-pp``: an acceptance-prediction head; stop when P(some candidate rejected) > h.

SpecDec++ ([specdecpp]): keep P = Π p̂_i over the round's tokens and stop after token t
when 1 − P > h, within bounds [2, 20]. Our head sees ``signal_features`` (entropy, top-1
probability, √H, ln p1) instead of the draft's hidden state, and predicts the acceptance of the
token just drafted (the trace's signals belong to that token, so there is no off-by-one).
``lag=True`` reproduces the reference's timing instead: its head scores token t−1 in the forward
that samples token t, so the stop test after token t uses p̂_1..p̂_{t−1} (p̂ of the first
token's predecessor = 1) and a stopped round always carries one unscored token.
``fit(trace)`` trains it on the first ``train_fraction`` of the trace with weighted binary
cross-entropy (weight ``reject_weight`` = 6 on the reject class, as SpecDec++) against the match
label (``target_rank == 0``) or the soft label β (``label="beta"``). ``head="logistic"`` is
Newton's method on a logistic regression; ``head="mlp"`` a one-hidden-layer tanh MLP trained by
full-batch gradient descent from a seeded init. Unfitted, p̂ = top-1 probability.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from ahasd.policies.base import (
    N_HEAD_FEATURES,
    POLICIES,
    DraftPolicy,
    Params,
    TokenSignals,
    signal_features,
)


class SpecDecPPArgs(Params):
    h: float = Field(0.7, gt=0.0, lt=1.0)
    min_len: int = Field(2, ge=1, le=256)
    max_len: int = Field(20, ge=1, le=256)
    train_fraction: float = Field(0.25, gt=0.0, le=1.0)
    reject_weight: float = Field(6.0, gt=0.0, le=1e3)
    label: Literal["match", "beta"] = "match"
    head: Literal["logistic", "mlp"] = "logistic"
    hidden: int = Field(8, ge=1, le=256)
    seed: int = Field(0, ge=0)
    lag: bool = False  # True: SpecDec++'s one-token-late scoring ([specdecpp] code)

    @model_validator(mode="after")
    def _bounds(self) -> SpecDecPPArgs:
        if self.min_len > self.max_len:
            raise ValueError("min_len must be <= max_len")
        return self


@POLICIES.register("specdec-pp")
class SpecDecPP(DraftPolicy):
    name = "specdec-pp"
    Args = SpecDecPPArgs

    def __init__(self, args: SpecDecPPArgs | None = None) -> None:
        self.head: _Head | None = None
        super().__init__(args)

    def reset(self) -> None:
        self.max_len = self.args.max_len
        self.log_keep = math.log1p(-self.args.h)  # stop when Σ ln p̂ < ln(1 − h)
        self.log_p = 0.0
        self.pending = 0.0  # lag: ln p̂ of the last token, not yet in the product

    def start_round(self) -> int:
        self.log_p = 0.0
        self.pending = 0.0
        return self.max_len

    def predict(self, sig: TokenSignals) -> float:
        if self.head is None:
            return sig.top1_prob
        f = sig.features or signal_features(sig.entropy, sig.top1_prob, sig.position)
        return self.head(f)

    def keep_drafting(self, sig: TokenSignals) -> bool:
        p = self.predict(sig)
        lp = math.log(p) if p > 1e-300 else -690.0
        if self.args.lag:
            self.log_p += self.pending
            self.pending = lp
        else:
            self.log_p += lp
        if sig.position < self.args.min_len:
            return True
        return self.log_p >= self.log_keep

    def fit(self, trace: Any) -> None:
        n = max(1, int(len(trace) * self.args.train_fraction))
        h = np.asarray(trace.draft_entropy[:n], dtype=np.float64)
        p1 = np.asarray(trace.draft_top1_prob[:n], dtype=np.float64)
        x = np.stack([h, p1, np.sqrt(h), np.log(np.maximum(p1, 1e-12))], axis=1)
        if self.args.label == "match":
            y = (np.asarray(trace.target_rank[:n]) == 0).astype(np.float64)
        else:
            y = np.asarray(trace.accept_prob[:n], dtype=np.float64)
        w = y + self.args.reject_weight * (1.0 - y)  # soft labels weight both classes
        if self.args.head == "logistic":
            self.head = _fit_logistic(x, y, w)
        else:
            self.head = _fit_mlp(x, y, w, self.args.hidden, self.args.seed)


class _Head:
    """Standardise, then a logistic or MLP score; called with plain floats."""

    def __init__(self, mean, std, w1, b1, w2=None, b2=0.0) -> None:
        self.mean, self.std = [float(v) for v in mean], [float(v) for v in std]
        self.w1 = np.asarray(w1, dtype=np.float64)
        self.b1 = b1
        self.w2 = w2
        self.b2 = float(b2)
        if w2 is None:  # logistic: keep plain floats for the hot path
            self.lin = [float(v) / s for v, s in zip(self.w1, self.std, strict=True)]
            self.lin0 = float(b1) - sum(c * m for c, m in zip(self.lin, self.mean, strict=True))

    def __call__(self, f: tuple[float, ...]) -> float:
        if self.w2 is None:
            z = self.lin0
            for c, v in zip(self.lin, f[:N_HEAD_FEATURES], strict=False):
                z += c * v
        else:
            x = (np.asarray(f[:N_HEAD_FEATURES]) - self.mean) / self.std
            z = float(np.tanh(x @ self.w1 + self.b1) @ self.w2 + self.b2)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    return (x - mean) / std, mean, std


def _fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, iters: int = 25) -> _Head:
    """Weighted logistic regression by Newton's method with a small ridge (deterministic)."""
    xs, mean, std = _standardise(x)
    a = np.hstack([xs, np.ones((len(xs), 1))])
    beta = np.zeros(a.shape[1])
    ridge = 1e-3 * np.eye(a.shape[1])
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ beta, -30, 30)))
        grad = a.T @ (w * (p - y)) + ridge @ beta
        hess = (a * (w * p * (1 - p))[:, None]).T @ a + ridge
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return _Head(mean, std, beta[:-1], float(beta[-1]))


def _fit_mlp(x, y, w, hidden: int, seed: int, epochs: int = 300, lr: float = 0.5) -> _Head:
    """One hidden tanh layer, full-batch gradient descent on weighted BCE."""
    xs, mean, std = _standardise(x)
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0.0, 1.0 / math.sqrt(xs.shape[1]), (xs.shape[1], hidden))
    b1 = np.zeros(hidden)
    w2 = rng.normal(0.0, 1.0 / math.sqrt(hidden), hidden)
    b2 = 0.0
    wn = w / w.sum()
    for _ in range(epochs):
        hdn = np.tanh(xs @ w1 + b1)
        p = 1.0 / (1.0 + np.exp(-np.clip(hdn @ w2 + b2, -30, 30)))
        g = wn * (p - y)
        gw2, gb2 = hdn.T @ g, g.sum()
        gh = np.outer(g, w2) * (1 - hdn**2)
        w1 -= lr * (xs.T @ gh)
        b1 -= lr * gh.sum(axis=0)
        w2 -= lr * gw2
        b2 -= lr * gb2
    return _Head(mean, std, w1, b1, w2, b2)
