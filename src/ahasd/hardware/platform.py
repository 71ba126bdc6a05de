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
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from ahasd.errors import AhasdError, field_error
from ahasd.hardware.devices import Device, PimDevice, build_device, check_value, rebuild_device
from ahasd.hardware.units import si_name, to_si

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


@lru_cache(maxsize=1)
def _preset_dir():
    return resources.files("ahasd.hardware") / "presets"


def list_platforms() -> list[str]:
    return list(_preset_names())


@lru_cache(maxsize=1)
def _preset_names() -> tuple[str, ...]:
    """The packaged presets (read once: the package's files do not change while it runs)."""
    return tuple(
        sorted(str(p.name)[:-5] for p in _preset_dir().iterdir() if str(p).endswith(".yaml"))
    )


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
    _check_shape(data, path)
    return data


_SWITCH_SHAPE = "{default: OPTION, options: {OPTION: {DEVICE.FIELD: VALUE}}}"


def _check_shape(data: dict, path: object) -> None:
    """Each section has the type the loader walks (``devices: -1`` is one line, not a crash)."""
    for key, kind, what in (("devices", dict, "a mapping of device name to fields"),
                            ("switches", dict, "a mapping of switch name to options"),
                            ("sources", dict, "a mapping of key to citation"),
                            ("placement", dict, "a mapping (policy: paper | ...)"),
                            ("remove_devices", list, "a list of device names")):  # fmt: skip
        if data.get(key) is not None and not isinstance(data[key], kind):
            raise field_error(f"{path}: {key}", data[key], what)
    for dev, fields in (data.get("devices") or {}).items():
        if fields is not None and not isinstance(fields, dict):
            raise field_error(f"{path}: devices.{dev}", fields, "a mapping of fields")
    for name, spec in (data.get("switches") or {}).items():
        options = spec.get("options") if isinstance(spec, dict) else None
        if not isinstance(options, dict) or not all(
            isinstance(sets, dict) or sets is None for sets in options.values()
        ):
            raise field_error(f"{path}: switches.{name}", spec, _SWITCH_SHAPE)


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
    """CLI overrides arrive as strings: ``"8"`` -> 8, ``"1e3"`` -> 1000.0, ``"true"`` -> True.

    Python's number syntax comes first (YAML 1.1 reads ``1e3`` as a string); ``nan``/``inf``
    become floats here and are refused by the field's rule, as ``.nan`` is.
    """
    if isinstance(value, str):
        return _copy_tree(_parse_scalar(value))
    return value


@lru_cache(maxsize=1024)
def _parse_scalar(value: str) -> object:
    for number in (int, float):
        try:
            return number(value.strip())
        except ValueError:
            pass
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def _written(devices: dict, dotted: str) -> bool:
    """Whether the platform YAML sets ``DEVICE.FIELD`` (in any unit spelling)."""
    dev, _, key = dotted.partition(".")
    si_key = si_name(key)
    return any(si_name(k) == si_key for k in devices.get(dev) or {})


def _set(devices: dict, dotted: str, value: object) -> None:
    dev, _, key = dotted.partition(".")
    if not key or "." in key:
        raise field_error("override", dotted, "DEVICE.FIELD or switches.NAME")
    if dev not in devices:
        raise field_error(f"override {dotted}", dev, f"a device: {', '.join(devices)}")
    target = devices[dev]
    if not isinstance(target, dict):
        raise AhasdError(f"devices.{dev}: expected a mapping of fields")
    si_key = si_name(key)
    for existing in [k for k in target if si_name(k) == si_key]:
        del target[existing]  # a different unit spelling of the same field
    target[key] = copy.deepcopy(_coerce(value))  # never share a table with the cached preset


def _copy_tree(value: object) -> object:
    """A copy of nested dicts and lists of plain values (faster than ``copy.deepcopy``)."""
    if isinstance(value, dict):
        return {k: _copy_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_tree(v) for v in value]
    return value


def _apply(data: dict, overrides: Mapping[str, object]) -> tuple[dict, dict, dict]:
    """Switch options, placement keys and ``DEVICE.FIELD`` overrides onto the preset's devices.

    Precedence (docs/platforms.md): ``--set DEVICE.FIELD`` > an option chosen with
    ``--set switches.NAME`` > a field written in the platform YAML > a switch's default option.
    A default option therefore only fills fields the YAML leaves out.
    """
    devices = _copy_tree(data.get("devices") or {})
    switches = data.get("switches") or {}
    placement = copy.deepcopy(data.get("placement") or {})
    if not isinstance(placement, dict):
        raise field_error("placement", placement, "a mapping (policy: paper | ...)")
    chosen = {name: spec.get("default") for name, spec in switches.items()}
    explicit: set[str] = set()
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
            explicit.add(sw)
    written = _copy_tree(devices)
    for sw, option in chosen.items():
        options = switches[sw].get("options") or {}
        if not isinstance(option, (str, int, float, bool)) or option not in options:
            raise field_error(f"switches.{sw}", option, ", ".join(map(str, options)))
        for dotted, value in (options[option] or {}).items():
            if sw in explicit or not _written(written, dotted):
                _set(devices, dotted, value)
    for key, value in overrides.items():
        if not key.startswith(("switches.", "placement.")):
            _set(devices, key, value)
    return devices, chosen, placement


