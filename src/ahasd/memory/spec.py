"""A DRAM package as the memory layer sees it: dies on channels, banks, rows, JEDEC timing.

:class:`DramSpec` is built once from a :class:`~ahasd.hardware.devices.DramDevice` that carries
``timing_s`` and the organisation fields; everything the other modules need (burst time, peak and
sustained channel bandwidth, refresh loss, which channel a die sits on) is derived here. Units are
SI (seconds, bytes). Names follow JESD209-5B ([jesd209-5b]): ``tCK``, ``tRCD``, ``tRPab``, ...
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import cached_property

from ahasd.errors import AhasdError
from ahasd.hardware.devices import DramDevice

# timings every described package must give, and the ones derived when absent
REQUIRED = ("tCK", "tRCD", "tRPab", "tRAS", "tCCD_S", "tCCD_L", "tRRD", "tFAW", "tRFCab", "tREFI")
_DERIVED = {
    "tRPpb": lambda t: t["tRPab"],
    "tRC": lambda t: t["tRAS"] + t["tRPpb"],
    "tRTP": lambda t: 8 * t["tCK"],  # JEDEC LPDDR5 max(7.5 ns, 8 nCK) at 6400 rounds to 8 nCK
    "tWR": lambda t: t["tRCD"] + t["tRPpb"],
    "tXP": lambda t: max(7e-9, 3 * t["tCK"]),
    "tCS": lambda t: 2 * t["tCK"],
}


@dataclass(frozen=True)
class DramSpec:
    """Organisation, timing and per-die energy of one DRAM package (SI units)."""

    name: str
    kind: str
    channels: int
    ranks: int
    rank_channels: int  # channels one rank spans
    banks: int  # per die
    bank_groups: int
    row_bytes: float
    burst_length: int
    channel_bits: int
    data_rate_hz: float
    capacity_bytes: float
    timing: dict[str, float]
    max_ranks_per_channel: int
    active_standby_w: float
    precharge_standby_w: float
    power_down_w: float
    power_down_after_s: float
    refresh_j: float
    act_pre_j: float
    off_chip_j_per_bit: float
    in_bank_j_per_bit: float

    @classmethod
    def from_device(cls, dev: DramDevice) -> DramSpec:
        timing = dict(dev.timing_s)
        if dev.timing_nck or "tCK" not in timing:  # one burst = 2 command clocks (4:1 WCK, BL16)
            tck = timing.setdefault("tCK", dev.burst_length / (2.0 * dev.data_rate_hz))
            timing.update({name: n * tck for name, n in dev.timing_nck})
        missing = [k for k in REQUIRED if k not in timing]
        if missing:
            raise AhasdError(
                f"devices.{dev.name}.timing_ns: missing {', '.join(missing)}; "
                f"accepted: timing_ns (nanoseconds) and timing_nck (clocks) giving at least "
                f"{', '.join(REQUIRED)}"
            )
        for key, rule in _DERIVED.items():
            timing.setdefault(key, rule(timing))
        if dev.bus_bits % dev.channels:
            raise AhasdError(
                f"devices.{dev.name}.bus_bits: got {dev.bus_bits}; accepted: a multiple of "
                f"channels ({dev.channels})"
            )
        if dev.channels % dev.rank_channels or (dev.ranks * dev.rank_channels) % dev.channels:
            raise AhasdError(
                f"devices.{dev.name}.ranks: got {dev.ranks} ranks of {dev.rank_channels} "
                f"channel(s) on {dev.channels} channels; accepted: every channel holds the same "
                "number of dies (ranks x rank_channels a multiple of channels)"
            )
        if not dev.row_bytes > 0 or dev.banks_per_rank % dev.bank_groups:
            raise AhasdError(
                f"devices.{dev.name}: row_bytes must be > 0 and banks_per_rank a multiple of "
                f"bank_groups (got {dev.row_bytes}, {dev.banks_per_rank}, {dev.bank_groups})"
            )
        shared = {f.name for f in fields(cls)} & {f.name for f in fields(dev)}
        return cls(
            **{name: getattr(dev, name) for name in shared},
            banks=dev.banks_per_rank,
            channel_bits=dev.bus_bits // dev.channels,
            timing=timing,
        )

    # --- organisation ----------------------------------------------------------------------
    @property
    def dies(self) -> int:
        return self.ranks * self.rank_channels

    @property
    def dies_per_channel(self) -> int:
        return self.dies // self.channels

    @property
    def die_capacity_bytes(self) -> float:
        return self.capacity_bytes / self.dies

    @property
    def rank_capacity_bytes(self) -> float:
        return self.die_capacity_bytes * self.rank_channels

    def rank_dies(self, rank: int) -> tuple[tuple[int, int], ...]:
        """(channel, die slot on that channel) of each die of ``rank``.

        A one-channel rank ``r`` sits on channel ``r mod channels`` (ranks are dealt round the
        channels, so consecutive ranks fill every channel before stacking); a rank spanning all
        channels has one die on each.
        """
        groups = self.channels // self.rank_channels
        first = (rank % groups) * self.rank_channels
        slot = rank // groups
        return tuple((first + i, slot) for i in range(self.rank_channels))

    @property
    def ranks_per_channel(self) -> int:
        """Independently selected ranks (chip selects) each channel carries."""
        return self.dies_per_channel

    def warnings(self) -> list[str]:
        """Where the configuration exceeds what real parts select, run as stated and say so."""
        if self.dies_per_channel <= self.max_ranks_per_channel:
            return []
        return [
            f"{self.name}: {self.ranks} ranks on {self.channels} channels put "
            f"{self.dies_per_channel} independently selected dies on each channel; real "
            f"{self.kind.upper()} parts select about {self.max_ranks_per_channel} per channel "
            "[micron-lpddr5]; simulated as stated"
        ]

    # --- timing ----------------------------------------------------------------------------
    @property
    def column_bytes(self) -> float:
        """Bytes one column command moves (one burst on one channel)."""
        return self.channel_bits * self.burst_length / 8.0

    @property
    def columns_per_row(self) -> int:
        return max(1, int(self.row_bytes // self.column_bytes))

    @property
    def burst_s(self) -> float:
        """Data-bus time of one burst: BL / data rate."""
        return self.burst_length / self.data_rate_hz

    @property
    def channel_peak_bytes_per_s(self) -> float:
        return self.data_rate_hz * self.channel_bits / 8.0

    @property
    def peak_bytes_per_s(self) -> float:
        return self.channel_peak_bytes_per_s * self.channels

    @cached_property
    def refresh_loss(self) -> float:
        """Fraction of a die's time lost to all-bank refresh, once per tREFI: the last column
        command's rows close (tRTP, tRPab), the die refreshes (tRFCab), the rows reopen (tRCD)."""
        t = self.timing
        return min(1.0, (t["tRTP"] + t["tRPab"] + t["tRFCab"] + t["tRCD"]) / t["tREFI"])

    @property
    def refresh_gap_loss(self) -> float:
        """Refresh loss when the die is refreshed between row cycles (banks already closed, as
        in a PIM GEMV): only tRFCab per tREFI."""
        t = self.timing
        return min(1.0, t["tRFCab"] / t["tREFI"])

    @cached_property
    def stream_efficiency(self) -> float:
        """Data-bus efficiency of a long sequential read on one channel (see ``stream``)."""
        from ahasd.memory.stream import stream_efficiency

        return stream_efficiency(self)

    @property
    def channel_sustained_bytes_per_s(self) -> float:
        return self.channel_peak_bytes_per_s * self.stream_efficiency

    @property
    def refreshes_per_s(self) -> float:
        return 1.0 / self.timing["tREFI"]

    def nck(self, name: str) -> int:
        """A timing in whole command clocks (rounded up, as controllers issue on clock edges)."""
        return math.ceil(self.timing[name] / self.timing["tCK"] - 0.01)
