"""AHASD's published claims beside our numbers, with the ratio ours / claimed.

Every claim is from [ahasd26] (its abstract and text; Table 4 for the
NPU+LPDDR5 rows; §6.1 ablation figure). "up to" claims are compared with the maximum over
(model pair × drafting algorithm) cells; averaged claims with the arithmetic mean of the per-cell
ratios (each cell's ratio is taken on seed means). Nothing here is tuned: the claims are only
printed next to what the simulator produced.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from ahasd.report.table import Row, fmt, markdown_table, mean, ratios

TPUT, EE = "throughput_tok_s", "tokens_per_joule"


@dataclass(frozen=True, slots=True)
class Claim:
    label: str
    claimed: float
    metric: str
    num: str  # variant in the numerator
    den: str  # variant in the denominator
    agg: Literal["max", "mean"]
    invert: bool = False  # den/num instead (energy per token from tokens per joule)
    source: str = "[ahasd26]"

    @property
    def matched(self) -> str:
        """The denominator re-hosted at mobile scale (gpu-mobile, specpim-mobile), or ""."""
        return MATCHED.get(self.den, "")


# Baselines as printed -> the same baseline at matched (mobile) scale (matrix variants)
MATCHED = {"gpu-only": "gpu-only-mobile", "specpim": "specpim-mobile"}


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "throughput vs gpu-only (up to)",
        4.2,
        TPUT,
        "ahasd",
        "gpu-only",
        "max",
        source="[ahasd26] abstract",
    ),
    Claim(
        "tokens/J vs gpu-only (up to)",
        5.6,
        EE,
        "ahasd",
        "gpu-only",
        "max",
        source="[ahasd26] abstract",
    ),
    Claim(
        "throughput vs specpim (up to)",
        1.5,
        TPUT,
        "ahasd",
        "specpim",
        "max",
        source="[ahasd26] abstract",
    ),
    Claim(
        "tokens/J vs specpim (up to)",
        1.24,
        EE,
        "ahasd",
        "specpim",
        "max",
        source="[ahasd26] abstract",
    ),
    Claim(
        "throughput vs npu-only",
        3.10,
        TPUT,
        "ahasd",
        "npu-only",
        "mean",
        source="[ahasd26] Table 4",
    ),
    Claim(
        "energy/token vs npu-only",
        0.48,
        EE,
        "ahasd",
        "npu-only",
        "mean",
        invert=True,
        source="[ahasd26] Table 4",
    ),
    Claim(
        "ablation: npu-pim-async vs gpu-only",
        2.2,
        TPUT,
        "npu-pim-async",
        "gpu-only",
        "mean",
        source="[ahasd26] §6.1 ablation",
    ),
    Claim(
        "ablation: +aau vs gpu-only",
        2.7,
        TPUT,
        "+aau",
        "gpu-only",
        "mean",
        source="[ahasd26] §6.1 ablation",
    ),
    Claim(
        "ablation: +edc vs gpu-only",
        3.4,
        TPUT,
        "+edc",
        "gpu-only",
        "mean",
        source="[ahasd26] §6.1 ablation",
    ),
    Claim(
        "ablation: ahasd (+tvc) vs gpu-only",
        3.8,
        TPUT,
        "ahasd",
        "gpu-only",
        "mean",
        source="[ahasd26] §6.1 ablation",
    ),
    Claim(
        "ablation tokens/J: npu-pim-async",
        1.9,
        EE,
        "npu-pim-async",
        "gpu-only",
        "mean",
        source="[ahasd26] §6.1 ablation",
    ),
    Claim(
        "ablation tokens/J: +aau",
        2.6,
        EE,
        "+aau",
        "gpu-only",
        "mean",
        source="[ahasd26] §6.1 ablation",
    ),
    Claim(
        "ablation tokens/J: +edc",
        4.5,
        EE,
        "+edc",
        "gpu-only",
        "mean",
        source="[ahasd26] §6.1 ablation",
    ),
    Claim(
        "ablation tokens/J: ahasd",
        5.2,
        EE,
        "ahasd",
        "gpu-only",
        "mean",
        source="[ahasd26] §6.1 ablation",
    ),
)

AREA_CLAIM_PCT = 3.0  # "< 3% of the DRAM die", [ahasd26] abstract

# The four ablation steps of the throughput chain, in order (contracts.md, sim and systems).
ABLATION = ("npu-pim-async", "+aau", "+edc", "ahasd")


@dataclass(frozen=True, slots=True)
class ClaimResult:
    claim: Claim
    ours: float  # NaN when the matrix lacks the variants
    where: str  # the (pair, policy) cell of a maximum; "" for means
    n_cells: int
    platform: str = ""  # the denominator's platform
    matched: float = math.nan  # ours against the matched-scale baseline (NaN: none)
    matched_platform: str = ""

    @property
    def ratio(self) -> float:
        return self.ours / self.claim.claimed if self.claim.claimed else math.nan


def _aggregate(rows: Sequence[Row], c: Claim, den: str) -> tuple[float, str, int]:
    """(value, the max's cell or "", cells) of claim ``c`` against denominator variant ``den``."""
    per_cell = ratios(rows, c.metric, c.num, den, invert=c.invert)
    if not per_cell:
        return math.nan, "", 0
    if c.agg == "max":
        key = max(per_cell, key=per_cell.__getitem__)
        return per_cell[key], f"{key[0]}, {key[1]}", len(per_cell)
    return mean(per_cell.values()), "", len(per_cell)


def _platform(rows: Sequence[Row], variant: str) -> str:
    return next((str(r["cfg.platform"]) for r in rows
                 if r.get("variant") == variant and r.get("cfg.platform")), "")  # fmt: skip


def evaluate_claims(rows: Sequence[Row], claims: Iterable[Claim] = CLAIMS) -> list[ClaimResult]:
    """Our number for every claim from the result rows, as printed and at matched scale."""
    out = []
    for c in claims:
        ours, where, n = _aggregate(rows, c, c.den)
        matched = _aggregate(rows, c, c.matched)[0] if c.matched else math.nan
        out.append(ClaimResult(c, ours, where, n, _platform(rows, c.den), matched,
                               _platform(rows, c.matched) if c.matched else ""))  # fmt: skip
    return out


def area_claim(total_pct: float, basis: str) -> ClaimResult:
    """The area claim as a ClaimResult (ours = our area model's % of the cited die)."""
    c = Claim(
        "area of additions, % of DRAM die (< 3)",
        AREA_CLAIM_PCT,
        "area",
        "ahasd",
        "die",
        "max",
        source="[ahasd26] abstract and area table",
    )
    return ClaimResult(c, total_pct, basis, 1)


def claims_markdown(results: Sequence[ClaimResult]) -> str:
    """The headline table as Markdown: claim, paper, ours (baseline as printed, and at matched
    scale, each with the baseline's platform), ours/claimed, where, source."""
    body = [
        (
            r.claim.label,
            f"{r.claim.claimed:g}",
            fmt(r.ours),
            r.platform or "—",
            fmt(r.ratio),
            fmt(r.matched) if r.claim.matched else "—",
            r.matched_platform or "—",
            r.where or f"mean of {r.n_cells} cells",
            r.claim.source,
        )
        for r in results
    ]
    head = ["claim", "paper", "ours", "baseline on", "ours/claimed", "ours, matched scale",
            "matched baseline on", "cell (max) / basis", "source"]  # fmt: skip
    return markdown_table(head, body)
