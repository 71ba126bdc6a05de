"""``ahasd reproduce``: the papers' evaluation matrix, a report with figures, in minutes."""

from __future__ import annotations

from pathlib import Path

import typer

from ahasd.outputs import OUT_ROOT


def register(app: typer.Typer) -> None:
    """Attach ``reproduce`` to the root app."""
    app.command("reproduce")(reproduce)


def reproduce(
    out: Path = typer.Option(OUT_ROOT / "reproduce", "--out", help="Output folder."),
    quick: bool = typer.Option(False, "--quick", help="Reduced matrix (2 algorithms, 512 tokens)."),
    jobs: int = typer.Option(
        0, "--jobs", "-j", min=0, max=1024, help="Worker processes; 0 = one per CPU core."
    ),
    traces: Path | None = typer.Option(
        None, "--traces", help="Folder of recorded traces; pairs without one use built-in profiles."
    ),
    seeds: int = typer.Option(
        0, "--seeds", min=0, max=100, help="Seeds per cell (0 = 3, or 1 with --quick)."
    ),
    invert: bool = typer.Option(
        False, "--invert", help="Add 'What it would take' (ahasd invert) and its figure."
    ),
) -> None:
    """Run AHASD's evaluation (pairs x algorithms x systems x seeds) and write the report."""
    from rich.console import Console

    from ahasd.cli.progress import progress
    from ahasd.report.matrix import full_spec, quick_spec
    from ahasd.report.provenance import command_line
    from ahasd.report.reproduce import reproduce as run

    spec = quick_spec(seeds or 1) if quick else full_spec(seeds or 3)
    args = ["ahasd", "reproduce", *(["--quick"] if quick else []), "--out", out]
    args += [*(["--seeds", seeds] if seeds else []), *(["--traces", traces] if traces else [])]
    args += ["--jobs", jobs] if jobs else []
    args += ["--invert"] if invert else []
    with progress() as report:
        outcome = run(out, spec=spec, quick=quick, jobs=jobs or None, traces=traces,
                      command=command_line(args), progress=report, invert=invert)  # fmt: skip
    console = Console()
    console.print(_headline(outcome.claims))
    for w in outcome.warnings:
        console.print("[yellow]warning:[/] ", end="")
        console.print(w, markup=False, highlight=False)  # citations look like [key] markup
    t = outcome.timings_s
    console.print(
        f"{len(outcome.rows)} runs: simulate {t['simulate']:.1f} s, report and figures "
        f"{t['figures']:.1f} s, peer sections {t['peers']:.1f} s, "
        + (f"invert {t['invert']:.1f} s, " if "invert" in t else "")
        + f"total {t['total']:.1f} s"
    )
    console.print(f"wrote {out / 'results.parquet'}, {out / 'report.md'}, {out / 'report.html'}")


def _headline(results):
    from rich.table import Table

    from ahasd.report.table import fmt

    table = Table(title=r"AHASD claims (\[ahasd26], docs/references.md) vs this simulator")
    for col in ("claim", "paper", "ours", "ours/claimed", "matched scale", "matched on"):
        table.add_column(col, justify="left" if col in ("claim", "matched on") else "right")
    for r in results:
        matched = (fmt(r.matched), r.matched_platform) if r.claim.matched else ("—", "")
        table.add_row(r.claim.label, f"{r.claim.claimed:g}", fmt(r.ours), fmt(r.ratio), *matched)
    return table
