"""Driver bugs the simulator checks for (user input raises :class:`~ahasd.errors.AhasdError`).

In their own module because the classes that raise them are compiled (docs/systems.md, "Speed"),
and a compiled class cannot subclass a built-in exception in the same module.
"""

from __future__ import annotations


class CommitError(RuntimeError):
    """A driver committed tokens out of order or accepted a token the trace rejects."""


class QueueFullError(RuntimeError):
    """A producer pushed into a full queue instead of waiting."""
