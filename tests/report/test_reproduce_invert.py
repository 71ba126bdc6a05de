"""'What it would take': rendering an invert document, and `reproduce --invert` wiring."""

from __future__ import annotations

import json

from ahasd.report.invert import invert_markdown, write_outputs
from ahasd.report.sections import Section

CHANGE = {
    "key": "switches.energy",
    "name": "ahasd.energy",
    "default": "h2llm-lpddr5",
    "value": "mobile-lpddr5",
    "source": "[h2llm]",
    "applies_to": ["ahasd-mobile"],
}


def _doc():
    """A hand-made document in the shape `ahasd invert --json` prints (values are made up)."""
    claims = [
        {
            "claim": "a",
            "label": "claim A",
            "paper": 2.0,
            "ours_default": 2.1,
            "status": "holds",
            "changes": [],
            "best": 2.1,
        },
        {
            "claim": "b",
            "label": "claim B",
            "paper": 1.24,
            "ours_default": 2.2,
            "status": "reachable",
            "changes": [CHANGE],
            "best": 1.23,
        },
        {
            "claim": "c",
            "label": "claim C",
            "paper": 4.2,
            "ours_default": 0.9,
            "status": "unreachable",
            "changes": [],
            "best": 2.7,
            "reason": "memory-bound (lpddr5 bus 51.2 GB/s): τ/t_pass caps it at 13 tok/s",
        },
    ]
    joint = {
        "largest": {"size": 2, "claims": ["a", "b"], "changes": [CHANGE]},
        "satisfiable": ["a", "b"],
        "readings_tried": 5,
        "method": "m",
        "contradictions": [{"claims": ["a", "b"], "why": "at b's reading a is 3"}],
    }
    settings = {"budget": 60, "seed": 0, "runs_simulated": 123}
    return {"claims": claims, "joint": joint, "settings": settings}


def test_markdown_names_the_command_status_changes_and_reasons():
    md = invert_markdown(_doc(), "ahasd invert --budget 60 --seed 0")
    assert "`ahasd invert --budget 60 --seed 0`" in md
    assert (
        "| claim B | 1.24 | 2.2 | reachable | 1.23 | `ahasd.energy`: switches.energy=mobile" in md
    )
    assert "- claim C: memory-bound (lpddr5 bus 51.2 GB/s): τ/t_pass caps it at 13 tok/s" in md
    assert "satisfies 2 claims together" in md and "a × b: at b's reading a is 3" in md


def test_outputs_are_written(tmp_path):
    files = write_outputs(tmp_path, _doc(), "ahasd invert")
    assert [f.name for f in files] == ["invert.json", "invert.md", "invert.png"]
    assert json.loads((tmp_path / "invert.json").read_text())["claims"][1]["status"] == "reachable"
    assert (tmp_path / "invert.png").read_bytes()[:4] == b"\x89PNG"


def test_reproduce_invert_adds_the_section(tmp_path, monkeypatch):
    import ahasd.report.invert as inv
    import ahasd.report.reproduce as rep
    from ahasd.report.matrix import MatrixSpec

    calls = []

    def fake(out_dir, *, quick, jobs):
        calls.append((quick, jobs))
        return Section("What it would take", invert_markdown(_doc(), "ahasd invert"), [])

    monkeypatch.setattr(inv, "build_section", fake)
    spec = MatrixSpec(pairs=(("opt-1.3b", "opt-6.7b"),), policies=("svip",), tokens=64, seeds=(0,))
    out = rep.reproduce(tmp_path, spec=spec, quick=True, jobs=1, peers=False, invert=True,
                        command="ahasd reproduce --quick --invert")  # fmt: skip
    report = (tmp_path / "report.md").read_text()
    assert calls == [(True, 1)] and "## What it would take" in report
    assert "`ahasd reproduce --quick --invert`" in report and "invert" in out.timings_s
