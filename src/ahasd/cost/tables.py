"""Memoised step-cost tables: the simulator's only access to costs.

``cost(phase, n, kv)`` is one dict lookup after the first call for that exact key; misses round
``kv`` up to the bucket and share the bucket's entry. ``grid`` fills arrays for sweeps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ahasd.cost.model import PLACEMENTS, StepCost, step_cost
from ahasd.errors import field_error
from ahasd.models.ops import Phase
from ahasd.models.shape import bytes_per_param

_PHASES = frozenset(p.value for p in Phase)


class StepCostTable:
    """Step costs of one model under one placement on one platform, per (phase, n, kv bucket)."""

    __slots__ = ("platform", "model", "placement", "precision", "kv_bucket", "offload_bytes",
                 "op_engine", "device", "where", "_hot", "_detail", "_ops")  # fmt: skip

    def __init__(
        self,
        platform,
        model,
        *,
        placement: str,
        precision: str = "int8",
        kv_bucket: int = 64,
        offload_bytes: int = 0,
        op_engine: Mapping[str, str] | None = None,
        device: str | None = None,
        where=None,
    ) -> None:
        if placement not in PLACEMENTS:
            raise field_error("placement", placement, ", ".join(PLACEMENTS))
        if isinstance(kv_bucket, bool) or not isinstance(kv_bucket, int) or kv_bucket < 1:
            raise field_error("kv_bucket", kv_bucket, "an integer >= 1")
        bytes_per_param(precision)
        self.platform, self.model, self.placement = platform, model, placement
        self.precision, self.kv_bucket, self.offload_bytes = precision, kv_bucket, offload_bytes
        self.op_engine = dict(op_engine) if op_engine else None
        self.device = device
        self.where = where  # Residence of the model (memory layer); None = everywhere
        self._hot: dict[tuple[str, int, int], tuple[float, float, Mapping[str, float]]] = {}
        self._detail: dict[tuple[str, int, int], StepCost] = {}
        self._ops: dict = {}  # operator costs shared by the entries (step_cost's memo)

    def bucket(self, kv_len: int) -> int:
        """kv_len rounded up to the bucket width."""
        if kv_len < 0:
            raise field_error("kv", kv_len, "an integer >= 0")
        return -(-kv_len // self.kv_bucket) * self.kv_bucket

    def detail(self, phase: str, n_tokens: int, kv_len: int) -> StepCost:
        phase = getattr(phase, "value", phase)
        if phase not in _PHASES:
            raise field_error("phase", phase, ", ".join(sorted(_PHASES)))
        key = (phase, n_tokens, self.bucket(kv_len))
        found = self._detail.get(key)
        if found is None:
            found = step_cost(
                self.platform, self.model, placement=self.placement, phase=phase,
                n_tokens=n_tokens, kv_len=key[2], precision=self.precision,
                offload_bytes=self.offload_bytes, op_engine=self.op_engine, device=self.device,
                memo=self._ops, where=self.where,
            )  # fmt: skip
            self._detail[key] = found
        return found

    def cost(
        self, phase: str, n_tokens: int, kv_len: int
    ) -> tuple[float, float, Mapping[str, float]]:
        """(seconds, joules, energy_j by component) of one step; kv rounded up to the bucket."""
        try:
            return self._hot[(phase, n_tokens, kv_len)]
        except KeyError:
            pass
        d = self.detail(phase, n_tokens, kv_len)
        value = (d.seconds, d.joules, d.energy_j)
        self._hot[(getattr(phase, "value", phase), n_tokens, kv_len)] = value
        return value

    def grid(
        self, phase: str, n_values: Sequence[int], kv_values: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, joules) arrays of shape (len(n_values), len(kv_values)) for sweeps.

        Each distinct (n, kv bucket) is costed once and broadcast to every kv in the bucket.
        """
        n_arr = np.asarray(n_values, dtype=np.int64)
        kv_arr = np.asarray(kv_values, dtype=np.int64)
        buckets = -(-kv_arr // self.kv_bucket) * self.kv_bucket
        uniq, inverse = np.unique(buckets, return_inverse=True)
        secs = np.empty((n_arr.size, uniq.size))
        joules = np.empty_like(secs)
        for i, n in enumerate(n_arr.tolist()):
            for j, kv in enumerate(uniq.tolist()):
                d = self.detail(phase, n, kv)
                secs[i, j], joules[i, j] = d.seconds, d.joules
        return secs[:, inverse], joules[:, inverse]
