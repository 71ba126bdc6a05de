"""Peer-system helpers: ``ahasd edge-plan`` (paper C's ranked mappings) and ``ahasd lpspec-dau``.

Thin: parse, call ``systems.edge`` / ``systems.lpspec``, render with rich or JSON.
"""

from __future__ import annotations

from typing import Any

import typer

from ahasd.validation import json_text


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root app."""
    app.command("edge-plan")(edge_plan)
    app.command("lpspec-dau")(lpspec_dau)


def edge_plan(
    draft: str | None = typer.Option(
        None,
        "--draft",
        help="Draft model: a bundled name or a local directory [default: "
        "llama-3.2-1b; with --measure, the demo pair's draft/].",
    ),
    target: str | None = typer.Option(
        None,
        "--target",
        help="Target model: a bundled name or a local directory [default: "
        "llama-3.2-3b; with --measure, the demo pair's target/].",
    ),
    platform: str = typer.Option("edge-imx95", "--platform", help="edge-imx95 or host-cpu."),
    profile: str | None = typer.Option(None, "--profile", help="Trace profile (default: pair)."),
    tokens: int | None = typer.Option(
        None,
        "--tokens",
        min=1,
        max=1_000_000,
        help="Tokens to generate: replayed for E[tokens] and sims [default: "
        "512], or per measured run with --measure [default: 64].",
    ),
    prompt_len: int = typer.Option(
        32, "--prompt-len", min=1, max=1_000_000, help="Prompt length (short at the edge)."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Trace seed."),
    top: int = typer.Option(
        12, "--top", min=1, max=10_000, help="Rows to print (all with --json)."
    ),
    simulate: bool = typer.Option(
        False, "--simulate", help="Also event-simulate every mapping and print the % gap."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
    measure: bool = typer.Option(
        False,
        "--measure",
        help="Run the real engine on this machine: every CPU/GPU mapping x γ, measured vs plan.",
    ),
    device: str = typer.Option(
        "auto", "--torch-device", help="--measure: auto (cpu, plus cuda if visible), cpu or cuda."
    ),
    gamma_max: int = typer.Option(
        8, "--gamma-max", min=1, max=16, help="--measure: largest γ run."
    ),
) -> None:
    """Rank every (draft device, target device, γ = 0..8) mapping by the analytic cost model."""
    from ahasd.systems.edge.compare import compare_plans, plan_context

    if measure:
        _measure(draft, target, device, gamma_max, 64 if tokens is None else tokens, top, json_out)
        return
    draft, target = draft or "llama-3.2-1b", target or "llama-3.2-3b"
    ctx = plan_context(
        draft=draft,
        target=target,
        platform=platform,
        profile=profile,
        tokens=512 if tokens is None else tokens,
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
    draft: str | None,
    target: str | None,
    device: str,
    gamma_max: int,
    tokens: int,
    top: int,
    json_out: bool,
) -> None:
    """``edge-plan --measure``: the engine's runs beside the plan built from profiled steps."""
    from ahasd.cli.progress import progress
    from ahasd.cli.vocab import engine_model_dir
    from ahasd.report.edge_measure import measure_mappings, resolve_devices, row_cells

    resolve_devices(device)  # a bad --torch-device or a missing torch fails before any loading
    draft_dir = engine_model_dir(draft, "--draft", "draft")
    target_dir = engine_model_dir(target, "--target", "target")
    with progress() as report:
        res = measure_mappings(
            draft_dir, target_dir, device=device, gamma_max=gamma_max, new_tokens=tokens,
            progress=report,
        )  # fmt: skip
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
    kv: int = typer.Option(256, "--kv", min=1, max=1_000_000, help="KV length."),
    max_nodes: int = typer.Option(
        16, "--max-nodes", min=1, max=1024, help="Largest tree size listed."
    ),
    no_nmc: bool = typer.Option(False, "--no-nmc", help="Without the near-data controller."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """LP-Spec's DAU allocation table: per tree size, NPU-only, PIM-only and split times."""
    from ahasd.systems.lpspec.compare import dau_table

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