def _resolve(devices_yaml: dict) -> tuple[dict, dict[str, Device], dict]:
    """(SI fields, devices, SI each device was built from) of a preset's devices."""
    si_all: dict[str, dict] = {}
    for name, raw in devices_yaml.items():
        if not isinstance(raw, dict):
            raise AhasdError(f"devices.{name}: expected a mapping of fields")
        for k, v in raw.items():  # report bad numbers in the units the user wrote
            check_value(raw.get("kind"), si_name(k), v, f"devices.{name}.{k}")
        si_all[name] = dict(to_si(k, v) for k, v in raw.items())
    out: dict[str, Device] = {}
    final: dict[str, dict] = {}
    for name, si in si_all.items():
        final[name] = si = _with_memory(name, si, si_all, out)
        out[name] = _device(name, si)
    return si_all, out, final


_DEVICES: dict[tuple, Device] = {}


def _device(name: str, si: dict[str, object]) -> Device:
    """``build_device`` memoised on its SI fields (devices are frozen, so sharing is safe)."""
    try:
        key = (name, *sorted((k, tuple(sorted(v.items())) if isinstance(v, dict) else v)
                             for k, v in si.items()))  # fmt: skip
        hash(key)
    except TypeError:  # an unhashable value: the schema check reports it
        return build_device(name, si)
    found = _DEVICES.get(key)
    if found is None:
        if len(_DEVICES) > 4096:
            _DEVICES.clear()
        found = _DEVICES[key] = build_device(name, si)
    return found


def _with_memory(name: str, si: dict, si_all: dict, built: dict[str, Device]) -> dict:
    """A PIM's SI fields completed from the DRAM device that holds it (bus, energies,
    capacity), unless it sets them itself."""
    memory = si.get("memory") if str(si.get("kind", "")).endswith(("pim", "aim")) else None
    if memory is not None:
        if not isinstance(memory, str) or memory not in si_all:
            raise field_error(f"devices.{name}.memory", memory, ", ".join(si_all))
        mem = built.get(memory) or _device(memory, si_all[memory])
        derived = {"external_bw_bytes_per_s": mem.external_bw_bytes_per_s}
        si = dict(si)
        for key in _PIM_FROM_MEMORY:
            si.setdefault(key, derived.get(key, getattr(mem, key, None)))
    elif "memory" in si and (not isinstance(si["memory"], str) or si["memory"] not in si_all):
        raise field_error(f"devices.{name}.memory", si["memory"], ", ".join(si_all))
    return si


@dataclass(frozen=True)
class _Base:
    """A preset with its switches and placement settings applied, before device overrides
    (read-only: shared by every platform built on it)."""

    devices_yaml: dict
    chosen: dict
    placement: dict
    si: dict
    devices: dict
    final: dict  # SI fields each device was built from (PIMs: with their memory's)


_BASES: dict[tuple, _Base] = {}


def _base(location, mtime: int, data: dict, settings: dict) -> _Base:
    key = (str(location), mtime, json.dumps(settings, sort_keys=True, default=str))
    found = _BASES.get(key)
    if found is None:
        devices_yaml, chosen, placement = _apply(data, settings)
        si, devices, final = _resolve(devices_yaml)
        found = _BASES[key] = _Base(devices_yaml, chosen, placement, si, devices, final)
        for fields in devices_yaml.values():  # shared by every platform built on this base
            _SHARED_JSON[id(fields)] = (fields, _canonical(fields))
    return found


def _with_device_overrides(base: _Base, overrides: Mapping[str, object]):
    """(devices YAML, devices) of ``base`` with the dotted device overrides applied; only the
    fields they change are converted and checked (a sweep point changes a few)."""
    devices_yaml = dict(base.devices_yaml)
    changes: dict[str, dict] = {}
    for key, value in overrides.items():
        dev, _, field = key.partition(".")
        if dev in devices_yaml and dev not in changes:
            devices_yaml[dev] = dict(devices_yaml[dev])  # the base's stays as it is
            changes[dev] = {}
        _set(devices_yaml, key, value)
        raw = devices_yaml[dev][field]
        check_value(devices_yaml[dev].get("kind"), si_name(field), raw, f"devices.{dev}.{field}")
        si_key, si_value = to_si(field, raw)
        changes[dev][si_key] = si_value
    si_all = {name: {**base.si[name], **changes[name]} if name in changes else base.si[name]
              for name in devices_yaml}  # fmt: skip
    devices: dict[str, Device] = {}
    for name, si in si_all.items():
        memory = si.get("memory") if str(si.get("kind", "")).endswith(("pim", "aim")) else None
        if name not in changes and memory not in changes:
            devices[name] = base.devices[name]
            continue
        devices[name] = _changed(base, name, _with_memory(name, si, si_all, devices))
    return devices_yaml, devices


