"""The ``area`` objective: silicon area of AHASD's additions to the LPDDR5-PIM die, in mm².

Only what a design point switches or sizes is counted (AAU, EDC, TVC, unverified-draft queue,
GTSU), so the objective ranks designs by the area they add; the DRAM die itself is the same for
all of them. Published areas are from AHASD's manuscript table ([ahasd26] area
table); GTSU has no figure there and uses [ahasd-resim]'s. EDC/TVC scale with their storage bits and
the queue with its depth, relative to the sizes those areas were reported for (an assumption:
area ∝ bits, as for SRAM tables). Systems without the additions add 0 mm².
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

AAU_MM2 = 1.25  # [ahasd26] area table (28 nm, Yosys + OpenROAD)
EDC_MM2 = 0.05  # [ahasd26] area table, at the default EDC table sizes
TVC_MM2 = 0.03  # [ahasd26] area table, at the default TVC table sizes
QUEUE_MM2 = 0.01  # [ahasd26] area table, queues at 8 entries ([ahasd-resim])
GTSU_MM2 = 0.006  # [ahasd-resim] (no figure in [ahasd26])
QUEUE_REF_DEPTH = 8

ADDITIONS = {"ahasd": True, "npu-pim-async": False}  # system -> has AAU/EDC/TVC/GTSU flags


def area_mm2(cfg: Any) -> float:
    """Area added by AHASD's units for this config (0 for systems without them)."""
    if cfg.system not in ADDITIONS:
        return 0.0
    total = QUEUE_MM2 * cfg.queue_depth / QUEUE_REF_DEPTH  # both async systems have the queue
    if not ADDITIONS[cfg.system]:
        return total
    if cfg.use_aau:
        total += AAU_MM2
    if cfg.use_gtsu:
        total += GTSU_MM2
    if cfg.use_edc:
        total += EDC_MM2 * _bits_ratio("edc", cfg.edc.model_dump_json())
    if cfg.use_tvc:
        total += TVC_MM2 * _bits_ratio("tvc", cfg.tvc.model_dump_json())
    return total


@lru_cache(maxsize=1024)
def _bits_ratio(kind: str, config_json: str) -> float:
    """storage_bits(config) / storage_bits(default config); 1.0 if the controller has no count."""
    if kind == "edc":
        from ahasd.policies.edc import EDC as Unit
        from ahasd.policies.settings import EdcConfig as Cfg
    else:
        from ahasd.policies.settings import TvcConfig as Cfg
        from ahasd.policies.tvc import TVC as Unit
    try:
        bits = float(Unit(Cfg.model_validate_json(config_json)).storage_bits)
        ref = float(Unit(Cfg()).storage_bits)
    except (AttributeError, TypeError):
        return 1.0
    return bits / ref if ref > 0 else 1.0
