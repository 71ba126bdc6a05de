"""Step costs of many platforms at once: the operator costs of :mod:`ahasd.cost.engines` as arrays.

The scalar path (``StepCostTable``) costs one operator on one platform per Python call; sweeps
that build a new platform per design point spend their time there. Here a step's operators are
columns (:class:`OpArrays`, memoised per model, phase and (n, KV) list: they do not depend on the
hardware) and the platforms rows (:class:`PlatformColumns`: each device field one numpy column),
so ``on_npu``, ``on_pim_derived``, ``on_pim`` and ``on_roofline`` and the placements built on
them (``npu``, ``pim``, ``pim-no-aau``, ``npu-pim-op``, ``gpu``, ``cpu``) are a few array
expressions, summed per step with ``np.add.reduceat``. The formulas are the scalar ones, term
for term, so results equal ``StepCostTable`` to rounding (a test holds them to 1e-9 relative on
every preset and placement); the scalar path stays the reference and the event simulator's.

Besides seconds and joules a step carries what the memory layer's sharing rule needs (bytes the
NPU streams, PIM array time and I/O bytes, seconds on the NPU), as ``task_traffic`` reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ahasd.cost.engines import AAU_CHUNK_SCALE, OPS_PER_ELEM
from ahasd.cost.model import _device, _npu_mem
from ahasd.errors import field_error
from ahasd.hardware.devices import PimDevice, RooflineDevice
from ahasd.memory.model import dram_spec as _dram_spec
from ahasd.memory.model import pim_rates as _pim_rates
from ahasd.models.ops import MATRIX_KINDS, OpKind, ops_for_phase
from ahasd.models.shape import elem_bytes

VECTOR_PLACEMENTS = ("npu", "pim", "pim-no-aau", "npu-pim-op", "gpu", "cpu")
_ATTENTION = (OpKind.ATTN_SCORE, OpKind.ATTN_VALUE)
_NPU_SIDE = frozenset({*_ATTENTION, OpKind.SOFTMAX, OpKind.NORM, OpKind.ACTIVATION,
                       OpKind.ELEMENTWISE})  # fmt: skip  # pim-no-aau: these run on the NPU
# what a step sums besides seconds and joules (see ``StepArrays``)
_TRAFFIC = ("npu_s", "npu_w_bytes", "npu_kv_bytes", "pim_array_s", "pim_io_bytes")


@dataclass(frozen=True, slots=True)
class OpArrays:
    """The operators of several steps, concatenated; ``starts[e]``: the first op of step e."""

    starts: np.ndarray
    m: np.ndarray
    n: np.ndarray
    k: np.ndarray
    macs: np.ndarray
    weight: np.ndarray
    act: np.ndarray
    kv_read: np.ndarray
    kv_write: np.ndarray
    count: np.ndarray
    elements: np.ndarray  # m x n for vector ops, 0 for matrix ops
    matrix: np.ndarray  # bool
    attention: np.ndarray  # bool: operands are the KV cache (attention score/value)
    npu_side: np.ndarray  # bool: runs on the NPU under pim-no-aau
    ope: np.ndarray  # vector work per element (0 for matrix ops)
    aau_scale: np.ndarray  # AAU cycles per chunk relative to softmax (1 for matrix ops)
    reps: np.ndarray  # independent m x n x k products per instance (attention heads)


@lru_cache(maxsize=512)
def op_arrays(model: Any, phase: str, entries: tuple[tuple[int, int], ...], precision: str):
    """Operator columns of the steps ``entries`` ((n tokens, KV length) each) of ``model``."""
    ops = [ops_for_phase(model, phase, n, kv, precision) for n, kv in entries]
    flat = [op for step in ops for op in step]
    starts = np.cumsum([0] + [len(step) for step in ops[:-1]])

    def col(fn, dtype=np.float64) -> np.ndarray:
        return np.array([fn(op) for op in flat], dtype=dtype)

    matrix = col(lambda o: o.kind in MATRIX_KINDS, bool)
    m, n, k = col(lambda o: o.m), col(lambda o: o.n), col(lambda o: o.k)
    macs = col(lambda o: o.macs)
    per = m * n * k
    reps = np.where(per > 0, np.maximum(1.0, np.floor_divide(macs, np.where(per > 0, per, 1))), 1.0)
    return OpArrays(
        starts=starts, m=m, n=n, k=k, macs=macs,
        weight=col(lambda o: o.weight_bytes), act=col(lambda o: o.act_bytes),
        kv_read=col(lambda o: o.kv_read_bytes), kv_write=col(lambda o: o.kv_write_bytes),
        count=col(lambda o: o.count), elements=np.where(matrix, 0.0, m * n), matrix=matrix,
        attention=col(lambda o: o.kind in _ATTENTION, bool),
        npu_side=col(lambda o: o.kind in _NPU_SIDE, bool),
        ope=col(lambda o: OPS_PER_ELEM.get(o.kind, 0.0)),
        aau_scale=col(lambda o: AAU_CHUNK_SCALE.get(o.kind, 1.0)), reps=reps,
    )  # fmt: skip


_SPECS: dict[tuple, Any] = {}  # (platform hash, device, precision) -> DramSpec / PimRates


def dram_spec(platform: Any, name: str) -> Any:
    """``memory.model.dram_spec``, memoised for as many platforms as a sweep builds (the
    memory layer keeps the last 64)."""
    key = (platform.config_hash, name, "")
    if key not in _SPECS:
        if len(_SPECS) > 16384:
            _SPECS.clear()
        _SPECS[key] = _dram_spec(platform, name)
    return _SPECS[key]


def pim_rates(platform: Any, pim: Any, precision: str) -> Any:
    """``memory.model.pim_rates``, memoised like :func:`dram_spec`."""
    key = (platform.config_hash, pim.name, precision)
    if key not in _SPECS:
        if len(_SPECS) > 16384:
            _SPECS.clear()
        _SPECS[key] = _pim_rates(platform, pim, precision)
    return _SPECS[key]


class _Fields:
    """Device fields as columns: ``cols.clock_hz`` is an array over the platforms (memoised)."""

    def __init__(self, objs: list[Any]) -> None:
        self._objs = objs
        self._cols: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_"):
            raise AttributeError(name)
        col = self._cols.get(name)
        if col is None:
            col = self._cols[name] = np.array([float(getattr(o, name)) for o in self._objs])
        return col


@dataclass(frozen=True, slots=True)
class Spreads:
    """Dies and busiest-channel dies of a model's weights and KV on each platform (columns)."""

    w_dies: np.ndarray
    w_max: np.ndarray
    kv_dies: np.ndarray
    kv_max: np.ndarray

    @classmethod
    def of(cls, residences: list[Any]) -> Spreads:
        def arr(fn) -> np.ndarray:
            return np.array([float(fn(r)) for r in residences])

        return cls(arr(lambda r: r.weights.dies), arr(lambda r: r.weights.max_per_channel),
                   arr(lambda r: r.kv.dies), arr(lambda r: r.kv.max_per_channel))  # fmt: skip


