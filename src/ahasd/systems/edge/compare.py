"""Edge plan vs event simulation (the measured side lives in ``ahasd.report.host``).

Used by ``ahasd edge-plan`` and the report: the analytic ranking of :mod:`.plan` beside the
event simulator's run of the same mapping on the same trace, with the % gap.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ahasd.sim.config import SimConfig
from ahasd.systems.base import RunContext, prepare
from ahasd.systems.edge.hetero import EdgeHetero, plans, run_mapping


def plan_context(
    *,
    draft: str,
    target: str,
    platform: str,
    profile: str | None,
    tokens: int,
    prompt_len: int,
    seed: int,
    precision: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> RunContext:
    """A prepared run context for the pair on ``platform`` (fp32 on host-cpu, as the engine);
    ``overrides``: platform fields, as ``--set`` takes them (``cpu.round_overhead_us``)."""
    from ahasd.traces import default_profile

    prof = profile or default_profile(draft, target)
    prec = precision or ("fp32" if platform == "host-cpu" else "int8")
    cfg = SimConfig(
        system=EdgeHetero.name,
        platform=platform,
        draft=draft,
        target=target,
        profile=prof,
        tokens=tokens,
        prompt_len=prompt_len,
        seed=seed,
        precision=prec,
        platform_overrides=overrides or {},
    )
    return prepare(cfg, EdgeHetero)


def compare_plans(ctx: RunContext, *, simulate: bool) -> list[dict[str, Any]]:
    """Ranked plans as dicts; with ``simulate`` each also gets the event simulator's figures."""
    rows = []
    for p in plans(ctx):
        row: dict[str, Any] = {**asdict(p), "label": p.label}
        if simulate:
            res = run_mapping(ctx, EdgeHetero, p.draft_device, p.target_device, p.gamma)
            row["sim_tokens_per_s"] = res.throughput_tok_s
            row["sim_speedup"] = res.throughput_tok_s / res.ar_throughput_tok_s
            row["gap_pct"] = 100.0 * (res.throughput_tok_s - p.tokens_per_s) / p.tokens_per_s
        rows.append(row)
    return rows
