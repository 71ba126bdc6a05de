"""Trace statistics: α̂, greedy chain τ for γ = 1..8, entropy, correlation, burstiness.

τ(γ) replays fixed-γ chain drafting under greedy verification (docs/traces.md): from
position i a round commits min(γ, k_i) + 1 tokens, k_i = run of zero ranks from i.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ahasd.traces.schema import TokenTrace

GAMMAS = tuple(range(1, 9))


@dataclass(frozen=True, slots=True)
class TraceStats:
    tokens: int
    alpha: float  # P(target_rank == 0): per-token greedy acceptance
    mean_accept_prob: float  # mean β (sampled decoding's α)
    tau_by_gamma: dict[int, float]
    mean_entropy: float
    entropy_accept_corr: float  # Pearson(draft entropy, match); negative = informative
    burstiness: float  # P(miss | previous miss) / P(miss); 1 = i.i.d., > 1 = clustered
    top_k_cumulative: dict[int, float]  # P(rank < k), k = 1, 2, 4, 8, 10, 32

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["tau_by_gamma"] = {str(k): v for k, v in self.tau_by_gamma.items()}
        d["top_k_cumulative"] = {str(k): v for k, v in self.top_k_cumulative.items()}
        return d


def chain_tau(runs: np.ndarray | list[int], gamma: int) -> float:
    """Mean tokens committed per round of fixed-γ greedy chain SD replayed over ``runs``."""
    k = runs.tolist() if isinstance(runs, np.ndarray) else runs
    n, i, rounds = len(k), 0, 0
    while i < n:
        a = k[i]
        i += (a if a < gamma else gamma) + 1
        rounds += 1
    return n / rounds if rounds else 0.0


def trace_stats(trace: TokenTrace) -> TraceStats:
    match = trace.target_rank == 0
    runs = trace.match_runs().tolist()
    miss = ~match
    p_miss = float(miss.mean())
    if len(miss) > 1 and 0.0 < p_miss < 1.0 and miss[:-1].any():
        burst = float(miss[1:][miss[:-1]].mean()) / p_miss
    else:
        burst = 1.0
    h = trace.draft_entropy
    corr = 0.0
    if len(h) > 1 and h.std() > 0 and match.std() > 0:
        corr = float(np.corrcoef(h, match.astype(np.float64))[0, 1])
    n = len(trace)
    return TraceStats(
        tokens=n,
        alpha=float(match.mean()) if n else 0.0,
        mean_accept_prob=float(trace.accept_prob.mean()) if n else 0.0,
        tau_by_gamma={g: chain_tau(runs, g) for g in GAMMAS},
        mean_entropy=float(h.mean()) if n else 0.0,
        entropy_accept_corr=corr,
        burstiness=burst,
        top_k_cumulative={k: float((trace.target_rank < k).mean()) for k in (1, 2, 4, 8, 10, 32)},
    )
