"""Report sections for the peer systems: LP-Spec, the SpecPIM search, and edge CPU/GPU plans.

Each section runs its experiments, writes its PNGs into ``out_dir`` and puts our figures beside
the published ones (research/peers.md §2.4, §3.5, §4.4). Numbers are never tuned to match: where
ours differ, the text states the gap and the arithmetic behind it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ahasd.report.sections import Section

LPSPEC_PAIR = {"draft": "llama2-7b", "target": "llama2-7b", "profile": "llama2-7b-medusa"}
SPECPIM_PAIR = ("llama2-7b", "llama2-13b")  # AHASD's middle pair, its SpecPIM baseline
EDGE_PAIR = ("llama-3.2-1b", "llama-3.2-3b")  # paper C: Llama-3.2-3B target (peers.md §4.2)


def build_peer_sections(out_dir: Path, *, quick: bool, seed: int, jobs: int) -> list[Section]:
    """One section each for LP-Spec, the SpecPIM search and edge-hetero (``jobs`` unused:
    each section runs in well under the report's budget in-process)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        _safe("LP-Spec (hybrid LPDDR5-PIM, Medusa tree, DTP + DAU)", _lpspec, out_dir, quick, seed),
        _safe("SpecPIM architecture + dataflow search", _specpim, out_dir, quick, seed),
        _safe("Edge CPU/GPU partitioning (compiler-assisted SD)", _edge, out_dir, quick, seed),
    ]


def _safe(title: str, fn, out_dir: Path, quick: bool, seed: int) -> Section:
    """A failing section reports its error instead of sinking the whole report."""
    try:
        body, figs = fn(out_dir, quick, seed)
    except Exception as exc:  # the report must still render; the error is shown, not hidden
        body, figs = f"**This section failed:** `{type(exc).__name__}: {exc}`\n", []
    return Section(title=title, markdown=body, figures=figs)


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# ---- LP-Spec -------------------------------------------------------------------------------
def _lpspec_runs(quick: bool, seed: int) -> dict[str, Any]:
    from ahasd.systems.lpspec import LpSpecOptions, simulate_lpspec

    base = {**LPSPEC_PAIR, "tokens": 256 if quick else 1024, "seed": seed}
    agg = {"platform_overrides": {"switches.gops": "aggregate"}}
    return {
        "lpspec": simulate_lpspec(base),
        "lpspec (no NMC)": simulate_lpspec(base, LpSpecOptions(use_nmc=False)),
        "lpspec (static 63-node tree)": simulate_lpspec(base, LpSpecOptions(use_pruner=False)),
        # CAPIM's validation point, L_spec = 8 (research/peers.md §3.6): a reference, not a fit
        "lpspec (static 8-node tree)": simulate_lpspec(
            base, LpSpecOptions(use_pruner=False, static_tree_nodes=8)
        ),
        "gemv-pim-si": simulate_lpspec(base, LpSpecOptions(mode="pim", use_pruner=False)),
        "lpspec [409.6 GOPS total]": simulate_lpspec({**base, **agg}),
    }


