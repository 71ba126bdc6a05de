"""report.md and a self-contained report.html from a list of Sections.

The HTML converter handles exactly the Markdown the sections write (headings, paragraphs, lists,
pipe tables, images, **bold**, `code`), so no Markdown library is needed; images are inlined as
base64 data URIs so the HTML file can be mailed or opened anywhere on its own.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from pathlib import Path

from ahasd.report.atomic import write_text
from ahasd.report.sections import Section

_IMG = re.compile(r"^!\[([^\]]*)\]\(([^)]+)\)$")
_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
    "line-height:1.45;color:#222}table{border-collapse:collapse;margin:1em 0;font-size:.9em}"
    "td,th{border:1px solid #ccc;padding:.25em .55em;text-align:left}th{background:#f3f3f3}"
    "img{max-width:100%;border:1px solid #eee}code{background:#f5f5f5;padding:0 .2em}"
)


def section_markdown(section: Section) -> str:
    """A section as Markdown, with figures not mentioned in the body appended as images."""
    parts = [f"## {section.title}", "", section.markdown.strip(), ""]
    for fig in section.figures:
        if Path(fig).name not in section.markdown:
            parts += [f"![{Path(fig).stem}]({Path(fig).name})", ""]
    return "\n".join(parts)


def slug(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def contents(sections: Sequence[Section]) -> str:
    """A table of contents: one linked line per section (anchors as ``slug`` makes them)."""
    return "\n".join(f"- [{s.title}](#{slug(s.title)})" for s in sections)


def report_markdown(
    title: str, intro: str, sections: Sequence[Section], *, toc: bool = False
) -> str:
    body = [f"# {title}", "", intro.strip(), ""]
    if toc:
        body += ["**Contents**", "", contents(sections), ""]
    body += [section_markdown(s) for s in sections]
    return "\n".join(body).rstrip() + "\n"


def write_report(
    out_dir: Path, title: str, intro: str, sections: Sequence[Section], *, toc: bool = False
) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html`` into ``out_dir`` atomically."""
    md = report_markdown(title, intro, sections, toc=toc)
    md_path = write_text(out_dir / "report.md", md)
    html_path = write_text(out_dir / "report.html", markdown_to_html(md, out_dir, title))
    return md_path, html_path


def _inline(text: str) -> str:
    out = html.escape(text, quote=False)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r'<a href="\2">\1</a>', out)


def _image(alt: str, src: str, base: Path) -> str:
    path = base / src
    if not path.is_file():
        return f"<p><em>missing figure {html.escape(src)}</em></p>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></p>'


def _table(lines: list[str]) -> str:
    rows = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in lines]
    head, body = rows[0], [r for r in rows[1:] if not all(set(c) <= set("-: ") for c in r)]
    out = ["<table><thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr></thead>"]
    out += ["<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in body]
    return "\n".join(out) + "</table>"


def markdown_to_html(md: str, base: Path, title: str) -> str:
    """Convert the report's Markdown to one HTML page; images read from ``base``."""
    out: list[str] = []
    para: list[str] = []
    lines = md.splitlines()
    i = 0

    def flush() -> None:
        if para:
            out.append("<p>" + _inline(" ".join(para)) + "</p>")
            para.clear()

    while i < len(lines):
        line = lines[i]
        if not line.strip():
            flush()
        elif m := re.match(r"^(#{1,4}) (.*)$", line):
            flush()
            n, text = len(m.group(1)), m.group(2)
            out.append(f'<h{n} id="{html.escape(slug(text))}">{_inline(text)}</h{n}>')
        elif m := _IMG.match(line.strip()):
            flush()
            out.append(_image(m.group(1), m.group(2), base))
        elif line.lstrip().startswith("|"):
            flush()
            block = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                block.append(lines[i])
                i += 1
            out.append(_table(block))
            continue
        elif line.lstrip().startswith(("- ", "* ")):
            flush()
            items = []
            while i < len(lines) and lines[i].lstrip().startswith(("- ", "* ")):
                items.append(f"<li>{_inline(lines[i].lstrip()[2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
            continue
        else:
            para.append(line.strip())
        i += 1
    flush()
    head = f"<meta charset='utf-8'><title>{html.escape(title)}</title><style>{_CSS}</style>"
    return (
        f"<!DOCTYPE html>\n<html><head>{head}</head><body>\n"
        + "\n".join(out)
        + "\n</body></html>\n"
    )
