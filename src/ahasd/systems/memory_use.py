"""What a run did to the memory system: channel traffic, rank energy, contention, switches.

The event loops charge per-task byte counters with the task's energy (``TaskCost`` splits carry
``_dq<c>``, ``_pim<c>`` and ``_j_<role>`` counters under the memory device); this module turns
them, the run's timelines and the loop's contention and switch tallies into ``Result.memory``
and the time-based DRAM energy (per-die background states, refresh, PIM unit leakage) that no
single task owns. Which ranks a timeline track touches follows from the placement: ``draft``
tracks use the draft's ranks, ``verify`` and ``pre-verify`` tracks the target's.
"""

from __future__ import annotations

from typing import Any

from ahasd.memory.energy import die_background, refresh_j, union_s
from ahasd.systems.base import COUNTER_PREFIX

ROLE_OF_TRACK = {"draft": "draft", "verify": "target", "pre-verify": "target"}


def split_counters(energy: dict[str, dict[str, float]]) -> dict[str, float]:
    """Remove the byte/energy counters from the per-device energy; return them summed."""
    counters: dict[str, float] = {}
    for comps in energy.values():
        for key in [k for k in comps if k.startswith(COUNTER_PREFIX)]:
            counters[key[len(COUNTER_PREFIX) :]] = counters.get(key[len(COUNTER_PREFIX) :], 0.0) + (
                comps.pop(key)
            )
    return counters


def _role_ranks(mem: Any) -> dict[str, set[int]]:
    ranks = mem.placement.ranks
    return {role: set(ranks[f"{role}-weights"]) | set(ranks[f"{role}-kv"])
            for role in ("draft", "target")}  # fmt: skip


def memory_summary(
    mem: Any,
    timelines: Any,
    wall_s: float,
    counters: dict[str, float],
    committed: int,
    *,
    gated: bool,
    contention: dict[str, float] | None = None,
    switches: dict[str, float] | None = None,
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """(``Result.memory``, extra energy by device {device: {component: J}})."""
    spec, placement = mem.spec, mem.placement
    peak = spec.channel_peak_bytes_per_s
    channels = []
    for ch in range(spec.channels):
        n_bytes = counters.get(f"dq{ch}", 0.0)
        busy = n_bytes / peak
        channels.append({
            "channel": ch,
            "busy_s": busy,
            "utilisation": busy / wall_s,
            "bytes": n_bytes,
            "pim_bytes": counters.get(f"pim{ch}", 0.0),
        })  # fmt: skip
    roles = _role_ranks(mem)
    lanes = timelines.lanes()
    by_role = {role: [(ln.starts, ln.ends) for (_dev, track), ln in lanes.items()
                      if ROLE_OF_TRACK.get(track) == role] for role in roles}  # fmt: skip
    pim_lanes = {role: [(ln.starts, ln.ends) for (dev, track), ln in lanes.items()
                        if mem.pim is not None and dev == mem.pim.name
                        and ROLE_OF_TRACK.get(track) == role] for role in roles}  # fmt: skip
    classes: dict[tuple[str, ...], dict[str, float]] = {}
    leak_w = mem.pim.unit_leak_w if mem.pim is not None else 0.0
    ranks_out, totals = [], {"background": 0.0, "refresh": 0.0, "leakage": 0.0}
    for row in placement.rank_table():
        rank = row["rank"]
        who = tuple(role for role in ("draft", "target") if rank in roles[role])
        if who not in classes:
            busy, gaps = union_s([s for r in who for s in by_role[r]], wall_s)
            state = die_background(spec, busy, gaps)
            if leak_w and gated:
                powered, _ = union_s([s for r in who for s in pim_lanes[r]], wall_s)
            else:
                powered = wall_s if leak_w else 0.0
            state["leakage_j"] = leak_w * powered
            classes[who] = state
        state = classes[who]
        dies = spec.rank_channels
        energy = {
            "background": state["background_j"] * dies,
            "refresh": refresh_j(spec, wall_s) * dies,
            "leakage": state["leakage_j"] * dies,
        }
        for role in who:
            share = 1.0 / len(placement.ranks[f"{role}-weights"] or (1,))
            energy[f"dynamic_{role}"] = counters.get(f"j_{role}", 0.0) * share
        for key in totals:
            totals[key] += energy[key]
        ranks_out.append({**row, "active_s": state["active_s"],
                          "power_down_s": state["power_down_s"], "energy_j": energy})  # fmt: skip
    total_bytes = sum(c["bytes"] for c in channels)
    summary = {
        "device": spec.name,
        "policy": placement.policy,
        "sharing": "blocked" if mem.blocked else "concurrent",
        "channels": channels,
        "ranks": ranks_out,
        "contention_s": dict(contention or {"npu_stalled_by_pim": 0.0, "pim_stalled_by_npu": 0.0}),
        "switches": dict(switches or {"count": 0, "seconds": 0.0, "joules": 0.0}),
        "bytes_per_token": total_bytes / committed if committed else 0.0,
        "utilisation": sum(c["utilisation"] for c in channels) / len(channels),
    }
    extra = {spec.name: {"background": totals["background"], "refresh": totals["refresh"]}}
    if mem.pim is not None and totals["leakage"]:
        extra[mem.pim.name] = {"leakage": totals["leakage"]}
    return summary, extra
