"""Frozen device descriptions in SI units, one dataclass per device kind.

Presets give human units (converted in :mod:`ahasd.hardware.units`); :func:`build_device`
checks every field (unknown, missing, wrong type, out of range) and raises a one-line
:class:`AhasdError` naming the field. Derived peaks (PIM throughput and internal bandwidth from
their per-unit/total readings, DRAM bandwidth from data rate x bus width) are properties here
and nowhere else.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from ahasd.errors import AhasdError, field_error
from ahasd.hardware.units import yaml_spellings
from ahasd.registry import Registry
from ahasd.validation import check_number

Scope = Literal["total", "per-unit"]
# string fields with a fixed set of values
CHOICES: dict[str, tuple[str, ...]] = {
    "ops_scope": get_args(Scope),
    "internal_bw_scope": get_args(Scope),
    "rate_model": ("derived", "published"),
    "channel_sharing": ("concurrent", "blocked"),
}


@dataclass(frozen=True, slots=True)
class NpuDevice:
    """Mobile NPU: a systolic matrix unit plus a vector unit, fed from a DRAM device."""

    name: str
    kind: str
    memory: str  # device whose external bus streams weights and KV
    array_rows: int
    array_cols: int
    chips: int
    clock_hz: float
    matrix_ops_per_s: float
    vector_ops_per_s: float
    ops_per_mac: float  # 2 = one MAC counts as two ops (multiply + add)
    scratchpad_bytes: float
    compute_efficiency: float
    mac_j_per_mac: float
    vector_j_per_op: float
    sram_j_per_bit: float
    static_w: float
    capacity_bytes: float = 0.0

    @property
    def peak_macs_per_s(self) -> float:
        return self.matrix_ops_per_s / self.ops_per_mac


@dataclass(frozen=True, slots=True)
class DramDevice:
    """Plain DRAM (LPDDR5, GDDR6, HBM): capacity, bus, timing and energy per bit."""

    name: str
    kind: str
    data_rate_hz: float  # transfers per second per pin
    bus_bits: int
    channels: int
    ranks: int
    banks_per_rank: int
    capacity_bytes: float
    bw_efficiency: float
    off_chip_j_per_bit: float  # a bit read from the array and driven over the external bus
    in_bank_j_per_bit: float  # a bit read from the array and used inside the bank (PIM)
    static_w: float
    timing_cycles: tuple[tuple[str, int], ...] = ()
    # --- organisation and timing for the memory layer (``ahasd.memory``); a device without
    # ``timing_s`` keeps the flat-bus model (bytes / (peak x bw_efficiency)) ---
    rank_channels: int = 1  # channels one rank spans: 1 = a rank is one die (AHASD's 16 ranks)
    bank_groups: int = 1
    row_bytes: float = 0.0  # one bank's page (2 KiB for LPDDR5 in BG mode)
    burst_length: int = 16
    timing_s: tuple[tuple[str, float], ...] = ()  # JEDEC names (tRCD, tRPab, ...) -> s
    # clock-bound timings in command clocks (tCCD_S, tCCD_L, tCS); tCK is BL / (2 x data rate)
    # unless timing_ns gives it, so a data-rate sweep moves them
    timing_nck: tuple[tuple[str, float], ...] = ()
    max_ranks_per_channel: int = 1_000_000  # what real parts select per channel (warning only)
    # --- per-die background and command energy (DRAMPower-style states) ---
    active_standby_w: float = 0.0
    precharge_standby_w: float = 0.0
    power_down_w: float = 0.0
    power_down_after_s: float = 0.0  # idle this long -> power-down (0: never)
    refresh_j: float = 0.0  # one all-bank refresh of one die
    act_pre_j: float = 0.0  # one row activation + precharge

    @property
    def external_bw_bytes_per_s(self) -> float:
        return self.data_rate_hz * self.bus_bits / 8.0

    @property
    def timing(self) -> dict[str, float]:
        return dict(self.timing_s)


@dataclass(frozen=True, slots=True)
class PimDevice:
    """Processing-in-memory (LPDDR5-PIM or HBM-PIM): bank ALUs, AAU vector unit, GTSU gate."""

    name: str
    kind: str
    units: int  # PIM units (ranks, dies or stacks) that compute in parallel
    clock_hz: float
    alu_ops_per_s: float  # as published; see ops_scope
    ops_scope: Scope  # "total": alu_ops_per_s is the whole device; "per-unit": x units
    internal_bw_bytes_per_s: float
    internal_bw_scope: Scope
    external_bw_bytes_per_s: float  # bus to the NPU/host (shared with plain DRAM traffic)
    n_alu: int  # tokens served per weight pass (LP-Spec's token-parallel ALUs)
    compute_efficiency: float
    bw_efficiency: float
    alu_j_per_mac: float
    in_bank_j_per_bit: float
    off_chip_j_per_bit: float
    op_sync_s: float  # barrier / hand-off between PIM and its host per synchronised operator
    capacity_bytes: float
    static_w: float
    has_aau: bool = False
    aau_width: int = 16
    aau_base_cycles: int = 8
    aau_cycles_per_chunk: float = 3.0
    aau_j_per_elem: float = 0.0
    gtsu_switch_s: float = 0.0
    gtsu_switch_j: float = 0.0
    memory: str = ""  # the DRAM device whose dies hold the PIM units
    # --- command model (``ahasd.memory.pim``): used when ``rate_model`` is "derived" and the
    # memory device has timing; "published" keeps the roofline of alu_ops / internal_bw ---
    rate_model: str = "published"
    channel_sharing: str = "concurrent"  # NPU reads and PIM work on one channel: both or one
    units_per_die: int = 16  # bank units per die (pseudo-channel for HBM, channel for GDDR6)
    lanes: int = 16  # MACs one unit does per PIM cycle (one PIM cycle = tCCD_L)
    all_bank_act: bool = True  # one command opens a row in every bank (else per-bank under tFAW)
    power_tccd_s: float = 0.0  # power-capped column-command interval (0: none)
    mode_rows: int = 0  # reserved-row writes to enter + leave PIM mode (0: modes not modelled)
    program_writes: int = 0  # instruction-register writes per PIM program load
    unit_leak_w: float = 0.0  # leakage of one die's PIM units while powered

    @property
    def peak_ops_per_s(self) -> float:
        return self.alu_ops_per_s * (self.units if self.ops_scope == "per-unit" else 1)

    @property
    def internal_bw_total_bytes_per_s(self) -> float:
        scale = self.units if self.internal_bw_scope == "per-unit" else 1
        return self.internal_bw_bytes_per_s * scale


@dataclass(frozen=True, slots=True)
class RooflineDevice:
    """GPU or CPU as a roofline with stated efficiencies; excess weights cross the host link.

    Numbers are for the whole device group (e.g. two GPUs: twice the bandwidth and capacity;
    tensor-parallel splitting is assumed free of communication cost).
    """

    name: str
    kind: str
    fp32_flops_per_s: float
    fp16_flops_per_s: float
    int8_ops_per_s: float
    mem_bw_bytes_per_s: float
    capacity_bytes: float
    compute_efficiency: float
    bw_efficiency: float
    host_link_bw_bytes_per_s: float  # where offloaded weights stream from; 0 = none
    compute_j_per_flop: float
    mem_j_per_bit: float
    link_j_per_bit: float
    op_sync_s: float  # per-operator launch/barrier overhead
    static_w: float
    clock_hz: float = 0.0
    # Optional second memory level and multi-token kernel rates (0 = not modelled). A model whose
    # weights fit in ``cache_bytes`` keeps them on chip between steps and streams them at
    # ``cache_bw``; matrix ops over m >= 2 tokens stream at the ``multi_token_*`` rates, since CPU
    # BLAS libraries take a slower packed-GEMM path for them than the matrix-vector one
    # (measured by ``ahasd validate``; docs/engine.md "Validating the cost model").
    cache_bytes: float = 0.0
    cache_bw_bytes_per_s: float = 0.0
    multi_token_mem_bw_bytes_per_s: float = 0.0
    multi_token_cache_bw_bytes_per_s: float = 0.0
    # The same rates measured per token width ((width, bytes/s) pairs; empty = not measured):
    # a CPU BLAS library picks its GEMM kernels by width (on the development VM torch streamed
    # 7.5 GB/s at 2 tokens and 5.6 GB/s at 9), so one rate for every m >= 2 over-prices narrow
    # and under-prices wide steps. Where set, an op over m >= 2 tokens takes the rate of its
    # width, linear between the measured widths around it (:func:`rate_at`); the scalar
    # ``multi_token_*`` field is then unused for that level.
    multi_token_mem_bw_by_width_bytes_per_s: tuple[tuple[int, float], ...] = ()
    multi_token_cache_bw_by_width_bytes_per_s: tuple[tuple[int, float], ...] = ()
    # Optional decode-loop time between the steps (0 = off): per speculative round (acceptance,
    # commit, KV rollback, policy feedback), per drafted token (sampling, entropy signal, policy
    # decision), per autoregressive token (sampling). Charged by the round formula
    # (ahasd.cost.rounds); measured for the real engine by ``ahasd calibrate-host --draft
    # --target`` on stand-ins of the models (ahasd.engine.loop_calib).
    round_overhead_s: float = 0.0
    token_overhead_s: float = 0.0
    ar_token_overhead_s: float = 0.0
    # Per round with draft and target on this device: what the round's first draft steps lose
    # re-reading the draft's weights (and its framework's working set) after the target's pass
    # evicted them from the cache level, and the share of it still missing after each draft step
    # (0: all of it lost on the first step).
    draft_refill_s: float = 0.0
    draft_refill_decay: float = 0.0
    # What a draft step feeding two tokens (its own last token and the bonus token, after a fully
    # accepted round) takes beyond a one-token step; 0 = not modelled.
    draft_catch_up_s: float = 0.0

    def stream_bw(self, resident_bytes: float, m: int) -> tuple[float, str]:
        """Bytes/s at which an op over ``m`` tokens streams, and the level it streams from."""
        cached = 0 < resident_bytes <= self.cache_bytes and self.cache_bw_bytes_per_s > 0
        level = "cache" if cached else "memory"
        multi = self.multi_token_rate(m, level) if m > 1 else 0.0
        return multi or (self.cache_bw_bytes_per_s if cached else self.mem_bw_bytes_per_s), level

    def multi_token_rate(self, m: int, level: str) -> float:
        """The multi-token rate of ``level`` ("cache" or "memory") for an ``m``-token op: from
        the per-width table where there is one, else the one rate (0 = not modelled)."""
        if level == "cache":
            table = self.multi_token_cache_bw_by_width_bytes_per_s
            one = self.multi_token_cache_bw_bytes_per_s
        else:
            table = self.multi_token_mem_bw_by_width_bytes_per_s
            one = self.multi_token_mem_bw_bytes_per_s
        return rate_at(table, m) if table else one


def rate_at(table: Mapping[int, float] | Iterable[tuple[int, float]], width: int) -> float:
    """The rate for ``width`` tokens from a width -> rate table: measured, or linear in width
    between the measured widths around it (the nearest one outside them)."""
    rates = dict(table)
    if width in rates:
        return rates[width]
    lower = [w for w in rates if w < width]
    upper = [w for w in rates if w > width]
    if not lower or not upper:
        return rates[max(lower) if lower else min(upper)]
    lo, hi = max(lower), min(upper)
    return rates[lo] + (rates[hi] - rates[lo]) * (width - lo) / (hi - lo)


Device = NpuDevice | DramDevice | PimDevice | RooflineDevice
DEVICE_KINDS: Registry[type] = Registry("device kind")
DEVICE_KINDS.add("npu", NpuDevice)
for _kind in ("lpddr5", "gddr6", "hbm"):
    DEVICE_KINDS.add(_kind, DramDevice)
for _kind in ("lpddr5-pim", "hbm-pim", "gddr6-aim"):
    DEVICE_KINDS.add(_kind, PimDevice)
for _kind in ("gpu", "cpu"):
    DEVICE_KINDS.add(_kind, RooflineDevice)


@dataclass(frozen=True, slots=True)
class Rule:
    """What a numeric device field accepts: finite always, then a range (see docs/platforms.md)."""

    low: float
    high: float | None = None
    open_low: bool = False  # True: the value must exceed ``low`` (zero is meaningless)
    integer: bool = False

    def check(self, label: str, value: object) -> float | int:
        return check_number(
            label, value, low=self.low, high=self.high, open_low=self.open_low,
            integer=self.integer,
        )  # fmt: skip


MAX_COUNT = 1 << 20  # counts (units, ranks, banks, ALUs): more is a typo and would size loops
COUNT = Rule(1, MAX_COUNT, integer=True)
OPTIONAL_COUNT = Rule(0, MAX_COUNT, integer=True)  # 0 = none
FRACTION = Rule(0.0, 1.0, open_low=True)
POSITIVE = Rule(0.0, open_low=True)
NON_NEGATIVE = Rule(0.0)

# The rule of a numeric field, first match wins (docs/platforms.md, "Numeric fields"):
#   1. a pattern below (a field name, ``*suffix`` or ``Class.field``);
#   2. a field whose default is 0 accepts 0 (its comment says what 0 means: none, off, not
#      modelled): OPTIONAL_COUNT for an int, NON_NEGATIVE for a float;
#   3. a rate (``*_hz``, ``*_per_s``) is POSITIVE: the model divides by it;
#   4. any other int is a COUNT, any other float NON_NEGATIVE.
# Every rule also refuses NaN and infinity. New fields get a rule from their name, type and
# default; add a pattern only for a field those get wrong.
RULES: tuple[tuple[str, Rule], ...] = (
    ("compute_efficiency", FRACTION),
    ("bw_efficiency", FRACTION),
    ("host_link_bw_bytes_per_s", NON_NEGATIVE),  # 0 = no host link
    ("ops_per_mac", POSITIVE),
    ("draft_refill_decay", Rule(0.0, 1.0)),  # a share: 0 = all re-read on the first step
)
RATES: tuple[str, ...] = ("_hz", "_per_s")


def _matches(pattern: str, cls: type, name: str) -> bool:
    if pattern.startswith("*"):
        return name.endswith(pattern[1:])
    if "." in pattern:
        return pattern == f"{cls.__name__}.{name}"
    return pattern == name


def rule_for(cls: type, f: dataclasses.Field) -> Rule:
    """The rule the numeric field ``f`` of ``cls`` obeys (see ``RULES``)."""
    is_int = _type_name(f) == "int"
    for pattern, rule in RULES:
        if _matches(pattern, cls, f.name):
            return rule
    if f.default == 0 and not isinstance(f.default, bool):
        return OPTIONAL_COUNT if is_int else NON_NEGATIVE
    if f.name.endswith(RATES):
        return POSITIVE
    return COUNT if is_int else NON_NEGATIVE


def _type_name(f: dataclasses.Field) -> str:
    return f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))


def check_value(kind: object, name: str, value: object, label: str) -> None:
    """Check one number against its field's rule before unit conversion (``label`` as written).

    Unknown kinds and fields are left to :func:`build_device`, which names them.
    """
    if str(kind) in DEVICE_KINDS and name in WIDTH_TABLES:
        _width_table(label, value)  # in the units written, before conversion
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if str(kind) not in DEVICE_KINDS:
        return
    cls = DEVICE_KINDS.get(str(kind))
    f = {x.name: x for x in dataclasses.fields(cls)}.get(name)
    if f is not None and _type_name(f) in ("int", "float"):
        rule_for(cls, f).check(label, value)


def _check(cls: type, f: dataclasses.Field, value: object, where: str) -> object:
    label = f"{where}.{yaml_spellings(f.name)[0]}"
    ftype = _type_name(f)
    if f.name in CHOICES:
        if value not in CHOICES[f.name]:
            raise field_error(label, value, " or ".join(CHOICES[f.name]))
        return value
    if ftype == "bool":
        if not isinstance(value, bool):
            raise field_error(label, value, "true or false")
        return value
    if ftype == "str":
        if not isinstance(value, str):
            raise field_error(label, value, "a string")
        return value
    if f.name == "timing_cycles":
        if not isinstance(value, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_COUNT
            for v in value.values()
        ):
            raise field_error(label, value, f"a mapping of timing name to cycles in 0..{MAX_COUNT}")
        return tuple(sorted((str(k), int(v)) for k, v in value.items()))
    if f.name == "timing_nck":
        if not isinstance(value, dict) or not all(
            not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and v > 0
            for v in value.values()
        ):
            raise field_error(label, value, "a mapping of timing name to clock cycles > 0")
        return tuple(sorted((str(k), float(v)) for k, v in value.items()))
    if f.name in WIDTH_TABLES:
        return _width_table(label, value)
    if f.name == "timing_s":
        if not isinstance(value, dict) or not all(
            not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and v > 0
            for v in value.values()
        ):
            raise field_error(label, value, "a mapping of timing name to nanoseconds > 0")
        return tuple(sorted((str(k), float(v)) for k, v in value.items()))
    return rule_for(cls, f).check(label, value)


# per-width rate tables: a mapping of token width (an integer >= 1) to bytes/s > 0
WIDTH_TABLES = (
    "multi_token_mem_bw_by_width_bytes_per_s",
    "multi_token_cache_bw_by_width_bytes_per_s",
)


def _width_table(label: str, value: object) -> tuple[tuple[int, float], ...]:
    """A width -> rate mapping as sorted (width, rate) pairs; empty = not measured."""
    accepted = f"a mapping of token width (an integer 1..{MAX_COUNT}) to a finite rate > 0"
    if not isinstance(value, dict):
        raise field_error(label, value, accepted)
    for w, r in value.items():
        if isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= MAX_COUNT:
            raise field_error(f"{label}[{w!r}]", w, accepted)
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not math.isfinite(r) or r <= 0:
            raise field_error(f"{label}[{w}]", r, accepted)
    return tuple(sorted((w, float(r)) for w, r in value.items()))


def build_device(name: str, si: dict[str, object]) -> Device:
    """Validate an SI dict (already unit-converted) into the device dataclass of its kind."""
    kind = si.get("kind")
    if kind is None:
        raise AhasdError(f"devices.{name}: missing 'kind' (one of {', '.join(DEVICE_KINDS)})")
    cls = DEVICE_KINDS.get(str(kind))
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in ("name", "kind")}
    unknown = sorted(set(si) - set(fields) - {"kind"})
    if unknown:
        valid = ", ".join("|".join(yaml_spellings(n)) for n in fields)
        raise AhasdError(f"devices.{name}.{unknown[0]}: unknown field; accepted: {valid}")
    values: dict[str, object] = {"name": name, "kind": str(kind)}
    for fname, f in fields.items():
        if fname in si:
            values[fname] = _check(cls, f, si[fname], f"devices.{name}")
        elif f.default is dataclasses.MISSING:
            raise AhasdError(f"devices.{name}: missing field {yaml_spellings(fname)[0]!r}")
    return cls(**values)


def rebuild_device(device: Device, changes: dict[str, object]) -> Device:
    """``device`` with the SI ``changes`` checked and applied (what ``build_device`` would give
    for the changed fields; a sweep that changes one field of one device needs no more)."""
    fields = {f.name: f for f in dataclasses.fields(device) if f.name not in ("name", "kind")}
    if not set(changes) <= set(fields):
        raise KeyError(sorted(set(changes) - set(fields))[0])
    where = f"devices.{device.name}"
    checked = {k: _check(type(device), fields[k], v, where) for k, v in changes.items()}
    return dataclasses.replace(device, **checked)


def field_names(kind: str) -> list[str]:
    cls = DEVICE_KINDS.get(kind)
    return [f.name for f in dataclasses.fields(cls) if f.name not in ("name", "kind")]
