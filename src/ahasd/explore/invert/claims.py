"""The claims ``ahasd invert`` checks: each a published figure and how to compute ours.

A claim is one number from a paper and a recipe: which system runs (``num``) against which
baseline (``den``, or a second field of the same run), on which workload cells, and how the
cells aggregate (``max`` for "up to", ``mean`` for averages, ``geomean`` for geomeans). Each cell
is one ``ahasd simulate`` run per side, so every value here can be re-derived from the CLI.
AHASD's claims match ``report/claims.py`` (a test keeps the two in step); sources are
``docs/references.md`` keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from ahasd.errors import AhasdError

TPUT, EE = "throughput_tok_s", "tokens_per_joule"
AREA = "area_pct"  # no runs: the area model of explore/area.py over the paper's die
DIE_MM2 = 50.0  # [ahasd26] §5.4: every % of the paper's area table divides by 50 mm²
TOLERANCE = 0.10  # "within ±10% of the claim"

# AHASD's evaluation matrix ([ahasd26] Table 1, §6): three pairs, four drafting algorithms
AHASD_PAIRS = (
    ("opt-1.3b", "opt-6.7b"),
    ("llama2-7b", "llama2-13b"),
    ("palm-like-8b", "palm-like-30b"),
)
AHASD_POLICIES = ("specdec-pp", "svip", "adaedl", "banditspec")


@dataclass(frozen=True, slots=True)
class Cell:
    """One workload: a model pair, a drafting policy (with arguments) and an optional profile."""

    draft: str
    target: str
    policy: str = "adaedl"
    policy_args: tuple[tuple[str, Any], ...] = ()
    profile: str | None = None

    @property
    def label(self) -> str:
        args = "".join(f" {k}={v}" for k, v in self.policy_args)
        return f"{self.draft}→{self.target}, {self.policy}{args}"


@dataclass(frozen=True, slots=True)
class Arm:
    """One side of a claim: a system with its feature flags (SimConfig fields)."""

    system: str
    flags: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        off = [k.removeprefix("use_") for k, v in self.flags if v is False]
        return self.system + (f" (no {', no '.join(off)})" if off else "")


@dataclass(frozen=True, slots=True)
class Claim:
    name: str  # kebab-case id for --claims
    label: str
    paper: str  # which paper makes it
    source: str  # docs/references.md key and where in the paper
    claimed: float
    metric: str  # a Result.to_row() column, or AREA
    num: Arm
    den: Arm | None = None  # None: metric / den_metric of the num run itself
    den_metric: str = ""
    invert: bool = False  # den / num (energy per token from tokens per joule)
    agg: Literal["max", "mean", "geomean"] = "mean"
    cells: tuple[Cell, ...] = ()
    tokens: int = 1024
    relation: Literal["approx", "at_most"] = "approx"
    scale: float = 1.0  # e.g. s·J -> s·mJ
    unit: str = "x"

    def holds(self, value: float) -> bool:
        """Within ±10% of the claim ("at_most": no more than 10% above the bound)."""
        if math.isnan(value):
            return False
        hi = self.claimed * (1 + TOLERANCE)
        return (
            value <= hi
            if self.relation == "at_most"
            else self.claimed * (1 - TOLERANCE) <= value <= hi
        )

    @property
    def arms(self) -> tuple[Arm, ...]:
        return (self.num,) if self.den is None else (self.num, self.den)


def _matrix() -> tuple[Cell, ...]:
    return tuple(Cell(d, t, p) for d, t in AHASD_PAIRS for p in AHASD_POLICIES)


_AHASD = Arm("ahasd")
_ASYNC = Arm("npu-pim-async")
_AAU = Arm("ahasd", (("use_edc", False), ("use_tvc", False)))
_EDC = Arm("ahasd", (("use_tvc", False),))
_GPU, _SPIM, _NPU = Arm("gpu-only"), Arm("specpim"), Arm("npu-only")


def _ahasd(name, label, claimed, metric, num, den, agg, source, **kw) -> Claim:
    return Claim(
        name, label, "AHASD", source, claimed, metric, num, den, agg=agg, cells=_matrix(), **kw
    )


_HEAD = "[ahasd26] abstract and §6 headline"
_ABL = "[ahasd26] §6.1 ablation figure"
_T4 = "[ahasd26] Table 4"

_STEPS = (
    ("npu-pim-async", _ASYNC, 2.2, 1.9),
    ("+aau", _AAU, 2.7, 2.6),
    ("+edc", _EDC, 3.4, 4.5),
    ("ahasd", _AHASD, 3.8, 5.2),
)

_SPECPIM_CELLS = tuple(Cell(d, t, "fixed", (("gamma", 8),)) for d, t in AHASD_PAIRS)
_LPSPEC_CELL = (Cell("llama2-7b", "llama2-7b", profile="llama2-7b-medusa"),)
_EDGE_CELL = (Cell("llama-3.2-1b", "llama-3.2-3b"),)
_LPSPEC, _EDGE = Arm("lpspec"), Arm("edge-hetero")

CLAIMS: tuple[Claim, ...] = (
    _ahasd(
        "ahasd-tput-vs-gpu",
        "AHASD throughput vs GPU-only (up to)",
        4.2,
        TPUT,
        _AHASD,
        _GPU,
        "max",
        _HEAD,
    ),
    _ahasd(
        "ahasd-ee-vs-gpu", "AHASD tokens/J vs GPU-only (up to)", 5.6, EE, _AHASD, _GPU, "max", _HEAD
    ),
    _ahasd(
        "ahasd-tput-vs-specpim",
        "AHASD throughput vs SpecPIM (up to)",
        1.5,
        TPUT,
        _AHASD,
        _SPIM,
        "max",
        _HEAD,
    ),
    _ahasd(
        "ahasd-ee-vs-specpim",
        "AHASD tokens/J vs SpecPIM (up to)",
        1.24,
        EE,
        _AHASD,
        _SPIM,
        "max",
        _HEAD,
    ),
    _ahasd(
        "ahasd-tput-vs-npu", "AHASD throughput vs NPU+LPDDR5", 3.10, TPUT, _AHASD, _NPU, "mean", _T4
    ),
    _ahasd(
        "ahasd-energy-vs-npu",
        "AHASD energy/token vs NPU+LPDDR5",
        0.48,
        EE,
        _AHASD,
        _NPU,
        "mean",
        _T4,
        invert=True,
    ),
    *(
        _ahasd(
            f"ablation-tput-{n.lstrip('+')}",
            f"ablation {n}: throughput vs GPU-only",
            t,
            TPUT,
            arm,
            _GPU,
            "mean",
            _ABL,
        )
        for n, arm, t, _e in _STEPS
    ),
    *(
        _ahasd(
            f"ablation-ee-{n.lstrip('+')}",
            f"ablation {n}: tokens/J vs GPU-only",
            e,
            EE,
            arm,
            _GPU,
            "mean",
            _ABL,
        )
        for n, arm, _t, e in _STEPS
    ),
    Claim(
        "ahasd-area",
        "AHASD additions, % of the DRAM die (< 3)",
        "AHASD",
        "[ahasd26] §5.4 area table",
        3.0,
        AREA,
        _AHASD,
        relation="at_most",
        unit="%",
    ),
    Claim(
        "specpim-tput-vs-gpu-sd",
        "SpecPIM throughput vs GPU speculative decoding (geomean)",
        "SpecPIM",
        "[specpim24] abstract",
        1.52,
        TPUT,
        _SPIM,
        _GPU,
        agg="geomean",
        cells=_SPECPIM_CELLS,
    ),
    Claim(
        "specpim-ee-vs-gpu-sd",
        "SpecPIM tokens/J vs GPU speculative decoding (geomean)",
        "SpecPIM",
        "[specpim24] abstract",
        6.67,
        EE,
        _SPIM,
        _GPU,
        agg="geomean",
        cells=_SPECPIM_CELLS,
    ),
    Claim(
        "lpspec-tput",
        "LP-Spec throughput, LLaMA2-7B INT8",
        "LP-Spec",
        "[lpspec25] Table III",
        73.4,
        TPUT,
        _LPSPEC,
        cells=_LPSPEC_CELL,
        unit="tok/s",
    ),
    Claim(
        "lpspec-ee",
        "LP-Spec tokens/J, LLaMA2-7B INT8",
        "LP-Spec",
        "[lpspec25] Table III",
        32.6,
        EE,
        _LPSPEC,
        cells=_LPSPEC_CELL,
        unit="tok/J",
    ),
    Claim(
        "lpspec-edp",
        "LP-Spec EDP per token",
        "LP-Spec",
        "[lpspec25] Table III",
        0.418,
        "edp_per_token",
        _LPSPEC,
        cells=_LPSPEC_CELL,
        scale=1e3,
        unit="s·mJ",
    ),
    Claim(
        "lpspec-tput-vs-npu",
        "LP-Spec throughput vs mobile NPU",
        "LP-Spec",
        "[lpspec25] abstract",
        13.21,
        TPUT,
        _LPSPEC,
        den_metric="ar_throughput_tok_s",
        cells=_LPSPEC_CELL,
    ),
    Claim(
        "lpspec-ee-vs-npu",
        "LP-Spec tokens/J vs mobile NPU",
        "LP-Spec",
        "[lpspec25] abstract",
        7.56,
        EE,
        _LPSPEC,
        den_metric="ar_tokens_per_joule",
        cells=_LPSPEC_CELL,
    ),
    Claim(
        "edge-speedup",
        "Edge SD speedup over the best autoregressive mapping (up to)",
        "Edge SD",
        "[edgesd] abstract",
        1.68,
        "speedup_vs_ar",
        _EDGE,
        agg="max",
        cells=_EDGE_CELL,
        tokens=512,
    ),
)

_BY_NAME = {c.name: c for c in CLAIMS}


def select(names: str | None) -> list[Claim]:
    """Claims by a comma list of names (all when ``names`` is empty); unknown names fail."""
    if not names:
        return list(CLAIMS)
    picked = []
    for raw in names.split(","):
        name = raw.strip()
        if name not in _BY_NAME:
            raise AhasdError(f"claims: got {name!r}; accepted: {', '.join(_BY_NAME)}")
        if _BY_NAME[name] not in picked:
            picked.append(_BY_NAME[name])
    return picked
