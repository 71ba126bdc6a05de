import math

import pytest

from ahasd.report.claims import CLAIMS, Claim, area_claim, claims_markdown, evaluate_claims
from ahasd.report.table import ratios, stat


def test_max_claim_picks_the_best_cell(rows):
    (r,) = evaluate_claims(rows, [Claim("x", 2.0, "throughput_tok_s", "ahasd", "gpu-only", "max")])
    assert r.ours == pytest.approx(3.0)  # fixture ratio is 30/10 in every cell
    assert r.ratio == pytest.approx(1.5)
    assert r.n_cells == 4 and r.where


def test_mean_and_inverted_claims(rows):
    c = Claim("e/token", 0.5, "tokens_per_joule", "ahasd", "npu-only", "mean", invert=True)
    (r,) = evaluate_claims(rows, [c])
    assert r.ours == pytest.approx(2.0 / 4.5)


def test_missing_variant_gives_nan(rows):
    only_ahasd = [r for r in rows if r["variant"] == "ahasd"]
    results = evaluate_claims(only_ahasd)
    assert len(results) == len(CLAIMS)
    assert all(math.isnan(r.ours) for r in results)


def test_ratios_use_seed_means(rows):
    per = ratios(rows, "throughput_tok_s", "+edc", "gpu-only")
    assert set(per) == {("a→b", "adaedl"), ("a→b", "svip"), ("c→d", "adaedl"), ("c→d", "svip")}
    assert all(v == pytest.approx(2.2) for v in per.values())


def test_stat_spread():
    s = stat([1.0, 3.0])
    assert (s.mean, s.n) == (2.0, 2) and s.std == pytest.approx(math.sqrt(2.0))
    assert stat([5.0]).std == 0.0


def test_markdown_headline_has_ratio_column(rows):
    md = claims_markdown(evaluate_claims(rows) + [area_claim(2.5, "model")])
    assert "ours/claimed" in md
    assert "| area of additions" in md and "0.83" in md  # 2.5 / 3


def test_headline_shows_the_matched_scale_baseline_and_its_platform(rows):
    mobile = [
        {
            **r,
            "variant": "gpu-only-mobile",
            "throughput_tok_s": r["throughput_tok_s"] / 3,
            "cfg.platform": "gpu-mobile",
        }
        for r in rows
        if r["variant"] == "gpu-only"
    ]
    laptop = [{**r, "cfg.platform": "gpu-rtx4090-laptop"} if r["variant"] == "gpu-only" else r
              for r in rows]  # fmt: skip
    c = Claim("x", 2.0, "throughput_tok_s", "ahasd", "gpu-only", "max")
    (r,) = evaluate_claims(laptop + mobile, [c])
    assert r.ours == pytest.approx(3.0) and r.matched == pytest.approx(9.0)
    assert (r.platform, r.matched_platform) == ("gpu-rtx4090-laptop", "gpu-mobile")
    md = claims_markdown([r])
    assert "ours, matched scale" in md and "| gpu-rtx4090-laptop |" in md and "| gpu-mobile |" in md
    npu = evaluate_claims(rows, [Claim("n", 1.0, "throughput_tok_s", "ahasd", "npu-only", "mean")])
    assert math.isnan(npu[0].matched)  # NPU+LPDDR5 is already at mobile scale
