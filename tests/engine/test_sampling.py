"""Lossless speculative sampling: processors, residual guard, and the tests that prove it.

The statistical checks (tests/engine/lossless.py) run the real decode loop on toy LMs; their
sample sizes come from a power calculation (tests/engine/lossless_power.py, docs/engine.md
"Lossless tests"). Each deliberately broken variant must fail them: a residual drawn from p (here),
a 5% acceptance bias and a bonus token drawn from the wrong row (slow tier).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ahasd.engine import sampling as smp  # noqa: E402
from ahasd.engine.sampling import SamplingConfig, probs, residual  # noqa: E402
from ahasd.errors import AhasdError  # noqa: E402
from tests.engine import lossless  # noqa: E402

pytestmark = pytest.mark.engine


def chi2_ok(counts: np.ndarray, expected_p: np.ndarray) -> tuple[bool, float]:
    """Chi-square goodness of fit at about alpha = 5e-5 (Wilson-Hilferty critical value).

    Cells with zero expected probability must have zero counts.
    """
    n = counts.sum()
    zero = expected_p <= 0
    if counts[zero].sum() > 0:
        return False, math.inf
    e = expected_p[~zero] * n
    stat = float(((counts[~zero] - e) ** 2 / e).sum())
    return stat <= lossless.critical(int((~zero).sum()) - 1), stat


def test_processors_are_fp32_and_apply_top_k_top_p():
    logits = torch.tensor([[3.0, 2.0, 1.0, 0.5, 0.0, -1.0]], dtype=torch.float16)
    p = probs(logits, SamplingConfig(temperature=1.0, top_k=4))
    assert p.dtype == torch.float32
    assert int((p > 0).sum()) == 4
    p = probs(logits, SamplingConfig(temperature=1.0, top_p=0.7))
    full = torch.softmax(logits.float(), -1)[0]
    assert int((p > 0).sum()) == 2  # 0.63 < 0.7 after one token, 0.86 after two
    assert torch.allclose(p[0, :2], full[:2] / full[:2].sum())
    hot = probs(logits, SamplingConfig(temperature=2.0))
    assert torch.allclose(hot, torch.softmax(logits.float() / 2.0, -1))


def test_residual_all_zero_falls_back_to_p():
    p = torch.tensor([0.0, 1.0, 0.0])
    r = residual(p, p.clone())
    assert torch.equal(r, p) and not torch.isnan(r).any()


def test_bad_sampling_config_is_one_line_error():
    with pytest.raises(AhasdError, match="top_p"):
        SamplingConfig(temperature=1.0, top_p=0.0)
    with pytest.raises(AhasdError, match="temperature"):
        SamplingConfig(temperature=-1.0)


def test_speculative_sampling_matches_target_joint(one_thread):
    """First two tokens at gamma 1 (the second is often a bonus token), temperature + top-k +
    top-p on both p and q."""
    ok, stat, crit = lossless.joint_check()
    assert ok, f"chi-square {stat:.1f} > {crit:.1f}: output distribution differs from the target"


def test_every_position_matches_target_conditionals(one_thread):
    """Eight tokens at gamma 2, each against the target's conditional given its own prefix."""
    ok, stat, crit = lossless.positions_check()
    assert ok, f"pooled chi-square {stat:.1f} > {crit:.1f}: some position differs from the target"


def test_broken_residual_fails_the_same_test(monkeypatch, one_thread):
    """Resampling from p instead of norm(max(0, p - q)) is the classic bug; it must be caught
    (with half the samples of the positive test, so the check has margin)."""
    monkeypatch.setattr(smp, "residual", lambda p, q: p)
    ok, stat, _ = lossless.joint_check(lossless.N_JOINT // 2)
    assert not ok, f"a broken residual passed (chi-square {stat:.1f})"


@pytest.mark.slow
@pytest.mark.parametrize("mutant", list(lossless.MUTANTS))
@pytest.mark.parametrize("check", ["joint", "positions"])
def test_default_lossless_tests_catch_each_mutant(monkeypatch, one_thread, mutant, check):
    """The two default-tier tests above, at their own sample sizes, fail on a 5% acceptance bias
    and on a bonus token drawn from the wrong target row (power >= 0.99 each but one: see
    tests/engine/lossless_power.py)."""
    lossless.install(monkeypatch, lossless.MUTANTS[mutant])
    ok, stat, crit = getattr(lossless, f"{check}_check")()
    assert not ok, f"{mutant} passed the {check} test ({stat:.1f} <= {crit:.1f})"


def test_point_mass_tree_children_are_lossless():
    g = torch.Generator().manual_seed(0)
    p = probs(torch.randn(10, generator=g) * 2, SamplingConfig(temperature=1.0, top_k=7))
    children = [3, 0, 7]  # deterministic top-k-like proposals, any order
    rng = np.random.default_rng(0)
    counts = np.zeros(10)
    for _ in range(10_000):
        _, tok = smp.verify_children(p, children, SamplingConfig(temperature=1.0), rng)
        counts[tok] += 1
    ok, stat = chi2_ok(counts, p.double().numpy())
    assert ok, stat


@pytest.mark.slow
def test_async_speculative_sampling_matches_target(one_thread):
    """The async engine (look-ahead batches, squashes, skipped bonus tokens) is lossless too:
    the same two checks as the synchronous engine."""
    ok, stat, crit = lossless.joint_check(engine="async")
    assert ok, f"chi-square {stat:.1f} > {crit:.1f}: async output differs from the target"
    ok, stat, crit = lossless.positions_check(engine="async")
    assert ok, f"pooled chi-square {stat:.1f} > {crit:.1f}: async output differs from the target"
