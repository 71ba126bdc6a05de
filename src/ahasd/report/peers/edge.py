"""The edge section: every CPU/GPU mapping planned, simulated and (without --quick) measured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ahasd.report.peers.common import EDGE_PAIR, md_table, pyplot
from ahasd.report.style import save


def _edge(out_dir: Path, quick: bool, seed: int) -> tuple[str, list[Path]]:
    from ahasd.systems.edge.compare import compare_plans, plan_context

    tokens = 256 if quick else 512
    ctx = plan_context(
        draft=EDGE_PAIR[0],
        target=EDGE_PAIR[1],
        platform="edge-imx95",
        profile=None,
        tokens=tokens,
        prompt_len=32,
        seed=seed,
    )
    rows = compare_plans(ctx, simulate=True)
    worst = max(abs(r["gap_pct"]) for r in rows)
    top = rows[:10]
    table = [
        [
            r["draft_device"] or "-",
            r["target_device"],
            str(r["gamma"]),
            f"{r['expected_tokens']:.2f}",
            f"{r['speedup']:.3f}x",
            f"{r['sim_speedup']:.3f}x",
            f"{r['gap_pct']:+.2f}%",
        ]
        for r in top
    ]
    text = [
        f"Command: `ahasd edge-plan --draft {EDGE_PAIR[0]} --target {EDGE_PAIR[1]} "
        f"--platform edge-imx95 --tokens {tokens} --simulate`.\n",
        md_table(
            [
                "draft",
                "target",
                "γ",
                "E[tokens]",
                "analytic speedup",
                "simulated speedup",
                "tokens/s gap",
            ],
            table,
        ),
        f"Largest analytic-vs-simulator gap over all {len(rows)} mappings: {worst:.2f}% "
        "(the closed form evaluates costs at the mid-run KV length).\n",
        f"Paper C reports up to 1.68x with the draft on the Mali GPU and the target on the "
        f"CPU; our best plan is {rows[0]['label']} at {rows[0]['speedup']:.2f}x. "
        + _edge_why(ctx)
        + "\n",
    ]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for d in ("cpu", "gpu"):
        for t in ("cpu", "gpu"):
            pts = sorted(
                (r["gamma"], r["speedup"])
                for r in rows
                if r["target_device"] == t and (r["draft_device"] == d or r["gamma"] == 0)
            )
            ax.plot(*zip(*pts, strict=True), marker="o", label=f"draft {d} / target {t}")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xlabel("γ (0 = no speculation)")
    ax.set_ylabel("speedup over best AR")
    ax.set_title(f"edge-imx95: {EDGE_PAIR[0]} → {EDGE_PAIR[1]}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = save(fig, out_dir / "peers_edge.png")
    text += [f"![edge plans]({path.name})\n", _edge_measured(quick)]  # measured after the plot
    return "\n".join(text), [path]


def _edge_why(ctx: Any) -> str:
    """The preset's step times behind the ranking (computed, so a preset change shows here)."""
    from ahasd.systems.edge.hetero import compute_devices, device_steps

    parts = []
    for dev in compute_devices(ctx.platform):
        st = device_steps(ctx, dev)
        parts.append(
            f"{dev}: draft step {st.draft_s * 1e3:.1f} ms, target verify of 1 / 3 tokens "
            f"{st.verify_s[0] * 1e3:.1f} / {st.verify_s[2] * 1e3:.1f} ms"
        )
    return (
        "Step times from the edge-imx95 preset (" + "; ".join(parts) + "). Draft and verify "
        "alternate (no overlap), so a mapping wins only through shorter steps on its devices; "
        "the paper's own per-device step times are not in our sources, so which mapping wins "
        "here follows the preset's CPU and GPU figures, not a measurement of the SoC."
    )


def _edge_measured(quick: bool, models: Path | None = None) -> str:
    """Every CPU/GPU mapping run for real with the engine's demo pair, beside the plan."""
    import importlib.util

    from ahasd.report.host import demo_dir

    head = "### Measured with the real engine (`ahasd edge-plan --measure`)\n\n"
    if quick:
        return head + "Skipped in --quick mode (it times the real engine).\n"
    root = Path(models) if models is not None else demo_dir()
    if not all((root / r / "config.json").is_file() for r in ("draft", "target")):
        return head + (
            f"Skipped: no demo pair under {root} (build one with `ahasd demo-models --out "
            f"{root}`, or set AHASD_DEMO_MODELS).\n"
        )
    if importlib.util.find_spec("torch") is None:
        return head + "Skipped: the [engine] extra (torch) is not installed.\n"
    from ahasd.report.edge_measure import markdown, measure_mappings

    try:
        res = measure_mappings(root / "draft", root / "target", device="auto")
    except Exception as exc:  # a broken demo dir or engine must not sink the report
        return head + f"Failed: `{type(exc).__name__}: {exc}`\n"
    cpu = [r for r in res.rows if "cost_model_speedup" in r and r["gamma"]]
    summary = ""
    if cpu:
        worst = max(cpu, key=lambda r: abs(r["cost_model_error_pct"]))
        mean = sum(abs(r["cost_model_error_pct"]) for r in cpu) / len(cpu)
        summary = (
            f"host-cpu plan (cost model, micro-benchmark calibration only) vs measured over the "
            f"{len(cpu)} speculative CPU mappings: mean |error| {mean:.1f}%, worst "
            f"{worst['cost_model_error_pct']:+.1f}% at γ = {worst['gamma']} (paper C reports "
            "about 4% on its SoC).\n\n"
        )
    return (
        head + f"Demo pair under {root}; devices {', '.join(res.devices)}. 'predicted (profiled)' "
        "is paper C's method: step times profiled on each device, τ measured per γ.\n\n"
        + summary
        + markdown(res)
    )
