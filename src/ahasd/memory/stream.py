"""Sustained sequential read on one channel, in closed form from the timing.

A streaming engine (the NPU's DMA) reads long runs of consecutive addresses. With the usual
address map, consecutive bursts alternate bank groups, so column reads issue every
``max(burst, tCCD_S)`` (``tCCD_L`` when the die has one bank group), and a new row opens in the
next bank while the current ones are read. Three things take their cut, each derived here:

* row switching: ``bank_groups`` rows feed ``bank_groups x columns_per_row`` bursts; opening the
  next ones must fit in that time under tRRD and tFAW (four activates per window);
* the command bus: one slot per read plus ACT-1, ACT-2 and PRE per row (JESD209-5B two-cycle
  activate) must fit in the slots the reads leave;
* refresh: every tREFI the banks close (tRPab), refresh (tRFCab) and reopen (tRCD).

:func:`ahasd.memory.commands.stream_read` issues the same stream command by command; a test holds
the two within a percent.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ahasd.memory.spec import DramSpec

ROW_COMMANDS = 3  # ACT-1, ACT-2, PRE: CA-bus slots each row costs besides its column reads


def column_interval_s(spec: DramSpec) -> float:
    """Time between two column reads of a stream: the burst or the column-to-column gap."""
    t = spec.timing
    gap = t["tCCD_S"] if spec.bank_groups > 1 else t["tCCD_L"]
    return max(spec.burst_s, gap)


def stream_efficiency(spec: DramSpec) -> float:
    """Sustained / peak data-bus rate of a long sequential read on one channel."""
    t = spec.timing
    col = column_interval_s(spec)
    groups = max(1, spec.bank_groups)
    row_set_s = groups * spec.columns_per_row * col  # reading one row in each bank group
    open_s = max(groups * t["tRRD"], math.ceil(groups / 4) * t["tFAW"])
    row_eff = min(1.0, row_set_s / open_s)
    slots = col / t["tCK"]  # command slots per column read
    ca_eff = min(1.0, slots / (1.0 + ROW_COMMANDS / spec.columns_per_row))
    return (spec.burst_s / col) * row_eff * ca_eff * (1.0 - spec.refresh_loss)


def stream_ca_fraction(spec: DramSpec) -> float:
    """Share of the command bus a full-rate stream occupies (reads plus row commands)."""
    col = column_interval_s(spec)
    per_col = (1.0 + ROW_COMMANDS / spec.columns_per_row) * spec.timing["tCK"]
    return min(1.0, per_col / col)
