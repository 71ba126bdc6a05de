"""Provenance of a report: which code, when, where and with which command produced it.

The git commit is read from the checkout the ``ahasd`` package was imported from (guarded: an
installed wheel, a missing ``git`` or a tree outside git gives "unknown"); uncommitted changes to
tracked files are flagged, since they make the commit alone an incomplete description.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ahasd.report.table import markdown_table

UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Provenance:
    version: str
    commit: str
    dirty: bool | None  # None: not known
    date_utc: str
    host: str
    python: str
    command: str


def _git(*args: str) -> str | None:
    root = Path(__file__).resolve().parents[1]  # the ahasd package directory
    try:
        out = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_commit() -> tuple[str, bool | None]:
    """(full commit hash or "unknown", whether tracked files differ from it or None)."""
    commit = _git("rev-parse", "HEAD")
    if not commit:
        return UNKNOWN, None
    status = _git("status", "--porcelain", "--untracked-files=no")
    return commit, None if status is None else bool(status)


def command_line(args: Sequence[object]) -> str:
    """``args`` as one shell command line, each argument quoted where the shell needs it."""
    return " ".join(shlex.quote(str(a)) for a in args)


def collect(command: str) -> Provenance:
    from ahasd import __version__

    commit, dirty = git_commit()
    return Provenance(
        version=__version__,
        commit=commit,
        dirty=dirty,
        date_utc=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        host=f"{platform.node() or UNKNOWN} ({platform.platform()}, {os.cpu_count()} CPUs)",
        python=platform.python_version(),
        command=command,
    )


def provenance_markdown(p: Provenance) -> str:
    state = {None: "", False: " (clean)", True: " (with uncommitted changes to tracked files)"}
    rows = [
        ["ahasd version", p.version],
        ["git commit", f"`{p.commit}`{state[p.dirty]}"],
        ["date", p.date_utc],
        ["host", p.host],
        ["Python", p.python],
        ["command", f"`{p.command}`"],
    ]
    return (
        "Rerunning the command at this commit gives the same results.parquet (every run is "
        "seeded); the figures and tables are drawn from it.\n\n" + markdown_table(["", ""], rows)
    )
