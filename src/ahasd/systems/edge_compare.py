"""Edge plan vs event simulation (and, when the real engine is installed, vs measurement).

Used by ``ahasd edge-plan`` and the report: the analytic ranking of :mod:`edge_plan` beside the
event simulator's run of the same mapping on the same trace, with the % gap.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ahasd.sim.config import SimConfig
from ahasd.systems.base import RunContext, prepare
from ahasd.systems.edge_hetero import EdgeHetero, plans, run_mapping


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
) -> RunContext:
    """A prepared run context for the pair on ``platform`` (fp32 on host-cpu, as the engine)."""
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


def measure_host(*, quick: bool, seed: int) -> str:
    """Predicted vs measured speedup on this machine with the engine's demo pair, if possible.

    The engine is optional (``[engine]`` extra) and its demo models must have been built
    (``ahasd demo-models``); without either, say so instead of inventing a number.
    """
    try:
        from ahasd.engine import measure_speedup  # type: ignore[attr-defined]
    except ImportError:
        return (
            "Host measurement: skipped — the real engine (`ahasd.engine.measure_speedup`, "
            "[engine] extra) is not available in this build.\n"
        )
    try:
        measured = measure_speedup(quick=quick, seed=seed)
    except Exception as exc:  # demo models missing, torch absent, ...
        return f"Host measurement: skipped — {type(exc).__name__}: {exc}\n"
    ctx = plan_context(
        draft=measured["draft"],
        target=measured["target"],
        platform="host-cpu",
        profile=measured.get("profile"),
        tokens=measured.get("tokens", 256),
        prompt_len=measured.get("prompt_len", 32),
        seed=seed,
    )
    gamma = int(measured["gamma"])
    plan = next(p for p in plans(ctx) if p.gamma == gamma and p.draft_device == "cpu")
    err = 100.0 * (plan.speedup - measured["speedup"]) / measured["speedup"]
    return (
        f"Host (host-cpu, {measured['draft']} → {measured['target']}, γ = {gamma}): "
        f"predicted {plan.speedup:.2f}x, measured {measured['speedup']:.2f}x, "
        f"error {err:+.1f}%.\n"
    )
