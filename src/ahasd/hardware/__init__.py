"""Hardware descriptions (NPU, DRAM, PIM, GPU/CPU) and YAML platform presets."""

from ahasd.hardware.devices import (
    DEVICE_KINDS,
    Device,
    DramDevice,
    NpuDevice,
    PimDevice,
    RooflineDevice,
)
from ahasd.hardware.platform import Platform, ahasd_home, list_platforms, load_platform

__all__ = [
    "DEVICE_KINDS",
    "Device",
    "DramDevice",
    "NpuDevice",
    "PimDevice",
    "Platform",
    "RooflineDevice",
    "ahasd_home",
    "list_platforms",
    "load_platform",
]
