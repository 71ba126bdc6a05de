"""The outcome of one simulated run: metrics, per-device breakdown and the config behind them.

Every number here is defined once in docs/metrics.md. ``to_dict`` is the ``--json`` output;
``to_row`` is one flat, Parquet-ready row for sweeps (config fields prefixed ``cfg.``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ahasd.sim.timeline import Span


@dataclass(frozen=True)
class Result:
    """Metrics of one run (docs/metrics.md) plus provenance."""

    system: str
    committed_tokens: int
    wall_s: float
    throughput_tok_s: float
    energy_j: float
    tokens_per_joule: float
    edp_per_token: float  # (s/token)·(J/token)
    tau: float
    alpha_hat: float
    mean_draft_len: float
    draft_len_hist: dict[int, int]
    draft_acceptance_rate: float
    wasted_draft_fraction: float
    devices: dict[str, dict[str, Any]]  # name -> busy_s, idle_s, utilisation, energy_j{comp: J}
    energy_by_component: dict[str, float]
    ar_throughput_tok_s: float
    ar_tokens_per_joule: float
    prefill_s: float  # both models' prefill, before decoding starts (not in wall_s)
    fits_in_memory: bool
    warnings: tuple[str, ...]
    extras: dict[str, Any]
    config: dict[str, Any]
    config_hash: str
    trace_hash: str
    version: str
    ttft_s: float = 0.0  # time to first token: the target's prefill (and the draft's before it)
    e2e_throughput_tok_s: float = 0.0  # committed tokens / (prefill + decode)
    prefill_energy_j: float = 0.0
    memory: dict[str, Any] = field(default_factory=dict)  # channels, ranks, contention, ...
    timeline: tuple[Span, ...] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of everything except the timeline."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "timeline"}
        out["warnings"] = list(self.warnings)
        out["draft_len_hist"] = {str(k): v for k, v in self.draft_len_hist.items()}
        out["speedup_vs_ar"] = (
            self.throughput_tok_s / self.ar_throughput_tok_s if self.ar_throughput_tok_s else 0.0
        )
        return json.loads(json.dumps(out, default=_jsonable))

    def to_row(self) -> dict[str, Any]:
        """One flat row: scalars as they are, nested metrics dotted, config under ``cfg.``."""
        d = self.to_dict()
        row: dict[str, Any] = {}
        for key, value in d.items():
            if key == "config":
                flatten("cfg", value, row)
            elif key == "draft_len_hist":
                row[key] = json.dumps(value, sort_keys=True)
            elif key == "warnings":
                row[key] = "; ".join(value)
            elif isinstance(value, dict):
                flatten(key, value, row)
            else:
                row[key] = value
        return row


def flatten(prefix: str, value: Any, row: dict[str, Any]) -> None:
    """Nested dicts become dotted columns (``cfg.edc.h_max``); lists become JSON strings."""
    if isinstance(value, dict):
        if not value:
            row[prefix] = "{}"
        for k, v in value.items():
            flatten(f"{prefix}.{k}", v, row)
    elif isinstance(value, (list, tuple)):
        row[prefix] = json.dumps(value)
    else:
        row[prefix] = value


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalar
        return obj.item()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")
