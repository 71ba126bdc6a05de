"""Sweep specs: a base experiment plus axes over any config field by dotted path.

A spec is YAML validated into :class:`SweepSpec`; :func:`expand` turns it into fully resolved
``SimConfig`` points (grid or seeded random sampling) and validates every one of them before any
work starts, so a typo fails in a second with one line naming the path.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ahasd.errors import AhasdError, field_error, one_line

PAIR = "pair"  # pseudo-path: a [draft, target] pair sets both fields at once
MAX_POINTS = 1_000_000  # grid points or random samples of one spec
NAME_RULE = "letters, digits, '.', '_' or '-', starting with a letter or digit, at most 64"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class RangeAxis(BaseModel):
    """A numeric range: ``num`` evenly spaced values on a grid, or uniform draws when random."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    low: float
    high: float
    num: int | None = Field(None, ge=1, le=100_000)  # grid only
    log: bool = False
    integer: bool = False

    def grid(self, path: str) -> list[Any]:
        if self.num is None:
            raise AhasdError(f"axes.{path}.num: a range needs num (values) for grid sampling")
        lo, hi = (math.log(self.low), math.log(self.high)) if self.log else (self.low, self.high)
        vals = np.linspace(lo, hi, self.num)
        vals = np.exp(vals) if self.log else vals
        return _cast(vals, self.integer)

    def draw(self, rng: np.random.Generator, n: int) -> list[Any]:
        lo, hi = (math.log(self.low), math.log(self.high)) if self.log else (self.low, self.high)
        vals = rng.uniform(lo, hi, n)
        vals = np.exp(vals) if self.log else vals
        return _cast(vals, self.integer)


def _cast(vals: np.ndarray, integer: bool) -> list[Any]:
    if integer:
        return [int(v) for v in np.rint(vals)]
    return [float(v) for v in vals]


class SweepSpec(BaseModel):
    """What ``ahasd sweep`` and ``ahasd explore`` read (see docs/explore.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = "sweep"
    base: dict[str, Any] = Field(default_factory=dict)  # SimConfig fields (dotted paths allowed)
    axes: dict[str, list[Any] | RangeAxis] = Field(default_factory=dict)
    sampling: Literal["grid", "random"] = "grid"
    samples: int | None = Field(None, ge=1, le=MAX_POINTS)  # random sampling: how many points
    seed: int = Field(0, ge=0)  # random sampling only; simulation seeds are a config field
    mode: Literal["event", "analytic"] = "event"
    batch: int = Field(16, ge=1, le=100_000)  # points per cache part
    objectives: list[str] = Field(default_factory=lambda: ["throughput", "tokens_per_joule"])

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        """The name becomes a folder name: no path separators, no leading dot."""
        if not _NAME.fullmatch(name):
            raise ValueError(f"a spec name is {NAME_RULE} characters (it names the output folder)")
        return name


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a YAML spec file."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise AhasdError(f"spec: no such file {str(p)!r}")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise AhasdError(f"spec: {p.name} is not valid YAML ({one_line(exc)})") from exc
    if not isinstance(data, dict):
        raise AhasdError(f"spec: {p.name} must be a mapping with base/axes")
    return validate_spec(data)


def validate_spec(data: dict[str, Any]) -> SweepSpec:
    """``SweepSpec.model_validate`` with a plain one-line error for a malformed axis.

    Pydantic reports an axis that is neither a list nor a range as two union branches; say
    what an axis may be instead.
    """
    from pydantic import ValidationError

    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        loc = exc.errors()[0].get("loc", ())
        axes = data.get("axes")
        if len(loc) >= 2 and loc[0] == "axes" and isinstance(axes, dict) and loc[1] in axes:
            raise AhasdError(
                f"axes.{loc[1]}: got {axes[loc[1]]!r}; accepted: a list of values, or a range "
                "{low, high, num, log, integer} with finite numeric low/high and integer num >= 1"
            ) from exc
        raise


# ---- dotted paths ----------------------------------------------------------------------------


def accepted_paths() -> str:
    from ahasd.sim.config import SimConfig

    tops = [f for f in SimConfig.model_fields if f not in ("edc", "tvc")]
    return ", ".join(
        [
            *tops,
            PAIR,
            "platform_overrides.<device>.<field>",
            "policy_args.<arg>",
            "edc.<field>",
            "tvc.<field>",
        ]
    )


def set_path(fields: dict[str, Any], path: str, value: Any, *, where: str = "axes") -> None:
    """Set ``path`` in a SimConfig field dict (copy-on-write for the nested dicts)."""
    from ahasd.sim.config import SimConfig

    head, _, rest = path.partition(".")
    if path == PAIR:
        if not (isinstance(value, (list, tuple)) and len(value) == 2):
            raise field_error(f"{where}.{path}", value, "a [draft, target] list of two models")
        fields["draft"], fields["target"] = str(value[0]), str(value[1])
    elif head in ("platform_overrides", "policy_args") and rest:
        if head == "policy_args" and "." in rest:
            raise field_error(f"{where}.{path}", path, "policy_args.<arg> (one level)")
        fields[head] = {**(fields.get(head) or {}), rest: value}
    elif head in ("edc", "tvc") and rest:
        model = SimConfig.model_fields[head].annotation
        known = getattr(model, "model_fields", {})
        if rest not in known:
            raise field_error(f"{where}.{path}", path, f"{head}.<{', '.join(sorted(known))}>")
        sub = fields.get(head) or {}
        sub = sub.model_dump() if hasattr(sub, "model_dump") else dict(sub)
        fields[head] = {**sub, rest: value}
    elif not rest and head in SimConfig.model_fields:
        fields[head] = value
    else:
        raise AhasdError(f"{where}.{path}: unknown config path; accepted: {accepted_paths()}")


def _axis_values(spec: SweepSpec, path: str) -> list[Any]:
    axis = spec.axes[path]
    if isinstance(axis, RangeAxis):
        if spec.sampling == "grid":
            return axis.grid(path)
        return []  # drawn per sample
    if not axis:
        raise AhasdError(f"axes.{path}: the axis has no values; give at least one")
    return list(axis)


def assignments(spec: SweepSpec) -> list[dict[str, Any]]:
    """The axis assignments of every point: the cartesian grid or ``samples`` seeded draws."""
    paths = list(spec.axes)
    values = {p: _axis_values(spec, p) for p in paths}
    if spec.sampling == "grid":
        size = math.prod(len(v) for v in values.values())
        if size > MAX_POINTS:
            raise AhasdError(
                f"axes: the grid has {size:,} points; accepted: at most {MAX_POINTS:,} "
                "(sample it instead: sampling: random, samples: N)"
            )
        return [
            dict(zip(paths, combo, strict=True))
            for combo in itertools.product(*(values[p] for p in paths))
        ]
    if spec.samples is None:
        raise AhasdError("samples: random sampling needs samples (number of points, >= 1)")
    rng = np.random.default_rng(np.random.SeedSequence(spec.seed))
    cols: dict[str, list[Any]] = {}
    for p in paths:
        axis = spec.axes[p]
        if isinstance(axis, RangeAxis):
            cols[p] = axis.draw(rng, spec.samples)
        else:
            idx = rng.integers(0, len(values[p]), spec.samples)
            cols[p] = [values[p][i] for i in idx]
    return [{p: cols[p][i] for p in paths} for i in range(spec.samples)]
