"""The one place where human units in YAML become SI floats.

A preset key carries its unit as a suffix (``clock_ghz``, ``bw_gb_per_s``, ``static_mw``); the
runtime field is the same stem with the SI suffix (``clock_hz``, ``bw_bytes_per_s``,
``static_w``). Keys without a unit suffix (counts, efficiencies, switches) pass through.
"""

from __future__ import annotations

from functools import lru_cache

# (yaml suffix, SI suffix, factor); longest suffix first so "_pj_per_bit" wins over "_bit".
SUFFIXES: tuple[tuple[str, str, float], ...] = tuple(
    sorted(
        [
            ("_ghz", "_hz", 1e9),
            ("_mhz", "_hz", 1e6),
            ("_mtps", "_hz", 1e6),  # mega-transfers per second (DRAM data rate)
            ("_tb_per_s", "_bytes_per_s", 1e12),
            ("_gb_per_s", "_bytes_per_s", 1e9),
            ("_gib", "_bytes", 2.0**30),
            ("_mib", "_bytes", 2.0**20),
            ("_kib", "_bytes", 2.0**10),
            ("_gb", "_bytes", 1e9),
            ("_tops", "_ops_per_s", 1e12),
            ("_gops", "_ops_per_s", 1e9),
            ("_tflops", "_flops_per_s", 1e12),
            ("_gflops", "_flops_per_s", 1e9),
            ("_mw", "_w", 1e-3),
            ("_ns", "_s", 1e-9),
            ("_us", "_s", 1e-6),
            ("_ms", "_s", 1e-3),
            ("_nj", "_j", 1e-9),
            ("_pj_per_bit", "_j_per_bit", 1e-12),
            ("_pj_per_mac", "_j_per_mac", 1e-12),
            ("_pj_per_op", "_j_per_op", 1e-12),
            ("_pj_per_flop", "_j_per_flop", 1e-12),
            ("_pj_per_elem", "_j_per_elem", 1e-12),
        ],
        key=lambda s: -len(s[0]),
    )
)


@lru_cache(maxsize=4096)
def _unit(key: str) -> tuple[str, float] | None:
    """(SI key, factor) of a suffixed YAML key, None for an unsuffixed one (memoised: platforms
    with overrides are built per design point)."""
    for suffix, si_suffix, factor in SUFFIXES:
        if key.endswith(suffix):
            return key[: -len(suffix)] + si_suffix, factor
    return None


def si_name(key: str) -> str:
    """The SI field a YAML key sets (``clock_ghz`` -> ``clock_hz``)."""
    unit = _unit(key)
    return key if unit is None else unit[0]


def to_si(key: str, value: object) -> tuple[str, object]:
    """``("clock_ghz", 1.0) -> ("clock_hz", 1e9)``; unsuffixed keys are returned unchanged."""
    unit = _unit(key)
    if unit is None:
        return key, value
    si_key, factor = unit
    if isinstance(value, dict):  # a table in one unit (``timing_ns: {tCK: 1.25}``)
        return si_key, {k: _scaled(v, factor) for k, v in value.items()}
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return si_key, value  # the schema check reports the type
    return si_key, float(value) * factor


def _scaled(value: object, factor: float) -> object:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return float(value) * factor


def yaml_spellings(si_key: str) -> list[str]:
    """The YAML keys that map onto an SI field (for error messages); the SI name also works."""
    return list(_spellings(si_key))


@lru_cache(maxsize=1024)
def _spellings(si_key: str) -> tuple[str, ...]:
    out = [
        si_key[: -len(si_suf)] + y_suf
        for y_suf, si_suf, _ in SUFFIXES
        if si_key.endswith(si_suf)
        and not (si_suf == "_s" and si_key.endswith("_per_s"))
        and (y_suf != "_mtps" or si_key.startswith("data_rate"))
    ]
    return (*out, si_key)
