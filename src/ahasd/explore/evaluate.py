"""One design point → one flat result row, in-process."""

from __future__ import annotations

from typing import Any


def evaluate(config: Any) -> dict[str, Any]:
    """Simulate ``config`` (a ``SimConfig`` or a dict of its fields) and return ``Result.to_row()``.

    A module-level function so process pools and Ray can ship it by reference.
    """
    from ahasd.systems import simulate

    return simulate(config).to_row()
