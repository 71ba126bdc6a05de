"""Per-engine rooflines: one operator (all ``count`` instances) on one device.

Each function returns a :class:`Cost` with time = max(compute, memory[, link]) and dynamic
energy split by component. Constants are the device's (presets cite them); the only numbers
here are the vector-op work per element, stated below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ahasd.hardware.devices import DramDevice, NpuDevice, PimDevice, RooflineDevice
from ahasd.memory.model import Residence
from ahasd.memory.pim import PimRates, Spread
from ahasd.memory.spec import DramSpec
from ahasd.models.ops import MATRIX_KINDS, Op, OpKind, elements

# Vector work per element (ops). Assumption, no paper gives it: softmax = max, subtract, exp,
# sum, divide (5); norm = square, sum, rsqrt, scale, weight (5); activation = SiLU/GELU
# approximation plus the gate product (8); elementwise add or gather (1).
OPS_PER_ELEM = {
    OpKind.SOFTMAX: 5.0,
    OpKind.NORM: 5.0,
    OpKind.ACTIVATION: 8.0,
    OpKind.ELEMENTWISE: 1.0,
}
# AAU cycles per chunk relative to the preset's softmax/LayerNorm figure ([ahasd-artifact]:
# GELU 2, softmax/LN 3, attention 4 cycles per 16-element chunk).
AAU_CHUNK_SCALE = {
    OpKind.SOFTMAX: 1.0,
    OpKind.NORM: 1.0,
    OpKind.ACTIVATION: 2.0 / 3.0,
    OpKind.ELEMENTWISE: 1.0 / 3.0,
}


@dataclass(frozen=True, slots=True)
class Cost:
    seconds: float
    joules: float  # dynamic energy only; static power is the simulator's job
    bound: str  # "compute" | "memory" | "link"
    energy_j: dict[str, float] = field(default_factory=dict)
    limit: str = ""  # the resource that binds, in words (e.g. "pim ALUs 102.4 GOPS")
    engine: str = ""  # device that ran the op
    # seconds each resource alone would need (compute, memory, link) and any fixed per-op
    # overhead ("overhead"); ``seconds`` = max of the resources + overhead
    times_s: dict[str, float] = field(default_factory=dict)


def _pick(times: dict[str, float]) -> tuple[str, float]:
    bound = max(times, key=lambda k: times[k])
    return bound, times[bound]


def _finish(times, energy, limits, engine, extra_s=0.0) -> Cost:
    bound, secs = _pick(times)
    energy = {k: v for k, v in energy.items() if v}
    times = {k: v for k, v in times.items() if v or k == bound}
    if extra_s:
        times["overhead"] = extra_s
    return Cost(secs + extra_s, sum(energy.values()), bound, energy, limits[bound], engine, times)


def _reps(op: Op) -> int:
    """Independent m x n x k products in one instance (attention heads)."""
    per = op.m * op.n * op.k
    return max(1, op.macs // per) if per else 1


def npu_compute_s(op: Op, npu: NpuDevice) -> float:
    """Seconds of compute for one instance: systolic tiling or the vector unit."""
    if op.kind in MATRIX_KINDS:
        r, c = npu.array_rows, npu.array_cols
        tiles = math.ceil(op.k / r) * math.ceil(op.n / c) * _reps(op)
        # weight-stationary: loading a tile takes r cycles (overlapped with the previous tile),
        # so a tile costs max(m, r) cycles; plus one pipeline fill of r + c per op.
        cycles = tiles * max(op.m, r) / npu.chips + r + c
        array_s = cycles / npu.clock_hz
        peak_s = op.macs / npu.peak_macs_per_s
        return max(array_s, peak_s) / npu.compute_efficiency
    work = elements(op) * OPS_PER_ELEM[op.kind]
    return work / (npu.vector_ops_per_s * npu.compute_efficiency)


def stream_bytes_per_s(dram: DramSpec, spread: Spread | None) -> float:
    """Sustained read rate of bytes spread over ``spread``'s dies: the busiest channel binds."""
    if spread is None or not spread.dies:
        return dram.channel_sustained_bytes_per_s * dram.channels
    return dram.channel_sustained_bytes_per_s * spread.dies / spread.max_per_channel


