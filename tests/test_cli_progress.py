"""Progress for long commands: plain lines where stderr is not a terminal, nothing when hidden."""

from __future__ import annotations

from ahasd.cli.progress import progress


def test_plain_lines_at_every_tenth_when_stderr_is_not_a_terminal(capsys, monkeypatch):
    monkeypatch.delenv("AHASD_NO_PROGRESS", raising=False)
    with progress() as report:
        for step in range(1, 41):
            report("training the target", step, 40, f"loss {5 - step / 10:.1f}")
    err = capsys.readouterr()
    assert err.out == ""  # stdout stays clean for --json
    lines = [line for line in err.err.splitlines() if "/40 (" in line]  # the first, each tenth
    assert len(lines) == 11 and lines[-1].startswith("training the target: loss 1.0 40/40 (")
    assert "eta" in lines[0] and "eta" not in lines[-1]


def test_hidden_with_ahasd_no_progress(capsys, monkeypatch):
    monkeypatch.setenv("AHASD_NO_PROGRESS", "1")
    with progress() as report:
        report("work", 1, 2)
        report("work", 2, 2)
    assert capsys.readouterr().err == ""


def test_nothing_is_drawn_before_the_first_call(capsys):
    with progress():
        pass
    assert capsys.readouterr().err == ""
