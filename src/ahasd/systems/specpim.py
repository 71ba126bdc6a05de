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
    return _op_seconds(ctx, model, phase=phase, n_tokens=n_tokens, kv_len=kv_len)[0]


def _op_seconds(
    ctx: RunContext, model: Any, *, phase: str, n_tokens: int, kv_len: int
) -> tuple[dict[str, str], dict[str, dict[str, float]], dict[str, int]]:
    """(fastest engine, seconds per engine, weight bytes) per operator name."""
    names = sorted(
        {op.name for op in ops_for_phase(model, phase, n_tokens, kv_len, ctx.config.precision)}
    )
    seconds: dict[str, dict[str, float]] = {}
    weights: dict[str, int] = {}
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
            weights[op.name] = op.weight_bytes * op.count
    best = {
        name: min(ENGINES, key=lambda e, n=name: (seconds[n].get(e, float("inf")), e))
        for name in names
    }
    return best, seconds, weights


def fit_pim_capacity(
    maps: dict[str, dict[str, str]],
    seconds: dict[str, dict[str, dict[str, float]]],
    weights: dict[str, dict[str, int]],
    capacity: float,
) -> dict[str, dict[str, str]]:
    """Keep the PIM-mapped operators' weights within the PIM's capacity: operators go back to
    the host, least time saved per byte first (a PIM operator's weights must live in PIM)."""
    on_pim = [(m, name) for m, ops in maps.items() for name, e in ops.items() if e == "hbm-pim"]
    held = sum(weights[m][name] for m, name in on_pim)
    if held <= capacity:
        return maps

    def saved_per_byte(item: tuple[str, str]) -> float:
        m, name = item
        t = seconds[m][name]
        return (t["gpu"] - t["hbm-pim"]) / max(weights[m][name], 1)

    out = {m: dict(ops) for m, ops in maps.items()}
    for m, name in sorted(on_pim, key=saved_per_byte):
        if held <= capacity:
            break
        out[m][name] = "gpu"
        held -= weights[m][name]
    return out


@SYSTEMS.register("specpim")
class SpecPim(SyncSystem):
    name = "specpim"
    default_platform = "specpim-2x4090l-hbmpim"
    required_devices = ("gpu",)  # plus a PIM device of any name (hbm-pim; pim on specpim-mobile)
    memory_device = "gpu"  # weights beyond the GPUs' memory stream from the host, as gpu-only
    # PIM rates come from the memory layer (switch pim_rate); the host GPU holds every weight in
    # its own memory, so PIM holds only the PIM-mapped operators' (fit_pim_capacity), no placement
    uses_memory_model = False
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
        found = {
            "draft": _op_seconds(ctx, ctx.draft, phase="draft", n_tokens=1, kv_len=kv),
            "target": _op_seconds(ctx, ctx.target, phase="verify", n_tokens=g + 1, kv_len=kv),
        }
        pim = next(d for n, d in ctx.platform.devices.items() if n in ENGINES[1:] or
                   d.kind in ("hbm-pim", "gddr6-aim", "lpddr5-pim"))  # fmt: skip
        return fit_pim_capacity(
            {m: f[0] for m, f in found.items()},
            {m: f[1] for m, f in found.items()},
            {m: f[2] for m, f in found.items()},
            pim.capacity_bytes,
        )

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
