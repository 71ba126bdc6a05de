"""``ahasd reproduce``: run AHASD's evaluation matrix, write results.parquet, figures and report.

Runs go through ``ahasd.explore.get_executor`` (processes, ordered results), so the rows and
hence results.parquet do not depend on ``--jobs``. Everything written is atomic.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ahasd.errors import AhasdError, one_line
from ahasd.report import area, claims, differ, figures
from ahasd.report.atomic import write_bytes
from ahasd.report.matrix import (
    MatrixSpec,
    find_traces,
    pair_label,
    points,
    run_point,
    workload_markdown,
)
from ahasd.report.render import write_report
from ahasd.report.sections import Section
from ahasd.report.table import Row, fmt, markdown_table

LEADING = ("variant", "pair", "cfg.policy", "cfg.seed")


@dataclass
class Outcome:
    """What a reproduce run produced (the CLI prints it; tests inspect it)."""

    out_dir: Path
    rows: list[dict[str, Any]]
    claims: list[claims.ClaimResult]
    files: list[Path]
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def rows_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """A Parquet-ready table over the union of the rows' columns (missing → null)."""
    names = list(dict.fromkeys(k for r in rows for k in r))
    cols = [c for c in LEADING if c in names] + sorted(c for c in names if c not in LEADING)
    arrays = []
    for c in cols:
        vals = [r.get(c) for r in rows]
        try:
            arrays.append(pa.array(vals))
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types across systems
            arrays.append(pa.array([None if v is None else str(v) for v in vals]))
    return pa.Table.from_arrays(arrays, names=cols)


