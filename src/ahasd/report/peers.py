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


def build_peer_sections(
    out_dir: Path, *, quick: bool, seed: int, jobs: int, progress: Any = None
) -> list[Section]:
    """One section each for LP-Spec, the SpecPIM search and edge-hetero (``jobs`` unused:
    each section runs in well under the report's budget in-process); ``progress(label, done,
    total, note)`` names the section being built."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = [
        ("LP-Spec (hybrid LPDDR5-PIM, Medusa tree, DTP + DAU)", _lpspec),
        ("SpecPIM architecture + dataflow search", _specpim),
        ("Edge CPU/GPU partitioning (compiler-assisted SD)", _edge),
    ]
    report = progress or (lambda *_: None)
    sections = []
    for title, fn in parts:
        report("peer sections", len(sections), len(parts), title.split(" (")[0])
        sections.append(_safe(title, fn, out_dir, quick, seed))
    report("peer sections", len(parts), len(parts))
    return sections


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

    def reading(switch: str, option: str) -> dict[str, Any]:
        return {**base, "platform_overrides": {f"switches.{switch}": option}}

    return {
        "lpspec": simulate_lpspec(base),
        "lpspec (no NMC)": simulate_lpspec(base, LpSpecOptions(use_nmc=False)),
        "lpspec (static 63-node tree)": simulate_lpspec(base, LpSpecOptions(use_pruner=False)),
        # CAPIM's validation point, L_spec = 8 (research/peers.md §3.6): a reference, not a fit
        "lpspec (static 8-node tree)": simulate_lpspec(
            base, LpSpecOptions(use_pruner=False, static_tree_nodes=8)
        ),
        "gemv-pim-si": simulate_lpspec(base, LpSpecOptions(mode="pim", use_pruner=False)),
        "lpspec [409.6 GB/s internal]": simulate_lpspec(reading("internal_bw", "text")),
        "lpspec [409.6 GOPS total]": simulate_lpspec(reading("gops", "aggregate")),
    }


def _lpspec(out_dir: Path, quick: bool, seed: int) -> tuple[str, list[Path]]:
    from ahasd.systems.lpspec.compare import PUBLISHED, TOLERANCE, dau_table, edp_s_mj

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
    text.append(_lpspec_ratio_table(main, npu, runs["gemv-pim-si"]))
    pub_npu = PUBLISHED["npu-ar"]
    base_rows = [
        ["mobile NPU (AR)", f"{pub_npu['throughput_tok_s']:.2f}", f"{npu['throughput_tok_s']:.2f}",
         f"{pub_npu['tokens_per_joule']:.2f}", f"{npu['tokens_per_joule']:.2f}", "-"],
        ["GEMV-PIM (AR, 102.4 GOPS/die)", "-", f"{gemv['throughput_tok_s']:.1f}", "-",
         f"{gemv['tokens_per_joule']:.2f}", "-"],
    ]  # fmt: skip
    for name, r in runs.items():
        base_rows.append(
            [name, "-", f"{r.throughput_tok_s:.1f}", "-", f"{r.tokens_per_joule:.2f}",
             f"{edp_s_mj(r):.3g}"]
        )  # fmt: skip
    text += [
        "### Systems on the same substrate\n",
        _md_table(
            [
                "system",
                "published tok/s",
                "ours tok/s",
                "published tok/J",
                "ours tok/J",
                "EDP s·mJ",
            ],
            base_rows,
        ),  # fmt: skip
        _lpspec_gap(runs, main, dau),
        "",
    ]
    figs = [_lpspec_figure(out_dir, runs, dau)]
    text.append(f"![LP-Spec]({figs[0].name})\n")
    return "\n".join(text), figs


def _lpspec_ratio_table(main: Any, npu: dict[str, float], pim_si: Any) -> str:
    from ahasd.systems.lpspec.compare import PUBLISHED

    thr = main.throughput_tok_s / npu["throughput_tok_s"]
    eff = main.tokens_per_joule / npu["tokens_per_joule"]
    pub = PUBLISHED["ratios"]
    rows = [
        ["throughput vs mobile NPU", f"{pub['throughput']}x", f"{thr:.2f}x"],
        ["energy efficiency vs mobile NPU", f"{pub['energy_efficiency']}x", f"{eff:.2f}x"],
        ["EDP reduction vs mobile NPU", f"{pub['edp']}x", f"{thr * eff:.2f}x"],
        [
            "energy efficiency vs GEMV-PIM SI ([S])",
            f"{PUBLISHED['pim_si_energy_ratio']}x",
            f"{main.tokens_per_joule / pim_si.tokens_per_joule:.2f}x",
        ],
    ]
    return "### LP-Spec's ratios, published beside ours\n\n" + _md_table(
        ["ratio", "published", "ours"], rows
    )


def _per_token_mj(result: Any) -> dict[str, float]:
    n = result.committed_tokens
    return {k: 1e3 * v / n for k, v in sorted(result.energy_by_component.items()) if v > 0}


def _npu_energy_parts(kv: int) -> tuple[dict[str, float], float, float, float]:
    """Mobile-NPU AR step: (dynamic mJ per component, seconds, off-chip GB, static mJ)."""
    from ahasd.hardware import load_platform
    from ahasd.models import load_model
    from ahasd.systems.lpspec.cost import LpSpecCosts

    plat = load_platform("lpspec-mobile")
    costs = LpSpecCosts(
        plat, load_model("llama2-7b"), mode="npu", precision="int8", n_heads=0, kv_bucket=1
    )
    step = costs(1, kv, heads=False)
    parts: dict[str, float] = {}
    for _dev, comps in step.energy:
        for k, v in comps.items():
            parts[k] = parts.get(k, 0.0) + v * 1e3
    pj = plat.device("lpddr5").off_chip_j_per_bit
    gbytes = parts.get("mem_off_chip", 0.0) * 1e-3 / (8 * pj) / 1e9
    return parts, step.seconds, gbytes, costs.static_w * step.seconds * 1e3


def _lpspec_gap(runs: dict[str, Any], main: Any, dau: list[dict[str, Any]]) -> str:
    """Say where the gap comes from, with the run's own numbers (nothing here is a fitted value)."""
    from ahasd.systems.lpspec.compare import PUBLISHED

    ex = main.extras
    pub = PUBLISHED["lpspec"]
    npu = ex["baselines"]["npu-ar"]
    step = next(r for r in dau if r["tokens"] == 5)  # first token that opens a second pass
    txt, agg = runs["lpspec [409.6 GB/s internal]"], runs["lpspec [409.6 GOPS total]"]
    parts = _per_token_mj(main)
    total = sum(parts.values())
    nonmc = runs["lpspec (no NMC)"]
    npu_parts, npu_s, npu_gb, static_mj = _npu_energy_parts(256)
    budget_mj = 1e3 / PUBLISHED["npu-ar"]["tokens_per_joule"]
    other = sum(v for k, v in npu_parts.items() if k != "mem_off_chip") + static_mj
    implied_pj = (budget_mj - other) * 1e-3 / (npu_gb * 1e9 * 8) * 1e12 if npu_gb else 0.0
    lines = [
        "### Where we differ and why\n",
        f"* Throughput ({main.throughput_tok_s:.1f} vs {pub['throughput_tok_s']} tok/s, "
        f"{main.throughput_tok_s / pub['throughput_tok_s']:.2f}x): the pruner keeps "
        f"{ex['mean_tree_nodes']:.1f} tree nodes on average (τ = {main.tau:.2f}), exactly what "
        f"fits one PIM weight pass with the root (N_ALU = 4): a DAU-split pass takes "
        f"{dau[0]['split_s'] * 1e3:.2f} ms for 1–4 tokens and {step['split_s'] * 1e3:.2f} ms "
        f"from 5 tokens. The pass time follows from the preset's default reading of LP-Spec "
        "Table II (409.6 GOPS per PIM die × 12 dies, each ALU one token, 51.2 TB/s internal). "
        f"LP-Spec's §II-B reading of the internal bandwidth (409.6 GB/s, "
        f"`switches.internal_bw=text`) gives {txt.throughput_tok_s:.1f} tok/s and "
        f"{txt.tokens_per_joule:.2f} tok/J; 409.6 GOPS for the whole PIM "
        f"(`switches.gops=aggregate`) gives {agg.throughput_tok_s:.1f} tok/s. The paper's "
        "figure sits between readings of its own Table II; we report them, not a fitted one.\n",
        f"* Energy ({main.tokens_per_joule:.2f} vs {pub['tokens_per_joule']} tok/J): per token "
        f"we spend {total:.1f} mJ (published {1e3 / pub['tokens_per_joule']:.1f} mJ): "
        + ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
        + f". The NPU's column share (weight share {ex['mean_r_npu']:.3f}) is read from the "
        "DRAM rank over the bus at 3.59 pJ/bit against 0.55 pJ/bit in-bank, so the DAU's "
        "latency-optimal split costs energy: without the near-data controller (every operator "
        f"wholly on PIM) we get {nonmc.throughput_tok_s:.1f} tok/s and "
        f"{nonmc.tokens_per_joule:.2f} tok/J. LP-Spec publishes no absolute LPDDR5 pJ/bit; "
        "the preset uses AttAcc's constants (peers.md §3.2, §3.6).\n",
        f"* Mobile NPU ({npu['throughput_tok_s']:.2f} tok/s, {npu['tokens_per_joule']:.2f} tok/J "
        f"vs ≈ {PUBLISHED['npu-ar']['throughput_tok_s']:.2f} / "
        f"{PUBLISHED['npu-ar']['tokens_per_joule']:.2f}): a step reads {npu_gb:.2f} GB over "
        f"the 51.2 GB/s bus ({npu_s * 1e3:.0f} ms); of its "
        f"{sum(npu_parts.values()) + static_mj:.0f} mJ, "
        f"{npu_parts.get('mem_off_chip', 0.0):.0f} mJ are off-chip reads and "
        f"{static_mj:.0f} mJ background power. The published {budget_mj:.0f} mJ per token "
        f"would need ≈ {implied_pj:.2f} pJ/bit off-chip with everything else unchanged "
        "(derived here to show the sensitivity, not applied).\n",
        f"* GEMV-PIM SI ({runs['gemv-pim-si'].tokens_per_joule:.2f} tok/J): it verifies a "
        f"static {runs['gemv-pim-si'].extras['mean_tree_nodes']:.0f}-node Medusa tree at one "
        "token per weight pass, so every node costs a full pass of the weights; the published "
        "2.85x ([S], a summary) implies a much smaller tree, whose size our sources do not "
        "give.\n",
        "* Medusa heads: the trace has one rank per position, so every head sees the same "
        "accuracy (no decay with depth); the pruner is our stand-in stop rule (peers.md §3.7), "
        "not LP-Spec's unpublished estimator.\n",
    ]
    return "\n".join(lines)


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
        f"CPU; our best plan is {rows[0]['label']} at {rows[0]['speedup']:.2f}x. "
        + _edge_why(ctx)
        + "\n",
        _edge_measured(quick),
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
