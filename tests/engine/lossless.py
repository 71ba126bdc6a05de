"""The statistical checks behind the lossless tests, their toy model pair and two mutants.

Both checks run the real decode loop (``decode.generate`` or ``generate_async``) on toy LMs whose
steps cost microseconds, and compare its output with the target's exact distribution:

* :func:`joint_check`: the first two tokens at γ = 1, so the second token is a bonus token
  whenever the first draft token is accepted; Pearson's chi-square against the target's exact
  joint of the two tokens.
* :func:`positions_check`: eight tokens at γ = 2, each scored against the target's exact
  conditional given its own prefix. A token is counted by its rank when the vocabulary is sorted
  by p/q (ties by token id); given the prefix that rank has a known distribution, so the counts
  of all positions pool into one statistic (O - E)ᵀ C⁺ (O - E) with C the summed multinomial
  covariances, chi-square with (vocab - 1) degrees of freedom under losslessness (the positions
  form a martingale difference sequence). Any error in the acceptance rule moves mass along p/q,
  so it shows at every position.

The draft is an overconfident noisy copy of the target (acceptance about 0.9), so bonus tokens
are frequent and a small bias in acceptance moves visible mass. Sample sizes come from the power
calculation in ``tests/engine/lossless_power.py`` (docs/engine.md, "Lossless tests").
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ahasd.engine import async_decode, decode  # noqa: E402
from ahasd.engine.sampling import SamplingConfig, choose, probs, residual, sample  # noqa: E402
from tests.engine.engine_helpers import TableLM, fixed  # noqa: E402

VOCAB = 8
SCALE = 0.7  # toy-LM logit scale: several tokens survive top-k/top-p at every position
CFG = SamplingConfig(temperature=0.8, top_k=6, top_p=0.9, seed=0)
PROMPT = [1, 2, 3]
TARGET = TableLM(VOCAB, seed=2, scale=SCALE)
DRAFT = TableLM.sharpened(TARGET, factor=1.6, noise=0.3 * SCALE, seed=5)
Z = 3.9  # critical value at about alpha = 5e-5 (one false alarm in 20 000 seed sets)

N_JOINT = 5_000  # joint of the first two tokens, gamma = 1
N_POSITIONS, POSITIONS, GAMMA_POSITIONS = 3_000, 8, 2  # every position of 8 tokens, gamma = 2


def critical(df: int, z: float = Z) -> float:
    """Chi-square critical value by the Wilson-Hilferty approximation (upper tail at z)."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def spec_tokens(
    n: int, gamma: int, length: int, engine: str = "sync", first_seed: int = 0
) -> np.ndarray:
    """``n`` seeded generations of ``length`` tokens from the draft/target pair: (n, length)."""
    out = np.zeros((n, length), dtype=np.int64)
    for i in range(n):
        c = SamplingConfig(CFG.temperature, CFG.top_k, CFG.top_p, seed=first_seed + i)
        kw = {"policy": fixed(gamma), "sampling": c, "max_new_tokens": length}
        if engine == "async":
            r = async_decode.generate_async(DRAFT, TARGET, PROMPT, queue_depth=2, **kw)
        else:
            r = decode.generate(DRAFT, TARGET, PROMPT, **kw)
        out[i] = r.tokens[:length]
    return out


def target_joint() -> np.ndarray:
    """The target's exact joint distribution of the first two tokens (vocab² cells)."""
    p1 = probs(TARGET.logits_after(PROMPT), CFG).double().numpy()
    rows = [p1[x] * probs(TARGET.logits_after([*PROMPT, x]), CFG).double().numpy()
            for x in range(VOCAB)]  # fmt: skip
    return np.concatenate(rows)


def joint_check(n: int = N_JOINT, engine: str = "sync") -> tuple[bool, float, float]:
    """(passes, chi-square, critical value) for the first two tokens at gamma = 1.

    A hit on a cell the target gives zero probability fails outright (statistic = inf).
    """
    toks = spec_tokens(n, 1, 2, engine)
    counts = np.bincount(toks[:, 0] * VOCAB + toks[:, 1], minlength=VOCAB * VOCAB)
    expected = target_joint()
    zero = expected <= 0
    df = int((~zero).sum()) - 1
    if counts[zero].sum() > 0:
        return False, math.inf, critical(df)
    e = expected[~zero] * n
    stat = float(((counts[~zero] - e) ** 2 / e).sum())
    return stat <= critical(df), stat, critical(df)


def pooled_rank_statistic(toks: np.ndarray) -> tuple[float, int]:
    """The pooled chi-square over every position of ``toks`` (see the module docstring)."""
    n, length = toks.shape
    seqs = torch.as_tensor(np.hstack([np.tile(PROMPT, (n, 1)), toks]))
    p = probs(TARGET.logits_along(seqs, len(PROMPT)), CFG).double().numpy().reshape(-1, VOCAB)
    q = probs(DRAFT.logits_along(seqs, len(PROMPT)), CFG).double().numpy().reshape(-1, VOCAB)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(q > 0, p / q, np.inf)
    order = np.argsort(ratio, axis=1, kind="stable")  # ascending p/q, ties by token id
    pi = np.take_along_axis(p, order, axis=1)  # P(rank = k | prefix)
    rank = np.argmax(order == toks.reshape(-1, 1), axis=1)
    d = np.bincount(rank, minlength=VOCAB) - pi.sum(axis=0)
    cov = np.diag(pi.sum(axis=0)) - pi.T @ pi
    eig = np.linalg.eigvalsh(cov)
    df = int((eig > 1e-9 * eig.max()).sum())
    return float(d @ np.linalg.pinv(cov, rcond=1e-9, hermitian=True) @ d), df


def positions_check(
    n: int = N_POSITIONS, engine: str = "sync", first_seed: int = 0
) -> tuple[bool, float, float]:
    """(passes, pooled chi-square, critical value) over every position of 8 tokens, gamma 2."""
    toks = spec_tokens(n, GAMMA_POSITIONS, POSITIONS, engine, first_seed)
    stat, df = pooled_rank_statistic(toks)
    return stat <= critical(df), stat, critical(df)


# ---- mutants: verify_chain with one deliberate error each ---------------------------------------


def biased_verify_chain(p, q, tokens, cfg, rng):
    """Accepts with probability min(1, p / (1.05 q)): a 5% acceptance bias."""
    for i, tok in enumerate(tokens):
        pi, qi = float(p[i, tok]), 1.05 * float(q[i, tok])
        if not (qi <= pi or rng.random() * qi <= pi):
            return i, sample(residual(p[i], q[i]), rng)
    return len(tokens), choose(p[len(tokens)], cfg, rng)


def bonus_off_by_one_verify_chain(p, q, tokens, cfg, rng):
    """Draws the bonus token from the last draft position's target row instead of the next."""
    for i, tok in enumerate(tokens):
        pi, qi = float(p[i, tok]), float(q[i, tok])
        if not (qi <= pi or rng.random() * qi <= pi):
            return i, sample(residual(p[i], q[i]), rng)
    return len(tokens), choose(p[len(tokens) - 1], cfg, rng)


MUTANTS = {"bias-5pct": biased_verify_chain, "bonus-off-by-one": bonus_off_by_one_verify_chain}


def install(monkeypatch, mutant) -> None:
    """Use ``mutant`` in both decode loops (each imported ``verify_chain`` by name)."""
    monkeypatch.setattr(decode, "verify_chain", mutant)
    monkeypatch.setattr(async_decode, "verify_chain", mutant)
