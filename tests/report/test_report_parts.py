"""The report's parts: palette, draft-length axis, latency split, traffic, hardware, provenance."""

from __future__ import annotations

import json
import subprocess
from types import SimpleNamespace

import pytest
from matplotlib.colors import to_hex

from ahasd.report import figures, latency, lengths, provenance, style, traffic
from ahasd.report.hardware_table import platform_table, used_platforms
from ahasd.report.render import write_report
from ahasd.report.sections import Section
from ahasd.sim.timeline import Span


def _drawn_colours(fig) -> set[str]:
    out = set()
    for ax in fig.axes:
        out |= {to_hex(p.get_facecolor()) for p in ax.patches if p.get_facecolor()[3] > 0}
        out |= {to_hex(line.get_color()) for line in ax.lines}
    return out


def _grey(hexcol: str) -> bool:
    return hexcol[1:3] == hexcol[3:5] == hexcol[5:7]


def test_every_matrix_figure_draws_only_palette_colours_or_greys(tmp_path, rows, spans,
                                                                 monkeypatch):  # fmt: skip
    kept = []
    for module in (figures, lengths):
        monkeypatch.setattr(module, "save", lambda fig, path: kept.append(fig) or path)
    figures.relative_bars(rows, "throughput_tok_s", tmp_path / "r.png", title="t", ylabel="y")
    figures.absolute_bars(rows, "throughput_tok_s", tmp_path / "a.png", title="t", ylabel="y",
                          ceilings={"a→b": [("bound", 25.0)]})  # fmt: skip
    figures.ablation_chain(rows, tmp_path / "c.png")
    figures.energy_breakdown(rows, tmp_path / "e.png")
    figures.draft_length_hist(rows, tmp_path / "d.png")
    figures.gantt(spans, tmp_path / "g.png", title="g")
    palette = {c.lower() for c in style.OKABE_ITO}
    for fig in kept:
        off = {c for c in _drawn_colours(fig) if c not in palette and not _grey(c)}
        assert not off, (fig.axes[0].get_title(), off)
    assert [c.lower() for c in style.plt.rcParams["axes.prop_cycle"].by_key()["color"]] == [
        c.lower() for c in style.OKABE_ITO
    ]


def test_draft_length_axis_ends_where_the_data_end(tmp_path, rows, monkeypatch):
    kept = []
    monkeypatch.setattr(lengths, "save", lambda fig, path: kept.append(fig) or path)
    hist = json.dumps({"1": 500, "2": 300, "3": 100, "40": 1})  # one stray 40-token batch
    for r in rows:
        r["draft_len_hist"] = hist
    figures.draft_length_hist(rows, tmp_path / "d.png")
    ax = kept[0].axes[0]
    assert ax.get_xlim()[1] < 5  # 1, 2, 3 and one pooled bar, not an axis running to 40
    assert [t.get_text() for t in ax.get_xticklabels()][-1] == "4–40"
    assert lengths.length_cut([{1: 95, 2: 5}]) == 2 and lengths.length_cut([{1: 991, 9: 9}]) == 1


def _result(spans, wall, tokens, memory=None):
    return SimpleNamespace(
        timeline=tuple(spans), wall_s=wall, committed_tokens=tokens,
        to_dict=lambda: {"memory": memory or {}},
    )  # fmt: skip


def test_latency_split_adds_up_to_the_wall_time_by_priority():
    spans = [
        Span("npu", "verify", 0.0, 4.0, "verify", 1),
        Span("pim", "draft", 1.0, 6.0, "draft", 2),  # 3 s hidden under the verify, 2 s exposed
        Span("pim", "draft", 6.0, 7.0, "draft (squashed)", 3),
        Span("pim", "gtsu", 7.0, 7.5, "switch", 4),
    ]
    s = latency.split_run("x", _result(spans, 10.0, 10))
    assert s.parts_ms == pytest.approx({"verify": 400, "draft": 300, "other": 50, "idle": 250})
    assert sum(s.parts_ms.values()) == pytest.approx(s.wall_ms) == pytest.approx(1000)
    assert s.hidden_draft_ms == pytest.approx(300) and s.squashed_draft_ms == pytest.approx(100)
    assert s.contention_ms is None and "n/a" in latency.split_markdown([s])
    memory = {"contention_s": {"npu_stalled_by_pim": 0.2, "pim_stalled_by_npu": 0.3}}
    assert latency.split_run("x", _result(spans, 10.0, 10, memory)).contention_ms == 50


