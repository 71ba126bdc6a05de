"""The entry point itself: version, help, and usage errors."""

from ahasd import __version__


def test_version_prints_package_version(cli):
    run = cli(["--version"])
    assert run.code == 0
    assert __version__ in run.out


def test_unknown_command_is_a_usage_error(cli):
    run = cli(["no-such-command"])
    assert run.code == 2


def _one_error_line(run) -> str:
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1, run.err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_unknown_command_reads_as_one_line(cli):
    line = _one_error_line(cli(["no-such-command"]))
    assert "no-such-command" in line


def test_badly_typed_flag_names_the_flag_on_one_line(cli):
    run = cli(["cost", "llama2-7b", "--tokens", "abc"])
    assert run.code == 2
    line = _one_error_line(run)
    assert "--tokens" in line and "integer" in line


def test_unknown_flag_and_missing_argument_are_one_line(cli):
    for args, needle in ((["cost", "llama2-7b", "--bogus"], "--bogus"), (["cost"], "MODEL")):
        run = cli(args)
        assert run.code == 2
        assert needle in _one_error_line(run)


def test_bare_group_shows_help_and_exits_2(cli):
    run = cli(["trace"])
    assert run.code == 2
    assert "synth" in run.out + run.err
