"""One vocabulary across commands (docs/cli.md), and the old spellings it replaced.

The rule: ``--draft``/``--target`` name a model, either a bundled name or a local directory (the
real engine needs a directory with weights and defaults to the demo pair); ``--tokens`` is the
number of tokens to generate; ``--torch-device`` is a torch device, while ``--device`` stays the
simulated hardware device of ``cost``; ``-j``/``--jobs`` is the number of worker processes.

Old spellings keep working for one release: :func:`upgrade_argv` rewrites them before click
parses the command line, so they appear in no help text, and prints one note per old flag on
stderr (stdout stays clean for ``--json``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ahasd.errors import AhasdError

# command path -> {old flag: new flag}
RENAMED: dict[tuple[str, ...], dict[str, str]] = {
    ("generate",): {"--max-new-tokens": "--tokens", "--device": "--torch-device"},
    ("validate",): {"--device": "--torch-device"},
    ("trace", "record"): {"--max-new-tokens": "--tokens", "--device": "--torch-device"},
    ("edge-plan",): {
        "--draft-dir": "--draft",
        "--target-dir": "--target",
        "--new-tokens": "--tokens",
        "--device": "--torch-device",
    },
}


def upgrade_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with deprecated flags replaced by their new names (a note on stderr for each)."""
    args = list(argv)
    path = tuple(args[: next((i for i, a in enumerate(args) if a.startswith("-")), len(args))])
    table = RENAMED.get(path[:2]) or RENAMED.get(path[:1])
    if not table:
        return args
    given = {a.partition("=")[0] for a in args}
    for i in range(len(path), len(args)):
        flag, eq, value = args[i].partition("=")
        if flag == "--":  # everything after it is a value
            break
        new = table.get(flag)
        if new is None:
            continue
        if new in given:
            raise AhasdError(f"{flag} and {new} both given: {flag} is the old spelling of {new}")
        print(
            f"note: {flag} is deprecated and goes in the next release; use {new}", file=sys.stderr
        )
        args[i] = new + eq + value
    return args


def engine_model_dir(value: str | None, flag: str, role: str) -> str:
    """The directory the real engine loads for ``--draft``/``--target`` (``role``: draft, target).

    ``None`` means the demo pair; a bundled name has no weights, so it is refused with a pointer
    to ``ahasd demo-models``, as is a missing directory. Errors name the flag.
    """
    from pathlib import Path

    from ahasd.engine.loading import check_model_dir
    from ahasd.models import list_models
    from ahasd.report.host import demo_dir

    hint = "build the demo pair with `ahasd demo-models`"
    if value is None:
        path = demo_dir() / role
        if not path.is_dir():
            raise AhasdError(f"{flag}: no demo pair at {path.parent}; {hint}, or give {flag} DIR")
        return str(check_model_dir(path, flag))
    if value in list_models() and not Path(value).is_dir():
        raise AhasdError(
            f"{flag}: {value!r} is a bundled model shape without weights; accepted: a local model "
            f"directory (config.json + *.safetensors); {hint}"
        )
    if not Path(value).expanduser().is_dir():
        raise AhasdError(
            f"{flag}: got {value!r}; accepted: a local model directory (config.json + "
            f"*.safetensors); {hint}"
        )
    return str(check_model_dir(value, flag))
