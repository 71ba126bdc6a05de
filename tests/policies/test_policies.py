"""Each policy's stopping rule on crafted signals, argument validation and the registry."""

from __future__ import annotations

import math

import pytest

from ahasd.errors import AhasdError
from ahasd.policies import POLICIES, RoundOutcome, TokenSignals, make_policy, signal_features
from ahasd.traces import synthesize


def sig(h: float, p1: float = 0.5, n: int = 1) -> TokenSignals:
    return TokenSignals(h, p1, n, signal_features(h, p1, n))


def drive(policy, signals) -> int:
    """The contract's driving loop over a list of (H, p1); returns the batch length."""
    cap = policy.start_round()
    n = 0
    while True:
        h, p1 = signals[min(n, len(signals) - 1)]
        n += 1
        if n >= cap or not policy.keep_drafting(sig(h, p1, n)):
            return n


def test_registry_has_every_policy():
    assert set(POLICIES.names()) >= {
        "fixed", "hf-heuristic", "hf-confidence", "specdec-pp", "svip", "adaedl", "banditspec",
    }  # fmt: skip


def test_fixed_drafts_gamma_and_accepts_max_len_alias():
    assert drive(make_policy("fixed", gamma=3), [(9.0, 0.01)]) == 3
    assert make_policy("fixed", max_len=6).start_round() == 6
    with pytest.raises(AhasdError, match="gamma"):
        make_policy("fixed", gamma=2, max_len=3)


def test_hf_heuristic_plus_two_minus_one():
    p = make_policy("hf-heuristic", gamma0=5, max_len=8)
    assert p.start_round() == 5
    p.observe(RoundOutcome(5, 5, 0.1))
    assert p.start_round() == 7
    p.observe(RoundOutcome(7, 7, 0.1))
    assert p.start_round() == 8  # capped
    p.observe(RoundOutcome(8, 2, 0.1))
    assert p.start_round() == 7
    for _ in range(20):
        p.observe(RoundOutcome(1, 0, 0.1))
    assert p.start_round() == 1
    p.reset()
    assert p.start_round() == 5


def test_svip_stops_after_the_token_crossing_sqrt_rule():
    p = make_policy("svip")  # √(0.15·H) > 0.3  ⇔  H > 0.6
    assert p.keep_drafting(sig(0.59)) and p.keep_drafting(sig(0.6))
    assert not p.keep_drafting(sig(0.61))
    assert drive(p, [(0.1, 0.9), (0.2, 0.9), (2.0, 0.3)]) == 3  # high-entropy token kept
    assert drive(p, [(0.0, 1.0)]) == 40  # cap


def test_adaedl_bound_and_online_lambda():
    p = make_policy("adaedl", lam0=0.4, law="fixed")
    h_stop = (1 - 0.4) ** 2 / 0.2  # 1 − √(0.2·H) < 0.4  ⇔  H > 1.8
    assert p.keep_drafting(sig(h_stop - 1e-9)) and not p.keep_drafting(sig(h_stop + 1e-6))
    assert 1 - math.sqrt(0.2 * (h_stop + 1e-6)) < 0.4
    t = make_policy("adaedl", lam0=0.4, eta=0.1, target_rate=0.7)
    t.observe(RoundOutcome(4, 0, 1.0))  # rate 0 < 0.7: λ rises, drafts get shorter
    assert t.lam == pytest.approx(0.47)
    t.observe(RoundOutcome(4, 4, 1.0))  # rate 1 > 0.7: λ falls
    assert t.lam == pytest.approx(0.44)
    e = make_policy("adaedl", lam0=0.4, law="ema", eta=0.5, ema=1.0)
    e.observe(RoundOutcome(2, 2, 1.0))  # EMA of the rate -> 1.0; λ -> 0.4 + 0.5·(1.0 − 0.4)
    assert e.lam == pytest.approx(0.7)


def test_hf_confidence_threshold_and_roc_refit():
    p = make_policy("hf-confidence")
    assert p.start_round() == 20
    assert p.keep_drafting(sig(0.1, 0.41)) and not p.keep_drafting(sig(0.1, 0.39))
    # matched tokens have p >= 0.8, rejected ones p <= 0.3: the re-fit threshold separates them
    for _ in range(5):
        p.start_round()
        for j, prob in enumerate((0.9, 0.85, 0.8, 0.3, 0.2), start=1):
            p.keep_drafting(sig(0.1, prob, j))
        p.observe(RoundOutcome(5, 3, 1.0))
    assert 0.3 < p.threshold <= 0.8
    assert p.keep_drafting(sig(0.1, 0.8)) and not p.keep_drafting(sig(0.1, 0.3))


def test_specdec_pp_product_rule_and_bounds():
    p = make_policy("specdec-pp", h=0.5)  # unfitted head: p̂ = top-1 probability
    # 0.9 · 0.9 = 0.81 -> 1 − P = 0.19; · 0.5 = 0.405 -> 0.595 > 0.5: stop after token 3
    assert drive(p, [(0.1, 0.9), (0.1, 0.9), (0.1, 0.5), (0.1, 0.9)]) == 3
    assert drive(p, [(5.0, 0.01)]) == 2  # never before min_len = 2
    assert drive(p, [(0.0, 1.0)]) == 20  # always at max_len = 20


