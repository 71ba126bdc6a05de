"""``ahasd trace``: synthesise traces, list profiles, print trace statistics.

The engine adds ``trace record`` to :data:`trace_app` from its own module (engine_cmd.py).
"""

from __future__ import annotations

from pathlib import Path

import typer

from ahasd.outputs import OUT_ROOT
from ahasd.validation import json_text

trace_app = typer.Typer(
    name="trace",
    help="Token traces: synthesise from a profile, list profiles, statistics.",
    no_args_is_help=True,
)


@trace_app.command("synth")
def synth_cmd(
    profile: str = typer.Option(..., "--profile", help="Profile (`ahasd trace profiles`)."),
    tokens: int = typer.Option(
        1024, "--tokens", min=1, max=10_000_000, help="Positions to generate."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Generator seed."),
    output: Path | None = typer.Option(
        None, "-o", "--output", help="Output .parquet file [default: ahasd-out/traces/...]."
    ),
) -> None:
    """Synthesise a trace from a calibrated profile and write it as Parquet."""
    from ahasd.traces import save_trace, synthesize

    trace = synthesize(profile, tokens, seed)
    output = output or OUT_ROOT / "traces" / f"{profile}-{tokens}-seed{seed}.parquet"
    save_trace(trace, output)
    typer.echo(f"wrote {len(trace)} positions ({profile}, seed {seed}) to {output}")


@trace_app.command("profiles")
def profiles_cmd(
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """List the synthetic profiles with their calibration targets and sources."""
    from dataclasses import asdict

    from ahasd.traces import list_profiles

    infos = list_profiles()
    if as_json:
        typer.echo(json_text([asdict(p) for p in infos], indent=2))
        return
    for p in infos:
        typer.echo(f"{p.name}\n  pair: {p.pair}\n  target: {p.target}\n  source: {p.source}")
        typer.echo(f"  {p.description}")


@trace_app.command("stats")
def stats_cmd(
    path: Path = typer.Argument(..., help="Trace file (.parquet, .csv, .jsonl)."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """alpha, greedy chain tau for gamma = 1..8, entropy, correlation, burstiness."""
    from ahasd.traces import load_trace, trace_stats

    trace = load_trace(path)
    st = trace_stats(trace)
    if as_json:
        out = {**st.to_dict(), "meta": trace.meta.to_dict(), "content_hash": trace.content_hash}
        typer.echo(json_text(out, indent=2))
        return
    m = trace.meta
    typer.echo(f"{path}: {st.tokens} positions, pair {m.pair}, source {m.source}")
    typer.echo(f"alpha (P[rank=0])        {st.alpha:.4f}")
    typer.echo(f"mean accept prob (beta)  {st.mean_accept_prob:.4f}")
    typer.echo("tau (greedy chain)       " + "  ".join(
        f"g{g}={t:.3f}" for g, t in st.tau_by_gamma.items()))  # fmt: skip
    typer.echo(f"mean draft entropy       {st.mean_entropy:.3f} nats")
    typer.echo(f"corr(entropy, match)     {st.entropy_accept_corr:+.3f}")
    typer.echo(f"burstiness               {st.burstiness:.3f} (P[miss|miss]/P[miss])")
    typer.echo("top-k cumulative         " + "  ".join(
        f"k{k}={v:.3f}" for k, v in st.top_k_cumulative.items()))  # fmt: skip


def register(app: typer.Typer) -> None:
    """Attach ``trace`` (synth, profiles, stats; ``record`` comes from engine_cmd)."""
    app.add_typer(trace_app, name="trace")
