"""PIM rates from the command sequence of a GEMV, per die and for the dies that hold an operand.

A bank-level PIM die (Samsung LPDDR5-PIM / HBM-PIM, SK hynix AiM: [samsung-lpddr5-pim],
[pimsimulator], [aim-simulator]) runs a GEMV as: one all-bank activate opens a row in every bank
(or per-bank activates under tRRD/tFAW), then one column command per PIM cycle makes every bank's
unit consume one burst of weights, then an all-bank precharge; refresh interrupts every tREFI.
So, per die::

    t_cmd  = max(tCCD_L, power cap, ceil(burst / weight bytes / lanes) x tCCD_L)
    t_row  = max(tRC, max(t_open + (C - 1) t_cmd + tRTP, tRAS) + tRPab)
    rate   = units x row_bytes / t_row x (1 - tRFCab / tREFI)          (bytes of weights / s)

with C columns per row (refresh falls between row cycles, when every bank is closed anyway).
Compute is tied to the column rate (one PIM cycle per tCCD_L, ``lanes`` MACs per unit per
cycle), so the published peaks follow: ``units x lanes x 2 / tCCD_L`` ops/s
and ``units x burst / tCCD_L`` bytes/s per die. A task on ``n`` dies moves its operand's bytes
``1/n`` per die in parallel; the input vector is written to each die and the outputs read back
over the die's channel. :func:`ahasd.memory.commands.pim_gemv` issues the same sequence command
by command (a test holds the two together).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from ahasd.hardware.devices import PimDevice
from ahasd.memory.spec import DramSpec


@dataclass(frozen=True)
class Spread:
    """How many dies of each channel hold an operand (the operand is split evenly over them)."""

    dies_per_channel: tuple[int, ...]

    @property
    def dies(self) -> int:
        return sum(self.dies_per_channel)

    @property
    def max_per_channel(self) -> int:
        return max(self.dies_per_channel) if self.dies_per_channel else 0

    @property
    def channels(self) -> int:
        return sum(1 for d in self.dies_per_channel if d)

    def channel_shares(self) -> tuple[float, ...]:
        """Fraction of the operand's bytes on each channel."""
        n = self.dies
        return tuple(d / n for d in self.dies_per_channel) if n else ()


@dataclass(frozen=True)
class PimRates:
    """Per-die PIM timing of one PIM device on one DRAM package, for one weight precision."""

    dram: DramSpec
    units: int
    lanes: int
    n_alu: int
    weight_bytes: float  # bytes per weight at the run's precision
    all_bank_act: bool
    power_tccd_s: float

    @classmethod
    def of(cls, dram: DramSpec, pim: PimDevice, weight_bytes: float) -> PimRates:
        return cls(dram, pim.units_per_die, pim.lanes, pim.n_alu, float(weight_bytes),
                   pim.all_bank_act, pim.power_tccd_s)  # fmt: skip

    # --- one die -----------------------------------------------------------------------------
    @property
    def cycle_s(self) -> float:
        """One PIM cycle: the column-command period within a bank group (tCCD_L)."""
        return self.dram.timing["tCCD_L"]

    @cached_property
    def cmd_s(self) -> float:
        """Interval between column MAC commands: the unit needs ``cycles`` PIM cycles per burst."""
        macs_per_burst = self.dram.column_bytes / self.weight_bytes
        cycles = max(1, math.ceil(macs_per_burst / self.lanes - 1e-9))
        return max(self.cycle_s, self.power_tccd_s, cycles * self.cycle_s)

    @cached_property
    def open_s(self) -> float:
        """ACT to first column command: one all-bank ACT, or per-bank ACTs under tRRD/tFAW."""
        t = self.dram.timing
        if self.all_bank_act:
            return t["tRCD"]
        last = self.units - 1  # the last bank's ACT: tRRD apart, at most four per tFAW window
        faw = (last // 4) * t["tFAW"] + (last % 4) * t["tRRD"]
        return max(last * t["tRRD"], faw) + t["tRCD"]

    @cached_property
    def row_s(self) -> float:
        """One row cycle of every bank: open, C column commands, precharge all."""
        t = self.dram.timing
        c = self.dram.columns_per_row
        pre_at = max(self.open_s + (c - 1) * self.cmd_s + t["tRTP"], t["tRAS"])
        return max(t["tRC"], pre_at + t["tRPab"])

    @property
    def row_efficiency(self) -> float:
        """Share of a row cycle spent on column commands."""
        return self.dram.columns_per_row * self.cmd_s / self.row_s

    @property
    def peak_bytes_per_s(self) -> float:
        """Internal bandwidth the published figures quote: every unit takes a burst per cycle."""
        return self.units * self.dram.column_bytes / self.cycle_s

    @property
    def peak_ops_per_s(self) -> float:
        """ALU peak: every lane of every unit (x n_alu token ALUs) does a MAC (2 ops) a cycle."""
        return self.units * self.lanes * self.n_alu * 2.0 / self.cycle_s

    @property
    def gemv_bytes_per_s(self) -> float:
        """Weights one die streams through its units per second in a long GEMV (one pass)."""
        row_set = self.units * self.dram.row_bytes
        return row_set / self.row_s * (1.0 - self.dram.refresh_gap_loss)

    @property
    def gemv_ops_per_s(self) -> float:
        """Sustained ops/s of a long GEMV serving ``n_alu`` tokens per pass."""
        return self.gemv_bytes_per_s / self.weight_bytes * 2.0 * self.n_alu

    # --- an operand spread over dies ----------------------------------------------------------
    def array_s(self, resident_bytes: float, tokens: int, spread: Spread) -> float:
        """Array time of one GEMV-like op: ``ceil(tokens / n_alu)`` passes over the bytes."""
        if resident_bytes <= 0:
            return 0.0
        per_die = resident_bytes / spread.dies
        rows = math.ceil(per_die / (self.units * self.dram.row_bytes) - 1e-9)
        passes = math.ceil(tokens / self.n_alu)
        return passes * rows * self.row_s / (1.0 - self.dram.refresh_gap_loss)

    def io_s(self, in_bytes: float, out_bytes: float, spread: Spread) -> float:
        """Writing the input vector to every die and reading its outputs back, per channel."""
        per_channel = spread.max_per_channel
        moved = in_bytes * per_channel + out_bytes * per_channel / spread.dies
        return moved / self.dram.channel_peak_bytes_per_s

    def io_bytes(self, in_bytes: float, out_bytes: float, spread: Spread) -> float:
        """Bytes that cross the channels' data buses for one op (all channels together)."""
        return in_bytes * spread.dies + out_bytes

    def ca_fraction(self, dies_on_channel: int) -> float:
        """Command-bus share of ``dies_on_channel`` dies streaming GEMV rows concurrently."""
        per_row = self.dram.columns_per_row + 3  # column MACs + ACT-1, ACT-2, PRE-all
        return min(1.0, dies_on_channel * per_row * self.dram.timing["tCK"] / self.row_s)

    def summary(self) -> dict[str, float]:
        """Derived per-die figures for reports and ``ahasd memory-plan``."""
        return {
            "cycle_ns": self.cycle_s * 1e9,
            "cmd_ns": self.cmd_s * 1e9,
            "row_ns": self.row_s * 1e9,
            "row_efficiency": self.row_efficiency,
            "refresh_loss": self.dram.refresh_gap_loss,
            "peak_ops_per_s": self.peak_ops_per_s,
            "peak_bytes_per_s": self.peak_bytes_per_s,
            "gemv_bytes_per_s": self.gemv_bytes_per_s,
            "gemv_ops_per_s": self.gemv_ops_per_s,
        }
