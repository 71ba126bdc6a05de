"""``ahasd invert``: per published claim, the smallest documented change that makes it hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ahasd.validation import json_text


def register(app: typer.Typer) -> None:
    """Attach ``invert`` to the root app."""
    app.command("invert")(invert)


def invert(
    claims: str | None = typer.Option(
        None, "--claims", help="Comma list of claim names (default: all; see docs/invert.md)."
    ),
    budget: int = typer.Option(
        60, "--budget", min=1, max=100_000, help="Readings tried per claim."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of every run and of the joint search."),
    jobs: int | None = typer.Option(
        None, "--jobs", "-j", min=1, max=1024, help="Worker processes (1 = serial)."
    ),
    executor: str = typer.Option("local", "--executor", help="local (processes) or ray."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster address."),
    readings: Path | None = typer.Option(
        None, "--readings", help="Extra readings table (YAML); same names replace built-in ones."
    ),
    joint_trials: int | None = typer.Option(
        None,
        "--joint-trials",
        min=0,
        max=100_000,
        help="Optuna proposals for the joint reading (default budget/4).",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write invert.json/.md/.png here and keep the run cache (resumable)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document on stdout."),
) -> None:
    """What it would take: per claim holds / reachable (with the changes) / unreachable (why)."""
    from ahasd.explore import get_executor
    from ahasd.explore.invert import invert as run
    from ahasd.explore.invert import load_entries, resolve, select
    from ahasd.report.reproduce import _output_dir

    picked = select(claims)
    params = resolve(load_entries(readings))
    ex = get_executor(executor, jobs=jobs, address=address)
    out_dir = _output_dir(out) if out is not None else None
    doc = run(
        picked,
        params,
        budget=budget,
        seed=seed,
        executor=ex,
        joint_trials=joint_trials,
        cache_dir=None if out_dir is None else out_dir / "cache",
    )
    command = _command(claims, budget, seed, readings)
    if out_dir is not None:
        from ahasd.report.invert import write_outputs

        write_outputs(out_dir, doc, command)
    if as_json:
        typer.echo(json_text(doc, default=str))
        return
    _print(doc, out_dir)


def _command(claims: str | None, budget: int, seed: int, readings: Path | None) -> str:
    parts = ["ahasd invert"]
    if claims:
        parts.append(f"--claims {claims}")
    parts += [f"--budget {budget}", f"--seed {seed}"]
    if readings is not None:
        parts.append(f"--readings {readings}")
    return " ".join(parts)


def _print(doc: dict[str, Any], out_dir: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from ahasd.report.invert import change_text, value_text

    table = Table(title="What it would take (ours within ±10% of each claim)")
    for col in ("claim", "paper", "ours", "status", "best", "smallest change / why not"):
        table.add_column(col, justify="right" if col in ("paper", "ours", "best") else "left")
    for c in doc["claims"]:
        why = c.get("reason", "") if c["status"] == "unreachable" else change_text(c["changes"])
        table.add_row(
            c["claim"],
            f"{c['paper']:g}",
            value_text(c["ours_default"]),
            c["status"],
            value_text(c["best"]),
            why.replace("`", ""),
        )
    console = Console()
    if console.width < 140:
        console = Console(width=140)
    console.print(table)
    j = doc["joint"]["largest"]
    console.print(
        f"jointly: {j['size']} claims hold under one reading "
        f"({', '.join(j['claims']) or 'none'}); "
        f"{len(doc['joint']['contradictions'])} contradicting pairs"
    )
    if out_dir is not None:
        console.print(
            f"wrote {out_dir / 'invert.json'}, {out_dir / 'invert.md'}, {out_dir / 'invert.png'}"
        )