def _lpspec(out_dir: Path, quick: bool, seed: int) -> tuple[str, list[Path]]:
    from ahasd.systems.lpspec_compare import PUBLISHED, TOLERANCE, dau_table, edp_s_mj

    runs = _lpspec_runs(quick, seed)
    main = runs["lpspec"]
    dau = dau_table(target="llama2-7b", platform="lpspec-mobile", kv=256, max_nodes=16)
    pub = PUBLISHED["lpspec"]
    ours = {
        "throughput_tok_s": main.throughput_tok_s,
        "tokens_per_joule": main.tokens_per_joule,
        "edp_s_mj": edp_s_mj(main),
    }
    rows = []
    for key, label in (
        ("throughput_tok_s", "tokens/s"),
        ("tokens_per_joule", "tokens/J"),
        ("edp_s_mj", "EDP s·mJ"),
    ):
        ratio = ours[key] / pub[key]
        ok = "yes" if abs(ratio - 1) <= TOLERANCE else "no"
        rows.append([label, f"{pub[key]:g}", f"{ours[key]:.3g}", f"{ratio:.2f}", ok])
    text = [
        "Command: `ahasd reproduce` (this section), or "
        "`ahasd simulate --system lpspec --target llama2-7b --profile llama2-7b-medusa`.\n",
        "### LP-Spec vs LP-Spec Table III (LLaMA2-7B INT8, Medusa)\n",
        _md_table(["metric", "published", "ours", "ours/published", "within ±15%"], rows),
    ]
    npu = main.extras["baselines"]["npu-ar"]
    gemv = main.extras["baselines"]["gemv-pim-ar"]
    text.append(_lpspec_ratio_table(main, npu))
    pub_npu = PUBLISHED["npu-ar"]
    base_rows = [
        ["mobile NPU (AR)", f"{pub_npu['throughput_tok_s']:.2f}", f"{npu['throughput_tok_s']:.2f}",
         f"{pub_npu['tokens_per_joule']:.2f}", f"{npu['tokens_per_joule']:.2f}"],
        ["GEMV-PIM (AR, 102.4 GOPS/die)", "-", f"{gemv['throughput_tok_s']:.1f}", "-",
         f"{gemv['tokens_per_joule']:.2f}"],
    ]  # fmt: skip
    for name, r in runs.items():
        base_rows.append([name, "-", f"{r.throughput_tok_s:.1f}", "-", f"{r.tokens_per_joule:.2f}"])
    text += [
        "### Systems on the same substrate\n",
        _md_table(
            ["system", "published tok/s", "ours tok/s", "published tok/J", "ours tok/J"], base_rows
        ),
        _lpspec_gap(runs, main, dau),
        "",
    ]
    figs = [
        _lpspec_figure(
            out_dir,
            runs,
            dau,
        )
    ]
    text.append(f"![LP-Spec]({figs[0].name})\n")
    return "\n".join(text), figs


def _lpspec_ratio_table(main: Any, npu: dict[str, float]) -> str:
    from ahasd.systems.lpspec_compare import PUBLISHED

    thr = main.throughput_tok_s / npu["throughput_tok_s"]
    eff = main.tokens_per_joule / npu["tokens_per_joule"]
    pub = PUBLISHED["ratios"]
    rows = [
        ["throughput", f"{pub['throughput']}x", f"{thr:.2f}x"],
        ["energy efficiency", f"{pub['energy_efficiency']}x", f"{eff:.2f}x"],
        ["EDP reduction", f"{pub['edp']}x", f"{thr * eff:.2f}x"],
    ]
    return "### LP-Spec over the mobile NPU\n\n" + _md_table(["ratio", "published", "ours"], rows)


