"""Named synthetic-trace profiles, each with its calibration target and source.

A profile is a two-regime Markov process ([svip], [adaedl]: most positions are
near-deterministic, a minority of "branch" tokens carry the entropy and the rejections, so
rejections come in bursts): an *easy* regime with long runs and a *hard* regime with short
stretches. Each regime has a match probability m_r = sigmoid(logit_r + shift); ``shift`` is
solved at build time by bisection so the profile's stated statistic is met exactly in
expectation (``calibrate``). ``iid-alpha-X`` profiles have one regime with m = X.

Targets ([spec-bench], [leviathan23], [sequoia]): kind "tau" = greedy chain τ at the stated γ;
"alpha" = stationary P(target_rank == 0); "tree-tau" = τ of a best-first 63-node tree (5 heads ×
top-10) over i.i.d. ranks; "none" = no published anchor, the value is an assumption stated in the
description.
"""

from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from ahasd.errors import AhasdError

IID_RE = re.compile(r"^iid-alpha-(0?\.\d+)$")


@dataclass(frozen=True, slots=True)
class Profile:
    """Generator parameters plus the calibration target (``target_kind``, ``target``, ``gamma``)."""

    name: str
    pair: str
    description: str
    target_kind: str  # "tau" | "alpha" | "tree-tau" | "iid" | "none"
    target: float
    source: str
    gamma: int = 5
    logit_easy: float = 2.2  # match logit of the easy regime before the calibration shift
    logit_hard: float = -0.8
    stay_easy: float = 0.96  # P(easy -> easy): mean easy run 25 tokens
    stay_hard: float = 0.85  # P(hard -> hard): mean hard stretch 6.7 tokens
    rank_zipf: float = 1.2  # mismatch ranks r >= 1 follow P(r) ∝ r^-s (truncated at vocab)
    top8: float | None = None  # if set, rank_zipf is solved so P(rank < 8) hits it
    entropy_scale: float = 1.0  # multiplies every regime's mean entropy
    vocab: int = 32000
    iid: bool = False
    shift: float = 0.0  # filled by calibrate()


@dataclass(frozen=True, slots=True)
class ProfileInfo:
    """What ``ahasd trace profiles`` lists."""

    name: str
    pair: str
    description: str
    target: str
    source: str


def _p(name: str, pair: str, kind: str, target: float, source: str, desc: str, **kw) -> Profile:
    return Profile(name, pair, desc, kind, target, source, **kw)