def on_npu(
    op: Op,
    npu: NpuDevice,
    mem: DramDevice,
    *,
    cross_bytes: int = 0,
    dram: DramSpec | None = None,
    where: Residence | None = None,
) -> Cost:
    """All of the op on the NPU; weights and KV stream over the DRAM bus.

    With ``dram`` (a package with timing) the stream runs at the timing-derived sustained rate
    of the channels that hold the bytes (``where``; every channel when None) and each row it
    opens costs an activate; without it, at peak x ``bw_efficiency``.
    """
    n = op.count
    spill = op.act_bytes if op.act_bytes > npu.scratchpad_bytes else 0
    kv = op.kv_read_bytes + op.kv_write_bytes
    dram_bytes = (op.weight_bytes + kv + spill + cross_bytes) * n
    energy = {
        "compute": op.macs * n * npu.mac_j_per_mac
        + elements(op) * OPS_PER_ELEM.get(op.kind, 0.0) * n * npu.vector_j_per_op,
        "sram": op.act_bytes * n * 8 * npu.sram_j_per_bit,
        "mem_off_chip": dram_bytes * 8 * mem.off_chip_j_per_bit,
    }
    if dram is None:
        bw = mem.external_bw_bytes_per_s * mem.bw_efficiency
        memory_s = dram_bytes / bw
        label = f"{mem.name} bus {bw / 1e9:.1f} GB/s"
    else:
        bw_w = stream_bytes_per_s(dram, where.weights if where else None)
        bw_kv = stream_bytes_per_s(dram, where.kv if where else None)
        bw_any = stream_bytes_per_s(dram, None)
        memory_s = (op.weight_bytes / bw_w + kv / bw_kv + (spill + cross_bytes) / bw_any) * n
        bw = bw_w if op.weight_bytes else bw_kv
        energy["act"] = dram_bytes / dram.row_bytes * dram.act_pre_j
        label = f"{mem.name} {bw / 1e9:.1f} GB/s (timing, refresh)"
    times = {"compute": npu_compute_s(op, npu) * n, "memory": memory_s}
    limits = {
        "compute": f"{npu.name} {'matrix' if op.kind in MATRIX_KINDS else 'vector'} unit",
        "memory": label,
    }
    return _finish(times, energy, limits, npu.name)


def pim_io_bytes(op: Op, elem_bytes: float) -> tuple[float, float]:
    """(input vector, output) bytes of one instance of a matrix op on PIM."""
    if not op.macs:
        return 0.0, 0.0
    per = op.macs
    return per / max(op.n, 1) * elem_bytes, per / max(op.k, 1) * elem_bytes


