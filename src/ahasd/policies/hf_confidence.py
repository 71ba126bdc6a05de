"""``hf-confidence``: stop when the drafted token's probability is below θ (HF dynamic
speculation, [hf-assisted]: θ0 = 0.4, max 20), θ re-fitted after each round by the ROC
point minimising FPR + 3·FNR over every (probability, matched?) pair seen so far.

The token's probability is the signal's top-1 probability (greedy drafting). Pairs are kept as
counts in 256 equal probability bins, so a re-fit costs O(256) instead of O(history); θ is then
a bin edge. Labels follow HF's ``update_candidate_strategy``: the round's first ``accepted``
tokens are matches, the first rejected token is a non-match, and the tokens drafted after it are
dropped (they were conditioned on a rejected prefix, so they say nothing about the threshold).
``label_rest="negative"`` counts them as non-matches instead (our earlier reading, kept for
comparison).

Asynchronous drivers (AHASD) draft the next batch before the previous one is verified and never
report squashed batches, so each round's probabilities wait in a FIFO; ``observe`` labels the
oldest round whose length fits the outcome (n or n − 1 signals: the cap token is never shown)
and drops older, unreported ones.
"""

from __future__ import annotations

from collections import deque
from typing import Literal

import numpy as np
from pydantic import Field

from ahasd.policies.base import POLICIES, DraftPolicy, Params, RoundOutcome, TokenSignals

BINS = 256


class HfConfidenceArgs(Params):
    threshold0: float = Field(0.4, ge=0.0, le=1.0)
    max_len: int = Field(20, ge=1, le=256)
    min_samples: int = Field(5, ge=1, le=1_000_000)  # HF: re-fit once > 5 samples, both classes
    fn_weight: float = Field(3.0, ge=0.0, le=1e3)
    refit: bool = True
    label_rest: Literal["drop", "negative"] = "drop"  # HF: drop tokens after the first reject


@POLICIES.register("hf-confidence")
class HfConfidence(DraftPolicy):
    name = "hf-confidence"
    Args = HfConfidenceArgs

    def reset(self) -> None:
        self.max_len = self.args.max_len
        self.threshold = self.args.threshold0
        self.pos = np.zeros(BINS, dtype=np.int64)
        self.neg = np.zeros(BINS, dtype=np.int64)
        self.rounds: deque[list[float]] = deque(maxlen=64)

    def start_round(self) -> int:
        self.rounds.append([])
        return self.max_len

    def keep_drafting(self, sig: TokenSignals) -> bool:
        if not self.rounds:
            self.rounds.append([])
        self.rounds[-1].append(sig.top1_prob)
        return sig.top1_prob >= self.threshold

    def observe(self, outcome: RoundOutcome) -> None:
        probs = None
        while self.rounds:
            r = self.rounds.popleft()
            if outcome.proposed - 1 <= len(r) <= outcome.proposed:
                probs = r
                break
        if probs is None:
            return
        keep = len(probs) if self.args.label_rest == "negative" else outcome.accepted + 1
        for j, p in enumerate(probs[:keep], start=1):
            b = min(int(p * BINS), BINS - 1)
            if j <= outcome.accepted:
                self.pos[b] += 1
            else:
                self.neg[b] += 1
        if self.args.refit:
            self._refit()

    def _refit(self) -> None:
        n_pos, n_neg = int(self.pos.sum()), int(self.neg.sum())
        if n_pos + n_neg <= self.args.min_samples or n_pos == 0 or n_neg == 0:
            return
        # predict "match" when p >= edge_k: positives / negatives at or above each bin edge
        tp = np.cumsum(self.pos[::-1])[::-1]
        fp = np.cumsum(self.neg[::-1])[::-1]
        cost = fp / n_neg + self.args.fn_weight * (1.0 - tp / n_pos)
        k = int(np.argmin(cost))
        self.threshold = k / BINS
