"""The readings table: what ``ahasd invert`` may change, with sources and allowed ranges.

``readings.yaml`` (package data) is validated at the boundary (finite bounds, a source on every
entry) and resolved against the presets into :class:`Param` objects: the default comes from the
preset itself, and an entry applies only on the platforms that have its key (a switch, a
placement key or a device field), so entries for features a preset lacks are skipped, not errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ahasd.errors import AhasdError, field_error, one_line

PLATFORM = "platform"  # ``set: platform``: which preset a system runs on


class Entry(BaseModel):
    """One row of the table as written (see the header of readings.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    set: str = Field(min_length=1)
    applies: list[str] = Field(min_length=1)
    values: list[Any] | None = None
    range: tuple[float, float] | None = None
    log: bool = False
    integer: bool = False
    requires: dict[str, Any] = Field(default_factory=dict)  # other readings it only acts under
    source: str = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Param:
    """A resolved reading: its default, where it applies, and how far it may move."""

    name: str
    key: str
    source: str
    default: Any
    on: tuple[str, ...]  # platforms that have the key (systems for a platform choice)
    values: tuple[Any, ...] = ()  # a choice
    low: float = math.nan  # a range
    high: float = math.nan
    log: bool = False
    integer: bool = False
    requires: tuple[tuple[str, Any], ...] = ()  # (reading, value) it only acts under

    @property
    def is_choice(self) -> bool:
        return bool(self.values)

    @property
    def is_platform(self) -> bool:
        return self.key == PLATFORM

    def distance(self, value: Any) -> float:
        """Normalised distance from the default: 1 per changed choice, |Δ| / range width."""
        if self.is_choice:
            return 0.0 if value == self.default else 1.0
        if self.log:
            return abs(math.log(value) - math.log(self.default)) / math.log(self.high / self.low)
        return abs(value - self.default) / (self.high - self.low)

    def probes(self) -> list[Any]:
        """The values a first look tries: every other option, or both ends of the range."""
        if self.is_choice:
            return [v for v in self.values if v != self.default]
        return [v for v in (self._cast(self.low), self._cast(self.high)) if v != self.default]

    def toward(self, end: Any, t: float) -> Any:
        """The value a fraction ``t`` of the way from the default to ``end`` (ranges only)."""
        if self.log:
            d, e = math.log(self.default), math.log(end)
            return self._cast(math.exp(d + t * (e - d)))
        return self._cast(self.default + t * (end - self.default))

    def _cast(self, x: float) -> Any:
        if self.integer:
            return int(round(x))
        return float(f"{x:.4g}")  # readable --set values; evaluated exactly as printed


def default_path():
    return resources.files("ahasd.explore.invert") / "readings.yaml"


def load_entries(extra: str | Path | None = None) -> list[Entry]:
    """The built-in table, with a user file's entries replacing (by name) or adding to it."""
    entries = {e.name: e for e in _read(default_path())}
    if extra is not None:
        entries.update({e.name: e for e in _read(Path(extra))})
    return list(entries.values())


def _read(path) -> list[Entry]:
    where = f"readings {path}"
    try:
        data = yaml.safe_load(Path(str(path)).read_text())
    except FileNotFoundError:
        raise AhasdError(f"{where}: no such file") from None
    except (OSError, yaml.YAMLError) as exc:
        raise AhasdError(f"{where}: not readable YAML ({one_line(exc)})") from None
    rows = data.get("readings") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise AhasdError(f"{where}: expected a mapping with a 'readings' list")
    out = []
    for i, raw in enumerate(rows):
        label = f"{where}: readings[{i}]"
        try:
            entry = Entry.model_validate(raw)
        except ValidationError as exc:
            raise AhasdError(f"{label}.{one_line(exc)}") from None
        _check_shape(entry, f"{where}: {entry.name}")
        out.append(entry)
    return out


def _check_shape(e: Entry, where: str) -> None:
    if (e.values is None) == (e.range is None):
        raise AhasdError(f"{where}: give exactly one of 'values' (a choice) or 'range' [low, high]")
    if e.values is not None:
        if not e.values or len(set(map(repr, e.values))) != len(e.values):
            raise field_error(f"{where}.values", e.values, "a non-empty list of distinct values")
        return
    lo, hi = e.range
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi) or (e.log and lo <= 0):
        accepted = "two finite numbers, low < high" + (" and low > 0 (log)" if e.log else "")
        raise field_error(f"{where}.range", [lo, hi], accepted)


