"""Synchronous speculative decoding: chain and tree rounds, plus the target-only baseline.

One round follows the driving loop of docs/dev/contracts.md (policies): draft until the policy
stops or the cap is hit, verify in one target pass, commit accepted + one target token, roll both
KV caches back ([leviathan23]), tell the policy.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ahasd.engine.kv import CachedLM
from ahasd.engine.sampling import (
    SamplingConfig,
    choose,
    entropy_top1,
    probs,
    verify_chain,
    verify_children,
)
from ahasd.errors import AhasdError, field_error

DEFAULT_TREE_WIDTHS = (3, 2, 1, 1)  # children per node at depth 1..4: 3+6+6+6 = 21 nodes


@dataclass
class GenerationResult:
    """Tokens plus the metrics of docs/metrics.md measured on this run."""

    tokens: list[int]
    wall_s: float
    prefill_s: float
    rounds: int = 0
    proposed: int = 0
    accepted: int = 0
    draft_s: float = 0.0
    verify_s: float = 0.0
    draft_lens: list[int] = field(default_factory=list)
    extras: dict[str, float] = field(default_factory=dict)
    text: str = ""
    # CPU time of the decoding thread over the same span as wall_s: with torch on one thread
    # (OMP_NUM_THREADS=1) it is the run's time less a busy host's preemptions
    cpu_s: float = 0.0
    # draft steps that fed two or more tokens (the draft's own last token and the bonus token,
    # after a fully accepted round): a count for the round formula's catch-up term
    catch_up_steps: int = 0

    @property
    def tokens_per_s(self) -> float:
        return len(self.tokens) / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def tau(self) -> float:
        """Committed tokens per target verification (AR = 1)."""
        return len(self.tokens) / self.rounds if self.rounds else 1.0

    def to_dict(self) -> dict[str, Any]:
        hist = Counter(self.draft_lens)
        return {
            "tokens_per_s": self.tokens_per_s,
            "tau": self.tau,
            "mean_draft_len": float(np.mean(self.draft_lens)) if self.draft_lens else 0.0,
            "acceptance_rate": self.accepted / self.proposed if self.proposed else 0.0,
            "new_tokens": len(self.tokens),
            "rounds": self.rounds,
            "proposed": self.proposed,
            "accepted": self.accepted,
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
            "catch_up_steps": self.catch_up_steps,
            "prefill_s": self.prefill_s,
            "draft_s": self.draft_s,
            "verify_s": self.verify_s,
            "draft_len_hist": {str(k): hist[k] for k in sorted(hist)},
            **self.extras,
            "text": self.text,
            "token_ids": self.tokens,
        }


def _policy_api() -> Any:
    import ahasd.policies as pol

    return pol


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def check_prompt(prompt_ids: list[int], max_new_tokens: int) -> None:
    if not prompt_ids:
        raise field_error("prompt", "", "a non-empty prompt (at least one token)")
    if max_new_tokens < 1:
        raise field_error("max_new_tokens", max_new_tokens, ">= 1")


def _finish(seq: list[int], n_prompt: int, max_new: int, eos_id: int | None) -> tuple[list, bool]:
    new = seq[n_prompt:]
    if eos_id is not None and eos_id in new:
        return new[: new.index(eos_id) + 1], True
    return new[:max_new], len(new) >= max_new


class SpecDecoder:
    """State of one speculative generation: two cached models, the sequence, the counters."""

    def __init__(self, draft: CachedLM, target: CachedLM, policy: Any, cfg: SamplingConfig) -> None:
        self.draft, self.target, self.policy, self.cfg = draft, target, policy, cfg
        self.rng = np.random.default_rng(np.random.SeedSequence(cfg.seed))
        self.pol = _policy_api()
        self.seq: list[int] = []
        self.catch_ups = 0

    def _draft_step(self, tokens: list[int]) -> torch.Tensor:
        """The draft's logits for the last of ``tokens`` (what it has not seen yet)."""
        self.catch_ups += len(tokens) > 1
        return self.draft.step(tokens, last=True)[-1]

    def _signals(self, q: torch.Tensor, n: int) -> Any:
        h, p1 = entropy_top1(q)
        return self.pol.TokenSignals(h, p1, n, self.pol.signal_features(h, p1, n))

    def draft_chain(self, cap: int) -> tuple[list[int], list[torch.Tensor]]:
        """Draft up to ``cap`` tokens, stopping when the policy says so."""
        toks: list[int] = []
        qs: list[torch.Tensor] = []
        while True:
            ctx = self.seq + toks
            q = probs(self._draft_step(ctx[self.draft.length :]), self.cfg)
            toks.append(choose(q, self.cfg, self.rng))
            qs.append(q)
            if len(toks) >= cap or not self.policy.keep_drafting(self._signals(q, len(toks))):
                return toks, qs

    def chain_round(self, res: GenerationResult) -> None:
        t0 = time.perf_counter()
        toks, qs = self.draft_chain(self.policy.start_round())
        _sync(self.draft.device)
        t1 = time.perf_counter()
        logits = self.target.step(self.seq[self.target.length :] + toks)
        p = probs(logits[-(len(toks) + 1) :], self.cfg)
        m, nxt = verify_chain(p, torch.stack(qs), toks, self.cfg, self.rng)
        self.commit(toks[:m] + [nxt])
        t2 = time.perf_counter()
        self.account(res, len(toks), m, t1 - t0, t2 - t1)

    def commit(self, new: list[int]) -> None:
        self.seq += new
        self.target.rollback(len(self.seq) - 1)
        self.draft.rollback(len(self.seq) - 1)

    def account(self, res: GenerationResult, n: int, m: int, d_s: float, v_s: float) -> None:
        res.rounds += 1
        res.proposed += n
        res.accepted += m
        res.draft_s += d_s
        res.verify_s += v_s
        res.draft_lens.append(n)
        self.policy.observe(self.pol.RoundOutcome(n, m, d_s + v_s))

    def tree_round(self, res: GenerationResult, widths: tuple[int, ...]) -> None:
        """Draft a top-k tree, verify it in one tree-masked pass, keep the accepted path."""
        t0 = time.perf_counter()
        q_root = probs(self._draft_step(self.seq[self.draft.length :]), self.cfg)
        toks, parents, depths = self._build_tree(q_root, widths)
        _sync(self.draft.device)
        t1 = time.perf_counter()
        if self.target.length < len(self.seq) - 1:  # never after prefill; kept for safety
            self.target.step(self.seq[self.target.length : -1])
        self.target.begin_tree()
        t_par = [-1] + [par + 1 for par in parents]
        logits = self.target.step_tree([self.seq[-1]] + toks, t_par, [0] + [d + 1 for d in depths])
        kids: dict[int, list[int]] = {}
        for i, par in enumerate(t_par[1:], start=1):
            kids.setdefault(par, []).append(i)
        cur, path, all_tok = 0, [], [self.seq[-1]] + toks
        while True:
            ch = kids.get(cur, [])
            j, tok = verify_children(
                probs(logits[cur], self.cfg), [all_tok[c] for c in ch], self.cfg, self.rng
            )
            if j is None:
                break
            cur = ch[j]
            path.append(cur)
        start = self.target.tree_start
        self.seq += [all_tok[c] for c in path] + [tok]
        self.target.keep(start, [0] + path)
        self.draft.rollback(len(self.seq) - 1)
        self.account(res, max(depths) + 1, len(path), t1 - t0, time.perf_counter() - t1)

    def _build_tree(
        self, q_root: torch.Tensor, widths: tuple[int, ...]
    ) -> tuple[list[int], list[int], list[int]]:
        """Expand the top-w children of each frontier node, depth by depth (EAGLE-style)."""
        cap = min(len(widths), self.policy.start_round())
        toks: list[int] = []
        parents: list[int] = []
        depths: list[int] = []
        frontier = [(-1, q_root)]
        self.draft.begin_tree()
        for d in range(cap):
            new_t, new_p = [], []
            for par, q in frontier:
                for tok in torch.topk(q, widths[d]).indices.tolist():
                    new_t.append(tok)
                    new_p.append(par)
            first = len(toks)
            toks += new_t
            parents += new_p
            depths += [d] * len(new_t)
            stop = d + 1 >= cap or not self.policy.keep_drafting(
                self._signals(frontier[0][1], d + 1)
            )
            if stop:
                break
            logits = self.draft.step_tree(new_t, new_p, [d] * len(new_t))
            frontier = [(first + i, probs(logits[i], self.cfg)) for i in range(len(new_t))]
        return toks, parents, depths


