"""Off-chip traffic per committed token and memory-bus utilisation, per system and pair.

Read from the rows' ``memory.*`` columns (``Result.memory`` flattened: ``bytes_per_token``,
``channels`` as a JSON list of {channel, busy_s, utilisation, bytes}). A system without a memory
model has none, and its cells say "n/a" rather than a made-up zero.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from ahasd.report.table import Row, fmt, markdown_table, mean, ordered

NA = "n/a"


def _channels(row: Row) -> list[dict]:
    raw = row.get("memory.channels")
    if not raw:
        return []
    try:
        chans = json.loads(raw) if isinstance(raw, str) else list(raw)
    except (TypeError, ValueError):
        return []
    return [c for c in chans if isinstance(c, dict)]


def _num(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _cell(values: Sequence[float], scale: float, digits: int) -> str:
    vals = [v for v in values if math.isfinite(v)]
    return fmt(mean(vals) * scale, digits) if vals else NA


def traffic_markdown(rows: Sequence[Row], variants: Sequence[str]) -> str:
    """Per pair × system: MB per token, mean and busiest channel utilisation (means over runs)."""
    pairs = ordered((str(r["pair"]) for r in rows), ())
    names = ordered((str(r["variant"]) for r in rows), variants)
    body = []
    for pair in pairs:
        for var in names:
            runs = [r for r in rows if r["pair"] == pair and r["variant"] == var]
            chans = [_channels(r) for r in runs]
            util = [mean(_num(c.get("utilisation")) for c in ch) for ch in chans if ch]
            busiest = [max(_num(c.get("utilisation")) for c in ch) for ch in chans if ch]
            per_tok = [_num(r.get("memory.bytes_per_token")) for r in runs]
            body.append([pair, var, _cell(per_tok, 1e-6, 1), _cell(util, 100, 1),
                         _cell(busiest, 100, 1)])  # fmt: skip
    table = markdown_table(
        ["pair", "system", "off-chip MB per token", "bus utilisation %", "busiest channel %"], body
    )
    text = (
        "Bytes moved over the off-chip bus per committed token and the share of wall time the "
        "memory channels are busy (mean over channels, and the busiest one), mean over "
        "algorithms and seeds."
    )
    if all(c == NA for line in body for c in line[2:]):
        return text + (
            " n/a for every system: none in this build reports a memory model yet "
            "(`Result.memory` is empty), so there is no measured traffic to show."
        )
    return f"{text}\n\n{table}"
