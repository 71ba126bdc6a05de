"""The report's "Hardware parameters" section: every platform a run used, with its sources.

Read from the resolved preset (switch readings and overrides applied), so the table shows the
numbers the runs used, in the preset's own units, beside the citation the preset gives for each.
A parameter set by a switch also names the reading (``switches.NAME=OPTION``) and its citation.
Which keys appear follows their unit suffix, so a field a preset gains later shows up unasked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence

from ahasd.report.table import Row, markdown_table

# (key suffix, unit) in match order; a key is shown when one of these ends it
UNITS = (
    ("_gb_per_s", "GB/s"), ("_mtps", "MT/s"), ("_bits", "bit"), ("_tops", "TOPS"),
    ("_tflops", "TFLOPS"), ("_gops", "GOPS"), ("_gflops", "GFLOPS"), ("_pj_per_bit", "pJ/bit"),
    ("_pj_per_mac", "pJ/MAC"), ("_pj_per_op", "pJ/op"), ("_pj_per_flop", "pJ/FLOP"),
    ("_pj_per_elem", "pJ/element"), ("_nj", "nJ"), ("_mw", "mW"), ("_w", "W"), ("_gib", "GiB"),
    ("_mib", "MiB"), ("_efficiency", "share of peak used"), ("_scope", "total or per unit"),
)  # fmt: skip
_KEEP_NAME = ("_efficiency", "_scope")  # the suffix is the parameter's name, not a unit
_SKIP = re.compile(r"^(aau_|gtsu_switch_ns)")  # AHASD's own units: in the cost docs, not here


def _unit(key: str) -> tuple[str, str] | None:
    """(parameter name without its unit suffix, unit) or None when the key is not shown."""
    if _SKIP.match(key) and not key.endswith("_nj"):
        return None
    for suffix, unit in UNITS:
        if key.endswith(suffix):
            return (key if suffix in _KEEP_NAME else key[: -len(suffix)]), unit
    return None


def _switched(name: str, chosen: Mapping[str, object]) -> dict[str, str]:
    """``device.key`` -> ``switches.SW=OPTION`` for every field a chosen reading sets."""
    from ahasd.hardware.platform import preset_spec

    switches = preset_spec(name).get("switches") or {}
    out = {}
    for sw, option in chosen.items():
        for dotted in switches.get(sw, {}).get("options", {}).get(option) or {}:
            out[dotted] = f"switches.{sw}={option}"
    return out


def platform_table(name: str, overrides: Mapping[str, object] | None = None) -> str:
    """One platform: its description, readings, and a parameter/value/source table."""
    from ahasd.hardware import load_platform
    from ahasd.hardware.devices import DramDevice

    plat = load_platform(name, overrides)
    cfg = plat.config
    sources, by_switch = cfg["sources"], _switched(name, cfg["switches"])
    body = []
    for dev, fields in cfg["devices"].items():
        for key, value in fields.items():
            shown = _unit(key)
            if shown is None or isinstance(value, (dict, list)):
                continue
            dotted = f"{dev}.{key}"
            src = str(sources.get(dotted, "—"))
            if dotted in by_switch:
                reading = by_switch[dotted]
                cite = sources.get(reading.replace("=", "."))
                src += f" (reading {reading}" + (f": {cite})" if cite else ")")
            if dotted in cfg["overrides"]:
                src += " (set by this run's override)"
            body.append([dev, shown[0], f"{value:g}" if isinstance(value, float) else str(value),
                         shown[1], src])  # fmt: skip
        device = plat.devices[dev]
        if isinstance(device, DramDevice):
            body.append([dev, "external_bw (derived)", f"{device.external_bw_bytes_per_s / 1e9:g}",
                         "GB/s", "data rate × bus width"])  # fmt: skip
    readings = ", ".join(f"`{k}={v}`" for k, v in cfg["switches"].items()) or "none"
    extra = ", ".join(
        f"`{k}={v}`" for k, v in cfg["overrides"].items() if not k.startswith("switches.")
    )
    head = f"### {name}\n\n{cfg['description']}\n\nReadings: {readings}."
    if extra:
        head += f" Overrides: {extra}."
    table = markdown_table(["device", "parameter", "value", "unit", "source"], body)
    return f"{head}\n\n{table}"


def used_platforms(rows: Iterable[Row]) -> list[tuple[str, dict[str, object]]]:
    """Distinct (platform, overrides) of the result rows, in first-seen order."""
    seen: dict[str, tuple[str, dict[str, object]]] = {}
    for r in rows:
        name = r.get("cfg.platform")
        if not name:
            continue
        raw = r.get("cfg.platform_overrides") or "{}"
        overrides = json.loads(raw) if isinstance(raw, str) else dict(raw)
        seen.setdefault(f"{name} {json.dumps(overrides, sort_keys=True)}", (str(name), overrides))
    return list(seen.values())


def hardware_markdown(platforms: Sequence[tuple[str, Mapping[str, object]]]) -> str:
    intro = (
        "The parameters each platform gave the runs, in the preset's units, with the source the "
        "preset cites for each (keys in docs/references.md). The presets themselves are "
        "`src/ahasd/hardware/presets/NAME.yaml`; clock, array and timing fields are there too."
    )
    return "\n\n".join([intro, *(platform_table(n, o) for n, o in platforms)])