class PlatformColumns:
    """The devices one placement uses, on each of a batch of platforms, as columns.

    Every platform must have the devices the placement needs (as ``StepCostTable`` would); the
    DRAM timing and PIM rate model may differ between them (each row takes its own branch).
    """

    def __init__(self, platforms: list[Any], placement: str, precision: str) -> None:
        if placement not in VECTOR_PLACEMENTS:
            raise field_error("placement", placement, ", ".join(VECTOR_PLACEMENTS))
        self.size = len(platforms)
        self.placement, self.precision = placement, precision
        if placement in ("gpu", "cpu"):
            self.roof = _Fields([_device(p, placement, (RooflineDevice,), None)
                                 for p in platforms])  # fmt: skip
            return
        specs: list[Any] = [None] * self.size
        if placement != "pim":
            pairs = [_npu_mem(p) for p in platforms]
            self.npu = _Fields([n for n, _ in pairs])
            self.mem = _Fields([m for _, m in pairs])
            specs = [dram_spec(p, m.name) if (m.timing_s or m.timing_nck) else None
                     for p, (_n, m) in zip(platforms, pairs, strict=True)]  # fmt: skip
            self.timed = np.array([s is not None for s in specs])
            self.dram = _Fields([s or _NO_DRAM for s in specs])
            self.sustained = np.array([s.channel_sustained_bytes_per_s if s else 0.0
                                       for s in specs])  # fmt: skip
        if placement != "npu":
            pims = [_device(p, placement, (PimDevice,), None) for p in platforms]
            self.pim = _Fields(pims)
            rates = [pim_rates(p, d, precision) for p, d in zip(platforms, pims, strict=True)]
            self.derived = np.array([r is not None for r in rates])
            live = [r for r in rates if r is not None]
            self.rates = _RateFields([r or (live[0] if live else None) for r in rates])
            if placement == "pim":
                specs = [r.dram if r is not None else None for r in rates]
        self.channels = np.array([float(s.channels) if s else 0.0 for s in specs])
        self.everywhere = [s.channels * s.dies_per_channel if s else 0 for s in specs]

    def spreads(self, residences: list[Any] | None) -> Spreads:
        """The batch's spreads; ``None``: every die of every channel (no memory model)."""
        if residences is not None:
            return Spreads.of(residences)
        if self.placement in ("gpu", "cpu"):  # no DRAM organisation: spreads are not read
            zero = np.zeros(self.size)
            return Spreads(zero, zero, zero, zero)
        dies = np.array(self.everywhere, dtype=np.float64)
        per = np.where(self.channels > 0, dies / np.maximum(self.channels, 1.0), 0.0)
        return Spreads(dies, per, dies, per)


