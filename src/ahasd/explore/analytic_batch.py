"""Design points that share a model pair and placements, priced together for the analytic path.

One :class:`PointBatch` holds the distinct platforms of a group of points and, for each, what
the event simulator's ``prepare`` would set up — the memory model (placement of the models on
the ranks, PIM rates), static power, the DRAM package's time-based power — as columns, plus
step-cost tables from :mod:`ahasd.cost.vector` at KV knots and the rate two overlapping tasks
run at under :mod:`ahasd.memory.sharing`'s rule. Placements are memoised on the package's
organisation (ranks, channels, capacity), not on the platform, since a sweep over bandwidth or
compute builds a new platform per point but places the models the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from ahasd.cost.vector import PlatformColumns, StepArrays, dram_spec, pim_rates, step_grid
from ahasd.memory.model import MemoryModel, memory_device, pim_device
from ahasd.memory.placement import group_sizes, plan_placement

KV_KNOT_TOKENS = 256  # step costs are taken every this many KV tokens and interpolated


def memory_model(platform: Any, draft: Any, target: Any, *, precision: str, kv_tokens: int):
    """``ahasd.memory.model.build_memory`` for one platform, the placement memoised on the
    package's organisation (a test holds the two equal)."""
    name = memory_device(platform)
    if name is None:
        return None
    spec = dram_spec(platform, name)
    options = dict(platform.placement)
    pim = pim_device(platform)
    if pim is None:
        options.setdefault("policy", "interleaved")
    org = (spec.name, spec.kind, spec.channels, spec.ranks, spec.rank_channels,
           spec.capacity_bytes, spec.max_ranks_per_channel)  # fmt: skip
    key = (org, json.dumps(options, sort_keys=True, default=str), draft, target, precision,
           kv_tokens)  # fmt: skip
    placement = _PLACEMENTS.get(key)
    if placement is None:
        if len(_PLACEMENTS) > 4096:
            _PLACEMENTS.clear()
        sizes = group_sizes(draft, target, precision=precision, kv_tokens=kv_tokens)
        placement = _PLACEMENTS[key] = plan_placement(
            spec, sizes, options, names={"draft": draft.name, "target": target.name}
        )
    rates = pim_rates(platform, pim, precision) if pim is not None else None
    blocked = pim is not None and pim.channel_sharing == "blocked"
    return MemoryModel(spec, placement, pim, rates, blocked)


_PLACEMENTS: dict[tuple, Any] = {}  # (organisation, options, models, precision, KV) -> placement


_RESIDENCES: dict[int, tuple] = {}  # id(placement) -> (draft, target residence, placement)


def residences(mem: MemoryModel) -> tuple[Any, Any]:
    """(draft, target) :class:`~ahasd.memory.model.Residence` of ``mem``, computed once per
    placement (placements are shared by every platform with the same organisation)."""
    key = id(mem.placement)
    found = _RESIDENCES.get(key)
    if found is None or found[2] is not mem.placement:
        found = _RESIDENCES[key] = (mem.residence("draft"), mem.residence("target"), mem.placement)
    return found[0], found[1]


