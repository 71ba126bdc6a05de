"""Measure this machine for the ``host-cpu`` preset (numpy fp32 GEMM rate and copy bandwidth).

``calibrate_host`` returns preset values in YAML units; ``write_host_preset`` writes them to
``$AHASD_HOME/platforms/host-cpu.yaml``, which ``load_platform("host-cpu")`` then prefers.
"""

from __future__ import annotations

import os
import platform as _platform
import time
from pathlib import Path

import numpy as np
import yaml

from ahasd.errors import field_error
from ahasd.fileio import write_text
from ahasd.hardware.platform import _preset_dir, ahasd_home


def _best_rate(fn, work: float, budget_s: float) -> float:
    """Best work/second over repeated calls within the time budget (at least three calls)."""
    best, spent, calls = 0.0, 0.0, 0
    while calls < 3 or spent < budget_s:
        start = time.perf_counter()
        fn()
        dt = time.perf_counter() - start
        spent += dt
        calls += 1
        best = max(best, work / dt if dt > 0 else 0.0)
    return best


def measure_gemm_flops(budget_s: float, n: int = 512) -> float:
    """fp32 FLOP/s of an n x n numpy GEMM (2 n^3 FLOPs per call)."""
    a = np.ones((n, n), dtype=np.float32)
    b = np.ones((n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    return _best_rate(lambda: np.matmul(a, b, out=out), 2.0 * n**3, budget_s)


def measure_copy_bw(budget_s: float, nbytes: int = 64 * 2**20) -> float:
    """Copy bandwidth in bytes/s (read + write counted) of a buffer larger than the caches."""
    src = np.ones(nbytes // 8, dtype=np.float64)
    dst = np.empty_like(src)
    return _best_rate(lambda: np.copyto(dst, src), 2.0 * src.nbytes, budget_s)


def physical_memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def calibrate_host(seconds: float = 2.0) -> dict:
    """Measure the host; returns the ``host-cpu`` device fields (YAML units) and provenance."""
    if not seconds > 0:
        raise field_error("seconds", seconds, "a number > 0")
    flops = measure_gemm_flops(seconds / 2)
    bw = measure_copy_bw(seconds / 2)
    return {
        "fp32_gflops": round(flops / 1e9, 3),
        "fp16_gflops": round(flops / 2e9, 3),
        "int8_gops": round(flops / 1e9, 3),
        "mem_bw_gb_per_s": round(bw / 1e9, 3),
        "capacity_gib": round(physical_memory_bytes() / 2**30, 3),
        "machine": f"{_platform.machine()} {_platform.processor() or ''}".strip(),
        "cpus": os.cpu_count() or 1,
        "seconds": seconds,
    }


HOST_KEYS = ("fp32_gflops", "fp16_gflops", "int8_gops", "mem_bw_gb_per_s", "capacity_gib")


def write_host_preset(
    values: dict, out: Path | None = None, pair: dict[str, float] | None = None
) -> Path:
    """Write the built-in host-cpu preset with the measured values substituted.

    ``pair``: further ``cpu`` fields (YAML units) measured for the real engine on one model pair
    (``ahasd.engine.host_preset``); they replace the host's own where both give one.
    """
    path = Path(out) if out else ahasd_home() / "platforms" / "host-cpu.yaml"
    data = yaml.safe_load((_preset_dir() / "host-cpu.yaml").read_text())
    cpu = data["devices"]["cpu"]
    note = f"measured by `ahasd calibrate-host` ({values.get('seconds', '?')} s) on this machine"
    for key in HOST_KEYS:
        cpu[key] = values[key]
        data["sources"][f"cpu.{key}"] = note
    for key, value in (pair or {}).items():
        cpu[key] = value
        data["sources"][f"cpu.{key}"] = (
            "measured by `ahasd calibrate-host --draft --target` on this machine (torch "
            "micro-benchmarks and decode-loop stand-ins; docs/engine.md)"
        )
    kind = "calibrated for the engine on a model pair" if pair else "calibrated"
    data["description"] = f"this machine's CPU, {kind} ({values.get('machine', '')})"
    return write_text(path, yaml.safe_dump(data, sort_keys=False))
