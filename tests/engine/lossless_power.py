"""Power of the lossless tests against two mutants: ``python -m tests.engine.lossless_power``.

For the joint test (first two tokens, γ = 1) the output distribution of each mutant is computed
exactly in closed form, which gives Cohen's effect size w; the statistic is then noncentral
chi-square with λ = n·w² (a zero-probability cell hit fails outright). For the every-position
test the noncentrality per sample is estimated from one mutated run on seeds the test does not
use (``--estimate`` samples). Power is the noncentral tail beyond the test's critical value
(Monte Carlo, 400 000 draws); "n for 99%" is the smallest sample count reaching power 0.99.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from tests.engine import lossless as L
from tests.engine.lossless import CFG, DRAFT, PROMPT, TARGET, VOCAB, critical

_Z = np.random.default_rng(0).standard_normal(400_000)
_REST: dict[int, np.ndarray] = {}


def noncentral_power(df: int, lam: float, crit: float) -> float:
    """P(noncentral chi-square(df, lam) > crit): (Z + sqrt(lam))² + chi-square(df - 1)."""
    if df not in _REST:
        _REST[df] = np.random.default_rng(df).chisquare(df - 1, _Z.size)
    return float((((_Z + math.sqrt(max(lam, 0.0))) ** 2 + _REST[df]) > crit).mean())


def n_for(df: int, lam_per_sample: float, crit: float, target: float = 0.99) -> int:
    """The smallest n (within 1%) whose power reaches ``target``."""
    lo, hi = 1, 10**8
    while hi - lo > max(1, lo // 100):
        mid = (lo + hi) // 2
        short = noncentral_power(df, mid * lam_per_sample, crit) < target
        lo, hi = (mid, hi) if short else (lo, mid)
    return hi


def _dist(lm, prefix) -> np.ndarray:
    return L.probs(lm.logits_after(prefix), CFG).double().numpy()


def _accept(p: np.ndarray, q: np.ndarray, bias: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(q > 0, np.minimum(1.0, p / (bias * q)), 0.0)


def _residual(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    r = np.clip(p - q, 0.0, None)
    return p if r.sum() <= 0 else r / r.sum()


def _one_token(p: np.ndarray, q: np.ndarray, bias: float) -> np.ndarray:
    """Output of one verified draft token (accepted, or the residual draw on rejection)."""
    a = _accept(p, q, bias)
    return q * a + (1.0 - (q * a).sum()) * _residual(p, q)


def joint_under(mutant: str) -> np.ndarray:
    """Exact joint of the first two tokens at γ = 1 (``ok``, ``bias-5pct``, ``bonus-off-by-one``).

    Round 1 drafts x1 ~ q1: accepted, x2 is the bonus token from p2(.|x1) (the mutant: from p1);
    rejected, x1 is the residual draw and round 2 verifies one draft token for position 2.
    """
    bias = 1.05 if mutant == "bias-5pct" else 1.0
    p1, q1 = _dist(TARGET, PROMPT), _dist(DRAFT, PROMPT)
    a1 = _accept(p1, q1, bias)
    reject = 1.0 - (q1 * a1).sum()
    r1 = _residual(p1, q1)
    out = np.zeros((VOCAB, VOCAB))
    for x in range(VOCAB):
        p2, q2 = _dist(TARGET, [*PROMPT, x]), _dist(DRAFT, [*PROMPT, x])
        bonus = p1 if mutant == "bonus-off-by-one" else p2
        out[x] = q1[x] * a1[x] * bonus + reject * r1[x] * _one_token(p2, q2, bias)
    return out.ravel()


def joint_rows() -> list[dict]:
    expected = L.target_joint()
    assert np.allclose(joint_under("ok"), expected), "closed form disagrees with the target"
    live = expected > 0
    df = int(live.sum()) - 1
    crit = critical(df)
    rows = []
    for mutant in L.MUTANTS:
        got = joint_under(mutant)
        w2 = float(((got[live] - expected[live]) ** 2 / expected[live]).sum())
        dead = float(got[~live].sum())  # mass on cells the target never emits
        power = 1 - (1 - noncentral_power(df, L.N_JOINT * w2, crit)) * (1 - dead) ** L.N_JOINT
        rows.append({"test": "joint (2 tokens, gamma 1)", "mutant": mutant, "df": df,
                     "critical": crit, "effect": f"w = {math.sqrt(w2):.4f}",
                     "zero_cell_mass": dead, "n": L.N_JOINT, "power": power,
                     "n_for_99pct": n_for(df, w2, crit) if dead == 0 else "< 100"})  # fmt: skip
    return rows


def positions_rows(estimate: int) -> list[dict]:
    from ahasd.engine import async_decode, decode

    rows = []
    for mutant, fn in L.MUTANTS.items():
        saved = decode.verify_chain, async_decode.verify_chain
        decode.verify_chain = async_decode.verify_chain = fn
        try:
            toks = L.spec_tokens(estimate, L.GAMMA_POSITIONS, L.POSITIONS, first_seed=10**6)
        finally:
            decode.verify_chain, async_decode.verify_chain = saved
        stat, df = L.pooled_rank_statistic(toks)
        lam = max(stat - df, 0.0) / estimate
        crit = critical(df)
        rows.append({"test": "every position (8 tokens, gamma 2)", "mutant": mutant, "df": df,
                     "critical": crit, "effect": f"lambda/sample = {lam:.4f} (from {estimate})",
                     "zero_cell_mass": 0.0, "n": L.N_POSITIONS,
                     "power": noncentral_power(df, L.N_POSITIONS * lam, crit),
                     "n_for_99pct": n_for(df, lam, crit)})  # fmt: skip
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--estimate", type=int, default=8000, help="Samples per mutant estimate.")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    t0 = time.process_time()
    rows = joint_rows() + positions_rows(args.estimate)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    for r in rows:
        print(f"{r['test']:<36} {r['mutant']:<17} df {r['df']:>2} crit {r['critical']:6.1f}  "
              f"{r['effect']:<36} n {r['n']:>5}  power {r['power']:.4f}  "
              f"n for 99% {r['n_for_99pct']}")  # fmt: skip
    print(f"cpu {time.process_time() - t0:.1f} s")


if __name__ == "__main__":
    main()
