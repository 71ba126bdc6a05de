"""Build frozen slotted dataclass instances without their ``__init__`` (hot loops only).

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``, which costs
about three times a plain slot store. The simulator builds a ``TokenSignals`` per drafted token
and a ``RoundOutcome`` per verification; setting the slots through their descriptors builds the
same, still frozen, object ~40% faster. Classes with a ``__post_init__``, no slots, or fields
other than the ones the caller passes get their ordinary constructor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any


def builder(cls: type, names: tuple[str, ...]) -> Callable[..., Any]:
    """A function ``(*values) -> cls instance`` equal to ``cls(*values)`` for fields ``names``."""
    plain = (
        is_dataclass(cls)
        and "__slots__" in cls.__dict__
        and not hasattr(cls, "__post_init__")
        and tuple(f.name for f in fields(cls)) == names
    )
    if not plain:
        return cls
    new = cls.__new__
    setters = tuple(getattr(cls, name).__set__ for name in names)
    if len(names) == 3:
        s0, s1, s2 = setters

        def build3(a: Any, b: Any, c: Any) -> Any:
            obj = new(cls)
            s0(obj, a)
            s1(obj, b)
            s2(obj, c)
            return obj

        return build3
    if len(names) == 4:
        s0, s1, s2, s3 = setters

        def build4(a: Any, b: Any, c: Any, d: Any) -> Any:
            obj = new(cls)
            s0(obj, a)
            s1(obj, b)
            s2(obj, c)
            s3(obj, d)
            return obj

        return build4
    return cls
