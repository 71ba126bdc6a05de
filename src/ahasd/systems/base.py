"""What every system driver shares: setting a run up, the AR baseline, and building the Result.

A system is a class registered in ``SYSTEMS`` with a ``default_platform`` and a
``run(ctx) -> Result``; ``simulate`` prepares the :class:`RunContext` (platform, models, trace,
acceptance replay, drafting policy, memory plan) and hands it over. Drivers schedule tasks on the
event kernel and take every duration and energy from ``StepCostTable.cost`` (STYLE.md rule 7).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar, NamedTuple

import numpy as np

from ahasd import __version__
from ahasd.cost import StepCostTable, plan_memory
from ahasd.errors import AhasdError, field_error
from ahasd.hardware import load_platform
from ahasd.models import load_model
from ahasd.policies import make_policy
from ahasd.registry import Registry
from ahasd.sim.config import SimConfig
from ahasd.sim.metrics import Metrics
from ahasd.sim.replay import Drafter, Replay
from ahasd.sim.result import Result
from ahasd.sim.timeline import Timelines
from ahasd.traces import default_profile, load_trace, synthesize


class System(ABC):
    """Base of every registered system driver (register with ``@SYSTEMS.register(name)``)."""

    name: ClassVar[str] = ""
    default_platform: ClassVar[str] = "ahasd-mobile"
    required_devices: ClassVar[tuple[str, ...]] = ()
    memory_device: ClassVar[str] = ""  # where the weights live, for plan_memory

    @abstractmethod
    def run(self, ctx: RunContext) -> Result:
        """Schedule the system's tasks on the event kernel and build its Result."""

    def ar_table(self, ctx: RunContext) -> StepCostTable:
        """The target's table on the unit that verifies: the AR baseline decodes with it.

        Optional: systems whose AR baseline is not one table lookup per token (LP-Spec, edge)
        compute it themselves, and the closed-form invariant test skips them.
        """
        raise NotImplementedError(f"{self.name} computes its own AR baseline")


SYSTEMS: Registry[type[System]] = Registry("system")


@dataclass
class RunContext:
    """Everything a driver needs, resolved once per run."""

    config: SimConfig
    platform: Any
    draft: Any
    target: Any
    trace: Any
    replay: Replay
    drafter: Drafter
    memory: Any  # MemoryPlan or None
    warnings: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return self.config.tokens

    def table(
        self,
        model: Any,
        placement: str,
        *,
        offload_bytes: int = 0,
        op_engine: Mapping[str, str] | None = None,
    ) -> StepCostTable:
        """A memoised step-cost table for ``model`` under ``placement`` on this platform."""
        key_engine = tuple(sorted(op_engine.items())) if op_engine else None
        return _table(
            _PlatformKey(self.platform),
            model,
            placement,
            self.config.precision,
            self.config.kv_bucket,
            int(offload_bytes),
            key_engine,
        )

    def offload(self, model: Any) -> int:
        """Bytes of ``model``'s weights that stream over the host link each pass (memory plan)."""
        if self.memory is None:
            return 0
        return int(self.memory.offload_bytes.get(model.name, 0))

    def view(self, table: StepCostTable) -> CostView:
        """The per-device view of ``table``: energy split by device, busy time per engine.

        Views live as long as their (memoised) table, so repeated runs reuse the split.
        """
        view = _VIEWS.get(id(table))
        if view is None or view.table is not table:
            if len(_VIEWS) > 256:  # tables are memoised 64 at a time; drop views of dead ones
                _VIEWS.clear()
            view = _VIEWS[id(table)] = CostView(table, self.platform)
        return view


@dataclass(frozen=True)
class _PlatformKey:
    """Hash a platform by its config hash so tables can be memoised across runs."""

    platform: Any

    def __hash__(self) -> int:
        return hash(self.platform.config_hash)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _PlatformKey)
            and other.platform.config_hash == self.platform.config_hash
        )


_VIEWS: dict[int, CostView] = {}  # id(table) -> view; checked against the table itself


@lru_cache(maxsize=64)
def _table(pkey, model, placement, precision, kv_bucket, offload_bytes, op_engine):
    """Tables are pure functions of their arguments, so sharing them between runs is safe."""
    return StepCostTable(
        pkey.platform,
        model,
        placement=placement,
        precision=precision,
        kv_bucket=kv_bucket,
        offload_bytes=offload_bytes,
        op_engine=dict(op_engine) if op_engine else None,
    )


