"""``ahasd invert``: what it would take for each published claim to hold.

Claims (:mod:`.claims`), the documented readings with their allowed ranges (:mod:`.readings`,
``readings.yaml``), the per-claim search (:mod:`.search`), joint feasibility (:mod:`.joint`) and
the binding reasons (:mod:`.reasons`); :func:`invert` drives them through the explore layer's
executors and result cache.
"""

from __future__ import annotations

from ahasd.explore.invert.claims import CLAIMS, Claim, select
from ahasd.explore.invert.readings import Param, load_entries, resolve
from ahasd.explore.invert.run import DEFAULT_BUDGET, invert

__all__ = [
    "CLAIMS",
    "DEFAULT_BUDGET",
    "Claim",
    "Param",
    "invert",
    "load_entries",
    "resolve",
    "select",
]
