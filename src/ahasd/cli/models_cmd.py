"""``ahasd models``, ``platforms``, ``cost`` and ``calibrate-host``: thin wrappers over the API."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ahasd.errors import field_error
from ahasd.validation import json_text


def _console() -> Console:
    return Console(width=140)


def models(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the bundled model shapes and their parameter counts."""
    from ahasd.models import bundled_info, list_models, load_model

    rows = []
    for name in list_models():
        s = load_model(name)
        info = bundled_info(name)
        rows.append({"name": name, "family": s.family, "params": s.params,
                     "published_params": info.get("_published_params"), "layers": s.n_layers,
                     "hidden": s.hidden, "heads": s.n_heads, "kv_heads": s.n_kv_heads,
                     "head_dim": s.head_dim, "ffn": s.ffn_hidden, "gated_ffn": s.gated_ffn,
                     "vocab": s.vocab, "tied_embeddings": s.tied_embeddings,
                     "source": info.get("_source", "")})  # fmt: skip
    if as_json:
        typer.echo(json_text(rows, indent=1))
        return
    table = Table(title="bundled models")
    for col in ("name", "family", "params", "layers", "hidden", "heads/kv", "ffn", "vocab"):
        table.add_column(col, justify="left" if col in ("name", "family") else "right")
    for r in rows:
        table.add_row(r["name"], r["family"], f"{r['params'] / 1e9:.3f} B", str(r["layers"]),
                      str(r["hidden"]), f"{r['heads']}/{r['kv_heads']}", str(r["ffn"]),
                      str(r["vocab"]))  # fmt: skip
    _console().print(table)


