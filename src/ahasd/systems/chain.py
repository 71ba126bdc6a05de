"""The ablation chain of AHASD's evaluation ([ahasd26] §6.1), as (label, config) steps.

``+aau`` is ``ahasd`` with EDC and TVC off, ``+edc`` is ``ahasd`` with TVC off, ``ahasd`` has all
features (docs/dev/contracts.md). Each system runs on its own default platform.
"""

from __future__ import annotations

from typing import Any

from ahasd.sim.config import SimConfig
from ahasd.sim.result import Result

ABLATION_CHAIN: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("gpu-only", "gpu-only", {}),
    ("specpim", "specpim", {}),
    ("npu-only", "npu-only", {}),
    ("npu-pim-sync", "npu-pim-sync", {}),
    ("npu-pim-async", "npu-pim-async", {}),
    ("+aau", "ahasd", {"use_aau": True, "use_edc": False, "use_tvc": False}),
    ("+edc", "ahasd", {"use_aau": True, "use_edc": True, "use_tvc": False}),
    ("ahasd", "ahasd", {"use_aau": True, "use_edc": True, "use_tvc": True}),
)


def step_fields(name: str) -> dict[str, Any] | None:
    """The config fields of the chain step labelled ``name`` (``+aau`` → ahasd, EDC/TVC off)."""
    for label, system, flags in ABLATION_CHAIN:
        if label == name:
            return {"system": system, **flags}
    return None


def chain_configs(base: SimConfig) -> list[tuple[str, SimConfig]]:
    """One config per chain step: ``base`` with the step's system and flags (platform unset)."""
    fields = base.model_dump(exclude_unset=True)
    fields.pop("platform", None)
    fields.pop("platform_overrides", None)
    out = []
    for label, system, flags in ABLATION_CHAIN:
        out.append((label, SimConfig(**{**fields, "system": system, **flags})))
    return out


def run_chain(base: SimConfig) -> list[tuple[str, Result]]:
    """Simulate every step of the ablation chain on the same pair, policy, trace and seed."""
    from ahasd.systems import simulate

    return [(label, simulate(cfg)) for label, cfg in chain_configs(base)]
