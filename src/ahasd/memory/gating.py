"""Moving PIM compute between the draft's ranks and the target's: the GTSU, or a plain controller.

With AHASD's Gated Task Scheduling Unit both rank sets stay in PIM mode and only compute enables
flip ([ahasd26] §4.1: sub-microsecond; the artifact's figures, [ahasd-artifact]: 55 ns, 20 nJ).
Without it the controller takes the path a Samsung-style PIM needs ([pimsimulator]): close the
open rows (tRPab), leave PIM mode on the old dies and enter it on the new ones through writes to
reserved rows (``mode_rows`` activate-write-precharge sequences), reload the PIM program
(``program_writes`` column writes) and wake the units (tXP). Channels switch in parallel.
"""

from __future__ import annotations

from ahasd.hardware.devices import PimDevice
from ahasd.memory.spec import DramSpec


def switch_cost(spec: DramSpec | None, pim: PimDevice, *, gtsu: bool) -> tuple[float, float]:
    """(seconds, joules) of one switch between the draft's and the target's PIM ranks."""
    if gtsu:
        return float(pim.gtsu_switch_s), float(pim.gtsu_switch_j)
    if spec is None or not pim.mode_rows:
        return 0.0, 0.0
    t = spec.timing
    row_write = t["tRCD"] + t["tWR"] + t["tRPpb"]
    seconds = t["tRPab"] + pim.mode_rows * row_write + pim.program_writes * t["tCCD_L"] + t["tXP"]
    written = (pim.mode_rows + pim.program_writes) * spec.column_bytes * 8
    per_channel = pim.mode_rows * spec.act_pre_j + written * spec.off_chip_j_per_bit
    return seconds, per_channel * spec.channels
