"""The LP-Spec section: LP-Spec Table III beside ours, the baselines, and where we differ."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ahasd.report.peers.common import LPSPEC_PAIR, md_table, pyplot
from ahasd.report.style import OKABE_ITO, save


def _lpspec_runs(quick: bool, seed: int) -> dict[str, Any]:
    from ahasd.systems.lpspec import LpSpecOptions, simulate_lpspec

    base = {**LPSPEC_PAIR, "tokens": 256 if quick else 1024, "seed": seed}

    def reading(switch: str, option: str) -> dict[str, Any]:  # Table II as printed, one reading
        overrides = {"switches.pim_rate": "published", f"switches.{switch}": option}
        return {**base, "platform_overrides": overrides}

    return {
        "lpspec": simulate_lpspec(base),
        "lpspec (no NMC)": simulate_lpspec(base, LpSpecOptions(use_nmc=False)),
        "lpspec (static 63-node tree)": simulate_lpspec(base, LpSpecOptions(use_pruner=False)),
        # CAPIM's validation point, L_spec = 8 ([capim]): a reference, not a fit
        "lpspec (static 8-node tree)": simulate_lpspec(
            base, LpSpecOptions(use_pruner=False, static_tree_nodes=8)
        ),
        "gemv-pim-si": simulate_lpspec(base, LpSpecOptions(mode="pim", use_pruner=False)),
        "lpspec [409.6 GB/s internal]": simulate_lpspec(reading("internal_bw", "text")),
        "lpspec [409.6 GOPS total]": simulate_lpspec(reading("gops", "aggregate")),
    }


def lpspec_command(config: dict[str, Any]) -> str:
    """The ``ahasd simulate`` command that reruns this section's main LP-Spec run."""
    return (
        f"ahasd simulate --system lpspec --draft {config['draft']} --target {config['target']} "
        f"--profile {config['profile']} --tokens {config['tokens']} --seed {config['seed']}"
    )


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
        f"Command: `{lpspec_command(main.config)}` prints the first table's 'ours' "
        "(tokens/s, tokens/J); the other rows are `ahasd reproduce` (this section).\n",
        "### LP-Spec vs LP-Spec Table III (LLaMA2-7B INT8, Medusa)\n",
        md_table(["metric", "published", "ours", "ours/published", "within ±15%"], rows),
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
        md_table(
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
            "energy efficiency vs GEMV-PIM SI (summary of [lpspec25])",
            f"{PUBLISHED['pim_si_energy_ratio']}x",
            f"{main.tokens_per_joule / pim_si.tokens_per_joule:.2f}x",
        ],
    ]
    return "### LP-Spec's ratios, published beside ours\n\n" + md_table(
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
        f"from 5 tokens. The pass time follows from the DRAM's command timing on the 12 PIM dies "
        "(docs/memory.md: 409.6 GOPS per die peak as in LP-Spec Table II, 16 bank ports x 16 "
        "lanes x 4 token ALUs at 1/tCCD_L, less row switching and refresh). Table II as printed "
        "(`switches.pim_rate=published`): with §II-B's internal bandwidth (409.6 GB/s, "
        f"`switches.internal_bw=text`) {txt.throughput_tok_s:.1f} tok/s and "
        f"{txt.tokens_per_joule:.2f} tok/J; with 409.6 GOPS for the whole PIM "
        f"(`switches.gops=aggregate`) {agg.throughput_tok_s:.1f} tok/s. The paper's figure "
        "sits between readings of its own Table II; we report them, not a fitted one.\n",
        f"* Energy ({main.tokens_per_joule:.2f} vs {pub['tokens_per_joule']} tok/J): per token "
        f"we spend {total:.1f} mJ (published {1e3 / pub['tokens_per_joule']:.1f} mJ): "
        + ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
        + f". The NPU's column share (weight share {ex['mean_r_npu']:.3f}) is read from the "
        "DRAM rank over the bus at 3.59 pJ/bit against 0.55 pJ/bit in-bank, so the DAU's "
        "latency-optimal split costs energy: without the near-data controller (every operator "
        f"wholly on PIM) we get {nonmc.throughput_tok_s:.1f} tok/s and "
        f"{nonmc.tokens_per_joule:.2f} tok/J. LP-Spec publishes no absolute LPDDR5 pJ/bit; "
        "the preset uses AttAcc's constants ([attacc-sim], as [capim] reads them).\n",
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
        "2.85x (from a summary of [lpspec25]) implies a much smaller tree, whose size our "
        "sources do not give.\n",
        "* Medusa heads: the trace has one rank per position, so every head sees the same "
        "accuracy (no decay with depth); the pruner is our stand-in stop rule (docs/peers.md), "
        "not LP-Spec's unpublished estimator.\n",
    ]
    return "\n".join(lines)


def _lpspec_figure(out_dir: Path, runs: dict[str, Any], dau: list[dict[str, Any]]) -> Path:
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    names = list(runs)
    ax1.barh(names, [runs[n].throughput_tok_s for n in names], color=OKABE_ITO[3])
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
    path = save(fig, out_dir / "peers_lpspec.png")
    return path
