"""Citations are self-contained: nothing points at files outside the repository (issue 16).

Sources are cited by a key of docs/references.md. A Markdown file named in src/, docs/ or the
README must exist in the repository; the research notes, design and style files the project was
started from are not part of it, and neither are their section tags ([R1], [P], ...).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ROOT / "src" / "ahasd" / "hardware" / "presets"
REFERENCES = ROOT / "docs" / "references.md"
OUTSIDE = re.compile(
    r"research/\w+\.md|\bresearch digest|\.\./shared|\b(DESIGN|STYLE|PROGRESS)\.md\b"
    r"|(?<!\w)\[(R1|R2|P|A|A/P|S|V|X|D|R|P-old)[] ]"
)
WRITTEN = {"report"}  # Markdown files the tool writes (report.md), not references
MD_NAME = re.compile(r"(?<![\w/.-])([\w-]+)\.md\b")
KEY = re.compile(r"(?<!ignore)\[([a-z][a-z0-9]*(?:-[a-z0-9]+)*)\]")
SUFFIXES = {".py", ".md", ".yaml", ".json", ".toml"}


def _files(*, presets: bool) -> list[Path]:
    roots = [ROOT / "src", ROOT / "docs", ROOT / "README.md"]
    files = [p for r in roots for p in ([r] if r.is_file() else r.rglob("*"))]
    files = [p for p in files if p.suffix in SUFFIXES and p != REFERENCES]
    return [p for p in files if (PRESETS in p.parents) == presets]


def _outside_refs(files: list[Path]) -> list[str]:
    in_repo = WRITTEN | {p.stem for p in ROOT.rglob("*.md") if ".git" not in p.parts}
    bad = []
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            names = [m for m in MD_NAME.findall(line) if m not in in_repo]
            if OUTSIDE.search(line) or names:
                bad.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:90]}")
    return bad


def test_no_reference_to_files_outside_the_repository():
    bad = _outside_refs(_files(presets=False))
    assert not bad, "cite a docs/references.md key instead:\n" + "\n".join(bad)


def test_presets_cite_keys_not_outside_files():
    bad = _outside_refs(_files(presets=True))
    assert not bad, "\n".join(bad[:20])


def _defined_keys() -> set[str]:
    return set(re.findall(r"^- \*\*\[([a-z0-9-]+)\]\*\*", REFERENCES.read_text(), re.M))


def test_every_cited_key_is_in_the_bibliography():
    """Keys with a digit or a hyphen ([ahasd26], [spec-bench]) must be defined; plain words in
    brackets are too often code ([int], [engine]) to check this way."""
    keys = _defined_keys()
    assert {"ahasd26", "ahasd-artifact", "lpspec25", "jesd209-5b", "okabe-ito"} <= keys
    missing = set()
    for path in _files(presets=False) + _files(presets=True):
        for key in KEY.findall(path.read_text(encoding="utf-8")):
            if re.search(r"[0-9-]", key) and key not in keys:
                missing.add(f"{key} ({path.relative_to(ROOT)})")
    assert not missing, sorted(missing)


def test_the_bibliography_defines_each_key_once():
    text = REFERENCES.read_text()
    keys = re.findall(r"^- \*\*\[([a-z0-9-]+)\]\*\*", text, re.M)
    assert len(keys) == len(set(keys)) >= 30