_SB = "[spec-bench] leaderboard, greedy, FP16, A100"
_LEV = "[leviathan23], LaMDA dialog (as recalled, not re-checked)"
_NONE = "no published anchor for this pair (docs/references.md lists none)"

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        _p(
            "vicuna-68m-vicuna-7b",
            "vicuna-68m->vicuna-7b",
            "tau",
            2.28,
            _SB,
            "Spec-Bench SpS pair: greedy chain tau = 2.28 at gamma = 5.",
            logit_easy=1.8,
            logit_hard=-1.2,
            stay_easy=0.95,
            entropy_scale=1.3,
        ),
        _p(
            "llama-68m-llama2-7b",
            "llama-68m->llama2-7b",
            "alpha",
            0.63,
            "[sequoia] bundled acceptance vector, JF68M->Llama-2-7B, stochastic; "
            "read here as P(rank = 0) and P(rank < 8)",
            "Sequoia pair: first-child acceptance 0.63, top-8 cumulative 0.86.",
            logit_easy=1.8,
            logit_hard=-1.2,
            stay_easy=0.95,
            entropy_scale=1.3,
            top8=0.86,
        ),
        _p(
            "opt-1.3b-opt-6.7b",
            "opt-1.3b->opt-6.7b",
            "alpha",
            0.70,
            _LEV,
            "AHASD small pair. No OPT alpha is published; anchored to LaMDA 2B->137B alpha ~0.7 "
            "(the closest ~1-2B same-family drafter); consistent with the OPT 1.3B->6.7B "
            "speedup 1.46-1.51x at c ~0.2, gamma 3 that the third-party implementation "
            "github.com/shreyansh26/Speculative-Sampling reports.",
        ),
        _p(
            "llama2-7b-llama2-13b",
            "llama2-7b->llama2-13b",
            "alpha",
            0.75,
            _LEV,
            "AHASD medium pair (same-family 7B drafter). No LLaMA-2 7B->13B alpha is published; "
            "anchored to LaMDA 8B->137B alpha ~0.75, the largest same-family drafter in "
            "[leviathan23].",
        ),
        _p(
            "palm-like-8b-palm-like-30b",
            "palm-like-8b->palm-like-30b",
            "alpha",
            0.75,
            _LEV,
            "AHASD large pair (PaLM-like surrogates, Alpaca). No anchor for the surrogates; "
            "anchored to LaMDA 8B->137B alpha ~0.75 (same 8B drafter size, Google lineage).",
        ),
        _p(
            "llama2-7b-medusa",
            "llama2-7b (Medusa heads)",
            "tree-tau",
            2.31,
            "[spec-bench] Medusa on Vicuna-7B, tau = 2.31",
            "LP-Spec workload: i.i.d. ranks spread over the top-10 so a 63-node best-first tree "
            "(5 heads x top-10) reaches tau = 2.31; a tree reads target_rank as the rank under "
            "each head.",
            iid=True,
            rank_zipf=1.2,
        ),
        _p(
            "opt-125m-opt-1.3b",
            "opt-125m->opt-1.3b",
            "alpha",
            0.60,
            _LEV,
            "Small OPT pair; anchored to LaMDA 100M->137B alpha ~0.6 (a ~100M drafter).",
        ),
        _p(
            "llama-160m-vicuna-7b",
            "llama-160m->vicuna-7b",
            "none",
            0.62,
            _NONE,
            "Assumed alpha 0.62: a little above the 68M drafters (no anchor; OSD reports only "
            "relative gains).",
            logit_easy=1.8,
            logit_hard=-1.2,
            entropy_scale=1.2,
        ),
        _p(
            "qwen2.5-0.5b-qwen2.5-7b",
            "qwen2.5-0.5b->qwen2.5-7b",
            "none",
            0.70,
            _NONE,
            "Assumed alpha 0.70: same-family instruct pair, 'clearly above the 68M pairs' "
            "(docs/references.md); measure with `ahasd trace record` before relying on it.",
        ),
        _p(
            "llama-3.2-1b-llama-3.2-3b",
            "llama-3.2-1b->llama-3.2-3b",
            "none",
            0.75,
            _NONE,
            "Assumed alpha 0.75: same-family 1B drafter for a 3B target (no anchor).",
        ),
    )
}

# draft, target -> profile (docs/traces.md, "default_profile")
PAIR_PROFILES: dict[tuple[str, str], str] = {
    ("vicuna-68m", "vicuna-7b"): "vicuna-68m-vicuna-7b",
    ("llama-68m", "vicuna-7b"): "vicuna-68m-vicuna-7b",
    ("llama-68m", "llama2-7b"): "llama-68m-llama2-7b",
    ("vicuna-68m", "llama2-7b"): "llama-68m-llama2-7b",
    ("llama-160m", "vicuna-7b"): "llama-160m-vicuna-7b",
    ("llama-160m", "llama2-7b"): "llama-160m-vicuna-7b",
    ("opt-125m", "opt-1.3b"): "opt-125m-opt-1.3b",
    ("opt-125m", "opt-6.7b"): "opt-125m-opt-1.3b",
    ("opt-1.3b", "opt-6.7b"): "opt-1.3b-opt-6.7b",
    ("llama2-7b", "llama2-13b"): "llama2-7b-llama2-13b",
    ("vicuna-7b", "llama2-13b"): "llama2-7b-llama2-13b",
    ("llama2-7b", "llama2-7b"): "llama2-7b-medusa",
    ("vicuna-7b", "vicuna-7b"): "llama2-7b-medusa",
    ("palm-like-8b", "palm-like-30b"): "palm-like-8b-palm-like-30b",
    ("qwen2.5-0.5b", "qwen2.5-7b"): "qwen2.5-0.5b-qwen2.5-7b",
    ("llama-3.2-1b", "llama-3.2-3b"): "llama-3.2-1b-llama-3.2-3b",
}
SMALL_DRAFT = re.compile(r"(^|[-_])(68m|125m|160m)$")


