"""Where the weights live: device capacity, host offload, or nowhere (an error)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ahasd.errors import AhasdError
from ahasd.hardware.devices import NpuDevice, RooflineDevice


@dataclass(frozen=True, slots=True)
class MemoryPlan:
    fits: bool
    capacity_bytes: int
    required_bytes: int
    offload_bytes: dict[str, int] = field(default_factory=dict)  # model name -> bytes over link
    device: str = ""
    host_capacity_bytes: int = 0


def _host_capacity(platform, device) -> int:
    """Host memory that can hold offloaded weights (GPU/CPU devices with a host link only)."""
    if not isinstance(device, RooflineDevice) or device.host_link_bw_bytes_per_s <= 0:
        return 0
    return int(sum(d.capacity_bytes for n, d in platform.devices.items()
                   if d.kind == "cpu" and n != device.name))  # fmt: skip


def plan_memory(
    platform, models: Sequence, *, precision: str, device: str, kv_tokens: int = 0
) -> MemoryPlan:
    """Fit the models' weights and KV caches on ``device``; excess weights stream from host
    memory each pass.

    The KV caches (``kv_tokens`` positions each) stay on the device; models' weights are placed
    smallest first (the draft runs most often, so it stays resident); the remainder of the
    first model that does not fit, and every later model, is offloaded.
    Raises AhasdError when they fit neither on the device nor with the host's help.
    """
    dev = platform.device(device)
    holder = platform.device(dev.memory) if isinstance(dev, NpuDevice) else dev
    capacity = int(holder.capacity_bytes)
    sizes = {m.name: m.weight_bytes(precision) for m in models}
    kv = sum(m.kv_bytes_per_token(precision) * kv_tokens for m in models)
    required = sum(sizes.values()) + kv
    if kv > capacity:
        raise AhasdError(
            f"models: the KV caches of {', '.join(sizes)} for {kv_tokens} tokens need "
            f"{kv / 1e9:.1f} GB but {device} holds {capacity / 1e9:.1f} GB; accepted: fewer "
            "tokens, a lower precision or a larger platform"
        )
    if required <= capacity:
        return MemoryPlan(True, capacity, required, dict.fromkeys(sizes, 0), device)
    host = _host_capacity(platform, dev)
    if required > capacity + host:
        raise AhasdError(
            f"models: {', '.join(sizes)} need {required / 1e9:.1f} GB at {precision} but "
            f"{device} holds {capacity / 1e9:.1f} GB and host memory {host / 1e9:.1f} GB; "
            "accepted: smaller models, a lower precision or a larger platform"
        )
    offload, free = {}, capacity - kv
    for name in sorted(sizes, key=lambda n: sizes[n]):
        keep = min(sizes[name], free)
        offload[name] = sizes[name] - keep
        free -= keep
    return MemoryPlan(False, capacity, required, offload, device, host)
