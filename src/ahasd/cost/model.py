"""Operator and step costs for every placement of the contract.

Placements (docs/cost.md has the long form):

* ``npu``: all ops on the NPU; weights and KV stream over the LPDDR5 bus.
* ``gpu`` / ``cpu``: roofline on that device; ``offload_bytes`` of weights cross the host link.
* ``pim``: the whole model inside PIM; matrix ops on the bank ALUs, non-linear ops on the AAU.
* ``pim-no-aau``: GEMMs on PIM; attention, softmax, norm, activation and element-wise ops on the
  NPU, their activations crossing the bus, one PIM<->NPU hand-off (``pim.op_sync_s``) each.
* ``npu-pim-op``: each op on its faster engine (NPU, or PIM ALUs for matrix ops with the
  activations crossing the bus), plus a barrier (``pim.op_sync_s``) after every op.
* ``gpu-hbmpim-op``: SpecPIM; op -> engine from ``op_engine`` (op name or kind -> "gpu" |
  "pim"/"hbm-pim"), the rest best-of; PIM ops move activations over the PIM's external bus;
  a barrier after every op.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ahasd.cost.engines import Cost, on_npu, on_pim, on_pim_derived, on_roofline, with_sync
from ahasd.errors import AhasdError, field_error
from ahasd.hardware.devices import DramDevice, NpuDevice, PimDevice, RooflineDevice
from ahasd.memory.model import Residence, dram_spec, pim_rates
from ahasd.models.ops import MATRIX_KINDS, Op, OpKind, ops_for_phase
from ahasd.models.shape import elem_bytes

PLACEMENTS = ("npu", "gpu", "cpu", "pim", "pim-no-aau", "npu-pim-op", "gpu-hbmpim-op")
ENGINE_ALIASES = {"gpu": "gpu", "pim": "pim", "hbm-pim": "pim"}


@dataclass(frozen=True, slots=True)
class StepCost:
    seconds: float
    joules: float
    bound: str
    energy_j: Mapping[str, float]
    ops: tuple[tuple[Op, Cost], ...]
    limit: str = ""  # the binding resource of the ops that take most of the time
    # per resource, the sum over ops of the time that resource alone needs (e.g. a PIM draft:
    # compute 0.165 s vs memory 0.031 s says the ALUs bind, not the internal bandwidth)
    times_s: Mapping[str, float] = field(default_factory=dict)


def _device(platform, placement: str, kinds: tuple[type, ...], name: str | None):
    if name is not None:
        dev = platform.device(name)
        if not isinstance(dev, kinds):
            raise field_error("device", name, f"a device usable for placement {placement}")
        return dev
    for dev in platform.devices.values():
        if isinstance(dev, kinds) and (placement not in ("gpu", "cpu") or dev.kind == placement):
            return dev
    raise field_error(
        "placement", placement, f"one whose devices platform {platform.name} has "
        f"({', '.join(f'{n}: {d.kind}' for n, d in platform.devices.items())})",
    )  # fmt: skip


def _npu_mem(platform, device: str | None = None) -> tuple[NpuDevice, DramDevice]:
    npu = _device(platform, "npu", (NpuDevice,), device if device else None)
    mem = platform.device(npu.memory)
    if not isinstance(mem, DramDevice):
        raise field_error(f"devices.{npu.name}.memory", npu.memory, "a DRAM device")
    return npu, mem


def _engine_for(op: Op, op_engine: Mapping[str, str] | None) -> str | None:
    if not op_engine:
        return None
    raw = op_engine.get(op.name, op_engine.get(op.kind.value))
    if raw is None:
        return None
    if raw not in ENGINE_ALIASES:
        raise field_error(f"op_engine[{op.name}]", raw, "gpu, pim or hbm-pim")
    return ENGINE_ALIASES[raw]


def _npu(op: Op, platform, where: Residence | None, device: str | None = None,
         cross_bytes: int = 0) -> Cost:  # fmt: skip
    npu, mem = _npu_mem(platform, device)
    dram = dram_spec(platform, mem.name) if (mem.timing_s or mem.timing_nck) else None
    return on_npu(op, npu, mem, cross_bytes=cross_bytes, dram=dram, where=where)


def _pim(op: Op, platform, pim: PimDevice, where: Residence | None, precision: str, *,
         use_aau: bool, cross_bytes: int = 0) -> Cost:  # fmt: skip
    """PIM from the command model when the platform describes it, else the published roofline."""
    rates = pim_rates(platform, pim, precision)
    if rates is None:
        return on_pim(op, pim, use_aau=use_aau, cross_bytes=cross_bytes)
    if where is None:  # no placement given: the operand spread over every die of the package
        spread = rates.dram.ranks and _everywhere(rates.dram)
        where = Residence((), spread, (), spread)
    return on_pim_derived(op, pim, rates, where, use_aau=use_aau,
                          elem_bytes=elem_bytes(precision))  # fmt: skip


def _everywhere(spec):
    from ahasd.memory.pim import Spread

    return Spread((spec.dies_per_channel,) * spec.channels)


def op_cost(op: Op, platform, placement: str, **kw) -> Cost:
    """Cost of ``op`` (all ``op.count`` instances) under ``placement``.

    Keywords: ``precision`` (gpu/cpu rate, default int8), ``offload_fraction`` (gpu/cpu),
    ``resident_bytes`` (cpu/gpu: the model's weights, for the cache level), ``device`` (a
    specific device name), ``engine`` (gpu-hbmpim-op: "gpu" or "pim"), ``where`` (a
    :class:`~ahasd.memory.model.Residence`: the ranks holding the model, for the memory layer).
    """
    where = kw.get("where")
    precision = kw.get("precision", "int8")
    if placement == "npu":
        return _npu(op, platform, where, kw.get("device"))
    if placement in ("gpu", "cpu"):
        dev = _device(platform, placement, (RooflineDevice,), kw.get("device"))
        return on_roofline(op, dev, precision=kw.get("precision", "int8"),
                           offload_fraction=float(kw.get("offload_fraction", 0.0)),
                           resident_bytes=float(kw.get("resident_bytes", 0.0)))  # fmt: skip
    if placement == "pim":
        pim = _device(platform, placement, (PimDevice,), kw.get("device"))
        return _pim(op, platform, pim, where, precision, use_aau=True)
    if placement == "pim-no-aau":
        return _pim_no_aau(op, platform, kw.get("device"), where, precision)
    if placement == "npu-pim-op":
        return _npu_pim_op(op, platform, where, precision)
    if placement == "gpu-hbmpim-op":
        return _gpu_hbmpim_op(op, platform, kw.get("engine"), precision,
                              float(kw.get("offload_fraction", 0.0)), where)  # fmt: skip
    raise field_error("placement", placement, ", ".join(PLACEMENTS))


_NPU_SIDE = frozenset({OpKind.ATTN_SCORE, OpKind.ATTN_VALUE, OpKind.SOFTMAX, OpKind.NORM,
                       OpKind.ACTIVATION, OpKind.ELEMENTWISE})  # fmt: skip


def _pim_no_aau(op: Op, platform, device: str | None, where, precision: str) -> Cost:
    pim = _device(platform, "pim-no-aau", (PimDevice,), device)
    if op.kind not in _NPU_SIDE:
        return _pim(op, platform, pim, where, precision, use_aau=False)
    return with_sync(_npu(op, platform, where, cross_bytes=op.act_bytes), pim.op_sync_s, op.count)


def _npu_pim_op(op: Op, platform, where, precision: str) -> Cost:
    pim = _device(platform, "npu-pim-op", (PimDevice,), None)
    best = _npu(op, platform, where)
    if op.kind in MATRIX_KINDS:
        on_p = _pim(op, platform, pim, where, precision, use_aau=False, cross_bytes=op.act_bytes)
        if on_p.seconds < best.seconds:
            best = on_p
    return with_sync(best, pim.op_sync_s, op.count)


def _gpu_hbmpim_op(op: Op, platform, engine: str | None, precision: str, frac: float,
                   where) -> Cost:  # fmt: skip
    gpu = _device(platform, "gpu", (RooflineDevice,), None)
    pim = _device(platform, "gpu-hbmpim-op", (PimDevice,), None)
    choices = {
        "gpu": lambda: on_roofline(op, gpu, precision=precision, offload_fraction=frac),
        "pim": lambda: _pim(
            op, platform, pim, where, precision, use_aau=False, cross_bytes=op.act_bytes
        ),  # fmt: skip
    }
    if engine is not None:
        cost = choices[ENGINE_ALIASES.get(engine, engine)]()
    else:
        cost = min((f() for f in choices.values()), key=lambda c: c.seconds)
    return with_sync(cost, pim.op_sync_s, op.count)


def step_cost(
    platform,
    model,
    *,
    placement: str,
    phase: str,
    n_tokens: int,
    kv_len: int,
    precision: str = "int8",
    offload_bytes: int = 0,
    op_engine: Mapping[str, str] | None = None,
    device: str | None = None,
    memo: dict | None = None,
    where: Residence | None = None,
) -> StepCost:
    """Cost of one step (sum over its operators; ops within a step run one after another).

    ``memo``: a dict the caller keeps for one (platform, model, placement, precision, offload,
    op_engine, device); operator costs are reused across calls (most ops of a step do not
    depend on the KV length, so a table fill recosts only the attention ops).
    """
    if placement not in PLACEMENTS:
        raise field_error("placement", placement, ", ".join(PLACEMENTS))
    ops = ops_for_phase(model, phase, n_tokens, kv_len, precision)
    weights = model.weight_bytes(precision)
    if offload_bytes < 0 or offload_bytes > weights:
        raise field_error("offload_bytes", offload_bytes, f"0..{weights} (the model's weights)")
    kw = {"precision": precision, "offload_fraction": offload_bytes / weights,
          "resident_bytes": weights}  # fmt: skip
    if device is not None:
        kw["device"] = device
    if where is not None:
        kw["where"] = where
    pairs = []
    for op in ops:
        engine = _engine_for(op, op_engine) if placement == "gpu-hbmpim-op" else None
        cost = memo.get((op, engine)) if memo is not None else None
        if cost is None:
            cost = op_cost(op, platform, placement, engine=engine, **kw)
            if memo is not None:
                memo[(op, engine)] = cost
        pairs.append((op, cost))
    return summarize(tuple(pairs))


def summarize(pairs: tuple[tuple[Op, Cost], ...]) -> StepCost:
    """Totals of a step; its bound is the one under which most of the time is spent."""
    if not pairs:
        raise AhasdError("a step needs at least one operator")
    energy: dict[str, float] = {}
    by_bound: dict[str, float] = {}
    by_limit: dict[str, float] = {}
    times: dict[str, float] = {}
    for _op, c in pairs:
        for comp, j in c.energy_j.items():
            energy[comp] = energy.get(comp, 0.0) + j
        for res, t in c.times_s.items():
            times[res] = times.get(res, 0.0) + t
        by_bound[c.bound] = by_bound.get(c.bound, 0.0) + c.seconds
        by_limit[c.limit] = by_limit.get(c.limit, 0.0) + c.seconds
    seconds = sum(c.seconds for _op, c in pairs)
    bound = max(by_bound, key=lambda k: by_bound[k])
    limit = max(by_limit, key=lambda k: by_limit[k])
    return StepCost(seconds, sum(energy.values()), bound, energy, pairs, limit, times)
