"""``ahasd simulate``: one system, or the whole ablation chain with ``--compare``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ahasd.errors import AhasdError, field_error
from ahasd.validation import json_text


def _parse_policy_args(items: list[str]) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise field_error("--policy-arg", item, "KEY=VALUE (e.g. lam=0.5)")
        try:
            value = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError:
            value = raw
        out[key.strip()] = value
    return out


def _system_fields(name: str) -> dict[str, Any]:
    """A system, or an ablation step by its ``--compare``/report label (``+aau``, ``+edc``)."""
    from ahasd.systems import SYSTEMS
    from ahasd.systems.chain import ABLATION_CHAIN, step_fields

    step = step_fields(name)
    if step is not None:
        return step
    if name not in SYSTEMS:
        names = dict.fromkeys([*SYSTEMS, *(label for label, _, _ in ABLATION_CHAIN)])
        raise field_error("--system", name, ", ".join(names))
    return {"system": name}


def _config_fields(**opts: Any) -> dict[str, Any]:
    if opts["trace"] is not None and opts["profile"] is not None:
        raise AhasdError("--trace and --profile are exclusive: give one or neither")
    step = _system_fields(opts["system"])
    fields: dict[str, Any] = {
        "system": step["system"],
        "draft": opts["draft"],
        "policy": opts["policy"],
        "policy_args": _parse_policy_args(opts["policy_arg"] or []),
        "tokens": opts["tokens"],
        "seed": opts["seed"],
        **{
            f"use_{name}": step.get(f"use_{name}", True) and not opts[f"no_{name}"]
            for name in ("aau", "edc", "tvc", "gtsu")
        },
    }
    for key in ("platform", "trace", "profile", "target", "precision"):
        if opts[key] is not None:
            fields[key] = str(opts[key])
    if opts["precision"] is None and opts["platform"] == "host-cpu":
        fields["precision"] = "fp32"  # the real engine's precision, which host-cpu describes
    if opts["sets"]:
        from ahasd.cli.models_cmd import parse_overrides

        fields["platform_overrides"] = parse_overrides(opts["sets"])
    fields["record_timeline"] = opts["timeline"] is not None
    return fields


def simulate(
    system: str = typer.Option(
        "ahasd", "--system", help="System, or an ablation step: +aau, +edc (docs/systems.md)."
    ),
    platform: Optional[str] = typer.Option(
        None, "--platform", help="Platform preset; default: the system's own."
    ),
    sets: Optional[list[str]] = typer.Option(
        None,
        "--set",
        metavar="KEY=VALUE",
        help="Platform override (repeat), e.g. switches.gops_scope=per-rank.",
    ),
    draft: str = typer.Option(
        "llama2-7b", "--draft", help="Draft model: a bundled name or a local directory."
    ),
    target: Optional[str] = typer.Option(
        None,
        "--target",
        help="Target model: a bundled name or a local directory (default llama2-13b; lpspec: "
        "llama2-7b).",
    ),
    policy: str = typer.Option("adaedl", "--policy", help="Drafting policy."),
    policy_arg: Optional[list[str]] = typer.Option(
        None, "--policy-arg", metavar="KEY=VALUE", help="Policy argument (repeat)."
    ),
    trace: Optional[Path] = typer.Option(None, "--trace", help="Token trace file."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Synthetic trace profile."),
    tokens: int = typer.Option(1024, "--tokens", min=1, max=10_000_000, help="Tokens to generate."),
    precision: Optional[str] = typer.Option(
        None, "--precision", help="Weight precision; default fp32 on host-cpu, else int8."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of every random draw."),
    no_aau: bool = typer.Option(False, "--no-aau", help="ahasd: draft attention ops on the NPU."),
    no_edc: bool = typer.Option(False, "--no-edc", help="ahasd: no EDC look-ahead control."),
    no_tvc: bool = typer.Option(False, "--no-tvc", help="ahasd: no TVC pre-verification."),
    no_gtsu: bool = typer.Option(
        False, "--no-gtsu", help="ahasd: rank switches by a plain controller's mode change."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    timeline: Optional[Path] = typer.Option(
        None, "--timeline", help="Write a Perfetto trace (FILE.json.gz)."
    ),
    compare: bool = typer.Option(
        False, "--compare", help="Run the ablation chain and print it relative to gpu-only."
    ),
) -> None:
    """Simulate speculative decoding on a system and print throughput, energy and more."""
    from ahasd.sim.config import SimConfig
    from ahasd.systems import simulate as run

    fields = _config_fields(**locals())
    if compare:
        if platform is not None or timeline is not None or sets:
            raise AhasdError(
                "--compare runs each system on its own platform; drop --platform/--set/--timeline"
            )
        from ahasd.systems.chain import run_chain

        rows = run_chain(SimConfig(**fields))
        if as_json:
            typer.echo(json_text({label: r.to_dict() for label, r in rows}, indent=1))
        else:
            _print_chain(rows)
        return
    result = run(SimConfig(**fields))
    if timeline is not None:
        from ahasd.report.timeline import write_chrome_trace

        write_chrome_trace(result, timeline)
    if as_json:
        typer.echo(json_text(result.to_dict(), indent=1))
    else:
        _print_result(result, timeline)


def _print_result(r: Any, timeline: Optional[Path]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(
        title=f"{r.system} on {r.config['platform']}: {r.config['draft']} -> "
        f"{r.config['target']}, {r.config['policy']}"
    )
    t.add_column("metric")
    t.add_column("value", justify="right")
    rows = [
        ("committed tokens", f"{r.committed_tokens}"),
        ("wall time", f"{r.wall_s:.3f} s"),
        ("throughput", f"{r.throughput_tok_s:.2f} tok/s"),
        ("AR throughput", f"{r.ar_throughput_tok_s:.2f} tok/s"),
        ("energy", f"{r.energy_j:.3f} J"),
        ("tokens/J", f"{r.tokens_per_joule:.3f}"),
        ("AR tokens/J", f"{r.ar_tokens_per_joule:.3f}"),
        ("tau (tokens/verification)", f"{r.tau:.3f}"),
        ("mean draft length", f"{r.mean_draft_len:.2f}"),
        ("draft acceptance rate", f"{r.draft_acceptance_rate:.3f}"),
        ("wasted draft fraction", f"{r.wasted_draft_fraction:.3f}"),
    ]
    for name, d in r.devices.items():
        if d["busy_s"] > 0:  # memory devices run no tasks; their energy is in the JSON
            rows.append((f"{name} utilisation", f"{d['utilisation']:.1%}"))
    for label, value in rows:
        t.add_row(label, value)
    console = Console()
    console.print(t)
    for w in r.warnings:
        console.print("[yellow]warning:[/yellow] ", end="")
        console.print(w, markup=False, highlight=False)  # citations look like [key] markup
    if timeline is not None:
        console.print(f"timeline written to {timeline} (open it at https://ui.perfetto.dev)")


def _print_chain(rows: list[tuple[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    base = dict(rows)["gpu-only"]
    first = rows[0][1].config
    t = Table(
        title=f"ablation chain: {first['draft']} -> {first['target']}, {first['policy']}, "
        f"{first['tokens']} tokens, seed {first['seed']}"
    )
    for col in (
        "system",
        "platform",
        "tok/s",
        "x gpu-only",
        "tok/J",
        "x gpu-only ",
        "tau",
        "accept",
        "wasted",
    ):
        t.add_column(col, justify="left" if col in ("system", "platform") else "right")
    for label, r in rows:
        t.add_row(
            label,
            r.config["platform"],
            f"{r.throughput_tok_s:.2f}",
            f"{r.throughput_tok_s / base.throughput_tok_s:.2f}x",
            f"{r.tokens_per_joule:.3f}",
            f"{r.tokens_per_joule / base.tokens_per_joule:.2f}x",
            f"{r.tau:.2f}",
            f"{r.draft_acceptance_rate:.2f}",
            f"{r.wasted_draft_fraction:.2f}",
        )
    console = Console()
    if console.width < 120:  # keep the table readable when piped
        console = Console(width=120)
    console.print(t)


def register(app: typer.Typer) -> None:
    """Attach ``simulate`` to the root app."""
    app.command("simulate")(simulate)
