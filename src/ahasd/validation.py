"""Checks shared by every layer: a number is finite and in its stated range; JSON stays valid.

A ``< 0`` test lets NaN through (every comparison with NaN is false), so ranges here are written
as the condition a value must meet, never the one it must not. Every failure is one
:func:`~ahasd.errors.field_error` line naming the field and the accepted range.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ahasd.errors import AhasdError, field_error


def describe_range(low: float | None, high: float | None, *, open_low: bool, integer: bool) -> str:
    """``an integer in 1..64``, ``a finite number > 0``, ``a number in (0, 1]``, ..."""
    what = "an integer" if integer else "a finite number"
    lo, hi = _fmt(low), _fmt(high)
    if low is not None and high is not None:
        if integer:
            return f"{what} in {lo}..{hi}"
        noun = "a fraction" if (low, high) == (0, 1) else "a number"
        return f"{noun} in {'(' if open_low else '['}{lo}, {hi}]"
    if low is not None:
        return f"{what} {'>' if open_low else '>='} {lo}"
    if high is not None:
        return f"{what} <= {hi}"
    return what


def _fmt(x: float | None) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def check_number(
    field: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    open_low: bool = False,
    integer: bool = False,
) -> float | int:
    """``value`` as a float (or int) when it is finite and in range; else a one-line error.

    ``open_low`` makes the lower bound strict (``> low``): for rates, clocks and sizes that the
    model divides by, zero is as meaningless as a negative value.
    """
    accepted = describe_range(low, high, open_low=open_low, integer=integer)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise field_error(field, value, accepted)
    if not math.isfinite(value):
        raise field_error(field, value, accepted)
    if integer and int(value) != value:
        raise field_error(field, value, accepted)
    ok_low = low is None or (value > low if open_low else value >= low)
    ok_high = high is None or value <= high
    if not (ok_low and ok_high):
        raise field_error(field, value, accepted)
    return int(value) if integer else float(value)


def check_count(field: str, value: object, low: int, high: int) -> int:
    """An integer in ``low..high`` (a flag that sizes work: tokens, trials, nodes, jobs)."""
    return int(check_number(field, value, low=low, high=high, integer=True))


def non_finite_path(obj: Any, path: str = "") -> str | None:
    """The dotted path of the first NaN or infinity inside nested dicts/lists, or None."""
    if isinstance(obj, float):
        return None if math.isfinite(obj) else (path or "value")
    if isinstance(obj, dict):
        items = ((f"{path}.{k}" if path else str(k), v) for k, v in obj.items())
    elif isinstance(obj, (list, tuple)):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(obj))
    else:
        return None
    for sub, value in items:
        hit = non_finite_path(value, sub)
        if hit is not None:
            return hit
    return None


def json_text(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` that never writes ``NaN``/``Infinity`` (not JSON): a one-line error instead.

    Inputs are checked to be finite, so a non-finite output is a result the model cannot give
    for that input (e.g. tokens per joule with every energy set to zero); say where it is.
    """
    try:
        return json.dumps(obj, allow_nan=False, **kwargs)
    except ValueError as exc:
        where = non_finite_path(obj)
        if where is None:
            raise
        raise AhasdError(
            f"{where}: the result is not a finite number for this input; JSON cannot carry it"
        ) from exc
