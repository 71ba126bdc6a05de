"""Platforms: YAML presets with a source for every number, named switches and checked overrides.

A preset has ``devices`` (one mapping per device, human units with suffixes), ``switches``
(named readings of an ambiguous paper number, each a set of dotted overrides, with the paper's
reading as default) and ``sources`` (``device.key`` -> citation; ``switches.NAME.OPTION`` ->
citation of the numbers that option sets). ``load_platform(name,
overrides)`` applies the chosen switch options, then the dotted overrides (``pim.n_alu=8``,
``switches.gops_scope=per-unit``), converts units once and validates every device.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from ahasd.errors import AhasdError, field_error
from ahasd.hardware.devices import Device, PimDevice, build_device
from ahasd.hardware.units import to_si

_TOP_KEYS = {"name", "description", "base", "remove_devices", "devices", "switches", "sources",
             "placement"}  # fmt: skip
_PIM_FROM_MEMORY = ("external_bw_bytes_per_s", "in_bank_j_per_bit", "off_chip_j_per_bit",
                    "capacity_bytes")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Platform:
    name: str
    devices: Mapping[str, Device]
    config: dict  # resolved preset: devices (YAML units), switches chosen, sources
    config_hash: str

    @property
    def placement(self) -> dict:
        """The ``placement:`` section (policy and options of ``ahasd.memory.placement``)."""
        return dict(self.config.get("placement") or {})

    def device(self, name: str) -> Device:
        try:
            return self.devices[name]
        except KeyError:
            raise field_error(
                "device", name, f"a device of platform {self.name}: {', '.join(self.devices)}"
            ) from None

    def devices_of_kind(self, *kinds: str) -> list[str]:
        return [n for n, d in self.devices.items() if d.kind in kinds]


def ahasd_home() -> Path:
    return Path(os.environ.get("AHASD_HOME", Path.home() / ".cache" / "ahasd"))


def _preset_dir():
    return resources.files("ahasd.hardware") / "presets"


def list_platforms() -> list[str]:
    return sorted(str(p.name)[:-5] for p in _preset_dir().iterdir() if str(p).endswith(".yaml"))


def _read_yaml(path) -> dict:
    try:
        data = yaml.safe_load(Path(str(path)).read_text())
    except yaml.YAMLError as exc:
        raise AhasdError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise AhasdError(f"{path}: expected a mapping with keys {', '.join(sorted(_TOP_KEYS))}")
    extra = sorted(set(data) - _TOP_KEYS)
    if extra:
        raise field_error(f"{path}: {extra[0]}", "(key)", ", ".join(sorted(_TOP_KEYS)))
    return data


def _locate(name_or_path: str):
    if name_or_path == "host-cpu":
        user = ahasd_home() / "platforms" / "host-cpu.yaml"
        if user.is_file():
            return user
    if name_or_path in list_platforms():
        return _preset_dir() / f"{name_or_path}.yaml"
    path = Path(name_or_path)
    if path.is_file():
        return path
    raise field_error("platform", name_or_path, f"{', '.join(list_platforms())} or a YAML path")


def _with_base(data: dict, seen: tuple[str, ...] = ()) -> dict:
    """Merge a preset onto its ``base`` preset (devices field by field), minus removed devices."""
    base_name = data.get("base")
    if base_name is None:
        return data
    if base_name in seen or base_name not in list_platforms():
        raise field_error("base", base_name, f"a built-in preset: {', '.join(list_platforms())}")
    base = _with_base(_read_yaml(_preset_dir() / f"{base_name}.yaml"), (*seen, base_name))
    devices = copy.deepcopy(base.get("devices") or {})
    for dev in data.get("remove_devices") or []:
        if dev not in devices:
            raise field_error("remove_devices", dev, ", ".join(devices))
        del devices[dev]
    for dev, fields in (data.get("devices") or {}).items():
        devices.setdefault(dev, {}).update(fields or {})
    switches = {**(base.get("switches") or {}), **(data.get("switches") or {})}
    switches = _prune_switches(switches, devices)
    placement = {**(base.get("placement") or {}), **(data.get("placement") or {})}
    sources = {**(base.get("sources") or {}), **(data.get("sources") or {})}
    sources = {k: v for k, v in sources.items() if _source_kept(k, devices, switches)}
    merged = {k: v for k, v in data.items() if k not in ("base", "remove_devices")}
    return {**merged, "devices": devices, "switches": switches, "sources": sources,
            "placement": placement}  # fmt: skip


def _source_kept(key: str, devices: dict, switches: dict) -> bool:
    """A source survives a merge while its device (or, for ``switches.NAME.OPTION``, its
    switch) does."""
    head, _, rest = key.partition(".")
    return rest.split(".")[0] in switches if head == "switches" else head in devices


def _prune_switches(switches: dict, devices: dict) -> dict:
    """Drop switch settings for removed devices, and switches left with nothing to set."""
    out = {}
    for name, spec in switches.items():
        options = {
            opt: {k: v for k, v in (sets or {}).items() if k.split(".")[0] in devices}
            for opt, sets in (spec.get("options") or {}).items()
        }
        if any(options.values()):
            out[name] = {**spec, "options": options}
    return out


def _coerce(value: object) -> object:
    """CLI overrides arrive as strings: ``"8"`` -> 8, ``"true"`` -> True."""
    if isinstance(value, str):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    return value


def _set(devices: dict, dotted: str, value: object) -> None:
    dev, _, key = dotted.partition(".")
    if not key or "." in key:
        raise field_error("override", dotted, "DEVICE.FIELD or switches.NAME")
    if dev not in devices:
        raise field_error(f"override {dotted}", dev, f"a device: {', '.join(devices)}")
    target = devices[dev]
    si_key = to_si(key, 0.0)[0]
    for existing in [k for k in target if to_si(k, 0.0)[0] == si_key]:
        del target[existing]  # a different unit spelling of the same field
    target[key] = _coerce(value)


def _apply(data: dict, overrides: Mapping[str, object]) -> tuple[dict, dict, dict]:
    devices = copy.deepcopy(data.get("devices") or {})
    switches = data.get("switches") or {}
    placement = copy.deepcopy(data.get("placement") or {})
    if not isinstance(placement, dict):
        raise field_error("placement", placement, "a mapping (policy: paper | ...)")
    chosen = {name: spec.get("default") for name, spec in switches.items()}
    for key, value in overrides.items():
        if key.startswith("placement."):
            field = key.split(".", 1)[1]
            if not field or "." in field:
                raise field_error("override", key, "placement.FIELD")
            placement[field] = _coerce(value)
        elif key.startswith("switches."):
            sw = key.split(".", 1)[1]
            if sw not in switches:
                raise field_error("switch", sw, ", ".join(switches) or "(this preset has none)")
            chosen[sw] = _coerce(value)
    for sw, option in chosen.items():
        options = switches[sw].get("options") or {}
        if option not in options:
            raise field_error(f"switches.{sw}", option, ", ".join(map(str, options)))
        for dotted, value in (options[option] or {}).items():
            _set(devices, dotted, value)
    for key, value in overrides.items():
        if not key.startswith(("switches.", "placement.")):
            _set(devices, key, value)
    return devices, chosen, placement


def _resolve(devices_yaml: dict) -> dict[str, Device]:
    si_all: dict[str, dict] = {}
    for name, raw in devices_yaml.items():
        if not isinstance(raw, dict):
            raise AhasdError(f"devices.{name}: expected a mapping of fields")
        for k, v in raw.items():  # report negatives in the units the user wrote
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
                raise field_error(f"devices.{name}.{k}", v, "a number >= 0")
        si_all[name] = dict(to_si(k, v) for k, v in raw.items())
    out: dict[str, Device] = {}
    for name, si in si_all.items():
        memory = si.get("memory") if str(si.get("kind", "")).endswith(("pim", "aim")) else None
        if memory is not None:
            if memory not in si_all:
                raise field_error(f"devices.{name}.memory", memory, ", ".join(si_all))
            mem = build_device(memory, si_all[memory])
            derived = {"external_bw_bytes_per_s": mem.external_bw_bytes_per_s}
            for key in _PIM_FROM_MEMORY:
                si.setdefault(key, derived.get(key, getattr(mem, key, None)))
        elif "memory" in si and si["memory"] not in si_all:
            raise field_error(f"devices.{name}.memory", si["memory"], ", ".join(si_all))
        out[name] = build_device(name, si)
    return out


def _hash(config: dict) -> str:
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


_CACHE: dict[tuple, Platform] = {}


def load_platform(name_or_path: str, overrides: Mapping[str, object] | None = None) -> Platform:
    """A preset by name (or YAML path) with dotted overrides applied and checked."""
    overrides = dict(overrides or {})
    location = _locate(str(name_or_path))
    mtime = Path(str(location)).stat().st_mtime_ns  # a re-calibrated file is re-read
    key = (str(location), mtime, json.dumps(overrides, sort_keys=True, default=str))
    if key in _CACHE:
        return _CACHE[key]
    data = _with_base(_read_yaml(location))
    devices_yaml, chosen, placement = _apply(data, overrides)
    devices = _resolve(devices_yaml)
    if not devices:
        raise AhasdError(f"{location}: a platform needs at least one device")
    config = {
        "name": data.get("name", str(name_or_path)),
        "description": data.get("description", ""),
        "devices": devices_yaml,
        "switches": chosen,
        "placement": placement,
        "overrides": overrides,
        "sources": data.get("sources") or {},
    }
    platform = Platform(config["name"], devices, config, _hash(config))
    _CACHE[key] = platform
    return platform


def preset_spec(name_or_path: str) -> dict:
    """The preset as written (merged onto its base), switches with all their options."""
    return _with_base(_read_yaml(_locate(str(name_or_path))))


def pim_devices(platform: Platform) -> list[PimDevice]:
    return [d for d in platform.devices.values() if isinstance(d, PimDevice)]