def kv_knots(low: int, high: int, step: int = KV_KNOT_TOKENS) -> np.ndarray:
    """KV lengths every ``step`` tokens covering [low, high]."""
    lo = low // step * step
    hi = -(-high // step) * step
    return np.arange(lo, max(hi, lo + step) + 1, step)


def at_kv(table: np.ndarray, knots: np.ndarray, point: np.ndarray, kv: np.ndarray,
          n: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """``table[point, (n - 1,) kv]`` linearly interpolated between KV knots (same shapes out)."""
    pos = np.clip((kv - knots[0]) / (knots[1] - knots[0]), 0.0, knots.size - 1.000001)
    i = pos.astype(np.int64)
    f = pos - i
    if n is None:
        return table[point, i] * (1.0 - f) + table[point, i + 1] * f
    col = np.clip(n - 1, 0, table.shape[1] - 1)
    return table[point, col, i] * (1.0 - f) + table[point, col, i + 1] * f


@dataclass
class Residences:
    """Per platform: where each model lives (or None: no memory model)."""

    draft: list[Any] | None
    target: list[Any] | None


class PointBatch:
    """Rows of (platform, memory model) sharing models and precision: what a point's costs
    depend on (points whose KV sizes place the models on the same ranks share a row)."""

    def __init__(self, platforms: list[Any], mems: list[Any], draft: Any, target: Any, *,
                 precision: str, kv_low: int, kv_high: int,
                 knot: int = KV_KNOT_TOKENS) -> None:  # fmt: skip
        self.platforms, self.mems, self.draft, self.target = platforms, mems, draft, target
        self.precision, self.size = precision, len(platforms)
        live = all(m is not None for m in self.mems)
        self.where = Residences(
            [residences(m)[0] for m in self.mems] if live else None,
            [residences(m)[1] for m in self.mems] if live else None,
        )
        self.knots = kv_knots(kv_low, kv_high, knot)
        self.offloads: list[dict[str, int]] = [{} for _ in platforms]  # weights on the host link
        self.static_w = np.array([sum(float(getattr(d, "static_w", 0.0) or 0.0)
                                      for d in p.devices.values()) for p in platforms])  # fmt: skip

    def table(self, model: Any, placement: str, phase: str, ns: tuple[int, ...],
              offload: np.ndarray | float = 0.0) -> StepArrays:  # fmt: skip
        """Steps of ``model`` under ``placement``: arrays (platform, n, KV knot)."""
        cols = PlatformColumns(self.platforms, placement, self.precision)
        role = self.where.draft if model is self.draft else self.where.target
        weights = float(model.weight_bytes(self.precision))
        return step_grid(cols, model, phase, ns, tuple(int(k) for k in self.knots),
                         cols.spreads(role), offload_fraction=np.asarray(offload) / weights,
                         resident_bytes=weights)  # fmt: skip

    # --- the package's time-based energy (``systems.memory_use``, in closed form) ----------
    @cached_property
    def package(self) -> dict[str, np.ndarray]:
        """Per platform: dies by role (draft only, target only, both, neither) and per-die
        powers; zeros without a memory model."""
        keys = ("draft", "target", "both", "none", "active_w", "standby_w", "down_w",
                "after_s", "refresh_w", "leak_w")  # fmt: skip
        out = {k: np.zeros(self.size) for k in keys}
        for i, mem in enumerate(self.mems):
            if mem is None:
                continue
            spec, ranks = mem.spec, mem.placement.ranks
            roles = {r: set(ranks[f"{r}-weights"]) | set(ranks[f"{r}-kv"])
                     for r in ("draft", "target")}  # fmt: skip
            for rank in range(spec.ranks):
                d, t = rank in roles["draft"], rank in roles["target"]
                key = "both" if d and t else "draft" if d else "target" if t else "none"
                out[key][i] += spec.rank_channels
            out["active_w"][i], out["standby_w"][i] = (
                spec.active_standby_w,
                spec.precharge_standby_w,
            )
            out["down_w"][i], out["after_s"][i] = spec.power_down_w, spec.power_down_after_s
            out["refresh_w"][i] = spec.refresh_j / spec.timing["tREFI"]
            out["leak_w"][i] = mem.pim.unit_leak_w if mem.pim is not None else 0.0
        return out

    # --- two overlapping tasks (``memory.sharing`` on ``task_traffic``'s figures) ----------
    def sharing(self) -> _Sharing:
        return _Sharing(self)


class _Sharing:
    """Rates of a PIM task and an NPU verification overlapping, per platform and KV knot."""

    def __init__(self, batch: PointBatch) -> None:
        mems = batch.mems
        self.live = all(m is not None for m in mems)
        if not self.live:
            return
        width = max(m.spec.channels for m in mems)

        def per_channel(spread_of) -> np.ndarray:
            out = np.zeros((len(mems), width))
            for i, m in enumerate(mems):
                dies = spread_of(m).dies_per_channel
                out[i, : len(dies)] = dies
            return out

        self.dw = per_channel(lambda m: residences(m)[0].weights)
        self.tw = per_channel(lambda m: residences(m)[1].weights)
        self.tk = per_channel(lambda m: residences(m)[1].kv)
        res = [residences(m) for m in mems]
        self.dw_is_tw = np.array([d.weight_ranks == t.weight_ranks for d, t in res])
        self.dw_is_tk = np.array([d.weight_ranks == t.kv_ranks for d, t in res])
        self.tk_is_tw = np.array([t.kv_ranks == t.weight_ranks for _d, t in res])
        self.peak = np.array([m.spec.channel_peak_bytes_per_s for m in mems])
        from ahasd.memory.sharing import ca_per_data

        self.ca_per_dq = np.array([ca_per_data(m.spec) for m in mems])
        self.ca_per_die = np.array([
            (m.spec.columns_per_row + 3) * m.spec.timing["tCK"] / m.rates.row_s
            if m.rates is not None else 0.0 for m in mems
        ])  # fmt: skip
        self.blocked = np.array([m.blocked for m in mems])
        # PIM tasks claim shared resources only where the PIM rates come from the command model
        # (``task_traffic``: a roofline PIM has no usage)
        self.pim_live = np.array([m.rates is not None for m in mems])

    def verify_usage(self, v: StepArrays) -> dict[str, np.ndarray]:
        """``npu_usage`` of verifications (arrays (platform, ..., channel))."""
        s = v.seconds[..., None]
        peak = self._c(self.peak, v.seconds.ndim)
        share_w = self._share(self.tw, v.seconds.ndim)
        share_k = self._share(self.tk, v.seconds.ndim)
        u_w = v.npu_w_bytes[..., None] * share_w / (peak * s)
        u_k = v.npu_kv_bytes[..., None] * share_k / (peak * s)
        u = u_w + u_k
        tk_tw = self._c(self.tk_is_tw, v.seconds.ndim)
        return {
            "npu": np.minimum(1.0, v.npu_s / v.seconds),
            "dq": np.minimum(1.0, u),
            "ca": np.minimum(1.0, u * self._c(self.ca_per_dq, v.seconds.ndim)),
            "mode": np.where(self._c(self.blocked, v.seconds.ndim), np.minimum(1.0, u), 0.0),
            "dies_tw": np.minimum(1.0, u_w + np.where(tk_tw, u_k, 0.0)),
            "dies_tk": np.where(tk_tw, 0.0, np.minimum(1.0, u_k)),
        }

    def pim_rate(self, p: StepArrays, verify: dict[str, np.ndarray], *, on_target: bool):
        """Rate of a PIM task (draft: the draft's ranks; pre-verify: the target's) overlapping
        a verification with ``verify`` usage."""
        nd = p.seconds.ndim
        spread = self.tw if on_target else self.dw
        dies_c = self._c(spread, nd, channel=True)
        total = dies_c.sum(axis=-1, keepdims=True)
        s = p.seconds[..., None]
        has = dies_c > 0
        io = np.minimum(1.0, p.pim_io_bytes[..., None] * dies_c / total
                        / (self._c(self.peak, nd) * s))  # fmt: skip
        busy = np.minimum(1.0, p.pim_array_s / p.seconds)[..., None]
        ca = np.minimum(1.0, busy * np.minimum(1.0, dies_c * self._c(self.ca_per_die, nd))
                        + io * self._c(self.ca_per_dq, nd))  # fmt: skip
        load = np.ones(p.seconds.shape)
        npu_a = np.minimum(1.0, p.npu_s / p.seconds)
        both_npu = (p.npu_s > 0) & (verify["npu"] > 0)
        load = np.maximum(load, np.where(both_npu, npu_a + verify["npu"], 0.0))
        for mine, theirs in ((np.where(has, io, 0.0), verify["dq"]),
                             (np.where(has, ca, 0.0), verify["ca"])):  # fmt: skip
            load = np.maximum(load, np.where(mine > 0, mine + theirs, 0.0).max(axis=-1))
        blocked = self._c(self.blocked, nd)
        mode = np.where(has & blocked, 1.0 + verify["mode"], 0.0)
        load = np.maximum(load, mode.max(axis=-1))
        if on_target:  # the target's weight ranks: the verification reads them too
            same_tw, same_tk = (
                np.ones(self.dw_is_tw.shape, bool),
                np.zeros(self.dw_is_tw.shape, bool),
            )
        else:
            same_tw, same_tk = self.dw_is_tw, self.dw_is_tk & ~self.tk_is_tw
        dies = np.where(has & self._c(same_tw, nd), 1.0 + verify["dies_tw"], 0.0)
        dies = np.maximum(dies, np.where(has & self._c(same_tk, nd), 1.0 + verify["dies_tk"], 0.0))
        load = np.maximum(load, dies.max(axis=-1))
        return np.where(self._c(self.pim_live, nd)[..., 0], 1.0 / load, 1.0)

    def switch_rate(self, verify: dict[str, np.ndarray], blocks_channels: bool) -> np.ndarray:
        """A plain controller's mode change holds every channel's data bus (``AsyncParts``)."""
        if not blocks_channels:
            return np.ones(verify["npu"].shape)
        return 1.0 / np.maximum(1.0, np.where(verify["dq"] > 0, 1.0 + verify["dq"], 1.0).max(-1))

    @staticmethod
    def _c(col: np.ndarray, ndim: int, channel: bool = False) -> np.ndarray:
        """A per-platform column (``channel``: a (platform, channel) table) shaped to broadcast
        against arrays of (platform, ``ndim - 1`` more axes, channel)."""
        return col.reshape(col.shape[0], *([1] * (ndim - 1)), col.shape[1] if channel else 1)

    def _share(self, dies: np.ndarray, ndim: int) -> np.ndarray:
        total = dies.sum(axis=1, keepdims=True)
        share = np.where(total > 0, dies / np.maximum(total, 1), 0.0)
        return self._c(share, ndim, channel=True)
