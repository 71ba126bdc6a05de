"""Shared fixtures: run the real CLI entry point in-process."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    err: str


def _run_cli(args: list[str]) -> CliRun:
    from ahasd.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return CliRun(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    """``cli(["cost", "llama2-7b", ...]) -> CliRun(code, out, err)``."""
    return _run_cli
