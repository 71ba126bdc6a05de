"""User-facing helpers: map a device name to a placement, and a step cost to a JSON dict."""

from __future__ import annotations

from ahasd.cost.memory import plan_memory
from ahasd.cost.model import PLACEMENTS, StepCost, step_cost
from ahasd.errors import field_error
from ahasd.hardware.devices import NpuDevice, PimDevice, RooflineDevice


def resolve_device(platform, name: str) -> tuple[str, str | None]:
    """``--device`` -> (placement, device name or None).

    A placement name is used as is. A device name maps by kind: an NPU -> ``npu``; a PIM with
    an AAU -> ``pim``, without -> ``pim`` on that device (its ALUs run the vector ops); a GPU or
    CPU -> ``gpu``/``cpu`` on that device. Plain DRAM computes nothing and is refused.
    """
    if name in PLACEMENTS:
        return name, None
    dev = platform.devices.get(name)
    if isinstance(dev, NpuDevice):
        return "npu", name
    if isinstance(dev, PimDevice):
        return "pim", name
    if isinstance(dev, RooflineDevice):
        return dev.kind, name
    computing = [n for n, d in platform.devices.items()
                 if isinstance(d, (NpuDevice, PimDevice, RooflineDevice))]  # fmt: skip
    raise field_error(
        "device", name,
        f"a computing device of {platform.name} ({', '.join(computing)}) or a placement "
        f"({', '.join(PLACEMENTS)})",
    )  # fmt: skip


def offload_for(platform, model, placement: str, device: str | None, precision: str) -> int:
    """Bytes of ``model`` that must stream over the host link on a gpu/cpu placement."""
    if placement not in ("gpu", "cpu", "gpu-hbmpim-op"):
        return 0
    name = device or next(
        n
        for n, d in platform.devices.items()
        if isinstance(d, RooflineDevice) and d.kind == placement.split("-")[0]
    )
    plan = plan_memory(platform, [model], precision=precision, device=name)
    return plan.offload_bytes.get(model.name, 0)


def run_cost(model, platform, *, device: str, phase: str, tokens: int, kv: int,
             precision: str) -> tuple[StepCost, dict]:  # fmt: skip
    """Cost one step as ``ahasd cost`` does; returns the StepCost and its JSON summary."""
    placement, dev = resolve_device(platform, device)
    offload = offload_for(platform, model, placement, dev, precision)
    step = step_cost(platform, model, placement=placement, phase=phase, n_tokens=tokens,
                     kv_len=kv, precision=precision, offload_bytes=offload, device=dev)  # fmt: skip
    summary = {
        "model": model.name, "platform": platform.name, "device": device,
        "placement": placement, "phase": phase, "tokens": tokens, "kv": kv,
        "precision": precision, "latency_s": step.seconds, "energy_j": step.joules,
        "bound": step.bound, "limit": step.limit, "time_by_resource": dict(step.times_s),
        "offload_bytes": offload,
        "energy_by_component": dict(step.energy_j), "platform_hash": platform.config_hash,
        "switches": platform.config["switches"],
        "ops": [
            {"name": op.name, "kind": op.kind.value, "count": op.count, "m": op.m, "n": op.n,
             "k": op.k, "macs": op.macs, "weight_bytes": op.weight_bytes,
             "act_bytes": op.act_bytes, "kv_read_bytes": op.kv_read_bytes,
             "kv_write_bytes": op.kv_write_bytes, "seconds": c.seconds, "joules": c.joules,
             "bound": c.bound, "limit": c.limit, "engine": c.engine,
             "time_by_resource": dict(c.times_s)}
            for op, c in step.ops
        ],
    }  # fmt: skip
    return step, summary
