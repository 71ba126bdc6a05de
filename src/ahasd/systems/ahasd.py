"""``ahasd``: asynchronous NPU + LPDDR5-PIM speculative decoding with AAU, EDC, TVC and GTSU.

The draft model runs whole on PIM, the target on the NPU ([ahasd26] §4.1); the loop is in
``_async.py``. ``use_aau`` / ``use_edc`` / ``use_tvc`` / ``use_gtsu`` switch each feature off for
the ablation chain (``--no-aau``, ``--no-edc``, ``--no-tvc``, ``--no-gtsu``); without the GTSU a
rank switch takes a plain controller's mode change and every PIM unit stays powered.
"""

from __future__ import annotations

from ahasd.cost import StepCostTable
from ahasd.sim.result import Result
from ahasd.systems._async import AsyncLoop
from ahasd.systems._async_parts import AsyncParts
from ahasd.systems.base import (
    SYSTEMS,
    RunContext,
    System,
    ar_baseline,
    build_result,
    prefill_cost,
)


@SYSTEMS.register("ahasd")
class Ahasd(System):
    """Task-level asynchronous drafting on PIM, verification on the NPU, AHASD's controllers."""

    name = "ahasd"
    default_platform = "ahasd-mobile"
    required_devices = ("npu", "pim")
    memory_device = "pim"
    uses_memory_model = True

    def flags(self, ctx: RunContext) -> dict[str, bool]:
        cfg = ctx.config
        return {
            "use_aau": cfg.use_aau,
            "use_edc": cfg.use_edc,
            "use_tvc": cfg.use_tvc,
            "use_gtsu": cfg.use_gtsu,
        }

    def ar_table(self, ctx: RunContext) -> StepCostTable:
        return ctx.table(ctx.target, "npu")

    def run(self, ctx: RunContext) -> Result:
        return run_async(type(self), ctx, **self.flags(ctx))


def run_async(
    system: type[System],
    ctx: RunContext,
    *,
    use_aau: bool,
    use_edc: bool,
    use_tvc: bool,
    use_gtsu: bool,
) -> Result:
    """Run the asynchronous loop with the given feature flags and build the Result."""
    parts = AsyncParts(ctx, use_aau=use_aau, use_edc=use_edc, use_tvc=use_tvc, use_gtsu=use_gtsu)
    loop = AsyncLoop(parts)
    loop.run()
    loop._abort_draft()  # a batch still in flight at the last commit is wasted work
    # both prefills on the NPU, target first (a compute-bound GEMM: PIM would need one weight
    # pass per prompt token); the first token comes with the target's
    prefill_s, ttft_s, prefill_j = prefill_cost(ctx, parts.verify_t, ctx.table(ctx.draft, "npu"))
    m = loop.m
    extras = {
        **loop.counters,
        "preverify_tokens": m.preverify_tokens,
        "preverify_corrections": m.preverify_corrections,
        "gtsu_switches": m.switches,
        "queue_high_water": loop.queue.high_water,
        "events": loop.events,
        "flags": {"use_aau": use_aau, "use_edc": use_edc, "use_tvc": use_tvc, "use_gtsu": use_gtsu},
    }
    if parts.edc is not None:
        extras["edc_storage_bits"] = int(parts.edc.storage_bits)
    if parts.tvc is not None:
        extras["tvc_storage_bits"] = int(parts.tvc.storage_bits)
    return build_result(
        ctx,
        system,
        wall_s=loop.now,
        metrics=m,
        timelines=loop.tl,
        ar=ar_baseline(ctx, parts.verify_t),
        prefill_s=prefill_s,
        extras=extras,
        flow_links=loop.links,
        prefill=(ttft_s, prefill_j),
        memory_run={
            "gated": use_gtsu,
            "contention": loop.contention(),
            "switches": {
                "count": m.switches,
                "seconds": loop.switch_s,
                "joules": loop.switch_j,
                "kind": parts.switch_kind,
            },
        },
    )
