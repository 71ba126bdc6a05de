"""What every system driver shares: setting a run up, the AR baseline, and building the Result.

A system is a class registered in ``SYSTEMS`` with a ``default_platform`` and a
``run(ctx) -> Result``; ``simulate`` prepares the :class:`RunContext` (platform, models, trace,
acceptance replay, drafting policy, memory plan) and hands it over. Drivers schedule tasks on the
event kernel and take every duration and energy from ``StepCostTable.cost`` (no system prices
work itself).
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
from ahasd.hardware import RooflineDevice, load_platform
from ahasd.memory.model import build_memory
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
    default_target: ClassVar[str] = ""  # a system whose paper uses another target ("" = config's)
    required_devices: ClassVar[tuple[str, ...]] = ()
    memory_device: ClassVar[str] = ""  # where the weights live, for plan_memory
    # place the models on the platform's DRAM ranks (ahasd.memory) when it describes timing
    uses_memory_model: ClassVar[bool] = False

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
    memory: Any  # MemoryPlan (GPU/CPU host offload) or None
    mem: Any = None  # MemoryModel (ahasd.memory: placement, PIM rates, sharing) or None
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
        """A memoised step-cost table for ``model`` under ``placement`` on this platform.

        With a memory model the table prices ``model`` on the ranks the placement gave it.
        """
        key_engine = tuple(sorted(op_engine.items())) if op_engine else None
        return _table(
            _PlatformKey(self.platform),
            model,
            placement,
            self.config.precision,
            self.config.kv_bucket,
            int(offload_bytes),
            key_engine,
            self.where(model),
        )

    def where(self, model: Any):
        """The :class:`~ahasd.memory.model.Residence` of ``model`` (draft or target), or None."""
        if self.mem is None:
            return None
        role = "draft" if model is self.draft else "target"
        return self.mem.residence(role)

    def offload(self, model: Any) -> int:
        """Bytes of ``model``'s weights that stream over the host link each pass (memory plan)."""
        if self.memory is None:
            return 0
        return int(self.memory.offload_bytes.get(model.name, 0))

    def view(self, table: StepCostTable, lane: str = "") -> CostView:
        """The per-device view of ``table``: energy split by device, busy time per engine, and
        (``lane`` "npu" or "pim") the shared-resource usage of a task on that lane.

        Views live as long as their (memoised) table, so repeated runs reuse the split.
        """
        role = "draft" if table.model == self.draft else "target"
        key = (id(table), lane, id(self.mem), role)
        view = _VIEWS.get(key)
        if view is None or view.table is not table or view.mem is not self.mem:
            if len(_VIEWS) > 256:  # tables are memoised 64 at a time; drop views of dead ones
                _VIEWS.clear()
            view = _VIEWS[key] = CostView(table, self.platform, self.mem, lane, role)
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


_VIEWS: dict[tuple, CostView] = {}  # (id(table), lane, id(mem), role) -> view; checked on use


@lru_cache(maxsize=64)
def _table(pkey, model, placement, precision, kv_bucket, offload_bytes, op_engine, where):
    """Tables are pure functions of their arguments, so sharing them between runs is safe."""
    return StepCostTable(
        pkey.platform,
        model,
        placement=placement,
        precision=precision,
        kv_bucket=kv_bucket,
        offload_bytes=offload_bytes,
        op_engine=dict(op_engine) if op_engine else None,
        where=where,
    )