def test_specdec_pp_fit_learns_entropy_predicts_rejection():
    tr = synthesize("llama2-7b-llama2-13b", 20_000, 0)
    p = make_policy("specdec-pp", train_fraction=0.5)
    p.fit(tr)
    lo, hi = p.predict(sig(0.1, 0.95)), p.predict(sig(4.0, 0.1))
    assert 0.0 <= hi < lo <= 1.0
    m = make_policy("specdec-pp", head="mlp", hidden=4)
    m.fit(tr)
    assert m.predict(sig(4.0, 0.1)) < m.predict(sig(0.1, 0.95))


def test_banditspec_round_robin_then_ucb_per_arm():
    p = make_policy("banditspec")
    seen = [p.start_round() for _ in range(1)]
    p.observe(RoundOutcome(seen[0], seen[0], 1.0))
    for _ in range(6):
        g = p.start_round()
        seen.append(g)
        p.observe(RoundOutcome(g, g if g == 3 else 0, 1.0))  # arm 3 pays 4 tok/s, others 1
    assert seen == [1, 2, 3, 4, 1, 2, 3]
    picks = []
    for _ in range(200):
        g = p.start_round()
        picks.append(g)
        p.observe(RoundOutcome(g, g if g == 3 else 0, 1.0))
    assert picks.count(3) > 150
    assert sum(p.pulls) == 207 and p.pulls[2] > 150


def test_banditspec_total_count_quirk_explores_less():
    per, tot = make_policy("banditspec"), make_policy("banditspec", count="total")
    for pol in (per, tot):
        for _ in range(300):
            g = pol.start_round()
            pol.observe(RoundOutcome(g, g if g == 3 else 0, 1.0))
    assert min(tot.pulls) <= min(per.pulls)


@pytest.mark.parametrize(
    "name, kwargs, needle",
    [
        ("fixed", {"gamma": 0}, "gamma"),
        ("fixed", {"gamma": "lots"}, "gamma"),
        ("svip", {"h": -1}, "h"),
        ("adaedl", {"law": "magic"}, "law"),
        ("banditspec", {"arms": []}, "arms"),
        ("specdec-pp", {"min_len": 5, "max_len": 3}, "min_len"),
        ("hf-heuristic", {"bogus": 1}, "bogus"),
    ],
)
def test_bad_arguments_are_one_line_errors(name, kwargs, needle):
    with pytest.raises(AhasdError) as exc:
        make_policy(name, **kwargs)
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_unknown_policy_lists_valid_names():
    with pytest.raises(AhasdError, match="adaedl"):
        make_policy("warp")


def test_every_policy_accepts_max_len():
    for name in POLICIES.names():
        if name == "banditspec":
            continue  # arms define its cap
        assert make_policy(name, max_len=3).max_len == 3


def test_delayed_feedback_labels_the_right_round():
    """Async drivers draft batch k+1 before batch k is verified (and never report squashes)."""
    p = make_policy("hf-confidence", min_samples=1)
    p.start_round()
    for j, prob in enumerate((0.9, 0.2), start=1):
        p.keep_drafting(sig(0.1, prob, j))  # batch A: 2 signals, stopped at the second
    p.start_round()
    p.keep_drafting(sig(0.1, 0.5, 1))  # batch B in flight (1 signal so far)
    p.observe(RoundOutcome(2, 1, 1.0))  # A verified: 0.9 matched, 0.2 rejected
    assert int(p.pos.sum()) == 1 and int(p.neg.sum()) == 1
    assert 0.2 < p.threshold <= 0.9
    b = make_policy("banditspec")
    assert b.start_round() == 1
    assert b.start_round() == 2  # started before γ = 1 is reported
    b.observe(RoundOutcome(1, 1, 1.0))
    assert b.pulls == [1, 0, 0, 0]


def test_hf_confidence_labels_like_hf_update_candidate_strategy():
    """Matches are positives, the first rejected token one negative, later tokens dropped."""
    p = make_policy("hf-confidence", refit=False)
    p.start_round()
    for j, prob in enumerate((0.9, 0.7, 0.5, 0.3), start=1):
        p.keep_drafting(sig(0.1, prob, j))
    p.observe(RoundOutcome(4, 1, 1.0))  # 0.9 matched, 0.7 rejected, 0.5 and 0.3 unknown
    assert int(p.pos.sum()) == 1 and int(p.neg.sum()) == 1
    assert p.neg[int(0.7 * 256)] == 1
    q = make_policy("hf-confidence", refit=False, label_rest="negative")
    q.start_round()
    for j, prob in enumerate((0.9, 0.7, 0.5, 0.3), start=1):
        q.keep_drafting(sig(0.1, prob, j))
    q.observe(RoundOutcome(4, 1, 1.0))
    assert int(q.pos.sum()) == 1 and int(q.neg.sum()) == 3


