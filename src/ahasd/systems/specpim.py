"""``specpim``: GPU host + HBM-PIM, operator-level synchronous, fixed draft length.

SpecPIM ([specpim24]) maps every operator wholly to one engine (xPU or PIM, never split)
with a static mapping found offline per (model pair, γ), and alternates draft and verify in
lock-step; AHASD's SpecPIM baseline uses two RTX 4090 Laptop GPUs and γ = 8 ([ahasd26] §5,
[saddle26]). The mapping here is a per-operator exhaustive search over the engines at the
design point (γ, KV = prompt length): since the cost placement ``gpu-hbmpim-op`` puts a barrier
after every operator, a step's time is the sum of its operators' times and the per-operator
choice is the optimum. A design found by ``ahasd explore specpim`` can be passed as
``SimConfig.specpim_design`` (``{"op_engine": {"draft": {op: engine}, "target": {...}},
"gamma": 8}``); its map then replaces the search and its γ the default.
"""

from __future__ import annotations

from typing import Any

from ahasd.cost import StepCostTable
from ahasd.errors import field_error
from ahasd.models import ops_for_phase
from ahasd.systems._sync import SyncSystem
from ahasd.systems.base import SYSTEMS, RunContext

PLACEMENT = "gpu-hbmpim-op"
ENGINES = ("gpu", "hbm-pim")
DEFAULT_GAMMA = 8  # AHASD's SpecPIM baseline ([ahasd26] §5)


def search_op_engine(
    ctx: RunContext, model: Any, *, phase: str, n_tokens: int, kv_len: int
) -> dict[str, str]:
    """Per operator, the engine that runs it fastest at this design point."""
    names = sorted(
        {op.name for op in ops_for_phase(model, phase, n_tokens, kv_len, ctx.config.precision)}
    )
    seconds: dict[str, dict[str, float]] = {}
    for engine in ENGINES:
        table = ctx.table(
            model,
            PLACEMENT,
            op_engine=dict.fromkeys(names, engine),
            offload_bytes=ctx.offload(model),
        )
        for op, cost in table.detail(phase, n_tokens, kv_len).ops:
            seconds.setdefault(op.name, {})[engine] = (
                seconds.get(op.name, {}).get(engine, 0.0) + cost.seconds
            )
    return {
        name: min(ENGINES, key=lambda e, n=name: (seconds[n].get(e, float("inf")), e))
        for name in names
    }


@SYSTEMS.register("specpim")
class SpecPim(SyncSystem):
    name = "specpim"
    default_platform = "specpim-2x4090l-hbmpim"
    required_devices = ("gpu", "hbm-pim")
    memory_device = "gpu"  # weights beyond the GPUs' memory stream from the host, as gpu-only
    draft_placement = PLACEMENT
    verify_placement = PLACEMENT

    def gamma(self, ctx: RunContext) -> int:
        design = ctx.config.specpim_design or {}
        if ctx.config.gamma is not None:
            return ctx.config.gamma
        value = design.get("gamma", DEFAULT_GAMMA)
        if not isinstance(value, int) or value < 1:
            raise field_error("specpim_design.gamma", value, "an integer >= 1")
        return value

    def mapping(self, ctx: RunContext) -> dict[str, dict[str, str]]:
        """The op->engine maps of the draft and target models (from the design or a search)."""
        cached = getattr(self, "_maps", None)
        if cached is not None:
            return cached
        self._maps = maps = self._mapping(ctx)
        return maps

    def _mapping(self, ctx: RunContext) -> dict[str, dict[str, str]]:
        design = ctx.config.specpim_design or {}
        maps = design.get("op_engine")
        if maps is not None:
            if not isinstance(maps, dict) or not {"draft", "target"} <= set(maps):
                raise field_error(
                    "specpim_design.op_engine",
                    maps,
                    "{'draft': {op: engine}, 'target': {op: engine}}",
                )
            return {"draft": dict(maps["draft"]), "target": dict(maps["target"])}
        g, kv = self.gamma(ctx), ctx.config.prompt_len
        return {
            "draft": search_op_engine(ctx, ctx.draft, phase="draft", n_tokens=1, kv_len=kv),
            "target": search_op_engine(ctx, ctx.target, phase="verify", n_tokens=g + 1, kv_len=kv),
        }

    def tables(self, ctx: RunContext) -> tuple[StepCostTable, StepCostTable]:
        maps = self.mapping(ctx)
        return (
            ctx.table(
                ctx.draft, PLACEMENT, op_engine=maps["draft"], offload_bytes=ctx.offload(ctx.draft)
            ),
            ctx.table(
                ctx.target,
                PLACEMENT,
                op_engine=maps["target"],
                offload_bytes=ctx.offload(ctx.target),
            ),
        )

    def extras(self, ctx: RunContext) -> dict[str, Any]:
        return {"gamma": self.gamma(ctx), "op_engine": self.mapping(ctx)}