def resolve_platform(config: SimConfig, system: type[System], explicit: bool) -> SimConfig:
    """Use the system's own platform unless the caller named one explicitly."""
    if explicit or config.platform == system.default_platform:
        return config
    return config.model_copy(update={"platform": system.default_platform})


def prepare(config: SimConfig, system: type[System]) -> RunContext:
    """Load platform, models, trace and policy; check the devices and the memory plan."""
    platform = load_platform(config.platform, config.platform_overrides or None)
    missing = [d for d in system.required_devices if d not in platform.devices]
    if missing:
        raise field_error(
            "platform",
            config.platform,
            f"a platform with devices {', '.join(system.required_devices)} for system "
            f"{system.name} (e.g. {system.default_platform}); it lacks {', '.join(missing)}",
        )
    draft, target = load_model(config.draft), load_model(config.target)
    trace = _load_trace(config)
    seq = np.random.SeedSequence(config.seed)
    accept_rng = np.random.default_rng(seq.spawn(1)[0])
    replay = Replay.build(trace, config.decoding, accept_rng)
    policy = make_policy(config.policy, **config.policy_args)
    policy.fit(trace)
    memory = None
    if system.memory_device:
        memory = plan_memory(
            platform, [draft, target], precision=config.precision, device=system.memory_device
        )
    ctx = RunContext(config, platform, draft, target, trace, replay, Drafter(policy, trace), memory)
    if memory is not None and not memory.fits:
        ctx.warnings.append(
            f"models need {memory.required_bytes / 2**30:.1f} GiB but {system.memory_device} "
            f"holds {memory.capacity_bytes / 2**30:.1f} GiB: the excess weights stream over the "
            "host link every pass"
        )
    return ctx


def _load_trace(config: SimConfig):
    if config.trace is not None:
        trace = load_trace(config.trace)
        source = f"trace file {config.trace}"
    else:
        profile = config.profile or default_profile(config.draft, config.target)
        trace = synthesize(profile, config.tokens, config.seed)
        source = f"profile {profile}"
    if len(trace) < config.tokens:
        raise field_error("tokens", config.tokens, f"at most {len(trace)} (the length of {source})")
    return trace.slice(0, config.tokens) if len(trace) > config.tokens else trace