def platforms(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the platform presets, their devices and switches."""
    from ahasd.hardware import list_platforms, load_platform

    rows = []
    for name in list_platforms():
        p = load_platform(name)
        rows.append({"name": name, "description": p.config["description"],
                     "devices": {n: d.kind for n, d in p.devices.items()},
                     "switches": p.config["switches"], "config_hash": p.config_hash})  # fmt: skip
    if as_json:
        typer.echo(json_text(rows, indent=1))
        return
    table = Table(title="platforms")
    for col in ("name", "devices", "switches (default)", "description"):
        table.add_column(col)
    for r in rows:
        devs = ", ".join(f"{n} ({k})" for n, k in r["devices"].items())
        sw = ", ".join(f"{k}={v}" for k, v in r["switches"].items()) or "-"
        table.add_row(r["name"], devs, sw, r["description"])
    _console().print(table)


def parse_overrides(items: list[str]) -> dict[str, str]:
    """``--set KEY=VALUE`` flags as platform overrides (shared by ``cost`` and ``simulate``)."""
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise field_error(
                "--set", item, "KEY=VALUE, e.g. pim.n_alu=4 or switches.gops_scope=per-rank"
            )
        out[key.strip()] = value.strip()
    return out


def cost(
    model: str = typer.Argument(..., help="Bundled model name or a config.json path."),
    platform: str = typer.Option("ahasd-mobile", "--platform", help="Preset name or YAML path."),
    device: str = typer.Option("npu", "--device", help="Device name or placement (docs/cost.md)."),
    phase: str = typer.Option("verify", "--phase", help="draft, verify, tree or prefill."),
    tokens: int = typer.Option(
        1, "--tokens", min=1, max=1_000_000, help="New tokens (tree: nodes) in the step."
    ),
    kv: int = typer.Option(0, "--kv", min=0, max=10_000_000, help="Cached context length."),
    precision: str = typer.Option("int8", "--precision", help="fp32, fp16, bf16, int8, int4."),
    sets: list[str] = typer.Option(
        [], "--set", metavar="KEY=VALUE", help="Platform override (repeat)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Latency, energy and the binding resource of one step, per operator."""
    from ahasd.cost.describe import run_cost
    from ahasd.hardware import load_platform
    from ahasd.models import load_model

    shape = load_model(model)
    plat = load_platform(platform, parse_overrides(sets) or None)
    step, summary = run_cost(shape, plat, device=device, phase=phase, tokens=tokens, kv=kv,
                             precision=precision)  # fmt: skip
    if as_json:
        typer.echo(json_text(summary, indent=1))
        return
    table = Table(title=f"{model} {phase} n={tokens} kv={kv} {precision} on {platform}/{device} "
                  f"(placement {summary['placement']})")  # fmt: skip
    for col in ("op", "kind", "x", "m", "n", "k", "weights MB", "time ms", "energy mJ", "bound",
                "engine"):  # fmt: skip
        table.add_column(
            col, justify="left" if col in ("op", "kind", "bound", "engine") else "right"
        )
    for op, c in step.ops:
        table.add_row(op.name, op.kind.value, str(op.count), str(op.m), str(op.n), str(op.k),
                      f"{op.weight_bytes * op.count / 1e6:.1f}", f"{c.seconds * 1e3:.3f}",
                      f"{c.joules * 1e3:.3f}", c.bound, c.engine)  # fmt: skip
    con = _console()
    con.print(table)
    con.print(f"latency {step.seconds * 1e3:.3f} ms   energy {step.joules * 1e3:.3f} mJ   "
              f"bound: {step.bound} ({step.limit})", highlight=False)  # fmt: skip
    alone = ", ".join(f"{res} {t * 1e3:.3f} ms" for res, t in step.times_s.items())
    con.print(f"each resource alone, summed over ops: {alone}", highlight=False)
    if summary["offload_bytes"]:
        con.print(f"{summary['offload_bytes'] / 1e9:.2f} GB of weights stream over the host link "
                  "every pass (they do not fit on the device)", highlight=False)  # fmt: skip


def calibrate_host(
    out: Path = typer.Option(
        None, "--out", help="Where to write (default $AHASD_HOME/platforms/host-cpu.yaml)."
    ),
    seconds: float = typer.Option(2.0, "--seconds", min=0, max=600, help="Measurement budget."),
    draft: Optional[str] = typer.Option(
        None, "--draft", metavar="DIR", help="Also for the engine on this pair: draft model dir."
    ),
    target: Optional[str] = typer.Option(
        None, "--target", metavar="DIR", help="With --draft: the target model dir."
    ),
) -> None:
    """Measure this CPU (numpy fp32 GEMM, copy bandwidth) and write the host-cpu preset.

    With --draft/--target: also the engine's rates, framework time and decode-loop time for
    that pair (micro-benchmarks only, as ``ahasd validate``), so simulators price the engine.
    """
    from ahasd.hardware.host import calibrate_host as measure
    from ahasd.hardware.host import write_host_preset

    if (draft is None) != (target is None):
        raise field_error("--draft/--target", draft or target, "both model dirs, or neither")
    values = measure(seconds)
    pair_values = None
    if draft is not None:
        from ahasd.cli.progress import progress
        from ahasd.engine import load_pair
        from ahasd.engine.host_preset import pair_preset_values

        with progress() as report:
            pair_values = pair_preset_values(load_pair(draft, target), seconds=seconds,
                                             progress=report)  # fmt: skip
    path = write_host_preset(values, out, pair_values)
    typer.echo(
        f"fp32 GEMM {values['fp32_gflops']:.1f} GFLOP/s, copy {values['mem_bw_gb_per_s']:.2f} GB/s,"
        f" memory {values['capacity_gib']:.1f} GiB -> {path}"
    )
    if pair_values:
        typer.echo("for the engine on the pair: " + ", ".join(
            f"{k} {_figure(v)}" for k, v in pair_values.items()))  # fmt: skip


def _figure(value: float | dict) -> str:
    """A preset value as the summary line prints it (a width table as ``{2: 7.5, ...}``)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v:g}" for k, v in value.items()) + "}"
    return f"{value:g}"


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root app."""
    app.command("models")(models)
    app.command("platforms")(platforms)
    app.command("cost")(cost)
    app.command("calibrate-host")(calibrate_host)
