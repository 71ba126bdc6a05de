"""One section of the ``ahasd reproduce`` report (docs/dev/contracts.md, report).

Sections are built by whoever owns the results they describe (AHASD's matrix here, the peer
systems in ``report/peers.py``) and rendered in order by ``report/render.py`` into report.md and
a self-contained report.html.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Section:
    """A titled block of Markdown plus the PNG figures it refers to by file name."""

    title: str
    markdown: str  # body, may contain tables; figures referenced by file name
    figures: list[Path] = field(default_factory=list)  # PNGs written into the output dir