def generate(
    draft: Any,
    target: Any,
    prompt_ids: list[int],
    *,
    policy: Any,
    sampling: SamplingConfig | None = None,
    max_new_tokens: int = 64,
    mode: str = "chain",
    tree_widths: tuple[int, ...] = DEFAULT_TREE_WIDTHS,
    eos_id: int | None = None,
    stream: Callable[[list[int]], None] | None = None,
) -> GenerationResult:
    """Synchronous speculative decoding of one prompt (``mode``: chain or tree).

    ``stream`` is called with all new tokens so far after every round (for printing).
    """
    if mode not in ("chain", "tree"):
        raise field_error("mode", mode, "chain, tree")
    if any(w < 1 for w in tree_widths) or not tree_widths:
        raise field_error("tree_widths", tree_widths, "a non-empty tuple of ints >= 1")
    check_prompt(prompt_ids, max_new_tokens)
    cfg = sampling or SamplingConfig()
    d = CachedLM(draft) if isinstance(draft, torch.nn.Module) else draft
    t = CachedLM(target) if isinstance(target, torch.nn.Module) else target
    d.reset()
    t.reset()
    policy.reset()
    dec = SpecDecoder(d, t, policy, cfg)
    t0 = time.perf_counter()
    dec.seq = list(prompt_ids)
    if len(prompt_ids) > 1:
        t.step(prompt_ids[:-1])
        d.step(prompt_ids[:-1])
    _sync(t.device)
    res = GenerationResult([], 0.0, time.perf_counter() - t0)
    t1, c1 = time.perf_counter(), time.thread_time()
    done = False
    while not done:
        if mode == "chain":
            dec.chain_round(res)
        else:
            dec.tree_round(res, tree_widths)
        res.tokens, done = _finish(dec.seq, len(prompt_ids), max_new_tokens, eos_id)
        if stream is not None:
            stream(res.tokens)
    _sync(t.device)
    res.wall_s, res.cpu_s = time.perf_counter() - t1, time.thread_time() - c1
    res.catch_up_steps = dec.catch_ups
    return res