def write_parquet(rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    buf = io.BytesIO()
    pq.write_table(rows_table(rows), buf)
    return write_bytes(path, buf.getvalue())


def run_matrix(
    spec: MatrixSpec, *, jobs: int | None, traces: Mapping[str, Path] | None
) -> list[dict[str, Any]]:
    """Every point of ``spec`` through the executor; rows in matrix order."""
    from ahasd.explore import get_executor

    pts = points(spec, traces)
    executor = get_executor("local", jobs=jobs)
    return list(executor.map(run_point, pts, desc=f"reproduce: {len(pts)} runs"))


def _timeline_section(out: Path, spec: MatrixSpec, traces: Mapping[str, Path] | None) -> Section:
    """One AHASD run with its timeline: a Gantt excerpt and a Perfetto trace file."""
    from ahasd.systems import simulate

    draft, target = spec.pairs[min(1, len(spec.pairs) - 1)]
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


def _matrix_sections(
    out: Path,
    rows: Sequence[Row],
    spec: MatrixSpec,
    res: Sequence[claims.ClaimResult],
    traces: Mapping[str, Path] | None = None,
) -> list[Section]:
    f = figures
    figs = [
        f.relative_bars(
            rows,
            "throughput_tok_s",
            out / "throughput.png",
            title="Throughput relative to gpu-only (mean ± std over seeds)",
            ylabel="throughput / gpu-only",
        ),
        f.relative_bars(
            rows,
            "tokens_per_joule",
            out / "energy_efficiency.png",
            title="Energy efficiency (tokens/J) relative to gpu-only (mean ± std over seeds)",
            ylabel="tokens per joule / gpu-only",
        ),
    ]
    matrix = (
        f"{len(spec.pairs)} model pairs × {len(spec.policies)} drafting algorithms × "
        f"{len(spec.variants)} systems × {len(spec.seeds)} seed{'s' * (len(spec.seeds) != 1)}, "
        f"{spec.tokens} generated "
        f"tokens each ({len(rows)} runs).\n\n{workload_markdown(spec, traces)}"
    )
    return [
        Section("Headline: ours beside the paper's claims", claims.claims_markdown(res)),
        Section("Throughput and energy efficiency", matrix + "\n\n" + absolute_table(rows), figs),
        Section(
            "Ablation chain",
            "Each step's throughput and tokens/J relative to gpu-only, averaged over pairs × "
            "algorithms (bars: ours, error bars: std over cells; black ticks: the paper, "
            "research/ahasd.md §7).",
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


def absolute_table(rows: Sequence[Row]) -> str:
    """Absolute tokens/s and tokens/J per pair × variant (mean over policies and seeds)."""
    from ahasd.report.table import cells, mean, ordered

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


def _peer_sections(
    out: Path, *, quick: bool, jobs: int | None, progress: Any = None
) -> tuple[list[Section], str]:
    """The peer-system sections and a warning ("" when none); never raises."""
    if find_spec("ahasd.report.peers") is None:
        return [], ""
    from ahasd.report.peers import build_peer_sections

    try:
        sections = build_peer_sections(
            out, quick=quick, seed=0, jobs=jobs or os.cpu_count() or 1, progress=progress
        )
        return list(sections), ""
    except Exception as exc:  # a peer failure must not lose the AHASD report; it is reported
        return [Section("Peer systems", f"Not available: `{one_line(exc)}`.", [])], (
            f"peer sections failed: {one_line(exc)}"
        )


def _output_dir(out: Path) -> Path:
    """Create ``out`` (and parents) before any run starts; a bad path is a one-line error."""
    if out.exists() and not out.is_dir():
        raise AhasdError(f"out: {out} is a file; accepted: a folder (created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"out: cannot create {out} ({exc.strerror}); accepted: a writable folder"
        raise AhasdError(msg) from None
    if not os.access(out, os.W_OK):
        raise AhasdError(f"out: {out} is not writable; accepted: a writable folder")
    return out


def reproduce(
    out_dir: Path,
    *,
    spec: MatrixSpec,
    quick: bool,
    jobs: int | None = None,
    traces: Path | None = None,
    peers: bool = True,
    progress: Any = None,
) -> Outcome:
    """Run the matrix and write every output into ``out_dir``.

    ``peers=False`` leaves out the peer-system sections (LP-Spec, SpecPIM search, edge): tests
    of the AHASD part use it; the CLI always includes them. ``progress(label, done, total,
    note)`` follows the work after the matrix (which the executor's own bar shows).
    """
    out = _output_dir(Path(out_dir))
    trace_map = find_traces(traces, spec.pairs, min_tokens=spec.tokens) if traces else None
    t0 = time.perf_counter()
    rows = run_matrix(spec, jobs=jobs, traces=trace_map)
    timings = {"simulate": time.perf_counter() - t0}
    files = [write_parquet(rows, out / "results.parquet")]
    items = area.area_items()
    pct = 100.0 * area.total_mm2(items) / area.DIE_MM2
    res = claims.evaluate_claims(rows) + [
        claims.area_claim(pct, f"area model, {area.DIE_MM2:g} mm² die")
    ]
    t1 = time.perf_counter()
    report = progress or (lambda *_: None)
    report("report", 0, 1, "figures and tables")
    sections = _matrix_sections(out, rows, spec, res, trace_map)
    sections.append(Section("Area of AHASD's additions", area.area_markdown(items)))
    sections.append(_timeline_section(out, spec, trace_map))
    sections.append(
        Section("Where we differ from the paper and why", differ.differ_markdown(rows, res))
    )
    timings["figures"] = time.perf_counter() - t1
    report("report", 1, 1, "figures and tables")
    t2 = time.perf_counter()
    peer_sections, peer_warning = (
        _peer_sections(out, quick=quick, jobs=jobs, progress=progress) if peers else ([], "")
    )
    sections += peer_sections
    timings["peers"] = time.perf_counter() - t2
    intro = (
        f"Produced by `ahasd reproduce{' --quick' if quick else ''}` "
        f"(seeds {', '.join(map(str, spec.seeds))}). Rows: `results.parquet`, one per run "
        "with its full config. Claims are from research/ahasd.md §7; the simulator was not "
        "tuned to them."
    )
    files += list(write_report(out, "AHASD reproduction report", intro, sections))
    files += [p for s in sections for p in s.figures]
    timings["total"] = time.perf_counter() - t0
    return Outcome(out, rows, res, files, timings, [peer_warning] if peer_warning else [])
