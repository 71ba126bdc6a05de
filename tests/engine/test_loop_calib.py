"""The decode-loop micro-benchmark: the engine's loops on stand-ins, never the models under test."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ahasd.engine.loop_calib as lc  # noqa: E402
from ahasd.engine.decode import generate  # noqa: E402
from ahasd.engine.kv import CachedLM  # noqa: E402
from ahasd.engine.lean import LeanLlama  # noqa: E402
from ahasd.engine.sampling import SamplingConfig  # noqa: E402
from tests.engine.engine_helpers import fixed  # noqa: E402

pytestmark = pytest.mark.engine


def test_kv_shape_is_read_from_the_config(pair64):
    draft, target = pair64
    shape = lc.KvShape.of(CachedLM(target))
    cfg = target.config
    nbytes = sum(p.numel() * 4 for p in target.parameters())
    assert shape == lc.KvShape(cfg.num_hidden_layers, cfg.num_key_value_heads,
                               cfg.hidden_size // cfg.num_attention_heads, 64, True,
                               nbytes)  # fmt: skip
    assert lc.KvShape.of(CachedLM(draft, fast=False)).lean is False


@pytest.mark.parametrize("lean", [True, False])
def test_stand_ins_drive_the_real_loop_and_roll_their_cache_back(lean):
    shape = lc.KvShape(2, 2, 8, 50, lean)
    d = lc.StandIn(shape, 1)
    t = lc.StandIn(shape, 2, accept=(np.random.default_rng(0), 1.0))
    res = generate(d, t, [1, 2, 3], policy=fixed(3), max_new_tokens=20)
    assert len(res.tokens) == 20 and res.accepted == res.proposed  # alpha 1: all accepted
    assert res.rounds == -(-20 // 4) and d.spent > 0 and t.spent > 0
    assert t.cached_length == t.length == len(res.tokens) + 3 - 1 + (res.rounds * 4 - 20)
    none = lc.StandIn(shape, 2, accept=(np.random.default_rng(0), 0.0))
    res = generate(lc.StandIn(shape, 1), none, [1], policy=fixed(3), max_new_tokens=10)
    assert res.accepted == 0 and res.rounds == 10


def test_the_benchmark_never_runs_a_model(monkeypatch, pair64):
    """Whatever it is given, no torch module and no lean forward runs while it measures."""
    d, t = (lc.KvShape.of(CachedLM(m)) for m in pair64)
    calls = []
    real_call = torch.nn.Module.__call__

    def counted(self, *args, **kwargs):
        calls.append(type(self).__name__)
        return real_call(self, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Module, "__call__", counted)
    monkeypatch.setattr(LeanLlama, "forward", lambda *a, **k: calls.append("lean"))
    out = lc.measure_loop_overheads(d, t, 0.05, gammas=(1, 2), tokens=12)
    assert calls == []
    assert out.round_s >= 0 and out.token_s >= 0 and out.ar_token_s > 0
    assert [g for g, _ in out.per_gamma_s] == [1, 2] and all(s > 0 for _, s in out.per_gamma_s)
    assert set(out.as_dict()) == {"round_us", "token_us", "ar_token_us", "async_round_us",
                                  "per_gamma_us"}  # fmt: skip
    with pytest.raises(ValueError, match="budget_s"):
        lc.measure_loop_overheads(d, t, 0.0)


def test_fit_line_splits_round_and_token_parts():
    assert lc.fit_line([(1, 3.0), (2, 5.0), (4, 9.0)]) == pytest.approx((1.0, 2.0))
    assert lc.fit_line([(4, 2.0), (4, 4.0)]) == (3.0, 0.0)


def test_sampled_decoding_is_benchmarked_with_its_own_sampler():
    shape = lc.KvShape(1, 1, 4, 40, True)
    out = lc.measure_loop_overheads(shape, shape, 0.02, sampling=SamplingConfig(temperature=0.8),
                                    gammas=(2,), tokens=8, asynchronous=False)  # fmt: skip
    assert out.async_round_s == 0.0 and out.ar_token_s > 0


def test_busy_time_is_the_union_of_the_step_spans():
    """Two threads' stand-in steps overlap: the async loop's own time is the wall time less the
    time at least one stand-in was stepping, not less their sum."""
    assert lc.busy_s([]) == 0.0
    assert lc.busy_s([(0.0, 2.0), (1.0, 3.0), (5.0, 6.0), (5.5, 5.8)]) == pytest.approx(4.0)
