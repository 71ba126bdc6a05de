"""What the peer-system sections share: the pairs they run and small rendering helpers."""

from __future__ import annotations

from ahasd.report.style import plt
from ahasd.report.table import markdown_table

LPSPEC_PAIR = {"draft": "llama2-7b", "target": "llama2-7b", "profile": "llama2-7b-medusa"}
SPECPIM_PAIR = ("llama2-7b", "llama2-13b")  # AHASD's middle pair, its SpecPIM baseline
EDGE_PAIR = ("llama-3.2-1b", "llama-3.2-3b")  # paper C: Llama-3.2-3B target ([edgesd] §IV)
# the presets the sections run on, at their default readings (for the hardware table)
PEER_PLATFORMS = [("lpspec-mobile", {}), ("specpim-2x4090l-hbmpim", {}), ("edge-imx95", {})]


def md_table(header: list[str], rows: list[list[str]]) -> str:
    return markdown_table(header, rows) + "\n"


def pyplot():
    """matplotlib.pyplot with the report's colour-blind-safe palette as the default cycle."""
    return plt
