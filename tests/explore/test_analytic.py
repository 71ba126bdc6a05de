"""The closed form against research/algorithms.md §1.2 and the event simulator."""

from __future__ import annotations

import numpy as np
import pytest

from ahasd.explore.analytic import expected_tokens, round_metrics


@pytest.mark.parametrize(
    ("alpha", "gammas", "table"),
    [  # research/algorithms.md §1.2, "Expected tokens per round" for gamma = 3/4/5/7/10
        (0.6, [3, 4, 5, 7, 10], [2.18, 2.31, 2.38, 2.46, 2.49]),
        (0.8, [3, 4, 5, 7, 10], [2.95, 3.36, 3.69, 4.16, 4.57]),
        (0.9, [3, 4, 5, 7, 10], [3.44, 4.10, 4.69, 5.70, 6.86]),
    ],
)
def test_expected_tokens_matches_leviathan_table(alpha, gammas, table):
    got = expected_tokens(np.full(len(gammas), alpha), np.array(gammas))
    np.testing.assert_allclose(got, table, atol=0.006)


def test_expected_tokens_limits():
    assert expected_tokens(np.array(0.0), np.array(5)) == pytest.approx(1.0)
    assert expected_tokens(np.array(1.0), np.array(5)) == pytest.approx(6.0)


def test_async_round_is_the_slower_side_sync_the_sum():
    common = dict(
        alpha=np.array(0.8),
        gamma=np.array(4),
        t_draft_s=np.array(0.01),
        e_draft_j=np.array(0.1),
        t_verify_s=np.array(0.05),
        e_verify_j=np.array(1.0),
        static_w=2.0,
    )
    sync = round_metrics(**common, overlap=False)
    asyn = round_metrics(**common, overlap=True)
    e = expected_tokens(np.array(0.8), np.array(4))
    assert sync["throughput_tok_s"] == pytest.approx(e / 0.09)
    assert asyn["throughput_tok_s"] == pytest.approx(e / 0.05)
    assert sync["tokens_per_joule"] == pytest.approx(e / (0.4 + 1.0 + 2.0 * 0.09))
