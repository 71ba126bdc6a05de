"""Per-die DRAM energy: background states over the run, refresh, and row activations.

DRAMPower-style accounting ([drampower]) with per-die powers from a datasheet IDD table
([dramsys-lpddr4] as the proxy the presets cite): a die is in *active standby* while a task uses
it (rows open), in *precharge standby* when idle, and drops to *power-down* once it has been idle
for ``power_down_after_s`` (exit latency tXP, charged nowhere: 7 ns per wake). Every die refreshes
every tREFI whatever its state. Row activations and array/I-O bits are charged per task by the
cost layer (``act`` and ``mem_*`` components); this module adds the time-based parts.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ahasd.memory.spec import DramSpec


def union_s(spans: Iterable[tuple[Iterable[float], Iterable[float]]], wall_s: float):
    """(busy seconds, idle gaps) of the union of interval lists clipped to [0, wall_s]."""
    starts = np.concatenate([np.asarray(s, dtype=float) for s, _ in spans] or [np.empty(0)])
    ends = np.concatenate([np.asarray(e, dtype=float) for _, e in spans] or [np.empty(0)])
    if starts.size == 0:
        return 0.0, np.array([wall_s])
    order = np.argsort(starts, kind="stable")
    starts, ends = np.clip(starts[order], 0, wall_s), np.clip(ends[order], 0, wall_s)
    reach = np.maximum.accumulate(ends)
    new = np.empty(starts.size, dtype=bool)
    new[0] = True
    new[1:] = starts[1:] > reach[:-1]
    first = np.flatnonzero(new)
    block_start = starts[first]
    block_end = np.append(reach[first[1:] - 1], reach[-1])
    busy = float(np.sum(block_end - block_start))
    gaps = np.concatenate(([block_start[0]], block_start[1:] - block_end[:-1],
                           [wall_s - block_end[-1]]))  # fmt: skip
    return busy, gaps[gaps > 0]


def die_background(spec: DramSpec, busy_s: float, gaps: np.ndarray) -> dict[str, float]:
    """Background energy (J) and state times (s) of one die."""
    after = spec.power_down_after_s
    if after > 0 and spec.power_down_w > 0:
        standby = float(np.sum(np.minimum(gaps, after)))
        down = float(np.sum(gaps)) - standby
    else:
        standby, down = float(np.sum(gaps)), 0.0
    return {
        "active_s": busy_s,
        "standby_s": standby,
        "power_down_s": down,
        "background_j": busy_s * spec.active_standby_w
        + standby * spec.precharge_standby_w
        + down * spec.power_down_w,
    }


def refresh_j(spec: DramSpec, wall_s: float) -> float:
    """Refresh energy of one die over ``wall_s``."""
    return spec.refresh_j * wall_s / spec.timing["tREFI"]


def package_power(mem) -> tuple[float, float, float]:
    """(always-on W, extra W while the draft's task runs, extra W while the target's runs) of a
    run's package, for closed forms: every die at least in power-down and refreshing, a die at
    active standby while its model's task runs, every PIM unit leaking (no rank gating). The
    event loops account per interval instead (``ahasd.systems.memory_use``)."""
    if mem is None:
        return 0.0, 0.0, 0.0
    spec, ranks = mem.spec, mem.placement.ranks
    floor = spec.dies * (spec.power_down_w + spec.refresh_j / spec.timing["tREFI"])
    if mem.pim is not None:
        floor += spec.dies * mem.pim.unit_leak_w
    extra = spec.active_standby_w - spec.power_down_w
    per = []
    for role in ("draft", "target"):
        n_ranks = len(set(ranks[f"{role}-weights"]) | set(ranks[f"{role}-kv"]))
        per.append(n_ranks * spec.rank_channels * extra)
    return floor, per[0], per[1]
