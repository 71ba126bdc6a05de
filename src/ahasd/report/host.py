"""Where the real engine's demo pair lives, for the measured sections of the report and CLI.

The measurement itself is :mod:`ahasd.report.edge_measure` (``edge-plan --measure``).
"""

from __future__ import annotations

import os
from pathlib import Path


def demo_dir() -> Path:
    """Where the engine's demo pair is looked for: ``$AHASD_DEMO_MODELS`` or ``$AHASD_HOME``."""
    from ahasd.hardware.platform import ahasd_home

    return Path(os.environ.get("AHASD_DEMO_MODELS", ahasd_home() / "demo-models"))
