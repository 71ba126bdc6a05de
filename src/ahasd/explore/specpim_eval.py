"""SpecPIM design evaluator: architecture + dataflow genome -> time and energy per token.

[specpim24] as [h2llm] and [saddle26] describe it. The architecture genome picks the memory
technology (HBM2 or GDDR6, SpecPIM §7.1 access energies 5.47 / 6.48 pJ/bit, via the preset's ``pim``
switch), how many of its stacks/channels are PIM-enabled (the rest are normal memory whose bandwidth
the xPU reads), and how the PIM ones are split between the draft and the target model. The dataflow
genome binds every operator of each model wholly to one engine (xPU or PIM, never split) and chooses
serial or concurrent draft/target execution.

Times and energies come from the cost layer (``op_cost`` with placement ``gpu-hbmpim-op``) on a
platform variant per (architecture, model); this module only sums them. Concurrent execution
overlaps the next round's draft with the current verification (the GPU is shared, each model's
PIM stacks are its own); when the round is not fully accepted the overlapped draft is wasted
and redone: ``T = T_overlap + (1 − P_full)·γ·T_draft``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ahasd.cost import op_cost
from ahasd.hardware import load_platform
from ahasd.models import ops_for_phase

PLATFORM = "specpim-2x4090l-hbmpim"
PLACEMENT = "gpu-hbmpim-op"
# memory type -> the preset switch that describes it (SpecPIM Table 2 spans HBM2 and GDDR6)
MEMORY_SWITCH = {"hbm2": "hbm-pim", "gddr6": "gddr6-aim"}
# SpecPIM §7.1 access energies from TPU-v4i ([specpim24] §7.1)
MEMORY_PJ_PER_BIT = {"hbm2": 5.47, "gddr6": 6.48}
ATTENTION_OPS = frozenset({"attn-score", "softmax", "attn-value"})


@dataclass(frozen=True, slots=True)
class Genome:
    """One SpecPIM design: architecture + dataflow."""

    memory: str  # "hbm2" | "gddr6"
    pim_units: int  # PIM-enabled stacks/channels; the rest are normal memory for the xPU
    draft_units: int  # of the PIM ones, those holding the draft model (target gets the rest)
    concurrent: bool  # draft of the next round overlaps the current verification
    draft_pim: tuple[bool, ...]  # per draft operator: True = PIM, False = xPU
    target_pim: tuple[bool, ...]

    def arch(self) -> tuple[str, int, int]:
        return self.memory, self.pim_units, self.draft_units

    def to_design(self, op_names: Sequence[str], gamma: int) -> dict[str, Any]:
        """The ``SimConfig.specpim_design`` dict (the ``specpim`` system reads op_engine, gamma)."""

        def engines(mask: tuple[bool, ...]) -> dict[str, str]:
            return {n: ("pim" if p else "gpu") for n, p in zip(op_names, mask, strict=True)}

        return {
            "op_engine": {"draft": engines(self.draft_pim), "target": engines(self.target_pim)},
            "gamma": gamma,
            "arch": {
                "memory": self.memory,
                "pim_units": self.pim_units,
                "draft_units": self.draft_units,
                "target_units": self.pim_units - self.draft_units,
                "concurrent": self.concurrent,
            },
        }


def total_units(memory: str) -> int:
    return int(_base(memory).config["devices"]["hbm-pim"]["units"])


@lru_cache(maxsize=4)
def _base(memory: str):
    return load_platform(PLATFORM, {"switches.pim": MEMORY_SWITCH[memory]})


@lru_cache(maxsize=256)
def variant(memory: str, pim_units: int, normal_units: int):
    """Platform where one model sees ``pim_units`` PIM stacks and the xPU the normal ones."""
    dev = _base(memory).config["devices"]
    gpu_bw = float(dev["gpu"]["mem_bw_gb_per_s"])
    stack_bw = float(dev["hbm-pim"]["external_bw_gb_per_s"])
    return load_platform(
        PLATFORM,
        {
            "switches.pim": MEMORY_SWITCH[memory],
            "hbm-pim.units": max(1, pim_units),
            "hbm-pim.off_chip_pj_per_bit": MEMORY_PJ_PER_BIT[memory],
            "gpu.mem_bw_gb_per_s": gpu_bw + normal_units * stack_bw,
        },
    )


class Evaluator:
    """Fitness of genomes for one (draft, target, γ) on the SpecPIM platform."""

    def __init__(
        self,
        draft: Any,
        target: Any,
        *,
        gamma: int,
        tau: float,
        p_full: float,
        kv_len: int = 128,
        precision: str = "int8",
    ) -> None:
        self.draft, self.target, self.gamma = draft, target, gamma
        self.tau, self.p_full, self.kv, self.precision = tau, p_full, kv_len, precision
        self.draft_ops = ops_for_phase(draft, "draft", 1, kv_len, precision)
        self.target_ops = ops_for_phase(target, "verify", gamma + 1, kv_len, precision)
        self.op_names = tuple(op.name for op in self.draft_ops)
        self._memo: dict[tuple, tuple[np.ndarray, ...]] = {}

    def _per_op(self, ops, memory: str, units: int, normal: int) -> tuple[np.ndarray, ...]:
        """(gpu_s, pim_s, gpu_j, pim_j, gpu_part) arrays over ops for this architecture."""
        key = (id(ops), memory, units, normal)
        hit = self._memo.get(key)
        if hit is None:
            plat = variant(memory, units, normal)
            rows = []
            for op in ops:
                g = op_cost(op, plat, PLACEMENT, engine="gpu", precision=self.precision)
                p = op_cost(op, plat, PLACEMENT, engine="pim", precision=self.precision)
                rows.append((g.seconds, p.seconds if units else np.inf, g.joules, p.joules))
            arr = np.array(rows, dtype=np.float64)
            hit = self._memo[key] = (arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3])
        return hit

    def step(self, genome: Genome, model: str) -> tuple[float, float, float]:
        """(seconds, joules, gpu seconds) of one draft step or one verification."""
        g = genome
        normal = total_units(g.memory) - g.pim_units
        if model == "draft":
            ops, units, mask = self.draft_ops, g.draft_units, g.draft_pim
        else:
            ops, units, mask = self.target_ops, g.pim_units - g.draft_units, g.target_pim
        gs, ps, gj, pj = self._per_op(ops, g.memory, units, normal)
        m = np.asarray(mask, dtype=bool)
        secs = np.where(m, ps, gs)
        return float(secs.sum()), float(np.where(m, pj, gj).sum()), float(gs[~m].sum())

    def evaluate(self, genome: Genome) -> tuple[float, float]:
        """(seconds per committed token, joules per committed token, dynamic)."""
        d_s, d_j, d_gpu = self.step(genome, "draft")
        v_s, v_j, v_gpu = self.step(genome, "target")
        gam = self.gamma
        if genome.concurrent:
            overlap = max(gam * d_s, v_s, gam * d_gpu + v_gpu)
            t_iter = overlap + (1.0 - self.p_full) * gam * d_s
            j_iter = v_j + gam * d_j * (2.0 - self.p_full)  # wasted drafts still cost energy
        else:
            t_iter = gam * d_s + v_s
            j_iter = v_j + gam * d_j
        return t_iter / self.tau, j_iter / self.tau

    def attacc(self, memory: str, pim_units: int, draft_units: int, concurrent: bool) -> Genome:
        """AttAcc's static mapping (attention -> PIM, FC -> host) on a given architecture."""
        d = tuple(op.name in ATTENTION_OPS for op in self.draft_ops)
        t = tuple(op.name in ATTENTION_OPS for op in self.target_ops)
        return repair(Genome(memory, pim_units, draft_units, concurrent, d, t))


def repair(g: Genome) -> Genome:
    """Clamp the architecture and send ops of a model without PIM stacks to the xPU."""
    units = total_units(g.memory)
    pim = min(max(g.pim_units, 0), units)
    draft = min(max(g.draft_units, 0), pim)
    d_mask = g.draft_pim if draft else tuple(False for _ in g.draft_pim)
    t_mask = g.target_pim if pim - draft else tuple(False for _ in g.target_pim)
    return Genome(g.memory, pim, draft, g.concurrent, d_mask, t_mask)