def resolve_platform(config: SimConfig, system: type[System], explicit: bool) -> SimConfig:
    """Use the system's own platform unless the caller named one explicitly, and its own target
    model (``System.default_target``) unless the config sets one."""
    update = {}
    if not explicit and config.platform != system.default_platform:
        update["platform"] = system.default_platform
    target = system.default_target
    if target and "target" not in config.model_fields_set and config.target != target:
        update["target"] = target
    return config.model_copy(update=update) if update else config


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
    memory = mem = None
    if system.uses_memory_model:
        # KV for the prompt, every generated token and a full queue of look-ahead drafts
        kv_tokens = config.prompt_len + config.tokens + config.queue_depth * 8
        mem = build_memory(platform, draft, target, precision=config.precision, kv_tokens=kv_tokens)
    host_offload = system.memory_device in platform.devices and isinstance(
        platform.devices[system.memory_device], RooflineDevice
    )  # a GPU/CPU holds its own weights (and spills to the host), whatever PIM does
    if system.memory_device and (mem is None or host_offload):
        memory = plan_memory(
            platform,
            [draft, target],
            precision=config.precision,
            device=system.memory_device,
            kv_tokens=config.prompt_len + config.tokens,
        )
    ctx = RunContext(config, platform, draft, target, trace, replay, Drafter(policy, trace), memory,
                     mem)  # fmt: skip
    if mem is not None:
        ctx.warnings.extend(mem.warnings)
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


def prefill_cost(ctx: RunContext, target: StepCostTable, draft: StepCostTable | None = None,
                 *, parallel: bool = False) -> tuple[float, float, float]:  # fmt: skip
    """(prefill seconds, time to first token, joules) of the prompt's prefill.

    The target's prefill yields the first token; the draft's (when given) runs after it on the
    same unit, or beside it on another unit (``parallel``). Joules: both steps' dynamic energy
    plus every device's static power and every DRAM die's active background over the prefill.
    """
    prompt = ctx.config.prompt_len
    t_s, t_j, _ = target.cost("prefill", prompt, 0)
    d_s, d_j = (draft.cost("prefill", prompt, 0)[:2]) if draft is not None else (0.0, 0.0)
    seconds = max(t_s, d_s) if parallel else t_s + d_s
    watts = sum(static_power_w(ctx.platform).values())
    if ctx.mem is not None:
        spec = ctx.mem.spec
        watts += spec.dies * (spec.active_standby_w + spec.refresh_j / spec.timing["tREFI"])
    return seconds, t_s, t_j + d_j + watts * seconds


def ar_baseline(ctx: RunContext, target_table: StepCostTable) -> tuple[float, float]:
    """Plain autoregressive decoding of the target on the same platform: (tok/s, tok/J).

    Closed form: one target step of one token per position, plus static power × time (and the
    package's background with the target's dies active, where there is a memory model).
    """
    from ahasd.memory.energy import package_power

    seconds = joules = 0.0
    for kv, count in kv_groups(ctx.config.prompt_len, ctx.n, ctx.config.kv_bucket):
        s, j, _ = target_table.cost("verify", 1, kv)
        seconds += s * count
        joules += j * count
    floor, _draft_w, target_w = package_power(ctx.mem)  # the target's dies always active
    joules += (sum(static_power_w(ctx.platform).values()) + floor + target_w) * seconds
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
    prefill: tuple[float, float] | None = None,
    memory_run: dict[str, Any] | None = None,
) -> Result:
    """Turn the collected counters into a :class:`Result` (formulas: docs/metrics.md).

    ``prefill``: (time to first token, prefill energy); ``memory_run``: the loop's memory
    tallies (``gated``, ``contention``, ``switches``) for :func:`memory_summary`.
    """
    from ahasd.systems.memory_use import memory_summary, split_counters

    if metrics.committed != ctx.n:
        raise RuntimeError(f"{system.name} committed {metrics.committed} of {ctx.n} tokens")
    if not (wall_s > 0 and math.isfinite(wall_s)):
        raise RuntimeError(f"{system.name}: wall time {wall_s!r} s")
    dyn = {dev: dict(comps) for dev, comps in metrics.energy.items()}
    counters = split_counters(dyn)
    memory: dict[str, Any] = {}
    if ctx.mem is not None:
        run = memory_run or {}
        memory, extra = memory_summary(
            ctx.mem, timelines, wall_s, counters, metrics.committed,
            gated=bool(run.get("gated", False)), contention=run.get("contention"),
            switches=run.get("switches"),
        )  # fmt: skip
        for dev, comps in extra.items():
            bucket = dyn.setdefault(dev, {})
            for comp, joules in comps.items():
                bucket[comp] = bucket.get(comp, 0.0) + joules
    devices: dict[str, dict[str, Any]] = {}
    for name, watts in static_power_w(ctx.platform).items():
        energy = dict(dyn.get(name, {}))
        if watts:
            energy["static"] = energy.get("static", 0.0) + watts * wall_s
        busy = min(timelines.busy_s(name, wall_s), wall_s)
        if memory and name == memory["device"]:
            busy = memory["utilisation"] * wall_s  # data-bus time, mean over channels
        devices[name] = {
            "busy_s": busy,
            "idle_s": wall_s - busy,
            "utilisation": busy / wall_s,
            "energy_j": energy,
        }
    for name, energy in dyn.items():  # components charged to non-platform keys
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
    ttft_s, prefill_j = prefill if prefill is not None else (prefill_s, 0.0)
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
        ttft_s=ttft_s,
        e2e_throughput_tok_s=n / (wall_s + prefill_s),
        prefill_energy_j=prefill_j,
        memory=memory,
        **summary,
    )