def on_pim_derived(
    op: Op,
    pim: PimDevice,
    rates: PimRates,
    where: Residence,
    *,
    use_aau: bool,
    elem_bytes: float,
) -> Cost:
    """The op on the PIM dies that hold its operands, timed from the GEMV command sequence.

    Matrix ops: input written to every die, ``ceil(m / n_alu)`` passes of row cycles over the
    weights (and KV), outputs read back (:mod:`ahasd.memory.pim`). Vector ops run on the AAU of
    each die holding the model (one AAU per rank) or, without it, on the bank ALUs.
    """
    n = op.count
    dram = rates.dram
    spread = where.kv if op.kind in (OpKind.ATTN_SCORE, OpKind.ATTN_VALUE) else where.weights
    dies = max(spread.dies, 1)
    if op.kind in MATRIX_KINDS:
        passes = math.ceil(op.m / rates.n_alu)
        array = (rates.array_s(op.weight_bytes, op.m, where.weights)
                 + rates.array_s(op.kv_read_bytes, op.m, where.kv)
                 + rates.array_s(op.kv_write_bytes, 1, where.kv)) * n  # fmt: skip
        in_b, out_b = pim_io_bytes(op, elem_bytes)
        io = rates.io_s(in_b, out_b, spread) * n
        in_bank = ((op.weight_bytes + op.kv_read_bytes) * passes + op.kv_write_bytes) * n
        moved = rates.io_bytes(in_b, out_b, spread) * n
        energy = {
            "mem_in_bank": in_bank * 8 * pim.in_bank_j_per_bit,
            "act": in_bank / dram.row_bytes * dram.act_pre_j,
            "mem_off_chip": moved * 8 * pim.off_chip_j_per_bit,
            "compute": op.macs * n * pim.alu_j_per_mac,
        }
        times = {"array": array, "io": io}
        bound = "array" if array >= io else "io"
        rate = rates.gemv_ops_per_s * dies / 1e9
        limits = f"{pim.name} {dies} dies x {rates.gemv_ops_per_s / 1e9:.1f} GOPS = {rate:.0f} GOPS"
        energy = {k: v for k, v in energy.items() if v}
        return Cost(array + io, sum(energy.values()), bound, energy, limits, pim.name, times)
    if use_aau and pim.has_aau:
        per_unit = math.ceil(elements(op) / dies)
        cpc = pim.aau_cycles_per_chunk * AAU_CHUNK_SCALE[op.kind]
        cycles = pim.aau_base_cycles + cpc * math.ceil(per_unit / pim.aau_width)
        secs = cycles / pim.clock_hz * n
        energy = {"aau": elements(op) * n * pim.aau_j_per_elem,
                  "mem_in_bank": op.act_bytes * n * 8 * pim.in_bank_j_per_bit}  # fmt: skip
        label = f"{pim.name} AAU ({dies} x {pim.aau_width}-wide)"
    else:
        work = elements(op) * OPS_PER_ELEM[op.kind] * n
        secs = work / (rates.peak_ops_per_s * dies * pim.compute_efficiency)
        energy = {"compute": work / 2 * pim.alu_j_per_mac}
        label = f"{pim.name} ALUs {rates.peak_ops_per_s * dies / 1e9:g} GOPS"
    return Cost(secs, sum(energy.values()), "compute", energy, label, pim.name,
                {"compute": secs})  # fmt: skip


def on_pim(op: Op, pim: PimDevice, *, use_aau: bool, cross_bytes: int = 0) -> Cost:
    """The op inside PIM: bank ALUs at internal bandwidth, vector ops on the AAU or the ALUs.

    Bank ALUs serve ``n_alu`` tokens per weight pass, so a bandwidth-bound op takes
    ``ceil(m / n_alu)`` passes ([lpspec25] §V-B).
    ``cross_bytes`` are activations that cross the external bus to or from the host.
    """
    n = op.count
    bw = pim.internal_bw_total_bytes_per_s * pim.bw_efficiency
    ops_s = pim.peak_ops_per_s * pim.compute_efficiency
    resident = op.weight_bytes + op.kv_read_bytes
    passes = math.ceil(op.m / pim.n_alu) if op.kind in MATRIX_KINDS else 1
    in_bank = (resident * passes + op.kv_write_bytes) * n
    ext_bw = pim.external_bw_bytes_per_s
    times = {"memory": in_bank / bw, "link": cross_bytes * n / ext_bw if cross_bytes else 0.0}
    energy = {"mem_in_bank": in_bank * 8 * pim.in_bank_j_per_bit,
              "mem_off_chip": cross_bytes * n * 8 * pim.off_chip_j_per_bit}  # fmt: skip
    limits = {"memory": f"{pim.name} internal {pim.internal_bw_total_bytes_per_s / 1e9:g} GB/s",
              "link": f"{pim.name} external bus {ext_bw / 1e9:g} GB/s"}  # fmt: skip
    if op.kind in MATRIX_KINDS:
        # each of the n_alu ALUs serves one token per pass: a pass takes n_alu tokens' share of
        # ALU time whether or not every ALU has a token (LP-Spec V-B; n_alu = 1: unchanged)
        lanes = passes * pim.n_alu / op.m if op.m else 1.0
        times["compute"] = 2 * op.macs * n * lanes / ops_s
        energy["compute"] = op.macs * n * pim.alu_j_per_mac
        limits["compute"] = f"{pim.name} ALUs {pim.peak_ops_per_s / 1e9:g} GOPS"
    elif use_aau and pim.has_aau:
        per_unit = math.ceil(elements(op) / pim.units)
        cpc = pim.aau_cycles_per_chunk * AAU_CHUNK_SCALE[op.kind]
        cycles = pim.aau_base_cycles + cpc * math.ceil(per_unit / pim.aau_width)
        times["compute"] = cycles / pim.clock_hz * n
        energy["aau"] = elements(op) * n * pim.aau_j_per_elem
        energy["mem_in_bank"] += op.act_bytes * n * 8 * pim.in_bank_j_per_bit
        limits["compute"] = f"{pim.name} AAU ({pim.units} x {pim.aau_width}-wide)"
    else:
        work = elements(op) * OPS_PER_ELEM[op.kind] * n
        times["compute"] = work / ops_s
        energy["compute"] = work / 2 * pim.alu_j_per_mac
        limits["compute"] = f"{pim.name} ALUs {pim.peak_ops_per_s / 1e9:g} GOPS"
    return _finish(times, energy, limits, pim.name)