class _NoDram:
    """Stand-in row for a DRAM without timing (its columns are read but never selected)."""

    def __getattr__(self, name: str) -> float:
        return 1.0


_NO_DRAM = _NoDram()


class _RateFields(_Fields):
    """PIM rates (``ahasd.memory.pim.PimRates``) as columns, with the derived per-die figures."""

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_"):
            raise AttributeError(name)
        col = self._cols.get(name)
        if col is None:
            objs = self._objs
            if name == "row_bytes":
                vals = [r.dram.row_bytes if r else 1.0 for r in objs]
            elif name == "gap_loss":
                vals = [r.dram.refresh_gap_loss if r else 0.0 for r in objs]
            elif name == "channel_peak":
                vals = [r.dram.channel_peak_bytes_per_s if r else 1.0 for r in objs]
            elif name == "act_pre_j":
                vals = [r.dram.act_pre_j if r else 0.0 for r in objs]
            else:
                vals = [getattr(r, name) if r else 1.0 for r in objs]
            col = self._cols[name] = np.array([float(v) for v in vals])
        return col


@dataclass(frozen=True, slots=True)
class StepArrays:
    """Per platform (rows) and step (columns): what ``StepCostTable.detail`` and
    ``task_traffic`` read off a step's operators."""

    seconds: np.ndarray
    joules: np.ndarray
    npu_s: np.ndarray  # seconds of the operators that ran on the NPU
    npu_w_bytes: np.ndarray  # weight bytes those operators streamed
    npu_kv_bytes: np.ndarray  # KV bytes they read and wrote
    pim_array_s: np.ndarray  # PIM matrix operators' array time (command model)
    pim_io_bytes: np.ndarray  # and the bytes their inputs and outputs moved over the channels


def step_arrays(
    cols: PlatformColumns,
    ops: OpArrays,
    where: Spreads,
    *,
    offload_fraction: np.ndarray | float = 0.0,
    resident_bytes: float = 0.0,
) -> StepArrays:
    """Step totals of ``ops`` under ``cols.placement`` on every platform of ``cols``."""
    per_op = _op_costs(cols, ops, where, offload_fraction, resident_bytes)
    sums = {key: np.add.reduceat(val, ops.starts, axis=1) for key, val in per_op.items()}
    return StepArrays(**sums)