class TaskCost(NamedTuple):
    """One task's duration, its dynamic energy split by device, each engine's busy time, and
    (with a memory model) its use of shared memory resources (:mod:`ahasd.memory.sharing`)."""

    seconds: float
    energy: tuple[tuple[str, dict[str, float]], ...]  # (device, {component: J})
    engine_s: dict[str, float]  # device -> seconds its operators ran
    usage: Mapping[tuple, float] = {}  # resource -> fraction used at full speed


MEMORY_COMPONENTS = frozenset({"mem_off_chip", "mem_in_bank", "act"})
# counters carried in the energy split under the memory device, scaled like energy: bytes over
# each channel's data bus (``_dq<c>``) and bytes PIM streamed inside each channel's dies
# (``_pim<c>``); build_result moves them out of the energy totals
COUNTER_PREFIX = "_"


class CostView:
    """A step-cost table seen per device: which device ran what, and whose energy it is.

    Durations come from ``StepCostTable.cost``; the per-device split comes once per (phase, n,
    KV bucket) from the same table's ``detail`` (each operator's ``engine``). DRAM access energy
    is charged to the platform's memory device when it has one (``lpddr5``), so the LPDDR5 vs
    NPU power split of AHASD Table 4 can be read off the result. With a memory model and a
    ``lane`` ("npu" or "pim"), each task also carries its shared-resource usage and its bytes per
    channel.
    """

    __slots__ = ("table", "_memo", "bucket", "_memory", "mem", "lane", "role", "_npu", "_pim",
                 "_derived")  # fmt: skip

    def __init__(
        self,
        table: StepCostTable,
        platform: Any,
        mem: Any = None,
        lane: str = "",
        role: str = "target",
    ) -> None:
        self.table = table
        self.role = role  # whose ranks the task's DRAM energy is charged to
        self._memo: dict[tuple[str, int, int], TaskCost] = {}
        self._derived: dict[str, dict] = {}
        self.bucket = table.kv_bucket  # a lookup is exact within one bucket of KV lengths
        self.mem, self.lane = mem, lane
        self._memory = (
            mem.spec.name
            if mem is not None
            else ("lpddr5" if "lpddr5" in platform.devices else None)
        )
        npus = platform.devices_of_kind("npu")
        self._npu = npus[0] if npus else None
        self._pim = mem.pim.name if mem is not None and mem.pim is not None else None

    def __call__(self, phase: str, n_tokens: int, kv_len: int) -> TaskCost:
        key = (phase, n_tokens, -(-kv_len // self.bucket))
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._build(phase, n_tokens, kv_len)
        return hit

    def derived(self, name: str) -> dict:
        """A memo that a caller fills with its own immutable forms of this view's costs (a hot
        loop's plain tuples under its own keys), kept as long as the view: repeated runs on one
        platform share it. ``name`` keeps different callers' keys apart."""
        memo = self._derived.get(name)
        if memo is None:
            memo = self._derived[name] = {}
        return memo

    def _build(self, phase: str, n_tokens: int, kv_len: int) -> TaskCost:
        seconds = self.table.cost(phase, n_tokens, kv_len)[0]
        check_positive(f"{phase} step", seconds)
        energy: dict[str, dict[str, float]] = {}
        engine_s: dict[str, float] = {}
        detail = self.table.detail(phase, n_tokens, kv_len)
        for _op, c in detail.ops:
            engine = c.engine or "unknown"
            engine_s[engine] = engine_s.get(engine, 0.0) + c.seconds
            for comp, joules in c.energy_j.items():
                dev = self._memory if self._memory and comp in MEMORY_COMPONENTS else engine
                bucket = energy.setdefault(dev, {})
                bucket[comp] = bucket.get(comp, 0.0) + joules
        usage: Mapping[tuple, float] = {}
        if self.mem is not None and self.table.where is not None:
            usage, counters = task_traffic(self, detail, seconds, engine_s)
            mem_j = sum(j for k, j in energy.get(self._memory, {}).items())
            counters[f"{COUNTER_PREFIX}j_{self.role}"] = mem_j  # this task's DRAM energy
            energy.setdefault(self._memory, {}).update(counters)
        return TaskCost(seconds, tuple(sorted(energy.items())), engine_s, usage)


def task_traffic(view: CostView, detail: Any, seconds: float, engine_s: dict[str, float]):
    """(usage of shared resources, per-channel byte counters) of one task of ``view``'s table.

    NPU operators read the model's weights and KV over the channels of their ranks; PIM
    operators keep their dies busy, write inputs and read outputs over the same channels.
    """
    from ahasd.cost.engines import pim_io_bytes
    from ahasd.memory.sharing import npu_usage, pim_usage
    from ahasd.models.ops import OpKind
    from ahasd.models.shape import elem_bytes

    mem, where = view.mem, view.table.where
    channels = mem.spec.channels
    dq = [0.0] * channels
    pim_bytes = [0.0] * channels
    w_bytes = kv_bytes = array_s = io_bytes = 0.0
    eb = elem_bytes(view.table.precision)
    attention = (OpKind.ATTN_SCORE, OpKind.ATTN_VALUE)
    for op, c in detail.ops:
        if c.engine == view._npu:
            w_bytes += op.weight_bytes * op.count
            kv_bytes += (op.kv_read_bytes + op.kv_write_bytes) * op.count
        elif c.engine == view._pim and "array" in c.times_s:
            array_s += c.times_s["array"]
            spread = where.kv if op.kind in attention else where.weights
            in_b, out_b = pim_io_bytes(op, eb)
            moved = mem.rates.io_bytes(in_b, out_b, spread) * op.count
            io_bytes += moved
            passes = -(-op.m // mem.rates.n_alu)
            inside = ((op.weight_bytes + op.kv_read_bytes) * passes + op.kv_write_bytes) * op.count
            for ch, share in enumerate(spread.channel_shares()):
                dq[ch] += moved * share
                pim_bytes[ch] += inside * share
    for spread, n_bytes in ((where.weights, w_bytes), (where.kv, kv_bytes)):
        for ch, share in enumerate(spread.channel_shares()):
            dq[ch] += n_bytes * share
    counters = {f"{COUNTER_PREFIX}dq{ch}": b for ch, b in enumerate(dq) if b}
    counters.update({f"{COUNTER_PREFIX}pim{ch}": b for ch, b in enumerate(pim_bytes) if b})
    npu_s = engine_s.get(view._npu, 0.0) if view._npu else 0.0
    if view.lane == "npu":
        reads = ((where.weight_ranks, where.weights, w_bytes), (where.kv_ranks, where.kv, kv_bytes))
        usage = npu_usage(seconds, reads, mem.spec, npu_s=npu_s, blocked=mem.blocked)
    elif view.lane == "pim" and mem.rates is not None:
        usage = pim_usage(seconds, where.weight_ranks, where.weights, mem.rates, array_s=array_s,
                          io_bytes=io_bytes, npu_s=npu_s, blocked=mem.blocked)  # fmt: skip
    else:
        usage = {}
    return usage, counters


def check_positive(name: str, value: float) -> None:
    """Guard against a cost table returning a non-positive duration."""
    if not value > 0:
        raise AhasdError(f"{name}: cost model returned {value!r} s; expected > 0")
