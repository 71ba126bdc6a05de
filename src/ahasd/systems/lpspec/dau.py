"""LP-Spec's data allocation unit (DAU) and near-data memory controller (NMC) timing rules.

Sources: [lpspec25] §V (NMC: independent command/address paths for the DRAM rank and the
PIM ranks, so NPU traffic and PIM compute overlap) and §V-B (column-wise split of every verify
GEMM between NPU and PIM; ``r_NPU = t_PIM / (t_NPU + t_PIM)``, ``t = t_NPU·t_PIM/(t_NPU+t_PIM)``,
``E = r·E_NPU + (1-r)·E_PIM``; PIM time steps by ``ceil(L / N_ALU)``).

Per-engine times and energies come from the cost layer; this module only combines them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ahasd.errors import field_error


@dataclass(frozen=True, slots=True)
class Split:
    """One operator's NPU/PIM column split and the resulting time and energy."""

    r_npu: float
    seconds: float
    joules: float


def balanced_split(
    t_npu_s: float,
    t_pim_s: float,
    e_npu_j: float,
    e_pim_j: float,
    *,
    concurrent: bool = True,
    sync_s: float = 0.0,
    r_max: float = 1.0,
) -> Split:
    """Column share for the NPU that makes both engines finish together.

    ``t_*``/``e_*`` are the costs of the whole operator on one engine; a column share scales
    both linearly. With the near-data controller (``concurrent``) the engines overlap, so the
    makespan is minimised where they finish together. Without it they share one command path
    and serialise, so the whole operator goes to the faster engine. A split costs one NPU<->PIM
    hand-off (``sync_s``); when that outweighs the overlap, the faster engine takes it all.
    ``r_max``: the largest NPU share the DRAM rank has room for (capacity of its column copy).
    """
    for name, value in (("t_npu_s", t_npu_s), ("t_pim_s", t_pim_s)):
        if not value >= 0.0:
            raise field_error(name, value, "a time >= 0")
    if t_npu_s + t_pim_s == 0.0:
        return Split(1.0, 0.0, e_npu_j)
    pim_s = t_pim_s + sync_s
    r, seconds = (1.0, t_npu_s) if t_npu_s <= pim_s else (0.0, pim_s)
    balanced = t_npu_s * t_pim_s / (t_npu_s + t_pim_s) + sync_s
    if concurrent and balanced < seconds:
        r, seconds = t_pim_s / (t_npu_s + t_pim_s), balanced
    if r > r_max:  # the NPU can only stream the columns its rank holds
        r = r_max
        if concurrent:
            seconds = max(r * t_npu_s, (1.0 - r) * t_pim_s) + (sync_s if 0 < r < 1 else 0.0)
        else:
            seconds = r * t_npu_s + (1.0 - r) * t_pim_s + (sync_s if 0 < r < 1 else 0.0)
    return Split(r, seconds, r * e_npu_j + (1.0 - r) * e_pim_j)


def pim_passes(n_tokens: int, n_alu: int) -> int:
    """Weight passes a PIM unit needs for n tokens: one token per ALU per pass."""
    if n_tokens < 1:
        raise field_error("n_tokens", n_tokens, "an integer >= 1")
    if n_alu < 1:
        raise field_error("n_alu", n_alu, "an integer >= 1")
    return math.ceil(n_tokens / n_alu)


def stepped_pim_time(t_pass_s: float, n_tokens: int, n_alu: int) -> float:
    """``T_PIM = T_pass · ceil(L / N_ALU)`` ([lpspec25] §V-B); used to check the cost layer."""
    return t_pass_s * pim_passes(n_tokens, n_alu)


@dataclass(frozen=True, slots=True)
class AllocationRow:
    """DAU table row for one tree size: per-operator splits and the kernel totals."""

    n_tokens: int
    r_npu: tuple[float, ...]
    seconds: float
    joules: float


def allocation_row(
    n_tokens: int,
    per_op: Iterable[tuple[float, float, float, float, bool]],
    *,
    concurrent: bool = True,
) -> AllocationRow:
    """Combine operators run in sequence: ``(t_npu, t_pim, e_npu, e_pim, splittable)`` each.

    Splittable operators (GEMMs, attention GEMMs) are balanced; the rest (non-linear functions,
    LP-Spec §VI-A) run on the NPU only.
    """
    shares: list[float] = []
    seconds = joules = 0.0
    for t_npu, t_pim, e_npu, e_pim, splittable in per_op:
        if splittable:
            part = balanced_split(t_npu, t_pim, e_npu, e_pim, concurrent=concurrent)
        else:
            part = Split(1.0, t_npu, e_npu)
        shares.append(part.r_npu)
        seconds += part.seconds
        joules += part.joules
    return AllocationRow(n_tokens, tuple(shares), seconds, joules)
