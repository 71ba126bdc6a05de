"""``npu-pim-sync``: operator-level synchronous NPU + LPDDR5-PIM (SpecPIM/NeuPIMs style).

Each operator runs on the unit that runs it best with a barrier per operator (cost placement
``npu-pim-op``); draft and verify alternate ([ahasd26] §3). Both devices are held for
the whole task: while one unit computes an operator the other waits at the barrier.
"""

from __future__ import annotations

from ahasd.systems._sync import SyncSystem
from ahasd.systems.base import SYSTEMS


@SYSTEMS.register("npu-pim-sync")
class NpuPimSync(SyncSystem):
    name = "npu-pim-sync"
    default_platform = "ahasd-mobile"
    required_devices = ("npu", "pim")
    memory_device = "pim"
    draft_placement = "npu-pim-op"
    verify_placement = "npu-pim-op"
