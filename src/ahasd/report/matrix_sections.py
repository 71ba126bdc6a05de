"""The report sections built from AHASD's evaluation matrix (the rows of results.parquet).

Absolute throughput and energy come first, with the ceilings of "Where we differ" drawn on the
throughput plot; then the ratios to gpu-only the paper reports, the latency split, memory
traffic, the ablation chain, utilisation and energy, draft lengths and a timeline excerpt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.util import find_spec
from pathlib import Path

from ahasd.report import claims, differ, figures, latency, traffic
from ahasd.report.matrix import VARIANTS, MatrixSpec, pair_label, workload_markdown
from ahasd.report.sections import Section
from ahasd.report.table import Row, cells, fmt, markdown_table, mean, ordered


def middle_pair(spec: MatrixSpec) -> tuple[str, str]:
    """The pair the single-run sections use (llama2-7b → llama2-13b in the full matrix)."""
    return spec.pairs[min(1, len(spec.pairs) - 1)]


def ceilings(rows: Sequence[Row]) -> dict[str, list[tuple[str, float]]]:
    """Per pair, the two AHASD bounds of "Where we differ" (tokens/s), for the throughput plot."""
    return {
        pair: [("AHASD bus bound τ/t_pass", b["bus_bound"]),
               ("AHASD PIM-draft bound", b["draft_bound"])]
        for pair, b in differ.pair_bounds(rows).items()
    }  # fmt: skip


def absolute_table(rows: Sequence[Row]) -> str:
    """Absolute tokens/s and tokens/J per pair × variant (mean over policies and seeds)."""
    t, e = cells(rows, "throughput_tok_s"), cells(rows, "tokens_per_joule")
    pairs = ordered((k[0] for k in t), ())
    variants = ordered((k[2] for k in t), figures.VARIANTS)
    body = []
    for v in variants:
        line = [v]
        for p in pairs:
            line.append(fmt(mean(s.mean for k, s in t.items() if k[0] == p and k[2] == v), 1))
            line.append(fmt(mean(s.mean for k, s in e.items() if k[0] == p and k[2] == v), 2))
        body.append(line)
    head = ["system"] + [f"{p} {u}" for p in pairs for u in ("tok/s", "tok/J")]
    return markdown_table(head, body)


def _absolute_section(out: Path, rows: Sequence[Row], spec: MatrixSpec, workloads: str) -> Section:
    f = figures
    figs = [
        f.absolute_bars(rows, "throughput_tok_s", out / "throughput_abs.png",
                        title="Throughput (tokens/s, mean ± std over seeds); lines: AHASD's "
                        "ceilings", ylabel="tokens per second", ceilings=ceilings(rows)),
        f.absolute_bars(rows, "tokens_per_joule", out / "energy_abs.png",
                        title="Energy efficiency (tokens/J, mean ± std over seeds)",
                        ylabel="tokens per joule"),
    ]  # fmt: skip
    matrix = (
        f"{len(spec.pairs)} model pairs × {len(spec.policies)} drafting algorithms × "
        f"{len(spec.variants)} systems × {len(spec.seeds)} seed{'s' * (len(spec.seeds) != 1)}, "
        f"{spec.tokens} generated tokens each ({len(rows)} runs).\n\n{workloads}\n\n"
        'The lines on the throughput plot are AHASD\'s two ceilings from "Where we differ": '
        "the target's weights streamed over the NPU's bus once per verification (τ / t_pass), "
        "and PIM drafting τ − 1 tokens per verification. Means over algorithms and seeds:"
    )
    return Section("Throughput and energy", matrix + "\n\n" + absolute_table(rows), figs)


def _relative_section(out: Path, rows: Sequence[Row]) -> Section:
    f = figures
    figs = [
        f.relative_bars(rows, "throughput_tok_s", out / "throughput.png",
                        title="Throughput relative to gpu-only (mean ± std over seeds)",
                        ylabel="throughput / gpu-only"),
        f.relative_bars(rows, "tokens_per_joule", out / "energy_efficiency.png",
                        title="Energy efficiency (tokens/J) relative to gpu-only (mean ± std over "
                        "seeds)", ylabel="tokens per joule / gpu-only"),
    ]  # fmt: skip
    text = "The same runs as ratios to gpu-only, the form in which the paper reports them."
    return Section("Relative to gpu-only", text, figs)


def _latency_section(out: Path, spec: MatrixSpec, traces: Mapping[str, Path] | None) -> Section:
    draft, target = middle_pair(spec)
    label = pair_label(draft, target)
    base = {"draft": draft, "target": target, "policy": spec.policies[0], "tokens": spec.tokens,
            "seed": spec.seeds[0]}  # fmt: skip
    if (traces or {}).get(label):
        base["trace"] = str(traces[label])
    variants = {v: VARIANTS[v] for v in spec.variants}
    splits = latency.run_splits(variants, base)
    title = f"Per-token latency split, {label}, {spec.policies[0]}, seed {spec.seeds[0]}"
    fig = latency.split_figure(splits, out / "latency_split.png", title=title)
    text = (
        f"Where each committed token's wall time goes, one run per system ({label}, "
        f"{spec.policies[0]}, seed {spec.seeds[0]}, {spec.tokens} tokens, its timeline "
        "recorded). The wall time is split by priority so the parts add up: verify while any "
        "verification runs, draft while only drafting runs, other (mode switches) while only "
        "that runs, idle while nothing runs. Drafting hidden under a verification and drafts "
        "squashed by a rejection are shown beside it; memory contention comes from the memory "
        "model (n/a where a system has none).\n\n" + latency.split_markdown(splits)
    )
    return Section("Latency split per token", text, [fig])


def timeline_section(out: Path, spec: MatrixSpec, traces: Mapping[str, Path] | None) -> Section:
    """One AHASD run with its timeline: a Gantt excerpt and a Perfetto trace file."""
    from ahasd.systems import simulate

    draft, target = middle_pair(spec)
    policy = spec.policies[0]
    trace = (traces or {}).get(pair_label(draft, target))
    res = simulate(
        system="ahasd",
        draft=draft,
        target=target,
        policy=policy,
        tokens=min(spec.tokens, 256),
        seed=spec.seeds[0],
        record_timeline=True,
        trace=None if trace is None else str(trace),
    )
    spans = res.timeline or ()
    title = f"AHASD timeline, {pair_label(draft, target)}, {policy}: first 2 s"
    figs = [figures.gantt(spans, out / "timeline.png", title=title, window_s=2.0)]
    text = f"An excerpt of one AHASD run ({pair_label(draft, target)}, {policy})."
    if find_spec("ahasd.report.timeline") is not None:
        from ahasd.report.timeline import write_chrome_trace

        write_chrome_trace(res, out / "timeline-ahasd.json.gz")
        text += " The whole run is in `timeline-ahasd.json.gz` (open it at ui.perfetto.dev)."
    return Section("Timeline excerpt", text, figs)


def matrix_sections(
    out: Path,
    rows: Sequence[Row],
    spec: MatrixSpec,
    res: Sequence[claims.ClaimResult],
    traces: Mapping[str, Path] | None = None,
) -> list[Section]:
    f = figures
    return [
        Section("Headline: ours beside the paper's claims", claims.claims_markdown(res)),
        _absolute_section(out, rows, spec, workload_markdown(spec, traces)),
        _relative_section(out, rows),
        _latency_section(out, spec, traces),
        Section("Memory traffic", traffic.traffic_markdown(rows, f.VARIANTS)),
        Section(
            "Ablation chain",
            "Each step's throughput and tokens/J relative to gpu-only, averaged over pairs × "
            "algorithms (bars: ours, error bars: std over cells; black ticks: the paper, "
            "[ahasd26] §6.1).",
            [f.ablation_chain(rows, out / "ablation.png")],
        ),
        Section(
            "Device utilisation and energy",
            "Utilisation: the share of wall time each device of a system's platform is busy "
            "(idle is the rest), mean over pairs, algorithms and seeds. Energy: joules per "
            "committed token by component, including static power over the whole wall time, "
            "per pair.",
            [
                f.utilisation(rows, out / "utilisation.png"),
                f.energy_breakdown(rows, out / "energy_breakdown.png"),
            ],
        ),
        Section(
            "Draft lengths",
            "How long the drafting algorithms' batches are under AHASD.",
            [f.draft_length_hist(rows, out / "draft_lengths.png")],
        ),
    ]
