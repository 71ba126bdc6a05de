"""Fixtures for the engine tests (skipped cleanly without torch/transformers)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from tests.engine.engine_helpers import _real_policies, _StubPolicy, noisy_copy, tiny_llama  # noqa: E402


@pytest.fixture(scope="session")
def pair64():
    """(draft, target) with vocab 64: the draft is a noisy copy of the target."""
    target = tiny_llama(64, 32, 2, seed=0)
    return noisy_copy(target, 0.1, seed=1), target


@pytest.fixture(autouse=True)
def policy_layer(monkeypatch):
    """Use the real policies layer; fall back to a stub API only if it is not importable yet."""
    if _real_policies():
        return
    import types
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class TokenSignals:
        entropy: float
        top1_prob: float
        position: int
        features: tuple = ()

    @dataclass(frozen=True)
    class RoundOutcome:
        proposed: int
        accepted: int
        seconds: float

    api = types.SimpleNamespace(
        TokenSignals=TokenSignals,
        RoundOutcome=RoundOutcome,
        signal_features=lambda h, p, n: (h, p, float(n)),
        make_policy=lambda name, **kw: _StubPolicy(kw.get("gamma", 4)),
    )
    import ahasd.engine.async_decode as ad
    import ahasd.engine.decode as dec

    monkeypatch.setattr(dec, "_policy_api", lambda: api)
    monkeypatch.setattr(ad, "_policy_api", lambda: api)


@pytest.fixture
def one_thread():
    """Tiny tensors run faster on one intra-op thread; restore the setting afterwards."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def demo_dirs(tmp_path_factory):
    """A trained 'tiny' demo pair in HF format (config.json, safetensors, tokenizer)."""
    from ahasd.engine.demo import make_demo_models

    out = tmp_path_factory.mktemp("demo")
    make_demo_models(out, size="tiny", seed=0)
    return out / "draft", out / "target"
