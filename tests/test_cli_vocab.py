"""One vocabulary: plain help for every command, old spellings with a note, ablation names."""

from __future__ import annotations

import json
import re

import pytest

from ahasd.cli.vocab import RENAMED, upgrade_argv
from ahasd.errors import AhasdError

# typer's type placeholders (``<bool>``, ``<list[str]>``, ``<path>``) and braced positionals
PLACEHOLDER = re.compile(r"<(bool|int|float|str|path|list|text|file|dir)\b|\{[a-z_]+\}")


def _paths(command, prefix=()):
    yield prefix
    for name, sub in getattr(command, "commands", {}).items():
        yield from _paths(sub, (*prefix, name))


def test_every_help_is_free_of_type_placeholders(cli, monkeypatch):
    from ahasd.cli.main import command

    monkeypatch.setenv("COLUMNS", "200")
    paths = list(_paths(command()))
    assert len(paths) > 15 and ("trace", "record") in paths
    for path in paths:
        run = cli([*path, "--help"])
        assert run.code == 0, (path, run.err)
        assert "--help" in run.out, path
        found = PLACEHOLDER.findall(run.out)
        assert not found, f"ahasd {' '.join(path)} --help shows {found}"


def test_positional_usage_is_upper_case_and_bare(cli):
    out = cli(["explore", "--help"]).out
    assert "Usage: ahasd explore [OPTIONS] SPEC" in " ".join(out.split())
    assert "Usage: ahasd cost [OPTIONS] MODEL" in " ".join(cli(["cost", "--help"]).out.split())


def test_old_spellings_are_rewritten_with_one_note_each(capsys):
    args = ["edge-plan", "--draft-dir", "d", "--new-tokens=8", "--device", "cpu", "--json"]
    assert upgrade_argv(args) == [
        "edge-plan", "--draft", "d", "--tokens=8", "--torch-device", "cpu", "--json"
    ]  # fmt: skip
    notes = capsys.readouterr().err.splitlines()
    assert len(notes) == 3 and all(n.startswith("note: --") for n in notes)
    assert "use --torch-device" in notes[2]


def test_old_spellings_only_where_they_were_used(capsys):
    cost = ["cost", "llama2-7b", "--device", "pim"]  # --device is the hardware device here
    assert upgrade_argv(cost) == cost
    record = ["trace", "record", "--max-new-tokens", "4", "--", "--device"]
    assert upgrade_argv(record) == ["trace", "record", "--tokens", "4", "--", "--device"]
    assert capsys.readouterr().err.count("note:") == 1


def test_old_and_new_spelling_together_is_an_error():
    with pytest.raises(AhasdError, match="--max-new-tokens and --tokens"):
        upgrade_argv(["generate", "--tokens", "4", "--max-new-tokens", "8"])


def test_every_new_spelling_exists_and_no_old_one_is_shown(cli):
    for path, table in RENAMED.items():
        out = cli([*path, "--help"]).out
        for old, new in table.items():
            assert re.search(rf"{re.escape(new)}\b", out), (path, new)
            assert not re.search(rf"{re.escape(old)}(?![\w-])", out), (path, old)


def test_deprecated_flag_gives_the_same_result_and_a_note(cli):
    new = cli(["edge-plan", "--tokens", "64", "--top", "2", "--json"])
    old = cli(["edge-plan", "--new-tokens", "64", "--top", "2", "--json"])
    assert new.code == old.code == 0, old.err
    assert json.loads(new.out) == json.loads(old.out)
    assert new.err == "" and old.err.startswith("note: --new-tokens is deprecated")


def test_simulate_accepts_ablation_step_names(cli):
    run = cli(["simulate", "--system", "+aau", "--tokens", "64", "--json"])
    assert run.code == 0, run.err
    one = json.loads(run.out)
    chain = json.loads(cli(["simulate", "--compare", "--tokens", "64", "--json"]).out)
    assert one["config"]["use_edc"] is False and one["config"]["use_tvc"] is False
    for label in ("+aau", "+edc"):
        single = json.loads(cli(["simulate", "--system", label, "--tokens", "64", "--json"]).out)
        assert single["throughput_tok_s"] == chain[label]["throughput_tok_s"]


def test_unknown_system_lists_the_ablation_names(cli):
    run = cli(["simulate", "--system", "+nope"])
    assert run.code == 2 and "--system" in run.err and "+aau, +edc" in run.err
