"""systems layer: one registered driver per system, and ``simulate``.

Each module registers itself in ``SYSTEMS`` on import: a new system is one
module, one import line here and one test file.
"""

from __future__ import annotations

from typing import Any

from ahasd.errors import AhasdError
from ahasd.sim.config import SimConfig
from ahasd.sim.result import Result
from ahasd.systems import ahasd as ahasd  # noqa: F401  (registers "ahasd")
from ahasd.systems import edge as edge
from ahasd.systems import gpu_only as gpu_only
from ahasd.systems import lpspec as lpspec
from ahasd.systems import npu_only as npu_only
from ahasd.systems import npu_pim_async as npu_pim_async
from ahasd.systems import npu_pim_sync as npu_pim_sync
from ahasd.systems import specpim as specpim
from ahasd.systems.base import SYSTEMS, System, prepare, resolve_platform

__all__ = ["SYSTEMS", "SimConfig", "Result", "System", "simulate"]


def simulate(config: SimConfig | dict[str, Any] | None = None, /, **fields: Any) -> Result:
    """Simulate one run: ``ahasd.simulate(system="ahasd", tokens=512)`` or with a ``SimConfig``.

    Keyword fields override the config's. A system runs on its own default platform unless a
    platform is named explicitly.
    """
    if isinstance(config, dict):
        config = SimConfig(**config)
    if config is None:
        config = SimConfig(**fields)
    elif fields:
        merged = {**config.model_dump(exclude_unset=True), **fields}
        config = SimConfig(**merged)
    elif not isinstance(config, SimConfig):
        raise AhasdError(f"config: got {type(config).__name__}; accepted: SimConfig, dict or None")
    system = SYSTEMS.get(config.system)
    explicit = "platform" in config.model_fields_set
    config = resolve_platform(config, system, explicit)
    ctx = prepare(config, system)
    return system().run(ctx)