def test_latency_split_of_real_runs_adds_up():
    splits = latency.run_splits(
        {"ahasd": {"system": "ahasd"}, "gpu-only": {"system": "gpu-only"}},
        {"draft": "opt-1.3b", "target": "opt-6.7b", "policy": "adaedl", "tokens": 64, "seed": 0},
    )
    for s in splits:
        assert sum(s.parts_ms.values()) == pytest.approx(s.wall_ms, rel=1e-9)
        assert s.parts_ms["verify"] > 0 and s.parts_ms["draft"] >= 0
    assert splits[0].hidden_draft_ms > 0 and splits[1].hidden_draft_ms == 0  # only async hides


def test_traffic_is_na_without_a_memory_model_and_read_when_present(rows):
    text = traffic.traffic_markdown(rows, figures.VARIANTS)
    assert "n/a for every system" in text and "|" not in text
    for r in rows:
        if r["variant"] == "ahasd":
            r["memory.bytes_per_token"] = 2.5e9
            r["memory.channels"] = json.dumps(
                [{"channel": 0, "utilisation": 0.5}, {"channel": 1, "utilisation": 0.9}]
            )
    text = traffic.traffic_markdown(rows, figures.VARIANTS)
    line = next(ln for ln in text.splitlines() if "| ahasd |" in ln)
    assert line.split(" | ")[2:] == ["2500.0", "70.0", "90.0 |"]
    assert "| gpu-only | n/a | n/a | n/a |" in text


def test_hardware_table_shows_the_numbers_and_sources_runs_used(real_pair_rows):
    md = platform_table("ahasd-mobile")
    assert "| lpddr5 | external_bw (derived) | 51.2 | GB/s |" in md
    assert "| pim | alu | 102.4 | GOPS | [ahasd26] Table 2" in md
    assert "reading switches.energy=h2llm-lpddr5" in md
    low = platform_table("ahasd-mobile", {"switches.energy": "attacc", "npu.static_mw": 100})
    assert "| lpddr5 | off_chip | 3.59 | pJ/bit |" in low and "`npu.static_mw=100`" in low
    assert [p for p, _ in used_platforms(real_pair_rows)] == [
        "gpu-rtx4090-laptop", "ahasd-mobile", "npu-lpddr5"
    ]  # fmt: skip


def test_provenance_names_the_commit_or_says_unknown(monkeypatch):
    here = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                          cwd=provenance.__file__.rsplit("/", 1)[0])  # fmt: skip
    commit, _ = provenance.git_commit()
    assert commit == (here.stdout.strip() if here.returncode == 0 else "unknown")
    monkeypatch.setattr(provenance, "_git", lambda *a: None)
    assert provenance.git_commit() == ("unknown", None)
    p = provenance.collect(provenance.command_line(["ahasd", "reproduce", "--out", "a b"]))
    md = provenance.provenance_markdown(p)
    assert "`ahasd reproduce --out 'a b'`" in md and "| git commit | `unknown` |" in md


def test_table_of_contents_links_to_heading_anchors(tmp_path):
    secs = [Section("Where we differ: why", "x"), Section("LP-Spec (DTP + DAU)", "y")]
    md_path, html_path = write_report(tmp_path, "T", "intro", secs, toc=True)
    md, page = md_path.read_text(), html_path.read_text()
    assert "- [Where we differ: why](#where-we-differ-why)" in md
    assert '<a href="#lp-spec-dtp--dau">' in page and '<h2 id="lp-spec-dtp--dau">' in page
