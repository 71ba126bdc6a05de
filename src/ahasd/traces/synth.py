"""Synthetic traces from a calibrated profile: bursty matches, correlated entropy and acceptance.

Per position: the regime r (easy/hard, Markov), the match m ~ Bernoulli(m_r), then the emissions
conditioned on (r, m): draft entropy ~ Gamma(2, μ/2) with μ low for easy matches and high for
mismatches (so entropy predicts rejection, as [svip] and [adaedl] assume), top-1 probability
decreasing in entropy, β = Σ min(p, q) near 1 for matches and lower for mismatches, mismatch ranks
from the profile's truncated Zipf law. Emission constants are illustrative, not calibrated: only the
match process carries a published target (profiles.py).
"""

from __future__ import annotations

import numpy as np

from ahasd.errors import AhasdError
from ahasd.traces.profiles import Profile, get_profile, match_probs, stationary, zipf_cdf
from ahasd.traces.schema import TokenTrace, TraceMeta

GENERATOR_VERSION = "synth-2"
MAX_TOKENS = 50_000_000
# mean draft entropy (nats) by (regime, matched): easy/hard x miss/match
ENTROPY_MEAN = np.array([[2.0, 0.35], [3.0, 1.2]])


def synthesize(profile: str, n_tokens: int, seed: int) -> TokenTrace:
    """A deterministic synthetic trace of ``n_tokens`` positions for ``profile``."""
    if not isinstance(n_tokens, (int, np.integer)) or not 1 <= n_tokens <= MAX_TOKENS:
        raise AhasdError(f"tokens: got {n_tokens!r}; accepted: an integer in [1, {MAX_TOKENS}]")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise AhasdError(f"seed: got {seed!r}; accepted: an integer >= 0")
    p = get_profile(profile)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _name_key(p.name)]))
    n = int(n_tokens)
    hard = regimes(p, n, rng)
    me, mh = match_probs(p)
    match = rng.random(n) < np.where(hard, mh, me)
    rank = np.zeros(n, dtype=np.int32)
    miss = ~match
    cdf = zipf_cdf(p.rank_zipf, p.vocab)
    rank[miss] = 1 + np.searchsorted(cdf, rng.random(int(miss.sum())), side="right")
    rank = np.minimum(rank, p.vocab - 1)
    mu = ENTROPY_MEAN[hard.astype(int), match.astype(int)] * p.entropy_scale
    h = rng.gamma(2.0, mu / 2.0)
    # top-1 probability from the entropy only: it must not encode the match itself (synth-1 set
    # it to exactly 1.0 on every match, which turned any head reading it into an oracle)
    top1 = np.clip(np.exp(-0.75 * h) * rng.uniform(0.85, 1.0, n), 1.0 / p.vocab, 1.0)
    k = np.where(match, 0.08, 0.25)
    beta = np.clip(1.0 - np.sqrt(k * h) + rng.normal(0.0, 0.05, n), 0.01, 1.0)
    target_h = h * rng.lognormal(-0.2, 0.4, n)
    meta = TraceMeta(
        pair=p.pair,
        dataset="synthetic",
        temperature=0.0,
        source="synthetic",
        seed=int(seed),
        generator_version=GENERATOR_VERSION,
        profile=p.name,
    )
    return TokenTrace(h, top1, rank, beta, target_h, meta=meta)


def regimes(p: Profile, n: int, rng: np.random.Generator) -> np.ndarray:
    """Boolean 'hard' flag per position: alternating geometric run lengths (vectorised)."""
    if p.iid:
        return np.zeros(n, dtype=bool)
    pe, _ = stationary(p)
    start_hard = rng.random() >= pe
    out = np.empty(n, dtype=bool)
    pos, hard = 0, bool(start_hard)
    while pos < n:
        # draw a block of alternating runs at once
        m = 256
        easy_runs = rng.geometric(1.0 - p.stay_easy, m)
        hard_runs = rng.geometric(1.0 - p.stay_hard, m)
        for e, hr in zip(easy_runs.tolist(), hard_runs.tolist(), strict=True):
            for length, flag in ((hr, True), (e, False)) if hard else ((e, False), (hr, True)):
                if pos >= n:
                    break
                out[pos : pos + length] = flag
                pos += length
            if pos >= n:
                break
    return out


def _name_key(name: str) -> int:
    """A stable integer from the profile name (so profiles with one seed differ)."""
    return int.from_bytes(name.encode()[:16].ljust(16, b"\0"), "little") % (2**63)
