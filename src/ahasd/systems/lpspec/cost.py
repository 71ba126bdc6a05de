"""Per-iteration costs of LP-Spec's verification: Medusa heads + tree verify, DAU-split.

Operators come from ``ahasd.models`` (the target's ``tree`` phase) plus the Medusa heads built
here as shapes only; every time and energy comes from the cost layer (``op_cost`` for the NPU
side, ``cost.engines.on_pim`` for the PIM side with the PIM share's output crossing the bus).
:mod:`ahasd.systems.lpspec.dau` turns the two per-engine costs into the balanced split.

Medusa heads ([medusa], Medusa-1): head i is a residual block
(hidden x hidden + SiLU) and its own LM head (hidden x vocab), run on the last accepted token.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ahasd.cost import op_cost
from ahasd.cost.engines import on_pim, on_pim_derived, pim_io_bytes, with_sync
from ahasd.errors import AhasdError
from ahasd.memory.model import MemoryModel, Residence, dram_spec, pim_rates
from ahasd.memory.placement import group_sizes, plan_placement
from ahasd.memory.sharing import npu_usage, overlap_factor, pim_usage
from ahasd.models import Op, OpKind, ops_for_phase
from ahasd.models.ops import MATRIX_KINDS
from ahasd.models.shape import bytes_per_param, elem_bytes
from ahasd.systems.lpspec.dau import balanced_split

MEMORY_COMPONENTS = frozenset({"mem_off_chip", "mem_in_bank", "act"})


def medusa_head_ops(shape: Any, n_heads: int, precision: str) -> tuple[Op, ...]:
    """Shapes of the Medusa heads for one token (all heads; count = n_heads)."""
    wb, eb, h, v = bytes_per_param(precision), elem_bytes(precision), shape.hidden, shape.vocab
    return (
        Op(
            "medusa-res",
            OpKind.GEMM,
            1,
            h,
            h,
            h * h,
            math.ceil(h * h * wb),
            math.ceil(2 * h * eb),
            0,
            0,
            n_heads,
        ),
        Op("medusa-act", OpKind.ACTIVATION, 1, h, 1, 0, 0, math.ceil(2 * h * eb), 0, 0, n_heads),
        Op(
            "medusa-lm-head",
            OpKind.LM_HEAD,
            1,
            v,
            h,
            h * v,
            math.ceil(h * v * wb),
            math.ceil((h + v) * eb),
            0,
            0,
            n_heads,
        ),
    )


@dataclass(frozen=True, slots=True)
class IterCost:
    """One LP-Spec iteration (heads + verify of n tree nodes + root)."""

    seconds: float
    energy: tuple[tuple[str, dict[str, float]], ...]  # (device, {component: J})
    engine_s: dict[str, float]  # device -> busy seconds
    r_npu: float  # weight-averaged NPU column share of the split operators

    @property
    def joules(self) -> float:
        return sum(j for _d, c in self.energy for k, j in c.items() if not k.startswith("_"))


def lpspec_memory(
    platform: Any, model: Any, *, precision: str, kv_tokens: int
) -> MemoryModel | None:
    """LP-Spec's package ([lpspec25] §VI-B): the target whole in the PIM ranks, a column copy
    for the NPU (as much as fits) and the KV cache in the DRAM rank (``placement`` of the
    preset: ``target`` = PIM ranks, ``draft`` = the DRAM rank, whose "draft" group holds the
    NPU's copy). None when the platform describes no DRAM timing."""
    spec = dram_spec(platform)
    if spec is None:
        return None
    opts = platform.placement
    sizes = group_sizes(model, model, precision=precision, kv_tokens=kv_tokens)
    sizes["draft-kv"] = 0.0
    dram_ranks = len(str(opts.get("draft", "3")).split(","))
    pim_ranks = len(str(opts.get("target", "0,1,2")).split(","))
    held = pim_ranks * spec.rank_capacity_bytes
    if sizes["target-weights"] > held:
        raise AhasdError(
            f"models: {model.name} needs {sizes['target-weights'] / 1e9:.2f} GB at {precision} "
            f"in LP-Spec's {pim_ranks} PIM ranks, which hold {held / 1e9:.2f} GB (short by "
            f"{(sizes['target-weights'] - held) / 1e9:.2f} GB); accepted: a smaller target "
            "(LP-Spec's own is llama2-7b) or a lower precision"
        )
    room = dram_ranks * spec.rank_capacity_bytes - sizes["target-kv"]
    sizes["draft-weights"] = max(0.0, min(sizes["target-weights"], room))
    placement = plan_placement(spec, sizes, opts, names={"draft": f"{model.name} (NPU copy)",
                                                          "target": model.name})  # fmt: skip
    pim = platform.device("pim")
    rates = pim_rates(platform, pim, precision)
    return MemoryModel(spec, placement, pim, rates, pim.channel_sharing == "blocked")


class LpSpecCosts:
    """Memoised iteration costs on one platform for one target model.

    ``mode``: ``dau`` (LP-Spec: every matrix op split NPU/PIM, non-linear ops on the NPU),
    ``npu`` (everything on the NPU, the mobile-NPU baseline), ``pim`` (GEMV-PIM: matrix ops on
    PIM, non-linear ops on the NPU). ``concurrent`` is the near-data controller: with it the two
    engines overlap on a split operator, without it they serialise.
    """

    def __init__(
        self,
        platform: Any,
        model: Any,
        *,
        mode: str,
        precision: str,
        n_heads: int,
        kv_bucket: int,
        concurrent: bool = True,
        mem: MemoryModel | None = None,
    ) -> None:
        self.platform, self.model, self.mode = platform, model, mode
        self.precision, self.n_heads, self.kv_bucket = precision, n_heads, kv_bucket
        self.concurrent = concurrent
        self.pim = platform.device("pim")
        self.memory = "lpddr5" if "lpddr5" in platform.devices else None
        self.static_w = sum(float(d.static_w) for d in platform.devices.values())
        self.mem = mem
        self.rates = mem.rates if mem is not None else None
        self.npu_where = self.pim_where = None
        self.r_max = 1.0
        if mem is not None:
            p = mem.placement
            self.npu_where = Residence(p.ranks["draft-weights"], p.spread("draft-weights"),
                                       p.ranks["target-kv"], p.spread("target-kv"))  # fmt: skip
            pim_ranks, pim_spread = p.ranks["target-weights"], p.spread("target-weights")
            self.pim_where = Residence(pim_ranks, pim_spread, pim_ranks, pim_spread)
            weights = p.sizes["target-weights"]
            self.r_max = p.sizes["draft-weights"] / weights if weights else 1.0
            # the dies' background while the package is awake, as static power for the pruner
            spec = mem.spec
            self.static_w += spec.dies * spec.active_standby_w
        self._memo: dict[tuple[int, int, bool], IterCost] = {}

    def __call__(self, n_tokens: int, kv_len: int, *, heads: bool = True) -> IterCost:
        """Cost of verifying ``n_tokens`` positions (root + tree) at ``kv_len``, plus heads."""
        key = (n_tokens, -(-kv_len // self.kv_bucket) * self.kv_bucket, heads)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._build(*key)
        return hit

    def with_static(self, n_tokens: int, kv_len: int) -> tuple[float, float]:
        """(seconds, joules incl. static power) — the pruner's cost estimate."""
        c = self(n_tokens, kv_len)
        return c.seconds, c.joules + self.static_w * c.seconds

    def _build(self, n_tokens: int, kv_len: int, heads: bool) -> IterCost:
        ops = ops_for_phase(self.model, "tree", n_tokens, kv_len, self.precision)
        if heads and self.n_heads:
            ops = ops + medusa_head_ops(self.model, self.n_heads, self.precision)
        seconds, shares, weights = 0.0, 0.0, 0.0
        energy: dict[str, dict[str, float]] = {}
        engine_s: dict[str, float] = {}
        for op in ops:
            parts = self._op_parts(op)
            if len(parts) == 2:
                (npu_c, pim_c) = parts
                rate = self._shared_rate(op, npu_c, pim_c) if self.concurrent else 1.0
                split = balanced_split(
                    npu_c.seconds / rate,
                    pim_c.seconds / rate,
                    npu_c.joules,
                    pim_c.joules,
                    concurrent=self.concurrent,
                    sync_s=self.pim.op_sync_s * op.count,  # one hand-off per op instance
                    r_max=self.r_max,
                )
                scaled = ((npu_c, split.r_npu), (pim_c, 1.0 - split.r_npu))
                seconds += split.seconds
                shares += split.r_npu * op.weight_bytes * op.count
                weights += op.weight_bytes * op.count
            else:
                scaled = ((parts[0], 1.0),)
                seconds += parts[0].seconds
            for cost, frac in scaled:
                if frac <= 0.0:
                    continue
                if self.mem is not None:
                    self._count_traffic(op, cost, frac, energy.setdefault(self.memory, {}))
                engine_s[cost.engine] = engine_s.get(cost.engine, 0.0) + cost.seconds * frac
                for comp, joules in cost.energy_j.items():
                    dev = self.memory if self.memory and comp in MEMORY_COMPONENTS else cost.engine
                    bucket = energy.setdefault(dev, {})
                    bucket[comp] = bucket.get(comp, 0.0) + joules * frac
        r_npu = shares / weights if weights else 1.0
        return IterCost(seconds, tuple(sorted(energy.items())), engine_s, r_npu)

    def _count_traffic(self, op: Op, cost: Any, frac: float, into: dict[str, float]) -> None:
        """Byte counters per channel (``_dq<c>``, ``_pim<c>``), as the event systems carry."""
        if cost.engine == self.pim.name and self.rates is not None:
            in_b, out_b = pim_io_bytes(op, elem_bytes(self.precision))
            spread = self.pim_where.weights
            moved = self.rates.io_bytes(in_b, out_b, spread) * op.count * frac
            passes = -(-op.m // self.rates.n_alu)
            inside = (op.weight_bytes + op.kv_read_bytes) * passes * op.count * frac
            parts = ((spread, "dq", moved), (spread, "pim", inside))
        else:
            w = self.npu_where
            kv = (op.kv_read_bytes + op.kv_write_bytes) * op.count * frac
            parts = ((w.weights, "dq", op.weight_bytes * op.count * frac), (w.kv, "dq", kv))
        for spread, kind, n_bytes in parts:
            for ch, share in enumerate(spread.channel_shares()):
                key = f"_{kind}{ch}"
                into[key] = into.get(key, 0.0) + n_bytes * share

    def _shared_rate(self, op: Op, npu_c: Any, pim_c: Any) -> float:
        """Speed of both engines while they run one split operator on the same channels (the
        near-data controller overlaps them; command and data buses are shared)."""
        if self.mem is None or self.rates is None or "array" not in pim_c.times_s:
            return 1.0
        w, spec = self.npu_where, self.mem.spec
        reads = (
            (w.weight_ranks, w.weights, op.weight_bytes * op.count),
            (w.kv_ranks, w.kv, (op.kv_read_bytes + op.kv_write_bytes) * op.count),
        )
        npu_u = npu_usage(npu_c.seconds, reads, spec, npu_s=npu_c.seconds, blocked=False)
        in_b, out_b = pim_io_bytes(op, elem_bytes(self.precision))
        io = self.rates.io_bytes(in_b, out_b, self.pim_where.weights) * op.count
        pim_u = pim_usage(pim_c.seconds, self.pim_where.weight_ranks, self.pim_where.weights,
                          self.rates, array_s=pim_c.times_s["array"], io_bytes=io, npu_s=0.0,
                          blocked=self.mem.blocked)  # fmt: skip
        return overlap_factor(npu_u, pim_u)

    def _op_parts(self, op: Op) -> tuple:
        """(npu cost,) for NPU-only ops, (npu cost, pim cost) for ops the DAU may split."""
        npu = op_cost(op, self.platform, "npu", precision=self.precision, where=self.npu_where)
        if op.kind not in MATRIX_KINDS or self.mode == "npu":
            return (npu,)
        if self.rates is not None:
            pim = on_pim_derived(op, self.pim, self.rates, self.pim_where, use_aau=False,
                                 elem_bytes=elem_bytes(self.precision))  # fmt: skip
        else:
            pim = on_pim(op, self.pim, use_aau=False, cross_bytes=op.act_bytes)
        if self.mode == "pim":
            return (with_sync(pim, self.pim.op_sync_s, op.count),)
        return npu, pim