def roofline_rate(dev: RooflineDevice, precision: str, matrix: bool) -> float:
    """FLOP/s for the precision; vector ops run at the fp32 (non-tensor) rate."""
    if not matrix or precision == "fp32":
        return dev.fp32_flops_per_s
    return dev.int8_ops_per_s if precision in ("int8", "int4") else dev.fp16_flops_per_s


def on_roofline(
    op: Op,
    dev: RooflineDevice,
    *,
    precision: str,
    offload_fraction: float,
    resident_bytes: float = 0.0,
) -> Cost:
    """GPU/CPU roofline; ``offload_fraction`` of the weights stream over the host link.

    ``resident_bytes`` (the model's weights) picks the memory level when the device has a cache
    level (:meth:`RooflineDevice.stream_bw`): weights that fit stay on chip between steps.
    """
    n = op.count
    matrix = op.kind in MATRIX_KINDS
    flops = (2 * op.macs if matrix else elements(op) * OPS_PER_ELEM[op.kind]) * n
    rate = roofline_rate(dev, precision, matrix) * dev.compute_efficiency
    link_bytes = op.weight_bytes * offload_fraction * n
    dram = (op.weight_bytes * n - link_bytes) + (
        op.kv_read_bytes + op.kv_write_bytes + op.act_bytes
    ) * n
    raw_bw, level = dev.stream_bw(resident_bytes, op.m if matrix else 1)  # BLAS path: matrices
    times = {"compute": flops / rate, "memory": dram / (raw_bw * dev.bw_efficiency)}
    limits = {"compute": f"{dev.name} {rate / dev.compute_efficiency / 1e12:g} TFLOP/s",
              "memory": f"{dev.name} {level} {raw_bw / 1e9:g} GB/s"}  # fmt: skip
    if link_bytes:
        times["link"] = link_bytes / dev.host_link_bw_bytes_per_s
        limits["link"] = f"host link {dev.host_link_bw_bytes_per_s / 1e9:g} GB/s"
    energy = {
        "compute": flops * dev.compute_j_per_flop,
        "mem_off_chip": dram * 8 * dev.mem_j_per_bit,
        "link": link_bytes * 8 * dev.link_j_per_bit,
    }
    return _finish(times, energy, limits, dev.name, extra_s=dev.op_sync_s * n)


def with_sync(cost: Cost, sync_s: float, count: int) -> Cost:
    """Add a per-instance barrier to an op's time (operator-level synchronous execution)."""
    if not sync_s:
        return cost
    times = dict(cost.times_s)
    times["overhead"] = times.get("overhead", 0.0) + sync_s * count
    return Cost(cost.seconds + sync_s * count, cost.joules, cost.bound, cost.energy_j,
                cost.limit, cost.engine, times)  # fmt: skip
