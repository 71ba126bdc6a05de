"""Aggregation of result rows (``Result.to_row()`` plus the reproduce labels) without pandas.

A *cell* is one (pair, policy, variant); its runs differ only in the seed. Means and spreads are
over seeds; ratios between variants are taken cell by cell on the seed means.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Row = Mapping[str, Any]
CellKey = tuple[str, str, str]  # (pair, policy, variant)


@dataclass(frozen=True, slots=True)
class Stat:
    """Mean, sample standard deviation and count of one metric over a cell's seeds."""

    mean: float
    std: float
    n: int


def stat(values: Sequence[float]) -> Stat:
    """Mean and sample std (0 for a single value); NaN-free inputs expected."""
    n = len(values)
    if n == 0:
        return Stat(math.nan, math.nan, 0)
    mean = math.fsum(values) / n
    if n == 1:
        return Stat(mean, 0.0, 1)
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return Stat(mean, math.sqrt(var), n)


def cell_key(row: Row) -> CellKey:
    return (str(row["pair"]), str(row["cfg.policy"]), str(row["variant"]))


def cells(rows: Iterable[Row], metric: str) -> dict[CellKey, Stat]:
    """Seed statistics of ``metric`` per cell, in first-seen order."""
    groups: dict[CellKey, list[float]] = {}
    for row in rows:
        value = row.get(metric)
        if value is None:
            continue
        groups.setdefault(cell_key(row), []).append(float(value))
    return {k: stat(v) for k, v in groups.items()}


def ratios(
    rows: Iterable[Row], metric: str, num: str, den: str, *, invert: bool = False
) -> dict[tuple[str, str], float]:
    """Per (pair, policy): mean(metric of ``num``) / mean(metric of ``den``).

    ``invert`` gives den/num (e.g. energy per token from tokens per joule). Cells where either
    side is missing or the denominator is zero are left out.
    """
    by_cell = cells(rows, metric)
    out: dict[tuple[str, str], float] = {}
    for (pair, policy, variant), s in by_cell.items():
        if variant != num:
            continue
        d = by_cell.get((pair, policy, den))
        if d is None or not d.mean or not s.mean:
            continue
        out[(pair, policy)] = d.mean / s.mean if invert else s.mean / d.mean
    return out


def mean(values: Iterable[float]) -> float:
    vals = list(values)
    return math.fsum(vals) / len(vals) if vals else math.nan


def ordered(values: Iterable[str], preferred: Sequence[str]) -> list[str]:
    """Unique ``values`` ordered by ``preferred`` first, the rest in first-seen order."""
    seen = list(dict.fromkeys(values))
    head = [v for v in preferred if v in seen]
    return head + [v for v in seen if v not in head]


def markdown_table(header: Sequence[str], body: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table; numbers formatted by the caller."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in body]
    return "\n".join(lines)


def fmt(x: float, digits: int = 2) -> str:
    """Compact number for tables; NaN as an em dash."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.{digits}f}"
