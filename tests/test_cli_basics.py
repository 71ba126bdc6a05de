"""The entry point itself: version, help, and usage errors."""

from ahasd import __version__


def test_version_prints_package_version(cli):
    run = cli(["--version"])
    assert run.code == 0
    assert __version__ in run.out


def test_unknown_command_is_a_usage_error(cli):
    run = cli(["no-such-command"])
    assert run.code == 2
