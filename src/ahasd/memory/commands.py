"""Command-level reference models: issue every DRAM command at its earliest legal time.

These are the checks behind the closed forms of :mod:`ahasd.memory.stream` and
:mod:`ahasd.memory.pim` (tests compare them), never used in the simulator's hot loop. Each model
walks one channel (one die for PIM) command by command, in clock cycles, under the JESD209-5B
rules that bind a long stream ([jesd209-5b] as tabulated by [ramulator2]): tRCD, tRAS, tRPpb/ab,
tRC, tRRD, tFAW (four activates per window), tCCD_S/L, tRTP, the data-bus burst, one command per
command-bus slot (an activate takes two), and all-bank refresh (PREab, tRFCab) every tREFI.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from ahasd.memory.pim import PimRates
from ahasd.memory.spec import DramSpec


@dataclass
class _Bus:
    """Command-bus slots: a command takes the first free slot at or after its earliest cycle."""

    used: set[int]

    def take(self, earliest: int) -> int:
        t = earliest
        while t in self.used:
            t += 1
        self.used.add(t)
        if len(self.used) > 4096:  # forget slots far in the past
            floor = t - 2048
            self.used = {s for s in self.used if s >= floor}
        return t

    def activate(self, earliest: int) -> int:
        """ACT-1 then ACT-2 in the next free slots (JESD209-5B allows a gap up to tAAD);
        the row opens with ACT-2, so timing counts from it."""
        return self.take(self.take(earliest) + 1)


class _Refresh:
    """All-bank refresh every tREFI: returns when the die is usable again."""

    def __init__(self, spec: DramSpec) -> None:
        self.spec = spec
        self.refi = spec.timing["tREFI"] / spec.timing["tCK"]
        self.next = self.refi
        self.count = 0

    def due(self, cycle: float) -> bool:
        return cycle >= self.next

    def run(self, ready: int, bus: _Bus, *, closed: bool = False) -> int:
        """PREab at ``ready`` (skipped when the banks are already ``closed``), REFab after tRPab,
        then tRFCab; returns the cycle the die is usable again."""
        s = self.spec
        ref = bus.take(ready) if closed else bus.take(bus.take(ready) + s.nck("tRPab"))
        self.next += self.refi
        self.count += 1
        return ref + s.nck("tRFCab")


def stream_read(spec: DramSpec, n_bytes: float) -> float:
    """Seconds one channel needs to read ``n_bytes`` sequentially (one die, open-page).

    Bursts alternate bank groups (column-interleaved map); row set ``k`` is one row in bank
    ``k mod banks_per_group`` of every group. The next set is opened as soon as the current one
    starts being read (tRRD/tFAW and the bank's own precharge permitting); a set's rows are
    precharged (in a free command slot) before the bank opens again. Returns the time from the
    first command to the last data beat.
    """
    s, t = spec, spec.timing
    groups = max(1, s.bank_groups)
    per_group = s.banks // groups
    cols = s.columns_per_row
    bursts = math.ceil(n_bytes / s.column_bytes)
    nck = s.nck
    burst = max(1, math.ceil(s.burst_s / t["tCK"] - 0.01))
    bus = _Bus(set())
    refresh = _Refresh(s)
    acts: deque[int] = deque(maxlen=4)
    state = {"last_act": -(10**9)}
    bank_free: dict[int, int] = {}  # bank -> earliest next ACT (after its precharge)
    bank_act: dict[int, int] = {}  # bank -> ACT cycle of its open row
    pending_pre: dict[int, int] = {}  # bank -> earliest PRE of its finished row

    def activate(bank: int, earliest: int) -> int:
        if bank in pending_pre:  # close the bank's last row in the first free slot it allows
            bank_free[bank] = bus.take(pending_pre.pop(bank)) + nck("tRPpb")
        at = max(earliest, bank_free.get(bank, 0), state["last_act"] + nck("tRRD"))
        if len(acts) == 4:
            at = max(at, acts[0] + nck("tFAW"))
        at = bus.activate(at)
        acts.append(at)
        state["last_act"] = bank_act[bank] = at
        return at

    def open_set(k: int, earliest: int) -> list[int]:
        return [activate(g * per_group + k % per_group, earliest) for g in range(groups)]

    sets = math.ceil(bursts / (groups * cols))
    set_span = groups * cols * burst  # cycles one row set takes to read
    opened, upcoming = open_set(0, 0), None
    last_rd, last_rd_group = -(10**9), [-(10**9)] * groups
    last_data, done = 0, 0
    for k in range(sets):
        set_reads: dict[int, int] = {}
        for i in range(min(groups * cols, bursts - done)):
            g = i % groups
            earliest = max(opened[g] + nck("tRCD"), last_rd + nck("tCCD_S"),
                           last_rd_group[g] + nck("tCCD_L"))  # fmt: skip
            if refresh.due(earliest):  # close everything, refresh, reopen this set
                ready = max(last_rd + nck("tRTP"), max(bank_act.values()) + nck("tRAS"))
                resume = refresh.run(ready, bus)
                pending_pre.clear()
                bank_free = dict.fromkeys(bank_free, resume)
                opened, upcoming = open_set(k, resume), None
                earliest = max(opened[g] + nck("tRCD"), last_rd + nck("tCCD_S"))
            at = bus.take(earliest)
            bank = g * per_group + k % per_group
            last_rd = last_rd_group[g] = set_reads[bank] = at
            last_data = at + burst
            done += 1
            ahead = per_group > 1 and k + 1 < sets  # the next set's banks are other banks
            if upcoming is None and ahead and not refresh.due(at + set_span):
                upcoming = open_set(k + 1, at + 1)  # not just before a refresh closes it
        for bank, rd in set_reads.items():  # precharged when the bank is next opened
            pending_pre[bank] = max(rd + nck("tRTP"), bank_act[bank] + nck("tRAS"))
        if upcoming is not None:
            opened, upcoming = upcoming, None
        elif k + 1 < sets:  # one bank per group: reopen after this set's precharges
            opened = open_set(k + 1, last_rd + 1)
    return last_data * t["tCK"]


def pim_gemv(rates: PimRates, rows: int, passes: int = 1) -> float:
    """Seconds one die needs for ``passes`` passes over ``rows`` row sets (one row per bank).

    Per row set: activate (all-bank: one two-slot command; per-bank: one per bank under
    tRRD/tFAW), column MAC commands every ``cmd`` interval after tRCD, all-bank precharge after
    tRTP and tRAS, next activate after tRPab and tRC. Refresh interrupts every tREFI.
    """
    s, t = rates.dram, rates.dram.timing
    tck = t["tCK"]
    nck = s.nck
    cmd = math.ceil(rates.cmd_s / tck - 0.01)
    cols = s.columns_per_row
    bus = _Bus(set())
    refresh = _Refresh(s)
    acts: deque[int] = deque(maxlen=4)
    now, last_act, last_row_act = 0, -(10**9), -(10**9)
    end = 0
    for _ in range(rows * passes):
        if refresh.due(now):  # between row cycles: every bank is precharged already
            now = refresh.run(now, bus, closed=True)
        start = max(now, last_row_act + nck("tRC"))
        if rates.all_bank_act:
            first_act = last = bus.activate(start)
        else:
            first_act = None
            for _b in range(rates.units):
                at = max(start, last_act + nck("tRRD"))
                if len(acts) == 4:
                    at = max(at, acts[0] + nck("tFAW"))
                at = bus.activate(at)
                acts.append(at)
                last_act = at
                first_act = at if first_act is None else first_act
            last = last_act
        col = last + nck("tRCD")
        for _c in range(cols):
            col = bus.take(col)
            last_col = col
            col += cmd
        pre = bus.take(max(last_col + nck("tRTP"), last + nck("tRAS")))
        last_row_act = first_act
        now = pre + nck("tRPab")
        end = max(last_col + cmd, pre)
    return end * tck