def resolve(entries: list[Entry]) -> list[Param]:
    """Defaults and applicability from the presets; inconsistent entries fail loudly."""
    params = [_resolve(e) for e in entries]
    by_name = {p.name: p for p in params}
    for p in params:
        for name, value in p.requires:
            other = by_name.get(name)
            if other is None or (other.is_choice and value not in other.values):
                allowed = "a reading of the table" if other is None else other.values
                raise field_error(f"readings: {p.name}.requires.{name}", value, str(allowed))
    return params


def _resolve(e: Entry) -> Param:
    where = f"readings: {e.name}"
    found = _platform_defaults(e, where) if e.set == PLATFORM else _key_defaults(e, where)
    defaults = {repr(v) for v in found.values()}
    if len(defaults) > 1:
        raise AhasdError(f"{where}: the platforms disagree on the default ({found})")
    default = next(iter(found.values()), None)
    shape = (
        {"values": tuple(e.values)}
        if e.values is not None
        else {
            "low": float(e.range[0]),
            "high": float(e.range[1]),
            "log": e.log,
            "integer": e.integer,
        }
    )
    param = Param(e.name, e.set, e.source, default, tuple(found),
                  requires=tuple(sorted(e.requires.items())), **shape)  # fmt: skip
    if found and not _inside(param, default):
        allowed = list(param.values) if param.is_choice else [param.low, param.high]
        raise AhasdError(f"{where}: the preset default {default!r} lies outside {allowed}")
    return param


def _inside(p: Param, value: Any) -> bool:
    if p.is_choice:
        return value in p.values
    return isinstance(value, (int, float)) and p.low <= value <= p.high


def _platform_defaults(e: Entry, where: str) -> dict[str, Any]:
    from ahasd.hardware import list_platforms
    from ahasd.systems import SYSTEMS

    known = list_platforms()
    for v in e.values or []:
        if v not in known:
            raise field_error(f"{where}.values", v, f"a platform preset: {', '.join(known)}")
    out = {}
    for system in e.applies:
        if system not in SYSTEMS:
            raise field_error(f"{where}.applies", system, f"a system: {', '.join(SYSTEMS.names())}")
        out[system] = SYSTEMS.get(system).default_platform
    return out


def _key_defaults(e: Entry, where: str) -> dict[str, Any]:
    """platform -> the preset's value of the key, for every platform that has it."""
    from ahasd.hardware import list_platforms
    from ahasd.hardware.platform import preset_spec

    out = {}
    for name in e.applies:
        if name not in list_platforms():
            raise field_error(
                f"{where}.applies", name, f"a platform preset: {', '.join(list_platforms())}"
            )
        value = _preset_value(preset_spec(name), e.set)
        if value is not None:
            out[name] = value
    return out


def _preset_value(spec: dict, key: str) -> Any:
    """The preset's value of a switch, a placement key or a device field (None: not there)."""
    head, _, rest = key.partition(".")
    if head == "switches":
        sw = (spec.get("switches") or {}).get(rest)
        return None if sw is None else sw.get("default")
    if head == "placement":
        return (spec.get("placement") or {}).get(rest)
    from ahasd.hardware.units import to_si

    fields = (spec.get("devices") or {}).get(head) or {}
    si_key, unit = to_si(rest, 1.0)
    for yaml_key, value in fields.items():
        k, si_value = to_si(yaml_key, value)
        if k == si_key and isinstance(si_value, (int, float)) and not isinstance(value, bool):
            x = float(f"{si_value / float(unit):.12g}")  # back to the unit of ``key``
            return int(x) if isinstance(value, int) and x.is_integer() else x
    return None
