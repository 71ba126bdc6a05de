"""EDC and TVC settings: table sizes, seeds and the switches where the paper is ambiguous.

Validated at the boundary (pydantic) and kept apart from the state machines in
:mod:`ahasd.policies.edc` and :mod:`ahasd.policies.tvc`, which are compiled with the event loop
(docs/systems.md, "Speed") and read these settings once, when they are built.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EdcConfig(BaseModel):
    """EDC sizes and the ambiguity switches (defaults: the paper's reading)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    h_max: float = Field(
        default=10.0, gt=0.0, le=100.0
    )  # artifact: 10 ≈ ln 32000; paper: "observed max"
    history: int = Field(default=8, ge=2, le=64)  # LEHT/LCEHT entries (even: two halves)
    bucket_bits: int = Field(default=3, ge=1, le=8)  # 8 buckets
    llr_bits: int = Field(default=3, ge=1, le=8)
    counter_bits: int = Field(default=2, ge=1, le=8)
    counter_init: int | None = None  # None: weakly continue (2 for 2-bit), as the artifact
    leht_order: Literal["shift", "circular"] = "shift"  # shift register (the likely intent)
    update_index: Literal["checkpoint", "recompute"] = "checkpoint"  # artifact: recompute
    commit: Literal["batch", "copy-leht"] = "batch"  # paper: the batch's bucket; artifact: copy
    llr_on_reject: Literal["reset", "decrement"] = "reset"  # later batches squashed; artifact: -1


class TvcConfig(BaseModel):
    """TVC table sizes, seeds and the artifact's options (defaults: the paper's reading)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    entries: int = Field(default=4, ge=1, le=64)
    # [ahasd-resim] 3x4x16 b; artifact 64 + 32 b
    entry_bits: int = Field(default=16, ge=1, le=128)
    ncr_bits: int = Field(default=16, ge=1, le=128)
    # f_PIM / f_NPU (artifact: 0.8)
    pim_per_npu_clock: float = Field(default=0.8, gt=0.0, le=100.0)
    # seeds in PIM cycles (per KV token, per draft token, per pre-verified token); None = the
    # driver's offline profile (the simulator: the platform's own step costs)
    seed_nvct: float | None = Field(default=None, gt=0.0)
    seed_pdct: float | None = Field(default=None, gt=0.0)
    seed_pvct: float | None = Field(default=None, gt=0.0)
    seeded: bool = True  # paper: tables pre-loaded; False: empty until the first sample
    ncr_domain: Literal["convert", "raw"] = "convert"  # artifact "raw": NCR in NPU cycles
    max_tokens: int | None = Field(default=None, ge=1, le=4096)  # artifact: 8
    no_slack: Literal["draft", "stop"] = "draft"  # paper: keep drafting; artifact: stop
    min_pending_batches: int = Field(
        default=1, ge=1, le=64
    )  # artifact: 2 (pre-verify only with >= 2)
    pvct_fallback: float | None = Field(
        default=None, gt=0.0, le=100.0
    )  # artifact: 0.8 x PDCT until a PVCT
