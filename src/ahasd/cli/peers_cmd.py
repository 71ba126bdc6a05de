"""Peer-system helpers: ``ahasd edge-plan`` (paper C's ranked mappings) and ``ahasd lpspec-dau``.

Thin: parse, call ``systems.edge`` / ``systems.lpspec``, render with rich or JSON.
"""

from __future__ import annotations

from typing import Any

import typer

from ahasd.errors import field_error
from ahasd.validation import json_text


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root app."""
    app.command("edge-plan")(edge_plan)
    app.command("lpspec-dau")(lpspec_dau)


def edge_plan(
    draft: str = typer.Option("llama-3.2-1b", "--draft", help="Draft model."),
    target: str = typer.Option("llama-3.2-3b", "--target", help="Target model."),
    platform: str = typer.Option("edge-imx95", "--platform", help="edge-imx95 or host-cpu."),
    profile: str | None = typer.Option(None, "--profile", help="Trace profile (default: pair)."),
    tokens: int = typer.Option(512, "--tokens", help="Tokens replayed for E[tokens] and sims."),
    prompt_len: int = typer.Option(32, "--prompt-len", help="Prompt length (short at the edge)."),
    seed: int = typer.Option(0, "--seed", help="Trace seed."),
    top: int = typer.Option(12, "--top", help="Rows to print (all with --json)."),
    simulate: bool = typer.Option(
        False, "--simulate", help="Also event-simulate every mapping and print the % gap."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
    measure: bool = typer.Option(
        False,
        "--measure",
        help="Run the real engine on this machine: every CPU/GPU mapping x γ, measured vs plan.",
    ),
    draft_dir: str | None = typer.Option(
        None, "--draft-dir", help="--measure: draft model dir (default: the demo pair's)."
    ),
    target_dir: str | None = typer.Option(
        None, "--target-dir", help="--measure: target model dir (default: the demo pair's)."
    ),
    device: str = typer.Option(
        "auto", "--device", help="--measure: auto (cpu, plus cuda if visible), cpu or cuda."
    ),
    gamma_max: int = typer.Option(8, "--gamma-max", help="--measure: largest γ run."),
    new_tokens: int = typer.Option(64, "--new-tokens", help="--measure: tokens per run."),
) -> None:
    """Rank every (draft device, target device, γ = 0..8) mapping by the analytic cost model."""
    from ahasd.systems.edge.compare import compare_plans, plan_context

    if top < 1:
        raise field_error("top", top, "an integer >= 1")
    if measure:
        _measure(draft_dir, target_dir, device, gamma_max, new_tokens, top, json_out)
        return
    ctx = plan_context(
        draft=draft,
        target=target,
        platform=platform,
        profile=profile,
        tokens=tokens,
        prompt_len=prompt_len,
        seed=seed,
    )
    rows = compare_plans(ctx, simulate=simulate)
    if json_out:
        print(
            json_text(
                {
                    "platform": platform,
                    "draft": draft,
                    "target": target,
                    "profile": ctx.config.profile,
                    "plans": rows,
                },
                indent=1,
            )
        )
        return
    _print_plans(rows[:top], f"{draft} -> {target} on {platform} (profile {ctx.config.profile})")


def _measure(
    draft_dir: str | None,
    target_dir: str | None,
    device: str,
    gamma_max: int,
    new_tokens: int,
    top: int,
    json_out: bool,
) -> None:
    """``edge-plan --measure``: the engine's runs beside the plan built from profiled steps."""
    from ahasd.report.edge_measure import measure_mappings, resolve_devices, row_cells
    from ahasd.report.host import demo_dir

    resolve_devices(device)  # a bad --device or a missing torch fails before any loading
    root = demo_dir()
    res = measure_mappings(
        draft_dir or root / "draft",
        target_dir or root / "target",
        device=device,
        gamma_max=gamma_max,
        new_tokens=new_tokens,
    )
    if json_out:
        print(json_text({"devices": res.devices, "notes": res.notes, "plans": res.rows}))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Measured on this machine ({', '.join(res.devices)})")
    cols = ["rank", "draft", "target", "γ", "τ", "predicted", "measured", "error %"]
    cols += ["host-cpu plan", "measured vs CPU AR", "error %"]
    for c in cols:
        table.add_column(c, justify="right")
    for i, r in enumerate(res.rows[:top], 1):
        table.add_row(str(i), *row_cells(r))
    console = Console(width=max(Console().width, 130))  # 11 columns: do not squeeze
    console.print(table)
    for note in res.notes:
        console.print(note)


def _print_plans(rows: list[dict[str, Any]], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    cols = ["rank", "draft", "target", "γ", "E[tokens]", "T_iter ms", "tok/s", "speedup"]
    sim = "sim_speedup" in rows[0]
    if sim:
        cols += ["sim speedup", "gap %"]
    for c in cols:
        table.add_column(c, justify="right")
    for i, r in enumerate(rows, 1):
        cells = [
            str(i),
            r["draft_device"] or "-",
            r["target_device"],
            str(r["gamma"]),
            f"{r['expected_tokens']:.2f}",
            f"{r['t_iter_s'] * 1e3:.2f}",
            f"{r['tokens_per_s']:.2f}",
            f"{r['speedup']:.3f}x",
        ]
        if sim:
            cells += [f"{r['sim_speedup']:.3f}x", f"{r['gap_pct']:+.2f}"]
        table.add_row(*cells)
    Console().print(table)


def lpspec_dau(
    target: str = typer.Option("llama2-7b", "--target", help="Target model (LP-Spec: 7B)."),
    platform: str = typer.Option("lpspec-mobile", "--platform", help="An NPU + PIM platform."),
    kv: int = typer.Option(256, "--kv", help="KV length."),
    max_nodes: int = typer.Option(16, "--max-nodes", help="Largest tree size listed."),
    no_nmc: bool = typer.Option(False, "--no-nmc", help="Without the near-data controller."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """LP-Spec's DAU allocation table: per tree size, NPU-only, PIM-only and split times."""
    from ahasd.systems.lpspec.compare import dau_table

    if max_nodes < 1:
        raise field_error("max_nodes", max_nodes, "an integer >= 1")
    rows = dau_table(
        target=target, platform=platform, kv=kv, max_nodes=max_nodes, concurrent=not no_nmc
    )
    if json_out:
        print(json_text(rows, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"DAU allocation table: {target} on {platform}, KV {kv}")
    for c in ("tree nodes", "tokens", "NPU-only ms", "PIM-only ms", "split ms", "r_NPU", "mJ"):
        table.add_column(c, justify="right")
    for r in rows:
        table.add_row(
            str(r["tree_nodes"]),
            str(r["tokens"]),
            f"{r['npu_s'] * 1e3:.2f}",
            f"{r['pim_s'] * 1e3:.2f}",
            f"{r['split_s'] * 1e3:.2f}",
            f"{r['r_npu']:.3f}",
            f"{r['split_j'] * 1e3:.1f}",
        )
    Console().print(table)
