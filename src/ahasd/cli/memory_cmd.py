"""``ahasd memory-plan``: where each model's weights and KV cache live, and what that gives.

Thin: parse, call :func:`ahasd.memory.report.memory_plan`, render with rich or JSON.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from ahasd.cli.models_cmd import parse_overrides
from ahasd.errors import field_error
from ahasd.validation import json_text


def memory_plan(
    platform: str = typer.Option("ahasd-mobile", "--platform", help="Preset name or YAML path."),
    draft: str = typer.Option("llama2-7b", "--draft", help="Draft model (bundled name or path)."),
    target: str = typer.Option("llama2-13b", "--target", help="Target model."),
    precision: str = typer.Option("int8", "--precision", help="fp32, fp16, bf16, int8, int4."),
    tokens: int = typer.Option(
        1024, "--tokens", min=1, max=10_000_000, help="Tokens to generate (sizes the KV cache)."
    ),
    prompt_len: int = typer.Option(
        128, "--prompt-len", min=1, max=1_000_000, help="Prompt tokens (KV cache)."
    ),
    sets: list[str] = typer.Option(
        [], "--set", metavar="KEY=VALUE", help="Platform or placement override (repeat)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Place the draft and target (weights + KV) on the package's ranks; show rates per model."""
    from ahasd.hardware import load_platform
    from ahasd.memory.report import memory_plan as plan
    from ahasd.models import load_model
    from ahasd.models.shape import bytes_per_param

    for name, value in (("--tokens", tokens), ("--prompt-len", prompt_len)):
        if value < 0 or value > 10_000_000:
            raise field_error(name, value, "0..10000000")
    bytes_per_param(precision)
    plat = load_platform(platform, parse_overrides(sets) or None)
    out = plan(plat, load_model(draft), load_model(target), precision=precision,
               kv_tokens=prompt_len + tokens)  # fmt: skip
    if as_json:
        typer.echo(json_text(out, indent=1))
        return
    con = Console()
    pkg = out["package"]
    con.print(
        f"{out['platform']}: {pkg['device']} {pkg['channels']} channels x "
        f"{pkg['dies_per_channel']} dies, {pkg['ranks']} ranks of "
        f"{pkg['rank_capacity_bytes'] / 1e9:.2f} GB; placement {out['policy']}",
        highlight=False,
        markup=False,
    )
    table = Table()
    for col in ("rank", "channel", "used GB", "capacity GB", "holds"):
        table.add_column(col, justify="left" if col == "holds" else "right")
    for r in out["ranks"]:
        table.add_row(str(r["rank"]), str(r["channel"]), f"{r['used_bytes'] / 1e9:.2f}",
                      f"{r['capacity_bytes'] / 1e9:.2f}", ", ".join(r["holds"]) or "-")  # fmt: skip
    con.print(table)
    con.print(
        f"stream: peak {pkg['peak_bytes_per_s'] / 1e9:.1f} GB/s, sustained "
        f"{pkg['sustained_bytes_per_s'] / 1e9:.1f} GB/s (refresh {pkg['refresh_loss']:.1%})",
        highlight=False,
        markup=False,
    )
    if "pim_ops_per_s" in pkg:
        pub = pkg["published"]
        con.print(
            f"PIM package: derived {pkg['pim_peak_ops_per_s'] / 1e9:.1f} GOPS peak / "
            f"{pkg['pim_ops_per_s'] / 1e9:.1f} GOPS sustained GEMV, "
            f"{pkg['pim_peak_internal_bytes_per_s'] / 1e9:.1f} GB/s internal peak; published "
            f"{pub['pim_ops_per_s'] / 1e9:.1f} GOPS, {pub['pim_internal_bytes_per_s'] / 1e9:.1f} "
            f"GB/s ({pub['reading']})",
            highlight=False,
            markup=False,
        )
    for role in ("draft", "target"):
        m = out[role]
        pim = (f", PIM {m['pim_ops_per_s'] / 1e9:.1f} GOPS on its ranks"
               if "pim_ops_per_s" in m else "")  # fmt: skip
        con.print(
            f"{role} {m['model']}: ranks {m['ranks']}, {m['weights_bytes'] / 1e9:.2f} GB weights "
            f"+ {m['kv_bytes'] / 1e9:.2f} GB KV, NPU stream "
            f"{m['npu_stream_bytes_per_s'] / 1e9:.1f} GB/s over {m['channels']} channels{pim}",
            highlight=False,
            markup=False,
        )
    for w in out["warnings"]:
        con.print(f"warning: {w}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the root app."""
    app.command("memory-plan")(memory_plan)