def default_profile(draft: str, target: str) -> str:
    """Profile for a model pair: the table above, else a fallback by drafter size.

    Fallback: a drafter named ``*-68m``/``*-125m``/``*-160m`` gets ``vicuna-68m-vicuna-7b`` (the
    Spec-Bench-calibrated small-drafter profile); any other pair gets ``llama2-7b-llama2-13b``
    (a same-family large drafter, AHASD's default pair).
    """
    d, t = _base(draft), _base(target)
    if (d, t) in PAIR_PROFILES:
        return PAIR_PROFILES[(d, t)]
    return "vicuna-68m-vicuna-7b" if SMALL_DRAFT.search(d) else "llama2-7b-llama2-13b"


def _base(name: str) -> str:
    return str(name).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()


def list_profiles() -> list[ProfileInfo]:
    """Every named profile plus the ``iid-alpha-X`` family."""
    out = [
        ProfileInfo(p.name, p.pair, p.description, _target_text(p), p.source)
        for p in PROFILES.values()
    ]
    out.append(
        ProfileInfo(
            "iid-alpha-X",
            "any",
            "i.i.d. matches with P(rank = 0) = X for any X in (0, 1), e.g. iid-alpha-0.8; for "
            "closed-form checks (Leviathan: E[tokens/round] = (1 - X^(g+1)) / (1 - X)).",
            "alpha = X",
            "closed form, [leviathan23]",
        )
    )
    return out


def _target_text(p: Profile) -> str:
    if p.target_kind == "tau":
        return f"tau(gamma={p.gamma}, greedy chain) = {p.target:g}"
    if p.target_kind == "tree-tau":
        return f"tau(63-node tree, 5 heads x top-10) = {p.target:g}"
    extra = f", P(rank < 8) = {p.top8:g}" if p.top8 is not None else ""
    kind = "assumed alpha" if p.target_kind == "none" else "alpha"
    return f"{kind} = {p.target:g}{extra}"


def check_profile(name: str) -> None:
    """Raise a one-line AhasdError unless ``name`` is a profile or ``iid-alpha-X``."""
    get_profile(name)


def get_profile(name: str) -> Profile:
    """The calibrated profile (``shift`` solved), cached."""
    return _calibrated(str(name))


@lru_cache(maxsize=64)
def _calibrated(name: str) -> Profile:
    m = IID_RE.match(name)
    if m:
        x = float(m.group(1))
        if not 0.0 < x < 1.0:
            raise AhasdError(f"profile: got {name!r}; accepted: iid-alpha-X with X in (0, 1)")
        return Profile(name, "any", "i.i.d.", "iid", x, "closed form", iid=True,
                       logit_easy=_logit(x))  # fmt: skip
    if name.startswith("iid-alpha-"):
        raise AhasdError(f"profile: got {name!r}; accepted: iid-alpha-X with X in (0, 1)")
    if name not in PROFILES:
        names = ", ".join([*PROFILES, "iid-alpha-X"])
        raise AhasdError(f"profile: got {name!r}; accepted: {names}")
    return calibrate(PROFILES[name])


