"""Stand-ins of whole steps (miniature + generic weight pass): never the models under test."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import ahasd.engine.step_standin as ss  # noqa: E402
from ahasd.engine.e2e import HostTerms, overlap_cost_at  # noqa: E402
from ahasd.engine.host_calib import STREAM_SHAPES  # noqa: E402
from ahasd.engine.kv import CachedLM  # noqa: E402
from ahasd.engine.loop_calib import LoopOverheads  # noqa: E402
from ahasd.engine.run import controllers  # noqa: E402

pytestmark = pytest.mark.engine


def _watched(pair64, monkeypatch) -> tuple[CachedLM, CachedLM, list]:
    """The pair as CachedLMs whose every step or forward is recorded."""
    calls: list = []
    lms = tuple(CachedLM(m) for m in pair64)
    for lm in lms:
        monkeypatch.setattr(lm, "step", lambda *a, **k: calls.append("step"))
        lm.model.register_forward_pre_hook(lambda *a: calls.append("forward"))
        if lm.lean is not None:
            monkeypatch.setattr(lm.lean, "forward", lambda *a, **k: calls.append("lean"))
    return *lms, calls


def test_stand_ins_never_run_the_models_under_test(pair64, monkeypatch):
    d, t, calls = _watched(pair64, monkeypatch)
    sd, st = ss.StepStandIn(d, 16), ss.StepStandIn(t, 16)
    seen = []
    real = torch.nn.functional.linear
    monkeypatch.setattr(torch.nn.functional, "linear", lambda x, w, b=None: (
        seen.append(tuple(w.shape)), real(x, w, b))[1])  # fmt: skip
    total, decay = ss.measure_refill(sd, st, 0.0, 0.0, target_width=3)
    host = HostTerms(LoopOverheads(1e-5, 1e-5, 1e-5), (total, decay))
    cost = ss.measure_overlap_cost(sd, st, host, 0.01, gammas=(2,), tokens=8,
                                   controllers=lambda: controllers(True, True))  # fmt: skip
    assert calls == []
    assert total >= 0 and 0 <= decay <= 1 and set(cost) == {2} and cost[2] > -1.5
    assert overlap_cost_at({1: 0.1, 4: 0.2, 8: 0.3}, 6) == 0.3  # nearest γ, larger on a tie
    assert overlap_cost_at({1: 0.1, 4: 0.2, 8: 0.3}, 2) == 0.1
    # the weight pass: generic shapes holding as many bytes as the model's weights
    nbytes = sum(p.numel() * 4 for p in pair64[1].parameters())
    assert sum(w.numel() * 4 for w in st.mats) >= nbytes and set(seen) >= set(STREAM_SHAPES[:1])
    assert {tuple(w.shape) for w in st.mats} <= set(STREAM_SHAPES)
    # the miniature: the same architecture, not the model
    assert st.mini is not None and st.mini.model is not t.model
    assert st.mini.model.config.num_hidden_layers == t.model.config.num_hidden_layers


class _Timed:
    """A stand-in whose steps advance a fake clock: ``costs`` in order, then ``warm``."""

    def __init__(self, clock: list[float], costs: list[float], warm: float):
        self.clock, self.costs, self.warm, self.i = clock, costs, warm, 0

    def step(self, n_tokens: int = 1) -> None:
        self.clock[0] += self.costs[self.i] if self.i < len(self.costs) else self.warm
        self.i += 1

    def restart(self) -> None:
        self.i = 0


def test_refill_is_the_first_steps_excess_and_its_decay(monkeypatch):
    clock = [0.0]
    excess = [8e-4, 4e-4, 2e-4, 1e-4, 5e-5]
    draft = _Timed(clock, [6e-4 + e for e in excess], 6e-4)
    target = _Timed(clock, [], 1e-2)
    restart = target.step

    def target_step(n_tokens: int = 1) -> None:  # a target step makes the draft cold again
        restart(n_tokens)
        draft.restart()

    target.step = target_step
    monkeypatch.setattr(ss, "step_clock", lambda: lambda: clock[0])
    monkeypatch.setattr(ss, "_spin", lambda s: None)
    total, decay = ss.measure_refill(draft, target, 0.0, 0.0)
    assert total == pytest.approx(sum(excess))
    assert decay == pytest.approx(1 - excess[0] / sum(excess))  # e_0 = total·(1 − r)
    flat = _Timed(clock, [], 2.0**-11)  # no step slower than warm: no re-read
    clock[0] = 0.0
    assert ss.measure_refill(flat, target, 0.0, 0.0) == (0.0, 0.0)
