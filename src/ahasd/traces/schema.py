"""The token-trace schema: one row per generated position of the target's output.

docs/traces.md: greedy replay needs only ``target_rank`` (0 = the draft's greedy token
is the target's token); sampled replay draws against ``accept_prob`` (β = Σ min(p, q)); policies
read ``draft_entropy`` and ``draft_top1_prob``. Validation lives here so every reader shares it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields

import numpy as np

from ahasd.errors import AhasdError

COLUMNS: tuple[str, ...] = (
    "draft_entropy",
    "draft_top1_prob",
    "target_rank",
    "accept_prob",
    "target_entropy",
)
PROB_COLUMNS = ("draft_top1_prob", "accept_prob")
ENTROPY_COLUMNS = ("draft_entropy", "target_entropy")
SOURCES = ("recorded", "synthetic")
EPS = 1e-6  # tolerance for float rounding in recorded probabilities/entropies


@dataclass(frozen=True, slots=True)
class TraceMeta:
    """Where a trace came from; stored as Parquet key-value metadata."""

    pair: str = "unknown"
    dataset: str = "unknown"
    temperature: float = 0.0
    source: str = "synthetic"  # "recorded" | "synthetic"
    seed: int | None = None
    generator_version: str = ""
    profile: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: object) -> TraceMeta:
        """Metadata read from a file; unknown keys are ignored, bad types are one-line errors."""
        if not isinstance(data, dict):
            raise AhasdError(f"trace meta: got {type(data).__name__}; accepted: a JSON object")
        kw: dict[str, object] = {}
        for name in ("pair", "dataset", "generator_version"):
            if name in data:
                kw[name] = _meta_str(data[name], name, optional=False)
        if "profile" in data:
            kw["profile"] = _meta_str(data["profile"], "profile", optional=True)
        if "source" in data:
            src = data["source"]
            if src not in SOURCES:
                raise AhasdError(f"trace meta.source: got {src!r}; accepted: {', '.join(SOURCES)}")
            kw["source"] = src
        if "temperature" in data:
            t = data["temperature"]
            ok = isinstance(t, (int, float)) and not isinstance(t, bool) and 0.0 <= t < 1e6
            if not ok:
                raise AhasdError(f"trace meta.temperature: got {t!r}; accepted: a number >= 0")
            kw["temperature"] = float(t)  # type: ignore[arg-type]
        if data.get("seed") is not None:
            sd = data["seed"]
            if isinstance(sd, bool) or not isinstance(sd, int):
                raise AhasdError(f"trace meta.seed: got {sd!r}; accepted: an integer or null")
            kw["seed"] = sd
        return cls(**kw)  # type: ignore[arg-type]


def _meta_str(value: object, name: str, *, optional: bool) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        accepted = "a string or null" if optional else "a string"
        raise AhasdError(f"trace meta.{name}: got {value!r}; accepted: {accepted}")
    return value


@dataclass(frozen=True)
class TokenTrace:
    """Per-position draft/target statistics; arrays are validated and read-only."""

    draft_entropy: np.ndarray
    draft_top1_prob: np.ndarray
    target_rank: np.ndarray
    accept_prob: np.ndarray
    target_entropy: np.ndarray
    meta: TraceMeta = field(default_factory=TraceMeta)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        cols = validate_columns({c: getattr(self, c) for c in COLUMNS})
        for name, arr in cols.items():
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)

    def __len__(self) -> int:
        return int(self.target_rank.shape[0])

    def match_runs(self) -> np.ndarray:
        """k_i = number of consecutive zero ranks starting at i (int32, cached)."""
        if "runs" not in self._cache:
            self._cache["runs"] = runs_of(self.target_rank == 0)
        return self._cache["runs"]

    def slice(self, start: int, stop: int) -> TokenTrace:
        return TokenTrace(*(getattr(self, c)[start:stop] for c in COLUMNS), meta=self.meta)

    @property
    def content_hash(self) -> str:
        """sha256 over the columns (not the metadata): two traces with equal rows hash equal."""
        if "hash" not in self._cache:
            h = hashlib.sha256()
            for c in COLUMNS:
                h.update(c.encode())
                h.update(np.ascontiguousarray(getattr(self, c)).tobytes())
            self._cache["hash"] = h.hexdigest()
        return self._cache["hash"]

    def lists(self) -> dict[str, list]:
        """Plain-Python views of the columns (cached) for per-token hot loops."""
        if "lists" not in self._cache:
            self._cache["lists"] = {c: getattr(self, c).tolist() for c in COLUMNS}
        return self._cache["lists"]


def runs_of(mask: np.ndarray) -> np.ndarray:
    """For a boolean mask, the length of the run of True values starting at each index."""
    m = np.asarray(mask, dtype=bool)
    n = m.shape[0]
    idx = np.arange(n)
    # index of the next False at or after i (n if none)
    false_pos = np.where(~m, idx, n)
    next_false = np.minimum.accumulate(false_pos[::-1])[::-1] if n else false_pos
    return (next_false - idx).astype(np.int32)


def validate_columns(cols: dict[str, object]) -> dict[str, np.ndarray]:
    """Cast and check the five columns; AhasdError names the first problem found."""
    missing = [c for c in COLUMNS if c not in cols or cols[c] is None]
    if missing:
        raise AhasdError(f"trace: missing column {missing[0]!r}; required: {', '.join(COLUMNS)}")
    out: dict[str, np.ndarray] = {}
    for c in COLUMNS:
        try:
            arr = np.array(cols[c], dtype=np.float64, copy=True).reshape(-1)
        except (TypeError, ValueError):
            raise AhasdError(f"trace: column {c!r} is not numeric") from None
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise AhasdError(f"trace: column {c!r} has NaN/inf at row {int(bad[0])}")
        out[c] = arr
    lengths = {len(a) for a in out.values()}
    if len(lengths) != 1:
        raise AhasdError(f"trace: columns have different lengths {sorted(lengths)}")
    for c in PROB_COLUMNS:  # recorded sums may overshoot by rounding: tolerate and clip
        _check_range(out[c], c, -EPS, 1.0 + EPS, "[0, 1]")
        np.clip(out[c], 0.0, 1.0, out=out[c])
    for c in ENTROPY_COLUMNS:
        _check_range(out[c], c, -EPS, np.inf, ">= 0")
        np.maximum(out[c], 0.0, out=out[c])
    rank = out["target_rank"]
    _check_range(rank, "target_rank", 0.0, 2**31 - 1, "an integer >= 0")
    if np.any(rank != np.floor(rank)):
        row = int(np.flatnonzero(rank != np.floor(rank))[0])
        raise AhasdError(f"trace: target_rank at row {row} is {rank[row]}; accepted: an integer")
    out["target_rank"] = rank.astype(np.int32)
    return out


def _check_range(arr: np.ndarray, name: str, lo: float, hi: float, accepted: str) -> None:
    bad = np.flatnonzero((arr < lo) | (arr > hi))
    if bad.size:
        row = int(bad[0])
        raise AhasdError(f"trace: {name} at row {row} is {arr[row]:g}; accepted: {accepted}")
