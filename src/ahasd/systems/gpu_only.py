"""``gpu-only``: draft and verify alternate on one laptop GPU (AHASD's GPU baseline, [ahasd26] §5).

When the two models do not fit the GPU's memory (LLaMA2-7B + 13B INT8 is ~20 GB on a 16 GB RTX 4090
Laptop) the excess weights stream from host memory over the host link on every pass — the
``offload_bytes`` of the memory plan — and the result says so (``fits_in_memory: false`` plus a
warning).
"""

from __future__ import annotations

from typing import Any

from ahasd.cost import StepCostTable
from ahasd.systems._sync import SyncSystem
from ahasd.systems.base import SYSTEMS, RunContext


@SYSTEMS.register("gpu-only")
class GpuOnly(SyncSystem):
    name = "gpu-only"
    default_platform = "gpu-rtx4090-laptop"
    required_devices = ("gpu",)
    memory_device = "gpu"
    draft_placement = "gpu"
    verify_placement = "gpu"

    def tables(self, ctx: RunContext) -> tuple[StepCostTable, StepCostTable]:
        return (
            ctx.table(ctx.draft, "gpu", offload_bytes=ctx.offload(ctx.draft)),
            ctx.table(ctx.target, "gpu", offload_bytes=ctx.offload(ctx.target)),
        )

    def extras(self, ctx: RunContext) -> dict[str, Any]:
        return {
            "offload_bytes": {
                "draft": ctx.offload(ctx.draft),
                "target": ctx.offload(ctx.target),
            }
        }
