"""EDC — Entropy-History-Aware Drafting Control, as AHASD's hardware state machine.

research/ahasd.md §2: after each draft batch its mean entropy is bucketised over [0, H_max] and
pushed into the 8×3-bit LEHT; a 3-bit LLR counts batches in flight; the 9-bit PHT index is
{mean bucket of the older LEHT half, mean bucket of the newer half, LLR}; the 2-bit saturating
counter there (initialised to 2) says "continue look-ahead" iff ≥ 2. On verification: full
acceptance commits the batch's bucket into LCEHT and increments the counter; anything else
restores LEHT from LCEHT and decrements it. Each ambiguity of §2.5 is an option; the default is
the paper's reading (or, where the paper is silent, the branch-predictor reading of §2.4).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EdcConfig(BaseModel):
    """EDC sizes and the §2.5 ambiguity switches (defaults: paper / §2.4 reading)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    h_max: float = Field(10.0, gt=0.0, le=100.0)  # [R1] 10 nats ≈ ln 32000; [P] "statistical max"
    history: int = Field(8, ge=2, le=64)  # LEHT/LCEHT entries (even: two halves)
    bucket_bits: int = Field(3, ge=1, le=8)  # 8 buckets
    llr_bits: int = Field(3, ge=1, le=8)
    counter_bits: int = Field(2, ge=1, le=8)
    counter_init: int | None = None  # None: weakly continue (2 for 2-bit counters), [R1]/[R2]
    leht_order: Literal["shift", "circular"] = "shift"  # §2.5: shift register (likely intent)
    update_index: Literal["checkpoint", "recompute"] = "checkpoint"  # [R1]: recompute
    commit: Literal["batch", "copy-leht"] = "batch"  # [P]: the batch's bucket; [R1]: copy LEHT
    llr_on_reject: Literal["reset", "decrement"] = "reset"  # later batches are squashed; [R1]: -1


class EDC:
    """The EDC state machine; ``after_batch`` predicts, ``on_verified`` trains."""

    def __init__(self, config: EdcConfig | None = None) -> None:
        self.cfg = cfg = config or EdcConfig()
        self.n_buckets = 1 << cfg.bucket_bits
        self.llr_max = (1 << cfg.llr_bits) - 1
        self.ctr_max = (1 << cfg.counter_bits) - 1
        self.ctr_threshold = 1 << (cfg.counter_bits - 1)  # MSB set
        init = self.ctr_threshold if cfg.counter_init is None else cfg.counter_init
        self.ctr_init = min(max(init, 0), self.ctr_max)
        self.index_bits = 2 * cfg.bucket_bits + cfg.llr_bits
        self.reset()

    def reset(self) -> None:
        c = self.cfg
        self.leht = [0] * c.history
        self.lceht = [0] * c.history
        self.ptr = 0  # circular LEHT write pointer (leht_order="circular")
        self.cptr = 0  # circular LCEHT write pointer; [R1] does not restore ptr on rollback
        self.llr = 0
        self.pht = [self.ctr_init] * (1 << self.index_bits)
        self.pending: dict[int, tuple[int, int]] = {}  # batch_id -> (index, bucket)
        self.predictions = 0
        self.continues = 0

    @property
    def storage_bits(self) -> int:
        """LEHT + LCEHT + LLR + PHT bits (default 8·3 + 8·3 + 3 + 512·2 = 1075)."""
        c = self.cfg
        return 2 * c.history * c.bucket_bits + c.llr_bits + (1 << self.index_bits) * c.counter_bits

    def bucket(self, mean_entropy: float) -> int:
        """floor(n_buckets · H / H_max), clamped to [0, n_buckets − 1]."""
        b = int(self.n_buckets * mean_entropy / self.cfg.h_max) if mean_entropy > 0 else 0
        return b if b < self.n_buckets else self.n_buckets - 1

    def index(self) -> int:
        """{older-half mean bucket, newer-half mean bucket, LLR} as one integer."""
        newer, older = self._halves()
        bb, lb = self.cfg.bucket_bits, self.cfg.llr_bits
        return (older << (bb + lb)) | (newer << lb) | self.llr

    def _halves(self) -> tuple[int, int]:
        # "shift": leht[0] is the newest entry (H0), so H0-3 are the recent half; "circular":
        # physical slots, whose meaning rotates with the write pointer ([R1], ahasd.md §2.5)
        half = self.cfg.history // 2
        return sum(self.leht[:half]) // half, sum(self.leht[half:]) // half

    def _push(self, table: list[int], b: int) -> None:
        if self.cfg.leht_order == "shift":
            table.insert(0, b)
            table.pop()
        else:
            table[self.ptr] = b
            self.ptr = (self.ptr + 1) % self.cfg.history

    def after_batch(self, batch_id: int, mean_entropy: float) -> bool:
        """Record a drafted batch; True = keep drafting ahead (counter ≥ threshold)."""
        b = self.bucket(mean_entropy)
        self._push(self.leht, b)
        self.llr = min(self.llr + 1, self.llr_max)
        idx = self.index()
        self.pending[batch_id] = (idx, b)
        self.predictions += 1
        go = self.pht[idx] >= self.ctr_threshold
        self.continues += go
        return go

    def on_verified(self, batch_id: int, fully_accepted: bool) -> None:
        """Train on the verification of ``batch_id`` (commit or roll back the history)."""
        entry = self.pending.pop(batch_id, None)
        self.llr = max(self.llr - 1, 0)
        bucket = entry[1] if entry is not None else 0
        if fully_accepted:
            if self.cfg.commit == "batch":
                self._push_commit(bucket)
            else:
                self.lceht = list(self.leht)
        else:
            self.leht = list(self.lceht)
            if self.cfg.llr_on_reject == "reset":
                self.llr = 0
                self.pending.clear()  # later batches were drafted on a rejected prefix
        if entry is None and self.cfg.update_index == "checkpoint":
            return
        idx = entry[0] if self.cfg.update_index == "checkpoint" else self.index()
        ctr = self.pht[idx]
        self.pht[idx] = min(ctr + 1, self.ctr_max) if fully_accepted else max(ctr - 1, 0)

    def _push_commit(self, b: int) -> None:
        if self.cfg.leht_order == "shift":
            self.lceht.insert(0, b)
            self.lceht.pop()
        else:  # circular: LCEHT has its own write pointer, advanced once per commit
            self.lceht[self.cptr] = b
            self.cptr = (self.cptr + 1) % self.cfg.history
