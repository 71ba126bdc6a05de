"""The three peer sections render (none fails) and carry the published numbers beside ours."""

from __future__ import annotations

import pytest

from ahasd.report.peers import build_peer_sections


@pytest.mark.slow  # ~10-20 s on 2 cores: three quick experiments and their figures
def test_peer_sections_render_with_published_numbers_beside_ours(tmp_path):
    secs = build_peer_sections(tmp_path, quick=True, seed=0, jobs=1)
    assert [s.title.split(" ")[0] for s in secs] == ["LP-Spec", "SpecPIM", "Edge"]
    for s in secs:
        assert "This section failed" not in s.markdown, s.markdown
        assert s.figures and all(p.is_file() for p in s.figures)
    lp, sp, edge = (s.markdown for s in secs)
    for published in ("73.4", "32.6", "0.418", "13.21x", "7.56x", "99.87x", "5.56", "4.31"):
        assert published in lp
    assert "Where we differ and why" in lp and "GEMV-PIM" in lp
    assert "AttAcc" in sp and "too-long" in sp
    assert "Largest analytic-vs-simulator gap" in edge and "edge-plan --measure" in edge
