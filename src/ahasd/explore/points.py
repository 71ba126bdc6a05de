"""Spec → validated, fully resolved design points, before any work starts.

Each point's ``SimConfig`` is built and resolved (a system's default platform made explicit) and
its cache key (``point_key``) hashes that config together with what its names resolve to — the
platform preset after overrides, the model shapes, the trace file's rows or the profile's
parameters — and the package version, so a re-calibrated preset or an edited trace file is never
served a stale cached row. Names (system, platform and overrides, models, policy and its
arguments, profile) are checked once per distinct value; an error names the spec path that
produced it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ahasd.errors import AhasdError, one_line
from ahasd.explore.spec import PAIR, RangeAxis, SweepSpec, assignments, set_path


@dataclass(frozen=True, slots=True)
class Point:
    """One design point: the axis values that made it and its resolved config."""

    index: int
    assignment: dict[str, Any]
    config: Any  # SimConfig
    hash: str  # point_key(config): the cache key


def _describe(assignment: dict[str, Any], heads: tuple[str, ...]) -> str:
    """The spec paths (with values) behind a failed check, or ``base`` when no axis is involved."""
    hit = [
        f"axes.{p}={v!r}"
        for p, v in assignment.items()
        if p.split(".")[0] in heads or (p == PAIR and {"draft", "target"} & set(heads))
    ]
    return ", ".join(hit) or "base"


def _make_config(fields: dict[str, Any], where: str):
    from ahasd.sim.config import SimConfig
    from ahasd.systems.base import SYSTEMS, resolve_platform

    try:
        cfg = SimConfig(**fields)
        system = SYSTEMS.get(cfg.system)
    except (AhasdError, ValueError) as exc:  # pydantic ValidationError is a ValueError
        raise AhasdError(f"{where}: {one_line(exc)}") from exc
    return resolve_platform(cfg, system, "platform" in fields)


def _base_fields(spec: SweepSpec) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for path, value in spec.base.items():
        set_path(fields, path, value, where="base")
    _make_config(fields, "base")
    return fields


def _check_axis_values(spec: SweepSpec, base: dict[str, Any]) -> None:
    """Each axis value alone on the base config: a wrong type names its axis."""
    for path, axis in spec.axes.items():
        if isinstance(axis, RangeAxis):
            if axis.low > axis.high or (axis.log and axis.low <= 0):
                raise AhasdError(f"axes.{path}: need low <= high (and low > 0 when log)")
            values = [axis.low, axis.high]
            if axis.integer:
                values = [int(round(v)) for v in values]
        elif not axis:
            raise AhasdError(f"axes.{path}: the axis has no values; give at least one")
        else:
            values = axis
        for value in values:
            fields = dict(base)
            set_path(fields, path, value)
            _make_config(fields, f"axes.{path}={value!r}")


@lru_cache(maxsize=256)
def cached_platform(name: str, overrides_json: str):
    """``load_platform`` memoised on (name, canonical overrides JSON); shared with analytic.py."""
    from ahasd.hardware import load_platform

    return load_platform(name, json.loads(overrides_json) or None)


class _Checks:
    """Memoised name checks: each distinct platform/model/policy/profile is loaded once."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()

    def once(self, kind: str, key: Any, fn: Callable[[], Any], where: str) -> None:
        k = (kind, json.dumps(key, sort_keys=True, default=str))
        if k in self.seen:
            return
        try:
            fn()
        except (AhasdError, ValueError, FileNotFoundError, KeyError) as exc:
            raise AhasdError(f"{where}: {one_line(exc)}") from exc
        self.seen.add(k)

    def point(self, cfg: Any, assignment: dict[str, Any]) -> None:
        from ahasd.models import load_model
        from ahasd.policies import make_policy
        from ahasd.systems.base import SYSTEMS

        system = SYSTEMS.get(cfg.system)

        def platform() -> None:
            plat = cached_platform(cfg.platform, json.dumps(cfg.platform_overrides, sort_keys=True))
            missing = [d for d in system.required_devices if d not in plat.devices]
            if missing:
                raise AhasdError(
                    f"platform {cfg.platform} lacks {', '.join(missing)} for system {cfg.system}"
                )

        where = _describe(assignment, ("platform", "platform_overrides", "system"))
        key = [cfg.system, cfg.platform, cfg.platform_overrides]
        self.once("platform", key, platform, where)
        for name in (cfg.draft, cfg.target):
            where = _describe(assignment, ("draft", "target"))
            self.once("model", name, lambda n=name: load_model(n), where)
        where = _describe(assignment, ("policy", "policy_args"))
        self.once(
            "policy",
            [cfg.policy, cfg.policy_args],
            lambda: make_policy(cfg.policy, **cfg.policy_args),
            where,
        )
        if cfg.trace is not None:
            from ahasd.traces import load_trace

            where = _describe(assignment, ("trace",))
            self.once("trace", cfg.trace, lambda: load_trace(cfg.trace), where)
        elif cfg.profile is not None:
            self.once(
                "profile",
                cfg.profile,
                lambda: _check_profile(cfg.profile),
                _describe(assignment, ("profile",)),
            )