def _lpspec_gap(runs: dict[str, Any], main: Any, dau: list[dict[str, Any]]) -> str:
    """Say where the gap comes from, with the run's own numbers."""
    agg = runs["lpspec [409.6 GOPS total]"]
    ex = main.extras
    npu = ex["baselines"]["npu-ar"]
    s_tok = 1.0 / npu["throughput_tok_s"]
    energy_line = (
        f"* Energy: the mobile-NPU baseline spends {1e3 / npu['tokens_per_joule']:.0f} mJ per "
        f"token ({s_tok * 1e3:.0f} ms per token at the 51.2 GB/s bus); LP-Spec publishes no "
        "absolute LPDDR5 pJ/bit, so the preset's AttAcc constants (3.59 pJ/bit off-chip, 0.55 "
        "in-bank) and its background power (NPU + LPDDR5 `static_mw`) set this figure.\n"
    )
    return (
        "### Where we differ and why\n\n"
        f"* The pruner keeps {ex['mean_tree_nodes']:.1f} tree nodes on average (τ = "
        f"{main.tau:.2f}); the DAU puts a weight share of {ex['mean_r_npu']:.3f} on the NPU. "
        f"Under the preset's default reading (409.6 GOPS per PIM die × 12 dies, 51.2 TB/s "
        f"internal) PIM verifies one token in {dau[0]['pim_s'] * 1e3:.1f} ms and each extra "
        f"tree node adds {(dau[1]['pim_s'] - dau[0]['pim_s']) * 1e3:.1f} ms (compute-bound: the "
        "N_ALU = 4 batching saves weight passes, not MACs), while the NPU alone needs "
        f"{dau[0]['npu_s'] * 1e3:.0f} ms. Extra nodes rarely pay, so the tree stays small and "
        "the throughput is PIM's autoregressive rate. A fixed 8-node tree (CAPIM's L_spec = 8) "
        f"gives {runs['lpspec (static 8-node tree)'].throughput_tok_s:.1f} tok/s (τ = "
        f"{runs['lpspec (static 8-node tree)'].tau:.2f}).\n"
        f"* With the other reading of LP-Spec §VI-A (409.6 GOPS for the whole PIM; "
        f"`switches.gops=aggregate`) the same model gives {agg.throughput_tok_s:.1f} tok/s and "
        f"{agg.tokens_per_joule:.2f} tok/J (τ = {agg.tau:.2f}). CAPIM (peers.md §3.2) notes "
        "73.4 tok/s needs at least 1.19 TOPS, between the two readings; we report both rather "
        "than pick one to fit.\n"
        + energy_line
        + "* Medusa heads: the trace has one rank per position, so every head sees the same "
        "accuracy (no decay with depth); the pruner is our stand-in stop rule (peers.md §3.7), "
        "not LP-Spec's unpublished estimator.\n"
    )


def _lpspec_figure(out_dir: Path, runs: dict[str, Any], dau: list[dict[str, Any]]) -> Path:
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    names = list(runs)
    ax1.barh(names, [runs[n].throughput_tok_s for n in names], color="tab:blue")
    ax1.axvline(73.4, color="k", ls="--", label="LP-Spec published 73.4 tok/s")
    ax1.set_xlabel("tokens/s")
    ax1.set_title("LP-Spec and baselines (LLaMA2-7B INT8)")
    ax1.legend(fontsize=8)
    nodes = [r["tree_nodes"] for r in dau]
    for key, label in (("pim_s", "PIM only"), ("split_s", "DAU split")):
        ax2.plot(nodes, [r[key] * 1e3 for r in dau], marker="o", label=label)
    ax2.set_xlabel("tree nodes")
    ax2.set_ylabel("verify + heads, ms")
    ax2.set_title(f"DAU table (NPU alone: {dau[0]['npu_s'] * 1e3:.0f} ms, flat)")
    ax2.legend()
    fig.tight_layout()
    path = out_dir / "peers_lpspec.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# ---- SpecPIM -------------------------------------------------------------------------------
