"""Help text without type placeholders, for the whole command tree at once.

Recent typer releases print each parameter's Python type as a placeholder: ``--json <bool>``
(a flag takes no value, and ``--json true`` is rejected), ``--set <list[str]>``, and a required
positional as ``{model}`` in the usage line. The cause is typer's help renderer, which shows
``display_type_rich()`` for every parameter unless a ``metavar`` is set, and wraps required
positionals in braces. :func:`plain_help` walks the built click command tree once: flags get an
empty metavar, value options an upper-case one (``INTEGER``, ``PATH``, or the one declared, such
as ``KEY=VALUE``), and positionals show their upper-case name, bare when required and
``[NAME]`` when optional, as click always did. Older typer releases (on click itself) already
render that way; there the metavars are simply the ones they would print.
"""

from __future__ import annotations

from functools import cache
from pathlib import PurePath
from typing import Any, get_args, get_origin

TYPE_NAMES = {str: "TEXT", int: "INTEGER", float: "FLOAT"}


def plain_help(command: Any) -> Any:
    """Give every parameter of ``command`` and its subcommands a plain metavar; returns it."""
    ctx = command.context_class(command, info_name=command.name)
    params = list(command.params)
    help_option = command.get_help_option(ctx)
    if help_option is not None:
        params.append(help_option)
    for param in params:
        _plain_param(param)
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)
    return command


def _plain_param(param: Any) -> None:
    if getattr(param, "param_type_name", "") == "argument":
        if param.metavar is None:
            param.metavar = param.name.upper()
        param.__class__ = _plain_argument(type(param))
    elif getattr(param, "is_flag", False) or getattr(param, "count", False):
        param.metavar = ""
    elif param.metavar is None:
        param.metavar = _type_name(param)


def _type_name(param: Any) -> str:
    """``INTEGER``, ``FLOAT``, ``PATH`` or ``TEXT`` from the declared type (one item of a list)."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None:  # typer on click: click's own parameter type has the name
        return str(getattr(param.type, "name", "text")).upper()
    annotation = descriptor.annotation
    if get_origin(annotation) is list:
        (annotation,) = get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        return "PATH"
    return TYPE_NAMES.get(annotation, "TEXT")


@cache
def _plain_argument(cls: type) -> type:
    """``cls`` with click's usage form (``NAME``, ``[NAME]``) and no type column in help."""

    class PlainArgument(cls):  # type: ignore[misc, valid-type]
        def get_usage_pieces(self, ctx: Any) -> list[str]:
            name = self.metavar if self.required else f"[{self.metavar}]"
            return [name + ("..." if self.nargs != 1 else "")]

        def display_type_rich(self, ctx: Any) -> None:
            return None

    PlainArgument.__name__ = PlainArgument.__qualname__ = f"Plain{cls.__name__}"
    return PlainArgument
