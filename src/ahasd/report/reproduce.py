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
from ahasd.report import area, claims, differ, hardware_table, provenance
from ahasd.report.atomic import write_bytes
from ahasd.report.matrix import MatrixSpec, find_traces, points, run_point
from ahasd.report.matrix_sections import matrix_sections, timeline_section
from ahasd.report.render import write_report
from ahasd.report.sections import Section

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
    command: str | None = None,
    progress: Any = None,
    invert: bool = False,
) -> Outcome:
    """Run the matrix and write every output into ``out_dir``.

    ``peers=False`` leaves out the peer-system sections (LP-Spec, SpecPIM search, edge): tests
    of the AHASD part use it; the CLI always includes them. ``command`` is the command line the
    provenance section names (the CLI passes its own). ``progress(label, done, total, note)``
    follows the work after the matrix (which the executor's own bar shows). ``invert=True``
    adds "What it would take" (``ahasd invert``, report/invert.py).
    """
    out = _output_dir(Path(out_dir))
    prov = provenance.collect(command or f"(Python API) reproduce({out}, quick={quick}, {spec})")
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
    sections = matrix_sections(out, rows, spec, res, trace_map)
    sections.append(Section("Area of AHASD's additions", area.area_markdown(items)))
    sections.append(timeline_section(out, spec, trace_map))
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
    if invert:
        from ahasd.report.invert import build_section

        t3 = time.perf_counter()
        sections.append(build_section(out, quick=quick, jobs=jobs))
        timings["invert"] = time.perf_counter() - t3
    platforms = hardware_table.used_platforms(rows)
    if peers:
        from ahasd.report.peers import PEER_PLATFORMS

        platforms += [p for p in PEER_PLATFORMS if p not in platforms]
    sections.append(Section("Hardware parameters", hardware_table.hardware_markdown(platforms)))
    sections.append(Section("Provenance", provenance.provenance_markdown(prov)))
    intro = (
        f"Produced by `{prov.command}` at commit `{prov.commit[:12]}` on {prov.date_utc} "
        f"(seeds {', '.join(map(str, spec.seeds))}; details under Provenance). Rows: "
        "`results.parquet`, one per run with its full config. Claims are from [ahasd26] (keys "
        "in docs/references.md); the simulator was not tuned to them."
    )
    files += list(write_report(out, "AHASD reproduction report", intro, sections, toc=True))
    files += [p for s in sections for p in s.figures]
    timings["total"] = time.perf_counter() - t0
    return Outcome(out, rows, res, files, timings, [peer_warning] if peer_warning else [])