def _dump(obj: Any) -> Any:
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else repr(obj)


@lru_cache(maxsize=256)
def _model_dump(name: str) -> Any:
    from ahasd.models import load_model

    return _dump(load_model(name))


@lru_cache(maxsize=4096)
def _inputs_digest(
    platform: str, overrides_json: str, draft: str, target: str, trace: str | None, profile: str
) -> str:
    """sha256 of what a config's names resolve to (memoised per distinct combination)."""

    parts: dict[str, Any] = {
        "platform": cached_platform(platform, overrides_json).config_hash,
        "models": [_model_dump(draft), _model_dump(target)],
    }
    if trace is not None:
        from ahasd.traces import load_trace

        parts["trace"] = load_trace(trace).content_hash()
    else:
        from ahasd.traces.profiles import get_profile

        parts["profile"] = _dump(get_profile(profile))
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def point_key(cfg: Any) -> str:
    """The cache key of a resolved config: its hash, its resolved inputs and the version."""
    from ahasd import __version__

    profile = ""
    if cfg.trace is None:
        from ahasd.traces import default_profile

        profile = cfg.profile or default_profile(cfg.draft, cfg.target)
    inputs = _inputs_digest(
        cfg.platform,
        json.dumps(cfg.platform_overrides, sort_keys=True),
        cfg.draft,
        cfg.target,
        cfg.trace,
        profile,
    )
    blob = f"{cfg.config_hash()}:{inputs}:{__version__}"
    return hashlib.sha256(blob.encode()).hexdigest()


def _check_profile(name: str) -> None:
    """Synthesising a few tokens validates a name, including the ``iid-alpha-X`` family."""
    from ahasd.traces import synthesize

    synthesize(name, 8, 0)


def make_point(
    base: dict[str, Any], assignment: dict[str, Any], index: int, checks: _Checks | None = None
) -> Point:
    """Apply one assignment to the base fields, resolve, validate and hash it."""
    fields = dict(base)
    for path, value in assignment.items():
        set_path(fields, path, value)
    heads = tuple(p.split(".")[0] for p in assignment)
    cfg = _make_config(fields, _describe(assignment, heads))
    if checks is not None:
        checks.point(cfg, assignment)
    try:
        key = point_key(cfg)
    except (AhasdError, ValueError, FileNotFoundError, KeyError) as exc:
        raise AhasdError(f"{_describe(assignment, heads)}: {one_line(exc)}") from exc
    return Point(index, assignment, cfg, key)


def prepare(spec: SweepSpec) -> tuple[dict[str, Any], _Checks]:
    """Validate the base and every axis value alone; the base fields and a fresh check memo."""
    base = _base_fields(spec)
    _check_axis_values(spec, base)
    return base, _Checks()


def build_points(spec: SweepSpec, *, check_names: bool = True) -> list[Point]:
    """Expand and validate every point; duplicates (same resolved hash) are kept once."""
    base, checks = prepare(spec)
    points: list[Point] = []
    seen: set[str] = set()
    for assignment in assignments(spec):
        p = make_point(base, assignment, len(points), checks if check_names else None)
        if p.hash not in seen:
            seen.add(p.hash)
            points.append(p)
    if not points:
        raise AhasdError("axes: the spec expands to no points")
    return points
