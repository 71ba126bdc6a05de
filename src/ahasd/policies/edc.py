"""EDC — Entropy-History-Aware Drafting Control, as AHASD's hardware state machine.

[ahasd26] §4.2: after each draft batch its mean entropy is bucketised over [0, H_max] and pushed
into the 8×3-bit LEHT; a 3-bit LLR counts batches in flight; the 9-bit PHT index is {mean bucket of
the older LEHT half, mean bucket of the newer half, LLR}; the 2-bit saturating counter there
(initialised to 2) says "continue look-ahead" iff ≥ 2. On verification: full acceptance commits the
batch's bucket into LCEHT and increments the counter; anything else restores LEHT from LCEHT and
decrements it. Where the paper is ambiguous (and [ahasd-artifact] picks one way) the choice is an
option; the default is the paper's reading or, where the paper is silent, a branch predictor's.
"""

from __future__ import annotations

from ahasd.policies.settings import EdcConfig


class EDC:
    """The EDC state machine; ``after_batch`` predicts, ``on_verified`` trains."""

    def __init__(self, config: EdcConfig | None = None) -> None:
        self.cfg = cfg = config or EdcConfig()
        # every size is annotated: the compiled build types them (the settings are pydantic)
        self.n_buckets: int = 1 << cfg.bucket_bits
        self.llr_max: int = (1 << cfg.llr_bits) - 1
        self.ctr_max: int = (1 << cfg.counter_bits) - 1
        self.ctr_threshold: int = 1 << (cfg.counter_bits - 1)  # MSB set
        init = self.ctr_threshold if cfg.counter_init is None else cfg.counter_init
        self.ctr_init: int = min(max(init, 0), self.ctr_max)
        self.index_bits: int = 2 * cfg.bucket_bits + cfg.llr_bits
        # Hot-path constants: after_batch/on_verified run once per draft batch or verification
        # in the simulator's event loop, so the config switches are decoded here, once.
        self._h_max: float = cfg.h_max
        self._history: int = cfg.history
        self._half: int = cfg.history // 2
        self._older_shift: int = cfg.bucket_bits + cfg.llr_bits
        self._newer_shift: int = cfg.llr_bits
        self._shift: bool = cfg.leht_order == "shift"
        self._checkpoint: bool = cfg.update_index == "checkpoint"
        self._commit_batch: bool = cfg.commit == "batch"
        self._reset_llr: bool = cfg.llr_on_reject == "reset"
        self.reset()

    def reset(self) -> None:
        c = self.cfg
        self.leht = [0] * c.history
        self._newer = self._older = 0  # sums of LEHT's two halves, kept as entries change
        self.lceht = [0] * c.history
        self.ptr = 0  # circular LEHT write pointer (leht_order="circular")
        self.cptr = 0  # circular LCEHT write pointer (the artifact never restores it)
        self.llr = 0
        self.pht = [self.ctr_init] * (1 << self.index_bits)
        self.pending: dict[int, tuple[int, int]] = {}  # batch_id -> (index, bucket)

    @property
    def storage_bits(self) -> int:
        """LEHT + LCEHT + LLR + PHT bits (default 8·3 + 8·3 + 3 + 512·2 = 1075)."""
        c = self.cfg
        return 2 * c.history * c.bucket_bits + c.llr_bits + (1 << self.index_bits) * c.counter_bits

    def bucket(self, mean_entropy: float) -> int:
        """floor(n_buckets · H / H_max), clamped to [0, n_buckets − 1]."""
        b = int(self.n_buckets * mean_entropy / self._h_max) if mean_entropy > 0 else 0
        return b if b < self.n_buckets else self.n_buckets - 1

    def index(self) -> int:
        """{older-half mean bucket, newer-half mean bucket, LLR} as one integer.

        "shift": leht[0] is the newest entry (H0), so H0-3 are the recent half; "circular":
        physical slots, whose meaning rotates with the write pointer ([ahasd-artifact]). The
        halves' sums are kept as entries move (``_newer``, ``_older``), not summed again.
        """
        half = self._half
        older, newer = self._older // half, self._newer // half
        return (older << self._older_shift) | (newer << self._newer_shift) | self.llr

    def after_batch(self, batch_id: int, mean_entropy: float) -> bool:
        """Record a drafted batch; True = keep drafting ahead (counter ≥ threshold).

        The halves' sums are updated by the entries that move instead of summed again.
        """
        b = self.bucket(mean_entropy)
        leht, half = self.leht, self._half
        if self._shift:  # H3 moves to the older half, H7 drops out
            mid = leht[half - 1]
            self._newer += b - mid
            self._older += mid - leht[-1]
            leht.insert(0, b)
            leht.pop()
        else:
            ptr = self.ptr
            if ptr < half:
                self._newer += b - leht[ptr]
            else:
                self._older += b - leht[ptr]
            leht[ptr] = b
            self.ptr = (ptr + 1) % self._history
        llr = self.llr + 1
        if llr > self.llr_max:
            llr = self.llr_max
        self.llr = llr
        idx = self.index()
        self.pending[batch_id] = (idx, b)
        return self.pht[idx] >= self.ctr_threshold

    def on_verified(self, batch_id: int, fully_accepted: bool) -> None:
        """Train on the verification of ``batch_id`` (commit or roll back the history).

        Runs once per verification: tables are copied in place (no new lists) and the
        clamps are plain comparisons; the result equals the min/max form.
        """
        entry = self.pending.pop(batch_id, None)
        llr = self.llr
        self.llr = llr - 1 if llr > 0 else 0
        if fully_accepted:
            if self._commit_batch:
                self._push_commit(entry[1] if entry is not None else 0)
            else:
                self.lceht[:] = self.leht
        else:
            leht, half = self.leht, self._half
            leht[:] = self.lceht
            self._newer, self._older = sum(leht[:half]), sum(leht[half:])
            if self._reset_llr:
                self.llr = 0
                self.pending.clear()  # later batches were drafted on a rejected prefix
        if self._checkpoint:
            if entry is None:
                return
            idx = entry[0]
        else:
            idx = self.index()
        pht, ctr = self.pht, self.pht[idx]
        if fully_accepted:
            pht[idx] = ctr + 1 if ctr < self.ctr_max else self.ctr_max
        else:
            pht[idx] = ctr - 1 if ctr > 0 else 0

    def _push_commit(self, b: int) -> None:
        if self._shift:
            self.lceht.insert(0, b)
            self.lceht.pop()
        else:  # circular: LCEHT has its own write pointer, advanced once per commit
            self.lceht[self.cptr] = b
            self.cptr = (self.cptr + 1) % self._history
