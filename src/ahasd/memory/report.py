"""``ahasd memory-plan``: a placement with the rates the physics gives each model.

One dict (the ``--json`` output): the package (organisation, timing-derived bandwidths, PIM
rates beside the published figures), one row per rank (what it holds, capacity), and per model
the ranks it sits on, the PIM rate of those ranks and the NPU's stream rate over its channels.
"""

from __future__ import annotations

from typing import Any

from ahasd.errors import AhasdError
from ahasd.memory.gating import switch_cost
from ahasd.memory.model import build_memory, pim_device
from ahasd.memory.pim import Spread


def _stream(spec, spread: Spread) -> float:
    if not spread.dies:
        return 0.0
    return spec.channel_sustained_bytes_per_s * spread.dies / spread.max_per_channel


def _pim_rates(rates, spread: Spread) -> dict[str, float]:
    n = spread.dies
    return {
        "pim_ops_per_s": rates.gemv_ops_per_s * n,
        "pim_internal_bytes_per_s": rates.gemv_bytes_per_s * n,
        "pim_peak_ops_per_s": rates.peak_ops_per_s * n,
        "pim_peak_internal_bytes_per_s": rates.peak_bytes_per_s * n,
    }


def memory_plan(platform, draft, target, *, precision: str, kv_tokens: int) -> dict[str, Any]:
    """The plan of ``draft`` and ``target`` on ``platform`` (raises AhasdError if none fits)."""
    mem = build_memory(platform, draft, target, precision=precision, kv_tokens=kv_tokens)
    if mem is None:
        raise AhasdError(
            f"platform: {platform.name} describes no DRAM timing (devices.*.timing_ns); "
            "accepted: ahasd-mobile, npu-lpddr5, lpspec-mobile, specpim-2x4090l-hbmpim or a YAML "
            "with a described DRAM device"
        )
    spec, placement, rates = mem.spec, mem.placement, mem.rates
    everywhere = Spread((spec.dies_per_channel,) * spec.channels)
    out: dict[str, Any] = {
        "platform": platform.name,
        "policy": placement.policy,
        "precision": precision,
        "kv_tokens": kv_tokens,
        "fits": True,  # a plan that does not fit is an error, never a silent run
        "package": {
            "device": spec.name,
            "channels": spec.channels,
            "ranks": spec.ranks,
            "dies": spec.dies,
            "dies_per_channel": spec.dies_per_channel,
            "capacity_bytes": spec.capacity_bytes,
            "rank_capacity_bytes": spec.rank_capacity_bytes,
            "peak_bytes_per_s": spec.peak_bytes_per_s,
            "sustained_bytes_per_s": spec.channel_sustained_bytes_per_s * spec.channels,
            "refresh_loss": spec.refresh_loss,
        },
        "ranks": placement.rank_table(),
        "warnings": list(mem.warnings),
    }
    pim = pim_device(platform)
    if pim is not None:
        published = {
            "pim_ops_per_s": pim.peak_ops_per_s,
            "pim_internal_bytes_per_s": pim.internal_bw_total_bytes_per_s,
            "reading": f"ops {pim.ops_scope}, bandwidth {pim.internal_bw_scope}",
        }
        out["package"]["published"] = published
        if rates is not None:
            out["package"].update(_pim_rates(rates, everywhere))
            out["package"]["per_die"] = rates.summary()
        for gtsu in (True, False):
            secs, joules = switch_cost(spec, pim, gtsu=gtsu)
            out["package"][f"switch_{'gtsu' if gtsu else 'plain'}"] = {
                "seconds": secs,
                "joules": joules,
            }
    for role in ("draft", "target"):
        where = mem.residence(role)
        entry: dict[str, Any] = {
            "model": (draft if role == "draft" else target).name,
            "ranks": list(where.weight_ranks),
            "kv_ranks": list(where.kv_ranks),
            "weights_bytes": placement.sizes[f"{role}-weights"],
            "kv_bytes": placement.sizes[f"{role}-kv"],
            "channels": where.weights.channels,
            "npu_stream_bytes_per_s": _stream(spec, where.weights),
        }
        if rates is not None:
            entry.update(_pim_rates(rates, where.weights))
        out[role] = entry
    return out