def test_hf_confidence_roc_point_minimises_fpr_plus_3_fnr():
    # positives at p = 0.6 (x4) and 0.2 (x1), negatives at 0.4 (x5): threshold 0.6 costs
    # FPR 0 + 3 * 0.2 = 0.6; threshold 0.4 costs 1 + 0 = 1; 0.2 costs 1 + 0 = 1 -> picks 0.6
    p = make_policy("hf-confidence")
    for probs, acc in [((0.6, 0.4), 1)] * 4 + [((0.2, 0.4), 1)]:
        p.start_round()
        for j, prob in enumerate(probs, start=1):
            p.keep_drafting(sig(0.1, prob, j))
        p.observe(RoundOutcome(2, acc, 1.0))
    assert 0.4 < p.threshold <= 0.6


def test_banditspec_ucb_uses_per_arm_counts_by_hand():
    # arm 1: one pull, reward 1 tok/s; arm 2: nine pulls, reward 2 tok/s; t = 10
    # per-arm: 1 + sqrt(6 ln 10 / 1) = 4.72  >  2 + sqrt(6 ln 10 / 9) = 3.24 -> gamma = 1
    # total:   1 + sqrt(6 ln 10 / 10) = 2.18 <  2 + sqrt(6 ln 10 / 10) = 3.18 -> gamma = 2
    picks = {}
    for count in ("per-arm", "total"):
        p = make_policy("banditspec", arms=(1, 2), warmup=0, count=count)
        assert p.start_round() == 1  # untried arms first
        p.observe(RoundOutcome(1, 0, 1.0))
        for _ in range(9):
            p.observe(RoundOutcome(2, 1, 1.0))
        assert p.pulls == [1, 9] and p.sums == [1.0, 18.0]
        picks[count] = p.start_round()
    assert picks == {"per-arm": 1, "total": 2}
    assert 1 + math.sqrt(6 * math.log(10)) > 2 + math.sqrt(6 * math.log(10) / 9)


def test_unknown_policy_on_the_cli_is_one_line_exit_2(cli):
    run = cli(["simulate", "--policy", "warp", "--tokens", "8"])
    assert run.code == 2
    lines = [ln for ln in run.err.strip().splitlines() if ln]
    assert len(lines) == 1 and "warp" in lines[0] and "adaedl" in lines[0], run.err


def test_specdec_pp_trains_only_on_the_first_part_of_the_trace():
    """First half: high entropy means *match*; second half the opposite. The head follows the
    first ``train_fraction`` only."""
    import numpy as np

    from ahasd.traces import TokenTrace, TraceMeta

    rng = np.random.default_rng(0)
    n = 4000
    h = rng.uniform(0.0, 4.0, n)
    high = h > 2.0
    match = np.where(np.arange(n) < n // 2, high, ~high)
    trace = TokenTrace(h, np.exp(-0.5 * h), np.where(match, 0, 1), np.full(n, 0.5), h,
                       meta=TraceMeta())  # fmt: skip
    first = make_policy("specdec-pp", train_fraction=0.5)
    first.fit(trace)
    assert first.predict(sig(3.5, float(np.exp(-1.75)))) > first.predict(sig(0.5, 0.78))
    whole = make_policy("specdec-pp", train_fraction=1.0)
    whole.fit(trace)  # both halves cancel: no strong preference either way
    assert abs(whole.predict(sig(3.5, 0.17)) - whole.predict(sig(0.5, 0.78))) < 0.5


def test_specdec_pp_lag_option_scores_one_token_late():
    # same signals as the product-rule test: 0.9, 0.9, 0.5, then 0.9; h = 0.5
    seq = [(0.1, 0.9), (0.1, 0.9), (0.1, 0.5), (0.1, 0.9), (0.1, 0.9)]
    assert drive(make_policy("specdec-pp", h=0.5), seq) == 3
    # lag: after token 4 the product is 0.9·0.9·0.5 = 0.405 -> 1 − P = 0.595 > 0.5: stop at 4
    assert drive(make_policy("specdec-pp", h=0.5, lag=True), seq) == 4


def test_adaedl_lambda_moves_the_stopping_entropy():
    p = make_policy("adaedl", lam0=0.4, eta=0.1, target_rate=0.7)
    h = 1.7  # below the λ = 0.4 stop point 1.8: keep drafting
    assert p.keep_drafting(sig(h))
    p.observe(RoundOutcome(4, 0, 1.0))  # λ -> 0.47: stop point (0.53)² / 0.2 = 1.40
    assert p.h_stop == pytest.approx(0.53**2 / 0.2)
    assert not p.keep_drafting(sig(h))
    for _ in range(3):
        p.observe(RoundOutcome(4, 4, 1.0))  # λ -> 0.38: stop point 1.92
    assert p.keep_drafting(sig(h)) and p.lam == pytest.approx(0.38)
