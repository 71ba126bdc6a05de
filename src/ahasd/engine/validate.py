"""Cost-model validation, the edge-SD paper's method ([edgesd] §III).

Measure draft-step and verify(n) latencies of the real models, calibrate the ``host-cpu`` preset
by micro-benchmarks only (:mod:`ahasd.engine.host_calib`: numpy GEMM rate, torch ``linear``
streaming rates over fixed generic matrices, framework overhead of a miniature of the
architecture) — never by fitting the measured steps — predict the same steps with the cost
model, and compare, per phase and end to end (:mod:`ahasd.engine.e2e`): target-only tokens/s
and the speedup of fixed γ and one adaptive policy, sync and async, through the round formula
with the decode loop's own time (:mod:`ahasd.engine.loop_calib`, stand-ins of the models).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from statistics import median
from typing import Any

import torch

from ahasd.engine import e2e
from ahasd.engine.host_calib import calibration_summary, predict_steps
from ahasd.engine.kv import CachedLM
from ahasd.engine.loading import ModelPair, check_positions
from ahasd.engine.loop_calib import measure_loop_overheads
from ahasd.engine.step_standin import StepStandIn, measure_overlap_cost, measure_refill
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
    gammas: tuple[int, ...] = e2e.E2E_GAMMAS,
    adaptive: str | None = e2e.ADAPTIVE,
    modes: tuple[str, ...] = e2e.MODES,
    progress: Callable[..., None] | None = None,
) -> dict[str, Any]:
    """Predicted vs measured per phase and end to end.

    Calibration and measurement alternate over ``rounds``; each round runs ``calib_s / rounds``
    of host micro-benchmarks, ``reps`` timed steps per phase, the loop micro-benchmark on
    stand-ins, then target-only and every end-to-end configuration once (fixed γ of ``gammas``
    plus ``gamma``, and ``adaptive``, in each of ``modes``). A row is the median over rounds of
    each side. Why: a shared or throttled host drifts by tens of percent within seconds, and a
    calibration taken in one state and runs timed in another disagree for that reason alone.
    ``progress(label, done, total, note)``, when given, is called as each task finishes (the
    calibration, the loop benchmark and each run of every round; ``note`` says what ran).
    """
    from ahasd.models import load_model

    if rounds < 1:
        raise field_error("rounds", rounds, "an integer >= 1")
    if pair.device.type != "cpu" or pair.dtype != torch.float32:
        raise field_error("device/dtype", f"{pair.device}/{pair.dtype}",
                          "cpu/fp32 (validate checks the host-cpu cost model in fp32)")  # fmt: skip
    shapes = load_model(str(pair.draft_dir)), load_model(str(pair.target_dir))
    d, t = CachedLM(pair.draft), CachedLM(pair.target)
    specs = e2e.run_specs(tuple(sorted(set(gammas) | {gamma})), adaptive, modes)
    longest = e2e.max_draft_len(specs)
    ns = tuple(sorted(set(widths) | {1, gamma + 1} | set(range(1, longest + 2))))
    check_positions(pair, "kv", kv_len, kv_len + max(ns), f"kv + the widest step ({max(ns)})")
    ids = prompt_ids or [1 + (i % 200) for i in range(kv_len)]
    check_positions(pair, "prompt", len(ids), len(ids) + max_new_tokens + longest + 1,
                    f"prompt tokens + {max_new_tokens} new tokens + a draft")  # fmt: skip
    report = progress or (lambda label, done, total, note="": None)
    label = f"validate: {rounds} rounds of calibration, steps and {len(specs) + 3} runs"
    total, done = task_count(rounds, len(specs)), itertools.count(1)

    def tick(note: str) -> None:
        report(label, next(done), total, note)

    report(label, 0, total)
    stand = StepStandIn(d, kv_len), StepStandIn(t, kv_len)
    preds, figs = [], []
    for r in range(rounds):
        p = predict_steps(d, t, shapes, kv_len, ns, calib_s=calib_s / rounds, reps=reps,
                          overhead=dispatch, measure=True)  # fmt: skip
        tick(f"round {r + 1}: calibrated, {len(ns) + 2} steps timed")
        host = host_terms(stand, calib_s / rounds, gamma + 1)
        tick(f"round {r + 1}: decode loop, draft re-read and async overlap on stand-ins")
        at = f"round {r + 1}: "
        runs, ar = e2e.round_figures(specs, d, t, ids, max_new_tokens, lambda w, a=at: tick(a + w))
        m = p.measured_s
        measured = e2e.Steps(m[("draft", 1)], {n: m[("verify", n)] for n in ns},
                             max(m[("draft", 2)] - m[("draft", 1)], 0.0))  # fmt: skip
        predicted = e2e.Steps(p.draft_s, p.verify_s, p.catch_up_s)
        figs.append(e2e.RoundFigures(runs, ar, predicted, measured, host,
                                     torch.get_num_threads() == 1))  # fmt: skip
        preds.append(p)
    verify_keys = [("verify", n) for n in sorted(set(widths) | {1, gamma + 1})]
    keys = [("draft", 1), ("draft", 2), *verify_keys]
    rows = []
    for key in keys:
        seen = [p.measured_s[key] for p in preds]
        spread = 100.0 * (max(seen) / min(seen) - 1.0)
        rows.append(PhaseRow(*key, median(seen), median(p.seconds(*key) for p in preds), spread))
    calib = calibration_summary([p.calibration for p in preds])
    calib["loop_overheads"] = e2e.loop_summary([f.host for f in figs])
    e2e_rows = e2e.e2e_rows(specs, figs)
    at_gamma = next(x for x in e2e_rows if x["gamma"] == gamma and x["mode"] == modes[0])
    cpu = [abs(x["cpu_error_pct"]) for x in e2e_rows if x["cpu_error_pct"] is not None]
    return {
        "rows": rows,
        "e2e": e2e_rows,
        "target_only": e2e.target_only_row(figs),
        "e2e_median_abs_error_pct": median(abs(x["error_pct"]) for x in e2e_rows),
        "e2e_median_abs_cpu_error_pct": median(cpu) if cpu else None,
        "tau": at_gamma["tau"],
        "gamma": gamma,
        "kv_len": kv_len,
        "calibration": calib,
        "speedup_measured": at_gamma["measured_speedup"],
        "speedup_from_measured_steps": at_gamma["from_measured_steps_speedup"],
        "speedup_predicted": at_gamma["predicted_speedup"],
        "speedup_steps_only": at_gamma["steps_only_speedup"],
    }


def host_terms(
    stand: tuple[StepStandIn, StepStandIn], budget_s: float, verify_width: int
) -> e2e.HostTerms:
    """The host's terms besides the steps, all on stand-ins of the models: the decode loop's own
    time, the draft's re-read after a ``verify_width`` target step (with the loop's per-token
    work between draft steps) and what draft work beside a verification costs the async engine
    (its own loop on whole-step stand-ins, EDC and TVC as in the runs)."""
    from ahasd.engine.run import controllers

    d, t = stand
    loop = measure_loop_overheads(d.kv_shape, t.kv_shape, budget_s)
    refill = measure_refill(d, t, loop.token_s, budget_s / 2, target_width=verify_width)
    host = e2e.HostTerms(loop, refill)
    cost = measure_overlap_cost(d, t, host, 2 * budget_s,
                                controllers=lambda: controllers(True, True))  # fmt: skip
    return e2e.HostTerms(loop, refill, cost)


def task_count(rounds: int, n_specs: int) -> int:
    """Tasks of :func:`validate`: per round, the calibration, the loop benchmark, three
    target-only runs and one run per configuration."""
    return rounds * (2 + len({0, n_specs // 2, n_specs}) + n_specs)
