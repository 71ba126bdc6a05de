"""Lossless speculative sampling: processors, residual guard, and chi-square tests.

The end-to-end tests run the real decode loop (chain rounds, rollback, bonus tokens) on toy LMs
whose steps cost microseconds, so >= 10^4 samples stay fast; a deliberately broken residual
must fail the same test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ahasd.engine import decode  # noqa: E402
from ahasd.engine import sampling as smp  # noqa: E402
from ahasd.engine.sampling import SamplingConfig, probs, residual  # noqa: E402
from ahasd.errors import AhasdError  # noqa: E402
from tests.engine.engine_helpers import TableLM, fixed  # noqa: E402

pytestmark = pytest.mark.engine

CFG = SamplingConfig(temperature=0.8, top_k=6, top_p=0.9, seed=0)
SCALE = 0.7  # toy-LM logit scale: several tokens survive top-k/top-p at every position


def chi2_ok(counts: np.ndarray, expected_p: np.ndarray, z: float = 3.9) -> tuple[bool, float]:
    """Chi-square goodness of fit at about alpha = 5e-5 (Wilson-Hilferty critical value).

    Cells with zero expected probability must have zero counts.
    """
    n = counts.sum()
    zero = expected_p <= 0
    if counts[zero].sum() > 0:
        return False, math.inf
    e = expected_p[~zero] * n
    stat = float(((counts[~zero] - e) ** 2 / e).sum())
    df = int((~zero).sum()) - 1
    crit = df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3
    return stat <= crit, stat


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


def _joint_first_two(lm: TableLM, prompt: list[int], cfg: SamplingConfig) -> np.ndarray:
    p1 = probs(lm.logits_after(prompt), cfg).double().numpy()
    v = len(p1)
    joint = np.zeros((v, v))
    for x in range(v):
        joint[x] = p1[x] * probs(lm.logits_after(prompt + [x]), cfg).double().numpy()
    return joint.ravel()


def _spec_counts(n: int, cfg: SamplingConfig, gamma: int) -> np.ndarray:
    draft, target = TableLM(8, seed=1, scale=SCALE), TableLM(8, seed=2, scale=SCALE)
    counts = np.zeros(64)
    for i in range(n):
        c = SamplingConfig(cfg.temperature, cfg.top_k, cfg.top_p, seed=i)
        r = decode.generate(draft, target, [1, 2, 3], policy=fixed(gamma), sampling=c,
                            max_new_tokens=2)  # fmt: skip
        counts[r.tokens[0] * 8 + r.tokens[1]] += 1
    return counts


def test_speculative_sampling_matches_target_joint(one_thread):
    """First two tokens, 1e4 samples, temperature + top-k + top-p on both p and q."""
    expected = _joint_first_two(TableLM(8, seed=2, scale=SCALE), [1, 2, 3], CFG)
    ok, stat = chi2_ok(_spec_counts(10_000, CFG, 3), expected)
    assert ok, f"chi-square {stat:.1f} too large: output distribution differs from the target"


def test_broken_residual_fails_the_same_test(monkeypatch, one_thread):
    """Resampling from p instead of norm(max(0, p - q)) is the classic bug; it must be caught
    (with fewer samples than the positive test, so the check has margin)."""
    monkeypatch.setattr(smp, "residual", lambda p, q: p)
    expected = _joint_first_two(TableLM(8, seed=2, scale=SCALE), [1, 2, 3], CFG)
    ok, stat = chi2_ok(_spec_counts(4_000, CFG, 3), expected)
    assert not ok, f"a broken residual passed (chi-square {stat:.1f})"


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


def _async_counts(n: int, cfg: SamplingConfig, gamma: int) -> np.ndarray:
    from ahasd.engine.async_decode import generate_async

    draft, target = TableLM(8, seed=1, scale=SCALE), TableLM(8, seed=2, scale=SCALE)
    counts = np.zeros(64)
    for i in range(n):
        c = SamplingConfig(cfg.temperature, cfg.top_k, cfg.top_p, seed=i)
        r = generate_async(draft, target, [1, 2, 3], policy=fixed(gamma), sampling=c,
                           max_new_tokens=2, queue_depth=2)  # fmt: skip
        counts[r.tokens[0] * 8 + r.tokens[1]] += 1
    return counts


@pytest.mark.slow
def test_async_speculative_sampling_matches_target_joint(one_thread):
    """The async engine (look-ahead batches, squashes, skipped bonus tokens) is lossless too:
    gamma 1 makes the second token come from a look-ahead batch or a correction/bonus."""
    expected = _joint_first_two(TableLM(8, seed=2, scale=SCALE), [1, 2, 3], CFG)
    ok, stat = chi2_ok(_async_counts(10_000, CFG, 1), expected)
    assert ok, f"chi-square {stat:.1f} too large: async output differs from the target"
