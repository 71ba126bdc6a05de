"""Costs and controllers of the asynchronous system, behind the few calls its loop makes.

Durations and energies come only from ``StepCostTable.cost``. EDC and TVC are the policies
layer's state machines; TVC is fed *simulated* cycles (its predictor is separate from the true
latency the tables give, [ahasd26] §4.3) and seeded from this platform's own step costs (the
paper's "offline profile"). Cycle domains: draft and pre-verify cycles at the PIM clock, NPU
cycles at the NPU clock (TVC converts). The loop calls EDC's and TVC's per-batch and
per-verification methods directly; the rest goes through here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ahasd.cost import StepCostTable
from ahasd.memory.gating import switch_cost
from ahasd.systems.base import RunContext, TaskCost

if TYPE_CHECKING:
    from ahasd.policies.edc import EDC
    from ahasd.policies.tvc import TVC

# the offline profile TVC is seeded with: a draft step, and a verify / pre-verify of this many
# tokens, at the prompt length
PROFILE_TOKENS = 4


def clock_hz(device: Any, default: float = 1e9) -> float:
    """A device's clock; 1 GHz when the preset gives none (Table 2: NPU 1 GHz)."""
    for attr in ("clock_hz", "freq_hz", "frequency_hz"):
        value = getattr(device, attr, None)
        if value:
            return float(value)
    return default


class AsyncParts:
    """Cost lookups, GTSU switch, EDC and TVC for one run."""

    def __init__(
        self, ctx: RunContext, *, use_aau: bool, use_edc: bool, use_tvc: bool, use_gtsu: bool
    ) -> None:
        self.ctx = ctx
        self.use_aau, self.use_edc = use_aau, use_edc
        self.use_tvc, self.use_gtsu = use_tvc, use_gtsu
        pim_placement = "pim" if use_aau else "pim-no-aau"
        self.draft_t: StepCostTable = ctx.table(ctx.draft, pim_placement)
        self.verify_t: StepCostTable = ctx.table(ctx.target, "npu")
        self.pre_t: StepCostTable = ctx.table(ctx.target, pim_placement)
        self.draft_v = ctx.view(self.draft_t, "pim")
        self.verify_v = ctx.view(self.verify_t, "npu")
        self.pre_v = ctx.view(self.pre_t, "pim")
        pim = ctx.platform.device("pim")
        self.pim_hz = clock_hz(pim, 1e9)
        self.npu_hz = clock_hz(ctx.platform.device("npu"), 1e9)
        spec = ctx.mem.spec if ctx.mem is not None else None
        self._switch = switch_cost(spec, pim, gtsu=use_gtsu)
        self.switch_kind = "gtsu" if use_gtsu else "mode_switch"
        # a plain controller's mode change holds every channel (normal reads wait: HBM-PIM's
        # SB/AB modes are per channel, [pimsimulator]); the GTSU only flips rank enables
        self.switch_usage = (
            {} if use_gtsu or spec is None else {("dq", ch): 1.0 for ch in range(spec.channels)}
        )
        self.edc: EDC | None = None
        self.tvc: TVC | None = None
        if use_edc:
            from ahasd.policies.edc import EDC

            self.edc = EDC(ctx.config.edc)
        if use_tvc:
            from ahasd.policies.tvc import TVC

            self.tvc = TVC(ctx.config.tvc, profile=self.offline_profile())
        # TVC found no slack: keep drafting (paper) or stop look-ahead (artifact); see
        # TvcConfig.no_slack
        self.tvc_keeps_drafting = self.tvc.drafts_when_no_slack if self.tvc is not None else True

    def offline_profile(self) -> tuple[float, float, float]:
        """TVC's seeds from this platform's step costs at the prompt length (PIM cycles):
        per KV token of a verification, per draft token, per pre-verified token."""
        kv, n = self.ctx.config.prompt_len, PROFILE_TOKENS
        scale = self.ctx.config.tvc.pim_per_npu_clock
        verify = self.verify_t.cost("verify", n + 1, kv)[0] * self.npu_hz * scale / kv
        draft = self.draft_t.cost("draft", 1, kv)[0] * self.pim_hz
        pre = self.pre_t.cost("verify", n, kv)[0] / n * self.pim_hz
        return verify, draft, pre

    # --- costs -----------------------------------------------------------------------------
    def switch_cost(self) -> tuple[float, float]:
        return self._switch

    @staticmethod
    def npu_share_s(tc: TaskCost) -> float:
        """Seconds of a no-AAU draft step spent on the NPU (its attention/non-linear ops)."""
        return tc.engine_s.get("npu", 0.0)
