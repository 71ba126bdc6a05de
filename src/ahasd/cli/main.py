"""The ``ahasd`` entry point: one typer app, error handling in one place.

Every command module exposes ``register(app)``; bad input (``AhasdError``, pydantic validation
errors) and file-system errors (missing, permission, read-only or full disk) become a one-line
``error: ...`` on stderr and exit code 2.
"""

from __future__ import annotations

import sys
from functools import cache
from typing import Any

import typer

try:  # typer >= 0.24 carries its own copy of click; older releases use click itself
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_errors

from ahasd import __version__
from ahasd.cli import (
    engine_cmd,
    explore_cmd,
    invert_cmd,
    memory_cmd,
    models_cmd,
    peers_cmd,
    reproduce_cmd,
    simulate_cmd,
    trace_cmd,
)
from ahasd.cli.vocab import upgrade_argv
from ahasd.errors import AhasdError, one_line

app = typer.Typer(
    name="ahasd",
    help="Adaptive speculative decoding on heterogeneous mobile hardware: simulate, cost, "
    "reproduce the papers, sweep designs, and run the real engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from ahasd import native

        typer.echo(f"ahasd {__version__} (event loop: {native.status()})")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """ahasd command-line tool."""


for _module in (
    models_cmd,
    trace_cmd,
    simulate_cmd,
    memory_cmd,
    reproduce_cmd,
    explore_cmd,
    invert_cmd,
    peers_cmd,
    engine_cmd,
):
    _module.register(app)


@cache
def command() -> Any:
    """The click command tree of :data:`app`, built once, with plain help (cli/help.py)."""
    from typer.main import get_command

    from ahasd.cli.help import plain_help

    return plain_help(get_command(app))


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error and exit."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; convert user errors into one line and exit code 2.

    click usage errors (bad flags, unknown commands) and everything we raise for bad input land
    here, so every kind of bad input reads the same way.
    """
    try:
        args = upgrade_argv(sys.argv[1:] if argv is None else argv)
        status = command().main(args=args, prog_name="ahasd", standalone_mode=False)
    except click_errors.NoArgsIsHelpError as exc:
        # A bare group or command: show its help, as `--help` would, and exit 2 like click does.
        # typer's rich help prints itself and returns ""; plain click returns the text.
        help_text = exc.ctx.get_help() if exc.ctx else exc.format_message()
        if help_text:
            print(help_text)
        raise SystemExit(2) from None
    except click_errors.UsageError as exc:
        # Bad flags or values: one line naming the command, then exit 2 (typer would draw a box).
        where = f"{exc.ctx.command_path}: " if exc.ctx else ""
        fail(where + one_line(exc.format_message()))
    except AhasdError as exc:
        fail(one_line(exc))
    except OSError as exc:  # permission, read-only or full disk, missing file: name the path
        where = f"{exc.filename}: " if exc.filename else ""
        fail(f"{where}{exc.strerror or one_line(exc)}")
    except (typer.Abort, KeyboardInterrupt):
        fail("interrupted", 130)
    except Exception as exc:  # pydantic ValidationError, without importing pydantic here
        if type(exc).__name__ == "ValidationError":
            fail(one_line(exc))
        raise
    if isinstance(status, int) and status:  # typer.Exit(code) returns the code in this mode
        raise SystemExit(status)


if __name__ == "__main__":
    main()
