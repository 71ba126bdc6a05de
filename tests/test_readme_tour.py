"""The README's tour runs top to bottom on a fresh copy and leaves ``git status`` clean."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from importlib.util import find_spec
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ("demo-models", "generate", "validate", "--measure")  # need torch and the demo pair


def tour() -> list[list[str]]:
    """The tour's commands, in order, without ``ahasd`` and comments."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## A tour", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        args = shlex.split(line, comments=True)
        if args:
            assert args[0] == "ahasd", line
            commands.append(args[1:])
    return commands


def _is_engine(args: list[str]) -> bool:
    return args[0] in ENGINE or "--measure" in args or args[:2] == ["trace", "record"]


def test_tour_builds_the_demo_pair_before_using_it():
    commands = tour()
    assert len(commands) >= 15
    first = next(i for i, a in enumerate(commands) if _is_engine(a))
    assert commands[first][0] == "demo-models"
    assert all(not _is_engine(a) for a in commands[:first])


def _git(cwd: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.name=tour", "-c", "user.email=tour@example.invalid",
           "-c", "commit.gpgsign=false", *args]  # fmt: skip
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout


def _fresh_copy(dest: Path) -> Path:
    """The files a clone of this working tree would have (tracked or not ignored), committed."""
    listed = _git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    _git(dest, "init", "-q")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "fresh copy")
    return dest


@pytest.mark.slow
def test_tour_runs_on_a_fresh_copy_and_leaves_git_clean(cli, tmp_path, monkeypatch):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout")
    clone = _fresh_copy(tmp_path / "clone")
    monkeypatch.chdir(clone)
    monkeypatch.setenv("AHASD_NO_PROGRESS", "1")
    ran = 0
    for args in tour():
        search = args[0] == "explore" and args[1] != "specpim"
        if _is_engine(args) or (search and find_spec("optuna") is None):
            continue
        run = cli(args)
        assert run.code == 0, (args, run.err[-2000:])
        ran += 1
    assert ran >= 14
    assert _git(clone, "status", "--porcelain") == ""
    assert (clone / "ahasd-out" / "reproduce" / "report.html").is_file()