def _changed(base: _Base, name: str, si: dict) -> Device:
    """The base device with the fields that differ from its SI replaced (checked as
    ``build_device`` checks them), else built from scratch."""
    before = base.final[name]
    if before.get("kind") != si.get("kind") or set(before) - set(si):
        return _device(name, si)
    changes = {k: v for k, v in si.items() if k not in before or before[k] != v}
    changes.pop("kind", None)
    try:
        return rebuild_device(base.devices[name], changes)
    except KeyError:  # a field the device does not have: the full check names it
        return _device(name, si)


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


_PLAIN = frozenset(" !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`"
                   "abcdefghijklmnopqrstuvwxyz{|}~")  # fmt: skip


def _key(name: str) -> str:
    """``json.dumps(name)``, without the encoder for names JSON writes as they are."""
    return f'"{name}"' if _PLAIN.issuperset(name) else json.dumps(name)


def _hash(config: dict, sources_json: str | None = None) -> str:
    """sha256 of the config's canonical JSON; ``sources_json``: its ``sources`` already
    serialised (constant per preset). Parts serialised before (the sources, devices a base
    preset shares) are spliced in at their sorted place: the same bytes."""
    if sources_json is None:
        return hashlib.sha256(_canonical(config).encode()).hexdigest()
    parts = []
    for key in sorted(config):
        if key == "sources":
            part = sources_json
        elif key == "devices":
            devices = sorted(config["devices"].items())
            part = "{" + ",".join(f"{_key(n)}:{_device_json(d)}" for n, d in devices) + "}"
        else:
            part = _canonical(config[key])
        parts.append(f"{_key(key)}:{part}")
    return hashlib.sha256(("{" + ",".join(parts) + "}").encode()).hexdigest()


_SHARED_JSON: dict[int, tuple[object, str]] = {}  # id(base device YAML) -> (it, its JSON)


def _device_json(fields: object) -> str:
    """Canonical JSON of a device's YAML; a base preset's (shared, read-only) is kept."""
    found = _SHARED_JSON.get(id(fields))
    if found is not None and found[0] is fields:
        return found[1]
    return _canonical(fields)


_SOURCES_JSON: dict[int, str] = {}  # id(merged preset) -> its sources as canonical JSON


def _sources_json(data: dict) -> str:
    found = _SOURCES_JSON.get(id(data))
    if found is None:
        found = _SOURCES_JSON[id(data)] = json.dumps(
            dict(data.get("sources") or {}), sort_keys=True, separators=(",", ":"), default=str
        )
    return found


_CACHE: dict[tuple, Platform] = {}
_MERGED: dict[tuple[str, int], dict] = {}  # (path, mtime) -> preset merged onto its base


def _merged(location, mtime: int) -> dict:
    """The preset merged onto its base, parsed once per file version (sweeps build a platform
    per design point); read-only: ``_apply`` copies what it edits."""
    key = (str(location), mtime)
    if key not in _MERGED:
        _MERGED[key] = _with_base(_read_yaml(location))
    return _MERGED[key]


def load_platform(name_or_path: str, overrides: Mapping[str, object] | None = None) -> Platform:
    """A preset by name (or YAML path) with dotted overrides applied and checked."""
    overrides = dict(overrides or {})
    location = _locate(str(name_or_path))
    mtime = Path(str(location)).stat().st_mtime_ns  # a re-calibrated file is re-read
    key = (str(location), mtime, json.dumps(overrides, sort_keys=True, default=str))
    if key in _CACHE:
        return _CACHE[key]
    data = _merged(location, mtime)
    settings = {k: v for k, v in overrides.items() if k.startswith(("switches.", "placement."))}
    base = _base(location, mtime, data, settings)
    chosen, placement = dict(base.chosen), _copy_tree(base.placement)
    device_overrides = {k: v for k, v in overrides.items() if k not in settings}
    devices_yaml, devices = _with_device_overrides(base, device_overrides)
    if not devices:
        raise AhasdError(f"{location}: a platform needs at least one device")
    config = {
        "name": data.get("name", str(name_or_path)),
        "description": data.get("description", ""),
        "devices": devices_yaml,
        "switches": chosen,
        "placement": placement,
        "overrides": overrides,
        "sources": dict(data.get("sources") or {}),
    }
    platform = Platform(config["name"], devices, config, _hash(config, _sources_json(data)))
    _CACHE[key] = platform
    return platform


def preset_spec(name_or_path: str) -> dict:
    """The preset as written (merged onto its base), switches with all their options."""
    return _with_base(_read_yaml(_locate(str(name_or_path))))


def pim_devices(platform: Platform) -> list[PimDevice]:
    return [d for d in platform.devices.values() if isinstance(d, PimDevice)]
