"""``SimConfig``: the one boundary object that fully describes a simulated run.

Frozen and ``extra="forbid"`` so that a typo is an error, not a silently ignored field; its hash
(sha256 of canonical JSON) identifies a run in caches and results.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ahasd.policies.settings import EdcConfig, TvcConfig


class SimConfig(BaseModel):
    """Everything a run depends on; see docs/systems.md for what each system reads."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    system: str = "ahasd"
    platform: str = "ahasd-mobile"
    platform_overrides: dict[str, Any] = Field(default_factory=dict)
    draft: str = "llama2-7b"
    target: str = "llama2-13b"
    precision: str = "int8"
    policy: str = "adaedl"
    policy_args: dict[str, Any] = Field(default_factory=dict)
    trace: str | None = None  # a trace file; overrides profile
    profile: str | None = None  # neither -> default_profile(draft, target)
    tokens: int = Field(1024, ge=1, le=10_000_000)
    seed: int = Field(0, ge=0)
    decoding: Literal["greedy", "sampled"] = "greedy"
    prompt_len: int = Field(128, ge=1, le=1_000_000)
    use_aau: bool = True
    use_edc: bool = True
    use_tvc: bool = True
    use_gtsu: bool = True
    edc: EdcConfig = Field(default_factory=EdcConfig)
    tvc: TvcConfig = Field(default_factory=TvcConfig)
    queue_depth: int = Field(8, ge=1, le=4096)  # [ahasd-resim] manuscript table: 8 entries
    kv_bucket: int = Field(64, ge=1, le=65_536)
    record_timeline: bool = False
    gamma: int | None = Field(None, ge=1, le=64)  # fixed-γ systems (specpim); None = policy
    specpim_design: dict[str, Any] | None = None

    def config_hash(self) -> str:
        """sha256 of the canonical (key-sorted) JSON dump."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()
