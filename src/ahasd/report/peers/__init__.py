"""Report sections for the peer systems: LP-Spec, the SpecPIM search, and edge CPU/GPU plans.

Each section runs its experiments, writes its PNGs into ``out_dir`` and puts our figures beside the
published ones ([specpim24], [saddle26], [lpspec25] Table III, [edgesd] §IV). Numbers are never
tuned to match: where ours differ, the text states the gap and the arithmetic behind it. One module
per system: ``lpspec``, ``specpim``, ``edge``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ahasd.report.peers.common import EDGE_PAIR, LPSPEC_PAIR, PEER_PLATFORMS, SPECPIM_PAIR
from ahasd.report.peers.edge import _edge, _edge_measured
from ahasd.report.peers.lpspec import _lpspec
from ahasd.report.peers.specpim import _specpim
from ahasd.report.sections import Section

__all__ = [
    "EDGE_PAIR",
    "LPSPEC_PAIR",
    "PEER_PLATFORMS",
    "SPECPIM_PAIR",
    "_edge_measured",
    "build_peer_sections",
]


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
