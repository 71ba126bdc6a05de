"""``npu-only``: draft and verify alternate on the mobile NPU with plain LPDDR5 (no PIM).

AHASD Table 4's "NPU+LPDDR5" baseline ([ahasd26] §5): both models' weights stream from
LPDDR5 over the 51.2 GB/s external bus on every pass.
"""

from __future__ import annotations

from ahasd.systems._sync import SyncSystem
from ahasd.systems.base import SYSTEMS


@SYSTEMS.register("npu-only")
class NpuOnly(SyncSystem):
    name = "npu-only"
    default_platform = "npu-lpddr5"
    required_devices = ("npu",)
    memory_device = "lpddr5"
    draft_placement = "npu"
    verify_placement = "npu"
