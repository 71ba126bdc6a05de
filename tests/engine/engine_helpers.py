"""Helpers for the engine tests: tiny models, a toy LM, policies (real or a stub)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def tiny_llama(
    vocab: int, hidden: int, layers: int, seed: int, init: float = 0.3, kv_heads: int = 2
):
    """A llama with large init so distributions are peaked (no argmax near-ties)."""
    torch.manual_seed(seed)
    cfg = transformers.LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=kv_heads,
        max_position_embeddings=512,
        tie_word_embeddings=False,
        initializer_range=init,
    )
    return transformers.LlamaForCausalLM(cfg).eval()


def noisy_copy(model, noise: float, seed: int):
    """A draft that agrees with the target often but not always."""
    torch.manual_seed(seed)
    clone = transformers.LlamaForCausalLM(model.config).eval()
    clone.load_state_dict(model.state_dict())
    with torch.no_grad():
        for p in clone.parameters():
            p.add_(noise * torch.randn_like(p) * p.std())
    return clone


def policy_names() -> list[str]:
    from ahasd.policies import POLICIES

    return list(POLICIES.names())


def make(name: str, **kw):
    if not _real_policies():
        return _StubPolicy(kw.get("gamma", 4))
    from ahasd.policies import make_policy

    return make_policy(name, **kw)


class TableLM:
    """A context-dependent toy LM with the CachedLM interface, microseconds per step.

    logits(next | prefix) = A[last] + B[second last] + c * position: depends on more than the
    last token, so a wrong KV rollback changes the distribution and the tests notice.
    """

    def __init__(self, vocab: int, seed: int, scale: float = 2.0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.a = scale * torch.randn(vocab, vocab, generator=g)
        self.b = scale * torch.randn(vocab, vocab, generator=g)
        self.c = torch.randn(vocab, generator=g) * 0.3
        self.device = torch.device("cpu")
        self.tokens: list[int] = []

    @property
    def length(self) -> int:
        return len(self.tokens)

    def reset(self) -> None:
        self.tokens = []

    def rollback(self, length: int) -> None:
        del self.tokens[length:]

    @classmethod
    def sharpened(cls, base: TableLM, factor: float, noise: float, seed: int) -> TableLM:
        """A draft for ``base``: its logits times ``factor`` (overconfident, as small drafts
        are) plus Gaussian noise; it agrees with the target often but not always."""
        g = torch.Generator().manual_seed(seed)
        lm = cls.__new__(cls)
        lm.a = factor * base.a + noise * torch.randn(base.a.shape, generator=g)
        lm.b = factor * base.b + noise * torch.randn(base.b.shape, generator=g)
        lm.c = factor * base.c
        lm.device, lm.tokens = base.device, []
        return lm

    def logits_after(self, prefix: list[int]) -> torch.Tensor:
        prev = prefix[-2] if len(prefix) > 1 else 0
        return self.a[prefix[-1]] + self.b[prev] + self.c * (len(prefix) % 3)

    def logits_along(self, seqs: torch.Tensor, n_prompt: int) -> torch.Tensor:
        """logits_after(seq[:n_prompt + j]) for every row and every j: (rows, T, vocab)."""
        cols = torch.arange(n_prompt - 1, seqs.shape[1] - 1)
        last, prev = seqs[:, cols], seqs[:, cols - 1]  # n_prompt >= 2: every prefix has two
        return self.a[last] + self.b[prev] + self.c * ((cols + 1) % 3)[None, :, None]

    def step(self, tokens: list[int], last: bool = False) -> torch.Tensor:
        out = []
        for tok in tokens:
            self.tokens.append(tok)
            out.append(self.logits_after(self.tokens))
        return torch.stack(out[-1:] if last else out)


class _StubPolicy:
    """Stand-in with the DraftPolicy interface, used only while ahasd.policies is not built."""

    name = "stub-fixed"

    def __init__(self, gamma: int = 4) -> None:
        self.max_len = gamma

    def start_round(self) -> int:
        return self.max_len

    def keep_drafting(self, sig) -> bool:
        return True

    def observe(self, outcome) -> None:
        pass

    def reset(self) -> None:
        pass


def _real_policies() -> bool:
    try:
        from ahasd.policies import POLICIES, RoundOutcome, TokenSignals, make_policy  # noqa: F401
    except ImportError:
        return False
    return True


def all_policies() -> list[str]:
    return policy_names() if _real_policies() else ["stub-fixed"]


def fixed(gamma: int):
    return make("fixed", gamma=gamma) if _real_policies() else _StubPolicy(gamma)