def _specpim(out_dir: Path, quick: bool, seed: int) -> tuple[str, list[Path]]:
    from ahasd.explore.specpim_ga import GaConfig, explore_gamma

    cfg = GaConfig(population=24 if quick else 48, generations=12 if quick else 40, seed=seed)
    gammas = [1, 2, 4, 8] if quick else list(range(1, 9))
    rows = [explore_gamma(*SPECPIM_PAIR, g, cfg, trace_tokens=2048) for g in gammas]
    table = []
    for r in rows:
        arch = r["best"]["design"]["arch"]
        table.append(
            [
                str(r["gamma"]),
                f"{r['tau']:.2f}",
                f"{r['best']['tokens_per_s']:.1f}",
                f"{r['attacc']['tokens_per_s']:.1f}",
                f"{r['best']['tokens_per_s'] / r['attacc']['tokens_per_s']:.2f}x",
                f"{arch['memory']} {arch['draft_units']}/{arch['target_units']} PIM",
                "concurrent" if arch["concurrent"] else "serial",
            ]
        )
    best = max(rows, key=lambda r: r["best"]["tokens_per_s"])
    last = rows[-1]
    text = [
        f"Command: `ahasd explore specpim --draft {SPECPIM_PAIR[0]} --target "
        f"{SPECPIM_PAIR[1]} --seed {seed}`. GA: population {cfg.population}, "
        f"{cfg.generations} generations, objective {cfg.objective}; AttAcc = attention on "
        "PIM, FC on the host, on its best architecture (enumerated).\n",
        _md_table(
            [
                "γ",
                "τ",
                "GA best tok/s",
                "AttAcc tok/s",
                "GA/AttAcc",
                "architecture",
                "draft/target",
            ],
            table,
        ),
        f"Best fixed γ = {best['gamma']} ({best['best']['tokens_per_s']:.1f} tok/s); γ = "
        f"{last['gamma']} gives {last['best']['tokens_per_s']:.1f} tok/s "
        f"({last['best']['tokens_per_s'] / best['best']['tokens_per_s']:.2f}x): a too-long "
        "fixed draft length loses, the qualitative finding SADDLE reports for SpecPIM "
        "(peers.md §2.4; they see the peak at γ = 4 on OPT-66B at batch 64).\n",
        "Published SpecPIM headline (1.52x over GPU SD, 6.67x energy efficiency) uses "
        "models and hardware not in the digest; we do not compare absolute numbers.\n",
    ]
    text.append(_specpim_event_check(best, quick, seed))
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    gs = [r["gamma"] for r in rows]
    ax.plot(gs, [r["best"]["tokens_per_s"] for r in rows], marker="o", label="GA best design")
    ax.plot(gs, [r["attacc"]["tokens_per_s"] for r in rows], marker="s", label="AttAcc mapping")
    ax.set_xlabel("fixed draft length γ")
    ax.set_ylabel("tokens/s")
    ax.set_title(f"SpecPIM search: {SPECPIM_PAIR[0]} → {SPECPIM_PAIR[1]}")
    ax.legend()
    fig.tight_layout()
    path = out_dir / "peers_specpim.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    text.append(f"![SpecPIM search]({path.name})\n")
    return "\n".join(text), [path]


def _specpim_event_check(best: dict[str, Any], quick: bool, seed: int) -> str:
    """Run the event-simulated ``specpim`` system with the found design and with its default."""
    from ahasd.systems import simulate

    base = {"system": "specpim", "draft": SPECPIM_PAIR[0], "target": SPECPIM_PAIR[1],
            "tokens": 256 if quick else 1024, "seed": seed}  # fmt: skip
    from ahasd.explore.specpim_eval import total_units, variant

    found = simulate(**base, specpim_design=best["best"]["design"])
    default = simulate(**base)
    arch = best["best"]["design"]["arch"]
    normal = total_units(arch["memory"]) - arch["pim_units"]
    ga_bw = variant(arch["memory"], arch["target_units"], normal).device("gpu").mem_bw_bytes_per_s
    from ahasd.hardware import load_platform

    preset_bw = load_platform("specpim-2x4090l-hbmpim").device("gpu").mem_bw_bytes_per_s
    return (
        f"Event simulator, `specpim` system: with the GA design (γ = {best['gamma']}, its "
        f"op→engine maps) {found.throughput_tok_s:.1f} tok/s; with its built-in per-op search "
        f"at γ = {default.extras.get('gamma')} {default.throughput_tok_s:.1f} tok/s. The system "
        "applies the design's op→engine maps and γ on the preset's architecture; the GA's "
        "stack split is not modelled by that driver. Most of the gap to the GA's analytic "
        f"figure is that architecture: the design leaves {normal} stacks as normal memory the "
        f"xPU reads ({ga_bw / 1e9:.0f} GB/s for the xPU vs the preset's "
        f"{preset_bw / 1e9:.0f} GB/s).\n"
    )


# ---- edge ----------------------------------------------------------------------------------
def _edge(out_dir: Path, quick: bool, seed: int) -> tuple[str, list[Path]]:
    from ahasd.report.host import measure_host
    from ahasd.systems.edge_compare import compare_plans, plan_context

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
        _md_table(
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
        f"CPU; our best plan is {rows[0]['label']} at {rows[0]['speedup']:.2f}x.\n",
        measure_host(quick=quick, seed=seed),
    ]
    plt = _plt()
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
    path = out_dir / "peers_edge.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    text.append(f"![edge plans]({path.name})\n")
    return "\n".join(text), [path]
