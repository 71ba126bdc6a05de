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
from ahasd.cost.engines import on_pim, with_sync
from ahasd.models import Op, OpKind, ops_for_phase
from ahasd.models.ops import MATRIX_KINDS
from ahasd.models.shape import bytes_per_param, elem_bytes
from ahasd.systems.lpspec.dau import balanced_split

MEMORY_COMPONENTS = frozenset({"mem_off_chip", "mem_in_bank"})


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
        return sum(sum(c.values()) for _d, c in self.energy)


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
    ) -> None:
        self.platform, self.model, self.mode = platform, model, mode
        self.precision, self.n_heads, self.kv_bucket = precision, n_heads, kv_bucket
        self.concurrent = concurrent
        self.pim = platform.device("pim")
        self.memory = "lpddr5" if "lpddr5" in platform.devices else None
        self.static_w = sum(float(d.static_w) for d in platform.devices.values())
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
                split = balanced_split(
                    npu_c.seconds,
                    pim_c.seconds,
                    npu_c.joules,
                    pim_c.joules,
                    concurrent=self.concurrent,
                    sync_s=self.pim.op_sync_s * op.count,  # one hand-off per op instance
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
                engine_s[cost.engine] = engine_s.get(cost.engine, 0.0) + cost.seconds * frac
                for comp, joules in cost.energy_j.items():
                    dev = self.memory if self.memory and comp in MEMORY_COMPONENTS else cost.engine
                    bucket = energy.setdefault(dev, {})
                    bucket[comp] = bucket.get(comp, 0.0) + joules * frac
        r_npu = shares / weights if weights else 1.0
        return IterCost(seconds, tuple(sorted(energy.items())), engine_s, r_npu)

    def _op_parts(self, op: Op) -> tuple:
        """(npu cost,) for NPU-only ops, (npu cost, pim cost) for ops the DAU may split."""
        npu = op_cost(op, self.platform, "npu", precision=self.precision)
        if op.kind not in MATRIX_KINDS or self.mode == "npu":
            return (npu,)
        pim = on_pim(op, self.pim, use_aau=False, cross_bytes=op.act_bytes)
        if self.mode == "pim":
            return (with_sync(pim, self.pim.op_sync_s, op.count),)
        return npu, pim