def _op_costs(cols, ops, where, offload_fraction, resident_bytes) -> dict[str, np.ndarray]:
    placement = cols.placement
    zero = np.zeros((cols.size, ops.m.size))
    if placement in ("gpu", "cpu"):
        secs, joules = _roofline(cols.roof, ops, cols.precision, offload_fraction, resident_bytes)
        return {"seconds": secs, "joules": joules, **dict.fromkeys(_TRAFFIC, zero)}
    if placement == "npu":
        return _npu(cols, ops, where, cross=False)
    if placement == "pim":
        return _pim(cols, ops, where, use_aau=True, cross=False)
    sync = cols.pim.op_sync_s[:, None] * ops.count
    if placement == "pim-no-aau":  # GEMMs on PIM; the rest on the NPU, activations crossing
        npu = _npu(cols, ops, where, cross=True)
        pim = _pim(cols, ops, where, use_aau=False, cross=False)
        on_npu = np.broadcast_to(ops.npu_side, zero.shape)
        sync = np.where(on_npu, sync, 0.0)
    else:  # npu-pim-op: a matrix op moves to PIM when strictly faster there; a barrier per op
        npu = _npu(cols, ops, where, cross=False)
        pim = _pim(cols, ops, where, use_aau=False, cross=True)
        on_npu = ~(ops.matrix & (pim["seconds"] < npu["seconds"]))
    out = {key: np.where(on_npu, npu[key], pim[key]) for key in npu}
    out["seconds"] = out["seconds"] + sync
    out["npu_s"] = np.where(on_npu, out["seconds"], 0.0)
    return out


def _npu(cols, ops, where: Spreads, *, cross: bool) -> dict[str, np.ndarray]:
    """``engines.on_npu`` (``cross``: activations cross the bus, as pim-no-aau's NPU side)."""
    npu, mem, dram = cols.npu, cols.mem, cols.dram
    c = lambda a: a[:, None]  # noqa: E731  platform column against operator columns
    n = ops.count
    spill = np.where(ops.act > c(npu.scratchpad_bytes), ops.act, 0.0)
    cross_b = ops.act if cross else 0.0
    kv = ops.kv_read + ops.kv_write
    dram_bytes = (ops.weight + kv + spill + cross_b) * n
    compute_j = ops.macs * n * c(npu.mac_j_per_mac) + ops.elements * ops.ope * n * c(
        npu.vector_j_per_op
    )
    joules = compute_j + ops.act * n * 8 * c(npu.sram_j_per_bit)
    joules = joules + dram_bytes * 8 * c(mem.off_chip_j_per_bit)
    timed = c(cols.timed)
    act_j = dram_bytes / c(dram.row_bytes) * c(dram.act_pre_j)
    joules = joules + np.where(timed, act_j, 0.0)
    flat_bw = c(mem.external_bw_bytes_per_s * mem.bw_efficiency)
    stream = cols.sustained
    bw_w = c(stream * np.where(where.w_dies > 0, where.w_dies / np.maximum(where.w_max, 1), 0))
    bw_kv = c(stream * np.where(where.kv_dies > 0, where.kv_dies / np.maximum(where.kv_max, 1), 0))
    bw_any = c(stream * cols.channels)
    with np.errstate(divide="ignore", invalid="ignore"):
        timed_s = (ops.weight / bw_w + kv / bw_kv + (spill + cross_b) / bw_any) * n
    memory_s = np.where(timed, timed_s, dram_bytes / flat_bw)
    seconds = np.maximum(_npu_compute_s(npu, ops) * n, memory_s)
    zero = np.zeros_like(seconds)
    return {"seconds": seconds, "joules": joules, "npu_s": seconds,
            "npu_w_bytes": np.broadcast_to(ops.weight * n, seconds.shape),
            "npu_kv_bytes": np.broadcast_to(kv * n, seconds.shape),
            "pim_array_s": zero, "pim_io_bytes": zero}  # fmt: skip


