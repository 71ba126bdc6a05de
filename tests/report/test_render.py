import base64

from ahasd.report import figures
from ahasd.report.atomic import write_text
from ahasd.report.render import markdown_to_html, write_report
from ahasd.report.sections import Section

PNG = b"\x89PNG\r\n\x1a\n"


def test_figures_render_from_fixture_rows(tmp_path, rows, spans):
    paths = [
        figures.relative_bars(rows, "throughput_tok_s", tmp_path / "t.png", title="t", ylabel="x"),
        figures.ablation_chain(rows, tmp_path / "a.png"),
        figures.utilisation(rows, tmp_path / "u.png"),
        figures.energy_breakdown(rows, tmp_path / "e.png"),
        figures.draft_length_hist(rows, tmp_path / "d.png"),
        figures.gantt(spans, tmp_path / "g.png", title="g", window_s=0.1),
    ]
    for p in paths:
        assert p.read_bytes().startswith(PNG), p
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_html_is_self_contained(tmp_path):
    (tmp_path / "f.png").write_bytes(PNG + b"xx")
    sec = Section(
        "S",
        "Some **bold** text.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- item",
        [tmp_path / "f.png"],
    )
    md_path, html_path = write_report(tmp_path, "T", "intro", [sec])
    md = md_path.read_text()
    assert "## S" in md and "![f](f.png)" in md
    page = html_path.read_text()
    assert base64.b64encode(PNG + b"xx").decode() in page
    assert "<table>" in page and "<td>1</td>" in page and "<strong>bold</strong>" in page
    assert "<li>item</li>" in page and 'src="f.png"' not in page


def test_missing_image_is_reported_not_crashing(tmp_path):
    page = markdown_to_html("![x](nope.png)", tmp_path, "t")
    assert "missing figure nope.png" in page


def test_atomic_write_replaces(tmp_path):
    p = write_text(tmp_path / "a" / "x.txt", "one")
    write_text(p, "two")
    assert p.read_text() == "two"
    assert [q.name for q in p.parent.iterdir()] == ["x.txt"]
    assert p.stat().st_mode & 0o044  # readable by others as with open(), not mkstemp's 0600