def target_only(
    target: Any,
    prompt_ids: list[int],
    *,
    sampling: SamplingConfig | None = None,
    max_new_tokens: int = 64,
    eos_id: int | None = None,
) -> GenerationResult:
    """Plain autoregressive decoding with the same sampler (the baseline and the reference)."""
    check_prompt(prompt_ids, max_new_tokens)
    cfg = sampling or SamplingConfig()
    rng = np.random.default_rng(np.random.SeedSequence(cfg.seed))
    t = CachedLM(target) if isinstance(target, torch.nn.Module) else target
    t.reset()
    t0 = time.perf_counter()
    logits = t.step(list(prompt_ids), last=True)[-1]
    res = GenerationResult([], 0.0, time.perf_counter() - t0)
    t1, c1 = time.perf_counter(), time.thread_time()
    out: list[int] = []
    while True:
        out.append(choose(probs(logits, cfg), cfg, rng))
        if len(out) >= max_new_tokens or (eos_id is not None and out[-1] == eos_id):
            break
        logits = t.step(out[-1:], last=True)[-1]
        res.rounds += 1
    _sync(t.device)
    res.wall_s, res.cpu_s = time.perf_counter() - t1, time.thread_time() - c1
    res.tokens = out
    res.rounds = len(out)
    return res


def require_policy(name: str, **kwargs: Any) -> Any:
    """Build a drafting policy by registry name (AhasdError lists the valid names)."""
    try:
        return _policy_api().make_policy(name, **kwargs)
    except (ImportError, AttributeError) as exc:  # pragma: no cover - policies layer missing
        raise AhasdError(f"policy: the policies layer is unavailable ({exc})") from exc