def _npu_compute_s(npu, ops) -> np.ndarray:
    """``engines.npu_compute_s``: systolic tiling for matrix ops, the vector unit otherwise."""
    c = lambda a: a[:, None]  # noqa: E731
    r, cc = c(npu.array_rows), c(npu.array_cols)
    tiles = np.ceil(ops.k / r) * np.ceil(ops.n / cc) * ops.reps
    cycles = tiles * np.maximum(ops.m, r) / c(npu.chips) + r + cc
    array_s = cycles / c(npu.clock_hz)
    peak_s = ops.macs / c(npu.matrix_ops_per_s / npu.ops_per_mac)
    matrix_s = np.maximum(array_s, peak_s) / c(npu.compute_efficiency)
    vector_s = ops.elements * ops.ope / c(npu.vector_ops_per_s * npu.compute_efficiency)
    return np.where(ops.matrix, matrix_s, vector_s)


def _pim(cols, ops, where: Spreads, *, use_aau: bool, cross: bool) -> dict[str, np.ndarray]:
    """``model._pim``: the command-derived rates where the platform gives them
    (``on_pim_derived``), else the published roofline (``on_pim``)."""
    derived = _pim_derived(cols, ops, where, use_aau=use_aau)
    if cols.derived.all():
        return derived
    published = _pim_published(cols, ops, use_aau=use_aau, cross=cross)
    pick = cols.derived[:, None]
    return {key: np.where(pick, derived[key], published[key]) for key in derived}


