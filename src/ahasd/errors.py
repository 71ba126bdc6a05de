"""One error type for everything a user can get wrong.

The CLI turns an :class:`AhasdError` into a one-line message and exit code 2, never a traceback.
Raise it with a message that names the field and the accepted values or range.
"""

from __future__ import annotations


class AhasdError(ValueError):
    """Bad input: a config field, a file, a name or a CLI flag outside what is accepted."""


def field_error(field: str, value: object, accepted: str) -> AhasdError:
    """Build the standard message: ``<field>: got <value>; accepted: <accepted>``."""
    return AhasdError(f"{field}: got {value!r}; accepted: {accepted}")


def one_line(exc: BaseException) -> str:
    """Render an exception as one line: pydantic errors name the first bad field."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            items = errors()
        except Exception:  # not a pydantic error after all
            items = None
        if items:
            first = items[0]
            loc = ".".join(str(p) for p in first.get("loc", ())) or "input"
            msg = str(first.get("msg", str(exc))).removeprefix("Value error, ")
            got = first.get("input")
            more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
            got_s = f"; got {got!r}" if got is not None and not isinstance(got, dict) else ""
            return f"{loc}: {msg}{got_s}{more}"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
