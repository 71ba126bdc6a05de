"""Cost-model validation, the edge-SD paper's method ([edgesd] §III).

Measure draft-step and verify(n) latencies of the real models, calibrate the ``host-cpu`` preset
by micro-benchmarks only (:mod:`ahasd.engine.host_calib`: numpy GEMM rate, torch ``linear``
streaming rates over fixed generic matrices, framework overhead of a miniature of the
architecture) — never by fitting the measured steps — predict the same steps with the cost
model, and compare, per phase and for the end-to-end speedup
T_AR·E[tokens/round] / (γ·T_d + T_v(γ+1)).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median
from typing import Any

import torch

from ahasd.engine.decode import generate, target_only
from ahasd.engine.host_calib import calibration_summary, predict_steps
from ahasd.engine.kv import CachedLM
from ahasd.engine.loading import ModelPair, check_positions
from ahasd.errors import field_error


@dataclass(frozen=True, slots=True)
class PhaseRow:
    phase: str
    n_tokens: int
    measured_s: float  # medians over rounds
    predicted_s: float
    measured_spread_pct: float = 0.0  # slowest / fastest round of the measured step, minus 1

    @property
    def error_pct(self) -> float:
        return 100.0 * (self.predicted_s - self.measured_s) / self.measured_s


def validate(
    pair: ModelPair,
    *,
    kv_len: int = 128,
    gamma: int = 4,
    widths: tuple[int, ...] = (1, 2, 4, 8),
    reps: int = 20,
    calib_s: float = 2.0,
    rounds: int = 5,
    dispatch: bool = True,
    prompt_ids: list[int] | None = None,
    max_new_tokens: int = 96,
    policy: Any = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Predicted vs measured per phase, and the end-to-end SD speedup at draft length gamma.

    ``progress(label, done, total)``, when given, is called as each round and run finishes.

    Calibration and measurement alternate over ``rounds`` (each with ``calib_s / rounds`` of
    micro-benchmarks and ``reps`` timed steps per phase); a row is the median over rounds of
    each. Why: a shared or throttled host drifts by tens of percent within seconds, and a
    calibration taken in one state and steps timed in another disagree for that reason alone.
    """
    from ahasd.models import load_model

    if rounds < 1:
        raise field_error("rounds", rounds, "an integer >= 1")
    if pair.device.type != "cpu" or pair.dtype != torch.float32:
        raise field_error("device/dtype", f"{pair.device}/{pair.dtype}",
                          "cpu/fp32 (validate checks the host-cpu cost model in fp32)")  # fmt: skip
    shapes = load_model(str(pair.draft_dir)), load_model(str(pair.target_dir))
    d, t = CachedLM(pair.draft), CachedLM(pair.target)
    ns = tuple(sorted(set(widths) | {1, gamma + 1}))
    check_positions(pair, "kv", kv_len, kv_len + max(ns), f"kv + the widest step ({max(ns)})")
    ids = prompt_ids or [1 + (i % 200) for i in range(kv_len)]
    check_positions(pair, "prompt", len(ids), len(ids) + max_new_tokens + gamma + 1,
                    f"prompt tokens + {max_new_tokens} new tokens + a draft")  # fmt: skip
    keys = [("draft", 1)] + [("verify", n) for n in ns]
    report = progress or (lambda label, done, total: None)
    rounds_label = f"calibrating the host and timing {len(keys)} steps"
    preds = []
    for i in range(rounds):
        report(rounds_label, i, rounds)
        preds.append(predict_steps(d, t, shapes, kv_len, ns, calib_s=calib_s / rounds, reps=reps,
                                   overhead=dispatch, measure=True))  # fmt: skip
    report(rounds_label, rounds, rounds)
    rows = []
    for key in keys:
        seen = [p.measured_s[key] for p in preds]
        spread = 100.0 * (max(seen) / min(seen) - 1.0)
        rows.append(PhaseRow(*key, median(seen), median(p.seconds(*key) for p in preds), spread))
    calib = calibration_summary([p.calibration for p in preds])
    runs_label = f"decoding {max_new_tokens} tokens: target alone, then speculative"
    report(runs_label, 0, 2)
    ar = target_only(t, ids, max_new_tokens=max_new_tokens)
    report(runs_label, 1, 2)
    sd = generate(d, t, ids, policy=policy, max_new_tokens=max_new_tokens)
    report(runs_label, 2, 2)
    tau = sd.tau
    by = {(r.phase, r.n_tokens): r for r in rows}

    def speedup(attr: str) -> float:
        t_d, t_v = getattr(by[("draft", 1)], attr), getattr(by[("verify", gamma + 1)], attr)
        return tau * getattr(by[("verify", 1)], attr) / (gamma * t_d + t_v)

    return {
        "rows": rows,
        "tau": tau,
        "gamma": gamma,
        "kv_len": kv_len,
        "calibration": calib,
        "speedup_measured": sd.tokens_per_s / ar.tokens_per_s,
        "speedup_from_measured_steps": speedup("measured_s"),
        "speedup_predicted": speedup("predicted_s"),
        "ar_tokens_per_s": ar.tokens_per_s,
        "sd_tokens_per_s": sd.tokens_per_s,
    }