def calibrate(p: Profile) -> Profile:
    """Solve the rank exponent (if ``top8``) and the match-logit shift for the stated target."""
    if p.top8 is not None:
        want = (p.top8 - p.target) / (1.0 - p.target)  # P(rank < 8 | rank >= 1)
        s = _bisect(lambda s: zipf_cdf(s, p.vocab)[6], want, 0.01, 5.0)
        p = replace(p, rank_zipf=s)
    if p.target_kind == "tau":
        f = lambda sh: tau_regime(match_probs(p, sh), transition(p), p.gamma)  # noqa: E731
    elif p.target_kind == "tree-tau":
        f = lambda sh: 1.0 + tree_gain(rank_pmf(p, sh, 10), 63, 5)  # noqa: E731
    else:
        f = lambda sh: stationary_alpha(p, sh)  # noqa: E731
    return replace(p, shift=_bisect(f, p.target, -12.0, 12.0))


def _bisect(f, target: float, lo: float, hi: float, iters: int = 80) -> float:
    """x in [lo, hi] with f(x) = target for an increasing f (deterministic)."""
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if f(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _logit(x: float) -> float:
    return math.log(x / (1.0 - x))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def match_probs(p: Profile, shift: float | None = None) -> tuple[float, float]:
    sh = p.shift if shift is None else shift
    if p.iid:
        m = _sigmoid(p.logit_easy + sh)
        return m, m
    return _sigmoid(p.logit_easy + sh), _sigmoid(p.logit_hard + sh)


def transition(p: Profile) -> np.ndarray:
    """Row-stochastic 2x2 regime transition matrix (state 0 = easy, 1 = hard)."""
    return np.array([[p.stay_easy, 1 - p.stay_easy], [1 - p.stay_hard, p.stay_hard]])


def stationary(p: Profile) -> tuple[float, float]:
    if p.iid:
        return 1.0, 0.0
    a, b = 1 - p.stay_easy, 1 - p.stay_hard
    return b / (a + b), a / (a + b)


def stationary_alpha(p: Profile, shift: float | None = None) -> float:
    pe, ph = stationary(p)
    me, mh = match_probs(p, shift)
    return pe * me + ph * mh


def tau_regime(m: tuple[float, float], t: np.ndarray, gamma: int) -> float:
    """Exact greedy chain τ for Markov-modulated matches (DP over one round, then the
    stationary law of the regime at round starts)."""
    mv = np.asarray(m, dtype=np.float64)
    lengths = np.zeros(2)
    nxt = np.zeros((2, 2))
    for s in range(2):
        f = np.eye(2)[s]
        for j in range(gamma + 1):
            end = f if j == gamma else f * (1.0 - mv)
            lengths[s] += (j + 1) * end.sum()
            nxt[s] += end @ t
            if j < gamma:
                f = (f * mv) @ t
    w, v = np.linalg.eig(nxt.T)
    pi = np.real(v[:, np.argmin(np.abs(w - 1.0))])
    pi = pi / pi.sum()
    return float(pi @ lengths)


@lru_cache(maxsize=32)
def zipf_cdf(s: float, vocab: int) -> np.ndarray:
    """CDF over mismatch ranks 1..vocab-1 of P(r) ∝ r^-s."""
    w = np.arange(1, vocab, dtype=np.float64) ** -s
    c = np.cumsum(w)
    return c / c[-1]


def rank_pmf(p: Profile, shift: float, k: int) -> list[float]:
    """P(rank = r) for r = 0..k-1 (stationary)."""
    a = stationary_alpha(p, shift)
    c = zipf_cdf(p.rank_zipf, p.vocab)
    tail = np.diff(np.concatenate(([0.0], c[: k - 1])))
    return [a, *((1 - a) * tail).tolist()]


def tree_gain(pmf: list[float], nodes: int, depth: int) -> float:
    """Σ over a best-first tree's nodes of Π pmf[rank] along the path (i.i.d. ranks)."""
    heap = [(-pmf[r], r, 1) for r in range(len(pmf))]
    heapq.heapify(heap)
    total, count = 0.0, 0
    while heap and count < nodes:
        neg, _, d = heapq.heappop(heap)
        total -= neg
        count += 1
        if d < depth:
            for r in range(len(pmf)):
                heapq.heappush(heap, (neg * pmf[r], r, d + 1))
    return total
