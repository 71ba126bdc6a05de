"""The memory system of one run: the package, the placement, the PIM rates, the sharing rule.

Built once per run by the systems layer (:func:`build_memory`) for platforms whose DRAM device
describes its timing; the cost layer reads :class:`Residence` (where a model's weights and KV
live) and the per-platform :func:`dram_spec` / :func:`pim_rates`, both memoised.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

from ahasd.hardware.devices import DramDevice, NpuDevice, PimDevice
from ahasd.memory.pim import PimRates, Spread
from ahasd.memory.placement import Placement, group_sizes, plan_placement
from ahasd.memory.spec import DramSpec
from ahasd.models.shape import bytes_per_param


@dataclass(frozen=True)
class Residence:
    """Where one model lives: the ranks (and dies per channel) of its weights and KV cache."""

    weight_ranks: tuple[int, ...]
    weights: Spread
    kv_ranks: tuple[int, ...]
    kv: Spread


class _ByHash:
    """Memoise per platform by config hash (platforms are immutable)."""

    def __init__(self, platform) -> None:
        self.platform = platform

    def __hash__(self) -> int:
        return hash(self.platform.config_hash)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _ByHash) and other.platform.config_hash == self.platform.config_hash
        )


def memory_device(platform) -> str | None:
    """The DRAM device the memory layer models: the NPU's memory, else the PIM's, else None."""
    for dev in platform.devices.values():
        if isinstance(dev, (NpuDevice, PimDevice)) and getattr(dev, "memory", None):
            mem = platform.devices.get(dev.memory)
            if isinstance(mem, DramDevice) and (mem.timing_s or mem.timing_nck):
                return mem.name
    return None


def pim_device(platform) -> PimDevice | None:
    for dev in platform.devices.values():
        if isinstance(dev, PimDevice):
            return dev
    return None


@lru_cache(maxsize=64)
def _spec(key: _ByHash, name: str) -> DramSpec:
    return DramSpec.from_device(key.platform.device(name))


def dram_spec(platform, name: str | None = None) -> DramSpec | None:
    """The described DRAM package of ``platform`` (memoised), or None when it has none."""
    name = name or memory_device(platform)
    if name is None:
        return None
    return _spec(_ByHash(platform), name)


@lru_cache(maxsize=64)
def _rates(key: _ByHash, pim_name: str, weight_bytes: float) -> PimRates | None:
    pim = key.platform.device(pim_name)
    memory = getattr(pim, "memory", None) or memory_device(key.platform)
    dev = key.platform.devices.get(memory) if memory else None
    if (
        not isinstance(dev, DramDevice)
        or not (dev.timing_s or dev.timing_nck)
        or (pim.rate_model != "derived")
    ):
        return None
    return PimRates.of(_spec(key, dev.name), pim, weight_bytes)


def pim_rates(platform, pim: PimDevice, precision: str) -> PimRates | None:
    """Command-derived rates of ``pim`` at ``precision``, or None when it uses the published
    roofline (``rate_model: published``) or its memory has no timing."""
    return _rates(_ByHash(platform), pim.name, float(bytes_per_param(precision)))


@dataclass(frozen=True)
class MemoryModel:
    """Package, placement and PIM description of one run (runs with the same inputs share one,
    so the cost views memoised on it carry over)."""

    spec: DramSpec
    placement: Placement
    pim: PimDevice | None
    rates: PimRates | None
    blocked: bool

    def residence(self, model: str) -> Residence:
        """``model`` is "draft" or "target"."""
        return self._residences[model]

    @cached_property
    def _residences(self) -> dict[str, Residence]:
        p, out = self.placement, {}
        for model in ("draft", "target"):
            w, kv = f"{model}-weights", f"{model}-kv"
            out[model] = Residence(p.ranks[w], p.spread(w), p.ranks[kv], p.spread(kv))
        return out

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.placement.warnings


def build_memory(platform, draft, target, *, precision: str, kv_tokens: int) -> MemoryModel | None:
    """The run's memory model, or None when the platform describes no DRAM timing."""
    return _build(_ByHash(platform), draft, target, precision, kv_tokens)


@lru_cache(maxsize=128)
def _build(key: _ByHash, draft, target, precision: str, kv_tokens: int) -> MemoryModel | None:
    platform = key.platform
    name = memory_device(platform)
    if name is None:
        return None
    spec = dram_spec(platform, name)
    options = dict(platform.placement)
    if pim_device(platform) is None:
        options.setdefault("policy", "interleaved")
    sizes = group_sizes(draft, target, precision=precision, kv_tokens=kv_tokens)
    placement = plan_placement(spec, sizes, options, names={"draft": draft.name,
                                                             "target": target.name})  # fmt: skip
    pim = pim_device(platform)
    rates = pim_rates(platform, pim, precision) if pim is not None else None
    blocked = pim is not None and pim.channel_sharing == "blocked"
    return MemoryModel(spec, placement, pim, rates, blocked)