def kv_groups(start: int, count: int, bucket: int) -> list[tuple[int, int]]:
    """(kv_len rounded up to the bucket, how many positions) for positions start..start+count-1.

    Cost tables round kv_len up to the bucket, so one lookup per bucket is exact.
    """
    kv = np.arange(start, start + count, dtype=np.int64)
    rounded = -(-kv // bucket) * bucket
    values, counts = np.unique(rounded, return_counts=True)
    return [(int(v), int(c)) for v, c in zip(values, counts, strict=True)]


def static_power_w(platform: Any) -> dict[str, float]:
    """Background power of every device of the platform (drawn for the whole wall time)."""
    return {
        name: float(getattr(dev, "static_w", 0.0) or 0.0) for name, dev in platform.devices.items()
    }


def ar_baseline(ctx: RunContext, target_table: StepCostTable) -> tuple[float, float]:
    """Plain autoregressive decoding of the target on the same platform: (tok/s, tok/J).

    Closed form: one target step of one token per position, plus static power × time.
    """
    seconds = joules = 0.0
    for kv, count in kv_groups(ctx.config.prompt_len, ctx.n, ctx.config.kv_bucket):
        s, j, _ = target_table.cost("verify", 1, kv)
        seconds += s * count
        joules += j * count
    joules += sum(static_power_w(ctx.platform).values()) * seconds
    return ctx.n / seconds, (ctx.n / joules if joules > 0 else math.inf)  # no energy modelled


def build_result(
    ctx: RunContext,
    system: type[System],
    *,
    wall_s: float,
    metrics: Metrics,
    timelines: Timelines,
    ar: tuple[float, float],
    prefill_s: float,
    extras: dict[str, Any],
    flow_links: dict[int, int] | None = None,
) -> Result:
    """Turn the collected counters into a :class:`Result` (formulas: docs/metrics.md)."""
    if metrics.committed != ctx.n:
        raise RuntimeError(f"{system.name} committed {metrics.committed} of {ctx.n} tokens")
    if not (wall_s > 0 and math.isfinite(wall_s)):
        raise RuntimeError(f"{system.name}: wall time {wall_s!r} s")
    devices: dict[str, dict[str, Any]] = {}
    for name, watts in static_power_w(ctx.platform).items():
        energy = dict(metrics.energy.get(name, {}))
        energy["static"] = energy.get("static", 0.0) + watts * wall_s
        busy = min(timelines.busy_s(name, wall_s), wall_s)
        devices[name] = {
            "busy_s": busy,
            "idle_s": wall_s - busy,
            "utilisation": busy / wall_s,
            "energy_j": energy,
        }
    for name, energy in metrics.energy.items():  # components charged to non-platform keys
        if name not in devices:
            devices[name] = {
                "busy_s": 0.0,
                "idle_s": wall_s,
                "utilisation": 0.0,
                "energy_j": dict(energy),
            }
    by_comp: dict[str, float] = {}
    for dev in devices.values():
        for comp, joules in dev["energy_j"].items():
            by_comp[comp] = by_comp.get(comp, 0.0) + joules
    energy_j = sum(by_comp.values())
    summary = metrics.summary()
    n = metrics.committed
    config = ctx.config.model_dump(mode="json")
    spans = None
    if ctx.config.record_timeline:
        spans = tuple(timelines.with_flows(flow_links or {}))
    return Result(
        system=system.name,
        wall_s=wall_s,
        throughput_tok_s=n / wall_s,
        energy_j=energy_j,
        tokens_per_joule=n / energy_j if energy_j > 0 else math.inf,
        edp_per_token=(wall_s / n) * (energy_j / n),
        devices=devices,
        energy_by_component=dict(sorted(by_comp.items())),
        ar_throughput_tok_s=ar[0],
        ar_tokens_per_joule=ar[1],
        prefill_s=prefill_s,
        fits_in_memory=ctx.memory.fits if ctx.memory is not None else True,
        warnings=tuple(ctx.warnings),
        extras=extras,
        config=config,
        config_hash=ctx.config.config_hash(),
        trace_hash=ctx.trace.content_hash,
        version=__version__,
        timeline=spans,
        **summary,
    )


class TaskCost(NamedTuple):
    """One task's duration, its dynamic energy split by device, and each engine's busy time."""

    seconds: float
    energy: tuple[tuple[str, dict[str, float]], ...]  # (device, {component: J})
    engine_s: dict[str, float]  # device -> seconds its operators ran


MEMORY_COMPONENTS = frozenset({"mem_off_chip", "mem_in_bank"})


class CostView:
    """A step-cost table seen per device: which device ran what, and whose energy it is.

    Durations come from ``StepCostTable.cost``; the per-device split comes once per (phase, n,
    KV bucket) from the same table's ``detail`` (each operator's ``engine``). DRAM access energy
    is charged to the platform's memory device when it has one (``lpddr5``), so the LPDDR5 vs
    NPU power split of AHASD Table 4 can be read off the result.
    """

    __slots__ = ("table", "_memo", "bucket", "_memory")

    def __init__(self, table: StepCostTable, platform: Any) -> None:
        self.table = table
        self._memo: dict[tuple[str, int, int], TaskCost] = {}
        self.bucket = table.kv_bucket  # a lookup is exact within one bucket of KV lengths
        self._memory = "lpddr5" if "lpddr5" in platform.devices else None

    def __call__(self, phase: str, n_tokens: int, kv_len: int) -> TaskCost:
        key = (phase, n_tokens, -(-kv_len // self.bucket))
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._build(phase, n_tokens, kv_len)
        return hit

    def _build(self, phase: str, n_tokens: int, kv_len: int) -> TaskCost:
        seconds = self.table.cost(phase, n_tokens, kv_len)[0]
        check_positive(f"{phase} step", seconds)
        energy: dict[str, dict[str, float]] = {}
        engine_s: dict[str, float] = {}
        for _op, c in self.table.detail(phase, n_tokens, kv_len).ops:
            engine = c.engine or "unknown"
            engine_s[engine] = engine_s.get(engine, 0.0) + c.seconds
            for comp, joules in c.energy_j.items():
                dev = self._memory if self._memory and comp in MEMORY_COMPONENTS else engine
                bucket = energy.setdefault(dev, {})
                bucket[comp] = bucket.get(comp, 0.0) + joules
        return TaskCost(seconds, tuple(sorted(energy.items())), engine_s)


def check_positive(name: str, value: float) -> None:
    """Guard against a cost table returning a non-positive duration."""
    if not value > 0:
        raise AhasdError(f"{name}: cost model returned {value!r} s; expected > 0")
