"""``npu-pim-async``: task-level asynchronous NPU + LPDDR5-PIM without AHASD's additions.

The ablation baseline of [ahasd26] §6.1 ([amusd]-like): the draft model drafts continuously
on PIM into the unverified queue (look-ahead until the queue is full), the target verifies on the
NPU; no AAU (attention and non-linear draft ops cross to the NPU), no EDC, no TVC.
"""

from __future__ import annotations

from ahasd.systems.ahasd import Ahasd
from ahasd.systems.base import SYSTEMS, RunContext


@SYSTEMS.register("npu-pim-async")
class NpuPimAsync(Ahasd):
    """``ahasd`` with every feature off, whatever the config's flags say."""

    name = "npu-pim-async"

    def flags(self, ctx: RunContext) -> dict[str, bool]:
        return {"use_aau": False, "use_edc": False, "use_tvc": False, "use_gtsu": False}
