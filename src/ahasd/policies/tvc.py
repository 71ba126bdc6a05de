"""TVC — Time-Aware Pre-Verification Control, as AHASD's hardware state machine.

[ahasd26] §4.3: three 4-entry ratio tables (NVCT: NPU verify cycles per KV token, in the
PIM clock domain; PDCT: PIM draft cycles per token; PVCT: PIM pre-verify cycles per token),
seeded with offline per-token profiles, and the NCR (cycles the current NPU verification has
run). When EDC says stop, the slack C_left = mean(NVCT)·L_KV − NCR − mean(PDCT)·1 pre-verifies
⌊C_left / mean(PVCT)⌋ of the oldest unverified tokens (0 = none). Callers pass NPU cycles at the
NPU clock; TVC converts them with ``pim_per_npu_clock`` (PIM 800 MHz / NPU 1 GHz = 0.8). Where
[ahasd-artifact] ("artifact" below) deviates from the paper ("paper"), the deviation is an
option; defaults follow the paper.
"""

from __future__ import annotations

from ahasd.errors import AhasdError
from ahasd.policies.settings import TvcConfig

# Fallback seeds, used only when neither the config nor the driver gives an offline profile (the
# simulator seeds from the platform's own step costs, :class:`ahasd.systems._async_parts`):
# back-of-envelope per-token costs for LLaMA2-7B -> 13B at Table 2's published rates
# ([ahasd26] Table 2): NPU verify ≈ 254 ms per pass at L_KV ≈ 640 -> 3.2e5 PIM cycles/KV token;
# PIM draft ≈ 26 ms/token ≈ 2.1e7 PIM cycles; pre-verify of the 13B ≈ 51 ms ≈ 4.1e7 cycles.
SEED_NVCT = 3.2e5
SEED_PDCT = 2.1e7
SEED_PVCT = 4.1e7


class _Table:
    """A 4-entry circular table of ratios; mean of the valid entries.

    ``push`` runs once per draft batch and verification: it uses comparisons, not ``%``/``min``,
    and ``mean`` sums the same entries in the same order (bit-identical to a plain mean; a
    running sum would round differently).
    """

    __slots__ = ("vals", "ptr", "n", "size")

    def __init__(self, entries: int, seed: float | None) -> None:
        self.vals: list[float] = [seed if seed is not None else 0.0] * entries
        self.size = entries
        self.n = entries if seed is not None else 0
        self.ptr = 0

    def push(self, v: float) -> None:
        ptr = self.ptr
        self.vals[ptr] = v
        ptr += 1
        self.ptr = ptr if ptr < self.size else 0
        if self.n < self.size:
            self.n += 1

    def mean(self) -> float | None:
        n = self.n
        if n == self.size:
            return sum(self.vals) / n
        if n == 0:
            return None
        return sum(self.vals[:n]) / n  # filled from slot 0 when unseeded


class TVC:
    """Predicts NPU/PIM latencies from ratio tables and plans pre-verification into the slack."""

    def __init__(
        self, config: TvcConfig | None = None, profile: tuple[float, float, float] | None = None
    ) -> None:
        """``profile``: offline (NVCT, PDCT, PVCT) seeds used where the config gives none."""
        self.cfg = c = config or TvcConfig()
        fallback = profile or (SEED_NVCT, SEED_PDCT, SEED_PVCT)
        self.seeds = tuple(
            given if given is not None else default
            for given, default in zip((c.seed_nvct, c.seed_pdct, c.seed_pvct), fallback,
                                      strict=True)
        )  # fmt: skip
        # decoded once: plan() and the record_* calls run in the simulator's event loop
        # (annotated: the compiled build types them; the settings are pydantic)
        self._pim_per_npu: float = c.pim_per_npu_clock
        self._ncr_scale: float = c.pim_per_npu_clock if c.ncr_domain == "convert" else 1.0
        self._plan_args: tuple[int, float | None, int | None] = (
            c.min_pending_batches,
            c.pvct_fallback,
            c.max_tokens,
        )
        self.reset()

    def reset(self) -> None:
        c = self.cfg
        nvct, pdct, pvct = self.seeds
        self.nvct = _Table(c.entries, nvct if c.seeded else None)
        self.pdct = _Table(c.entries, pdct if c.seeded else None)
        self.pvct = _Table(c.entries, pvct if c.seeded else None)
        self.consultations = 0

    @property
    def storage_bits(self) -> int:
        """3 tables × entries × entry bits + NCR (default 3·4·16 + 16 = 208)."""
        return 3 * self.cfg.entries * self.cfg.entry_bits + self.cfg.ncr_bits

    @property
    def drafts_when_no_slack(self) -> bool:
        return self.cfg.no_slack == "draft"

    def record_draft(self, cycles: float, n: int) -> None:
        """PIM cycles to draft ``n`` tokens -> PDCT."""
        if n > 0:
            self.pdct.push(cycles / n)

    def record_preverify(self, cycles: float, n: int) -> None:
        """PIM cycles to pre-verify ``n`` tokens -> PVCT."""
        if n > 0:
            self.pvct.push(cycles / n)

    def record_verify(self, npu_cycles: float, l_kv: int) -> None:
        """NPU cycles of a verification at KV length ``l_kv`` -> NVCT (PIM clock domain)."""
        if l_kv > 0:
            self.nvct.push(npu_cycles * self._pim_per_npu / l_kv)

    def predict_verify(self, l_kv: int) -> float | None:
        m = self.nvct.mean()
        return None if m is None else m * l_kv

    def slack(self, ncr_cycles: float, l_kv: int) -> float | None:
        """C_left = C_NPU(L_KV) − C_now − C_PIM-Draft(1), PIM cycles; None while cold."""
        c_npu, draft1 = self.predict_verify(l_kv), self.pdct.mean()
        if c_npu is None or draft1 is None:
            return None
        return c_npu - ncr_cycles * self._ncr_scale - draft1

    def plan(self, ncr_cycles: float, l_kv: int, pending_batches: int | None = None) -> int:
        """Tokens to pre-verify now (0 = none); call only when EDC said stop.

        ``pending_batches`` (unverified batches in flight) is needed only by the artifact's option
        ``min_pending_batches > 1``; a driver that cannot report it gets an error, not a silent
        no-op.
        """
        self.consultations += 1
        min_pending, pvct_fallback, max_tokens = self._plan_args  # the config's, read once
        if min_pending > 1:
            if pending_batches is None:
                raise AhasdError(
                    f"tvc.min_pending_batches: got {min_pending}; accepted: 1 with a driver "
                    "that does not report pending batches"
                )
            if pending_batches < min_pending:
                return 0
        # slack() inlined (same expression, same order): this runs at every EDC stop
        verify, draft1, per = self.nvct.mean(), self.pdct.mean(), self.pvct.mean()
        if per is None and pvct_fallback is not None:
            per = None if draft1 is None else pvct_fallback * draft1
        if verify is None or draft1 is None or per is None or per <= 0:
            return 0
        left = verify * l_kv - ncr_cycles * self._ncr_scale - draft1
        if left < per:
            return 0
        n = int(left // per)
        return min(n, max_tokens) if max_tokens is not None else n


def after_edc(
    tvc: TVC | None,
    edc_continue: bool,
    ncr_cycles: float,
    l_kv: int,
    pending_batches: int | None = None,
) -> int:
    """AHASD's conservative insertion: TVC is consulted only when EDC says stop."""
    if edc_continue or tvc is None:
        return 0
    return tvc.plan(ncr_cycles, l_kv, pending_batches)