def _pim_derived(cols, ops, where: Spreads, *, use_aau: bool) -> dict[str, np.ndarray]:
    """``engines.on_pim_derived``: matrix ops from the GEMV command timing, vector ops on the
    AAU or the bank ALUs (each path costed on its own operator columns only)."""
    pim, rates = cols.pim, cols.rates
    c = lambda a: a[:, None]  # noqa: E731
    shape = (cols.size, ops.m.size)
    out = {key: np.zeros(shape) for key in ("seconds", "joules", *_TRAFFIC)}
    mi, vi = np.flatnonzero(ops.matrix), np.flatnonzero(~ops.matrix)
    if mi.size:
        m = _columns(ops, mi)
        n, eb = m.count, elem_bytes(cols.precision)
        dies_w, dies_kv = c(where.w_dies), c(where.kv_dies)
        dies = np.where(m.attention, dies_kv, dies_w)
        max_pc = np.where(m.attention, c(where.kv_max), c(where.w_max))
        row_set = c(rates.units * rates.row_bytes)
        row_s, keep = c(rates.row_s), c(1.0 - rates.gap_loss)
        n_alu = c(rates.n_alu)

        def array_s(resident: np.ndarray, tokens, spread_dies) -> np.ndarray:
            with np.errstate(divide="ignore", invalid="ignore"):
                rows = np.ceil(resident / spread_dies / row_set - 1e-9)
            return np.where(resident > 0, np.ceil(tokens / n_alu) * rows * row_s / keep, 0.0)

        array = (array_s(m.weight, m.m, dies_w) + array_s(m.kv_read, m.m, dies_kv)
                 + array_s(m.kv_write, 1.0, dies_kv)) * n  # fmt: skip
        has_macs = m.macs > 0
        in_b = np.where(has_macs, m.macs / np.maximum(m.n, 1) * eb, 0.0)
        out_b = np.where(has_macs, m.macs / np.maximum(m.k, 1) * eb, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            io = (in_b * max_pc + out_b * max_pc / dies) / c(rates.channel_peak) * n
        passes = np.ceil(m.m / n_alu)
        in_bank = ((m.weight + m.kv_read) * passes + m.kv_write) * n
        moved = (in_b * dies + out_b) * n
        out["seconds"][:, mi] = array + io
        out["joules"][:, mi] = (in_bank * 8 * c(pim.in_bank_j_per_bit) + in_bank
                                / c(rates.row_bytes) * c(rates.act_pre_j)
                                + moved * 8 * c(pim.off_chip_j_per_bit)
                                + m.macs * n * c(pim.alu_j_per_mac))  # fmt: skip
        out["pim_array_s"][:, mi] = array
        out["pim_io_bytes"][:, mi] = moved
    if vi.size:
        v = _columns(ops, vi)
        n = v.count
        dies = np.where(v.attention, c(where.kv_dies), c(where.w_dies))
        safe_dies = np.maximum(dies, 1.0)
        work = v.elements * v.ope * n
        secs = work / (c(rates.peak_ops_per_s) * safe_dies * c(pim.compute_efficiency))
        joules = work / 2 * c(pim.alu_j_per_mac)
        if use_aau:
            per_unit = np.ceil(v.elements / safe_dies)
            cycles = c(pim.aau_base_cycles) + c(pim.aau_cycles_per_chunk) * v.aau_scale * np.ceil(
                per_unit / c(pim.aau_width)
            )
            aau = c(pim.has_aau > 0)
            secs = np.where(aau, cycles / c(pim.clock_hz) * n, secs)
            joules = np.where(aau, v.elements * n * c(pim.aau_j_per_elem)
                              + v.act * n * 8 * c(pim.in_bank_j_per_bit), joules)  # fmt: skip
        out["seconds"][:, vi], out["joules"][:, vi] = secs, joules
    return out


def _columns(ops: OpArrays, idx: np.ndarray) -> OpArrays:
    """The operator columns ``idx`` of ``ops`` (step boundaries are not kept)."""
    return OpArrays(ops.starts, *(getattr(ops, f)[idx] for f in OpArrays.__slots__[1:]))


def _pim_published(cols, ops, *, use_aau: bool, cross: bool) -> dict[str, np.ndarray]:
    """``engines.on_pim``: bank ALUs at the published internal bandwidth and peak."""
    pim = cols.pim
    c = lambda a: a[:, None]  # noqa: E731
    n = ops.count
    bw = c(_internal_bw(pim) * pim.bw_efficiency)
    ops_s = c(_peak_ops(pim) * pim.compute_efficiency)
    n_alu = c(pim.n_alu)
    passes = np.where(ops.matrix, np.ceil(ops.m / n_alu), 1.0)
    in_bank = ((ops.weight + ops.kv_read) * passes + ops.kv_write) * n
    cross_b = ops.act if cross else 0.0
    memory_s = in_bank / bw
    link_s = cross_b * n / c(pim.external_bw_bytes_per_s)
    joules = in_bank * 8 * c(pim.in_bank_j_per_bit) + cross_b * n * 8 * c(pim.off_chip_j_per_bit)
    lanes = np.where(ops.m > 0, passes * n_alu / np.maximum(ops.m, 1), 1.0)
    matrix_s = 2 * ops.macs * n * lanes / ops_s
    work = ops.elements * ops.ope * n
    alu_s, alu_j = work / ops_s, work / 2 * c(pim.alu_j_per_mac)
    comp_s = np.where(ops.matrix, matrix_s, alu_s)
    comp_j = np.where(ops.matrix, ops.macs * n * c(pim.alu_j_per_mac), alu_j)
    if use_aau:
        per_unit = np.ceil(ops.elements / c(pim.units))
        cycles = c(pim.aau_base_cycles) + c(pim.aau_cycles_per_chunk) * ops.aau_scale * np.ceil(
            per_unit / c(pim.aau_width)
        )
        aau = c(pim.has_aau > 0) & ~ops.matrix
        comp_s = np.where(aau, cycles / c(pim.clock_hz) * n, comp_s)
        aau_j = ops.elements * n * c(pim.aau_j_per_elem) + ops.act * n * 8 * c(
            pim.in_bank_j_per_bit
        )
        comp_j = np.where(aau, aau_j, comp_j)
    seconds = np.maximum(np.maximum(memory_s, link_s), comp_s)
    zero = np.zeros_like(seconds)
    return {"seconds": seconds, "joules": joules + comp_j, "npu_s": zero, "npu_w_bytes": zero,
            "npu_kv_bytes": zero, "pim_array_s": zero, "pim_io_bytes": zero}  # fmt: skip


def _internal_bw(pim) -> np.ndarray:
    return np.array([d.internal_bw_total_bytes_per_s for d in pim._objs])


def _peak_ops(pim) -> np.ndarray:
    return np.array([d.peak_ops_per_s for d in pim._objs])


def _roofline(dev, ops, precision: str, offload_fraction, resident_bytes: float):
    """``engines.on_roofline`` (GPU or CPU)."""
    c = lambda a: a[:, None]  # noqa: E731
    n = ops.count
    flops = np.where(ops.matrix, 2 * ops.macs, ops.elements * ops.ope) * n
    if precision == "fp32":
        matrix_rate = dev.fp32_flops_per_s
    elif precision in ("int8", "int4"):
        matrix_rate = dev.int8_ops_per_s
    else:
        matrix_rate = dev.fp16_flops_per_s
    rate = np.where(ops.matrix, c(matrix_rate), c(dev.fp32_flops_per_s)) * c(dev.compute_efficiency)
    frac = c(np.broadcast_to(np.asarray(offload_fraction, dtype=np.float64), (dev.clock_hz.size,)))
    link_bytes = ops.weight * frac * n
    dram = (ops.weight * n - link_bytes) + (ops.kv_read + ops.kv_write + ops.act) * n
    multi = ops.matrix & (ops.m > 1)
    cached = c((resident_bytes > 0) & (resident_bytes <= dev.cache_bytes) & (
        dev.cache_bw_bytes_per_s > 0))  # fmt: skip
    multi_cache, multi_mem = _multi_token_rates(dev, ops, "cache"), _multi_token_rates(dev, ops)
    cache_bw = np.where(multi & (multi_cache > 0), multi_cache, c(dev.cache_bw_bytes_per_s))
    mem_bw = np.where(multi & (multi_mem > 0), multi_mem, c(dev.mem_bw_bytes_per_s))
    raw_bw = np.where(cached, cache_bw, mem_bw)
    memory_s = dram / (raw_bw * c(dev.bw_efficiency))
    with np.errstate(divide="ignore", invalid="ignore"):
        link_s = np.where(link_bytes > 0, link_bytes / c(dev.host_link_bw_bytes_per_s), 0.0)
    seconds = np.maximum(np.maximum(flops / rate, memory_s), link_s) + c(dev.op_sync_s) * n
    joules = (flops * c(dev.compute_j_per_flop) + dram * 8 * c(dev.mem_j_per_bit)
              + link_bytes * 8 * c(dev.link_j_per_bit))  # fmt: skip
    return seconds, joules


def _multi_token_rates(dev, ops, level: str = "memory") -> np.ndarray:
    """Each platform's multi-token rate of ``level`` for each op's width (P, ops), or (P, 1)
    when no platform has a per-width table (``RooflineDevice.multi_token_rate``)."""
    stem = "multi_token_cache_bw" if level == "cache" else "multi_token_mem_bw"
    one = getattr(dev, f"{stem}_bytes_per_s")[:, None]
    if not any(getattr(o, f"{stem}_by_width_bytes_per_s") for o in dev._objs):
        return one
    widths = np.unique(ops.m).astype(int)
    per_width = np.array([[o.multi_token_rate(int(w), level) for w in widths] for o in dev._objs])
    return per_width[:, np.searchsorted(widths, ops.m.astype(int))]


def step_grid(
    cols: PlatformColumns,
    model: Any,
    phase: str,
    ns: tuple[int, ...],
    kvs: tuple[int, ...],
    where: Spreads,
    **kw: Any,
) -> StepArrays:
    """Steps of n tokens (``ns``) at each KV length (``kvs``): arrays of shape (P, n, kv)."""
    entries = tuple((n, kv) for n in ns for kv in kvs)
    out = step_arrays(cols, op_arrays(model, phase, entries, cols.precision), where, **kw)
    shape = (cols.size, len(ns), len(kvs))
    return StepArrays(*(getattr(out, f).reshape(shape) for f in StepArrays.__slots__))
