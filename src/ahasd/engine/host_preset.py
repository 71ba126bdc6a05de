"""The ``host-cpu`` preset calibrated for the real engine on one model pair.

``ahasd calibrate-host --draft DIR --target DIR`` writes it, so that every tool reading
``host-cpu`` (``ahasd cost``, ``edge-plan``, ``simulate --system edge-hetero``) prices the engine
as ``ahasd validate`` does: the same micro-benchmarks (:mod:`ahasd.engine.host_calib`: GEMM rate,
torch streaming curve, the miniature's framework time, weights re-read one step later) and the
decode loop's own time on stand-ins of the models (:mod:`ahasd.engine.loop_calib`) and the draft's
re-read after the target's pass (:func:`~ahasd.engine.step_standin.measure_refill`), medians over
alternating rounds, and the extra of a two-token draft step (the catch-up after a fully
accepted round) from the cost model. Never a timing of the models under test.

Multi-token rates are kept per width, as ``validate`` prices them: the streaming curve runs at
every verify width 2..9 (γ = 1..8) and the preset gets a width -> rate table per memory level
(``multi_token_*_bw_by_width``; wider steps take the widest's rate). Elsewhere a preset holds one
figure per field where ``validate`` keeps one per model: the per-operator overhead pools both
models (their framework time over their operator count); the cache rate is the re-read rate of
the model whose weights fit the cache (the draft, for the demo pair).
"""

from __future__ import annotations

from collections.abc import Callable
from statistics import median
from typing import Any

from ahasd.engine.host_calib import predict_steps, rate_at
from ahasd.engine.kv import CachedLM
from ahasd.engine.loading import ModelPair
from ahasd.engine.loop_calib import LoopOverheads, measure_loop_overheads
from ahasd.engine.step_standin import StepStandIn, measure_refill

VERIFY_WIDTHS = tuple(range(2, 10))  # γ + 1 for γ = 1..8
REFILL_VERIFY_WIDTH = 5  # the target step before the re-read: a mid verify width (γ = 4)


def pair_preset_values(
    pair: ModelPair,
    *,
    kv_len: int = 128,
    seconds: float = 2.0,
    rounds: int = 3,
    reps: int = 10,
    progress: Callable[..., None] | None = None,
) -> dict[str, Any]:
    """``cpu`` preset fields (YAML units) for ``pair``, medians over ``rounds`` calibrations;
    ``progress(label, done, total)`` as each round finishes."""
    from ahasd.models import load_model

    report = progress or (lambda label, done, total: None)
    label = "calibrating host-cpu for the pair (rounds)"
    report(label, 0, rounds)
    shapes = load_model(str(pair.draft_dir)), load_model(str(pair.target_dir))
    d, t = CachedLM(pair.draft), CachedLM(pair.target)
    sd, st = StepStandIn(d, kv_len), StepStandIn(t, kv_len)
    cals, loops, refills, catch_ups = [], [], [], []
    for r in range(rounds):
        # one-token verify steps suffice: the multi-token rates come from the streaming curve
        # at every verify width, the framework time from the miniature
        pred = predict_steps(d, t, shapes, kv_len, (1,), calib_s=seconds / rounds, reps=reps,
                             curve_widths=VERIFY_WIDTHS)  # fmt: skip
        cals.append(pred.calibration)
        catch_ups.append(pred.catch_up_s)
        loop = measure_loop_overheads(sd.kv_shape, st.kv_shape, seconds / rounds,
                                      asynchronous=False)  # fmt: skip
        loops.append(loop)
        refills.append(measure_refill(sd, st, loop.token_s, seconds / rounds / 2,
                                      target_width=REFILL_VERIFY_WIDTH))  # fmt: skip
        report(label, r + 1, rounds)
    return preset_values(cals, loops, refills, shapes, kv_len, catch_ups)


def _op_count(shape: Any, kv_len: int) -> int:
    from ahasd.models import ops_for_phase

    return sum(op.count for op in ops_for_phase(shape, "verify", 1, kv_len, "fp32"))


def preset_values(
    cals: list[dict[str, Any]],
    loops: list[LoopOverheads],
    refills: list[tuple[float, float]],
    shapes: tuple[Any, Any],
    kv_len: int,
    catch_ups: list[float] | None = None,
) -> dict[str, Any]:
    """The preset fields from calibration rounds (``predict_steps(...).calibration``) and loop
    benchmarks: see the module docstring for how per-width and per-model figures become one."""

    def med(values: Any, digits: int = 4) -> float:
        return round(float(median(values)), digits)

    def per_width(tables: list[dict[int, float]]) -> dict[int, float]:
        """GB/s per verify width, the median over rounds (between measured widths: linear)."""
        return {w: med(rate_at(t, w) / 1e9 for t in tables) for w in VERIFY_WIDTHS}

    def cache_rates(c: dict[str, Any]) -> dict[int, float]:
        for who in ("draft", "target"):  # re-read one step later, in GB/s, where a model fits
            kept = c.get(f"{who}_cache_bw_after_step_gb_per_s")
            if kept:
                return {n: v * 1e9 for n, v in kept.items()}
        return c["levels"]["cache_bw"]

    n_ops = _op_count(shapes[0], kv_len) + _op_count(shapes[1], kv_len)
    out = {
        "fp32_gflops": med(c["fp32_gflops"] for c in cals),
        "mem_bw_gb_per_s": med(c["levels"]["mem_bw"][1] / 1e9 for c in cals),
        "multi_token_mem_bw_by_width_gb_per_s": per_width([c["levels"]["mem_bw"] for c in cals]),
        "cache_mib": med(c["levels"]["cache_bytes"] / 2**20 for c in cals),
        "op_sync_us": med(
            (c["draft_overhead_ms"][1] + c["target_overhead_ms"][1]) * 1e3 / n_ops for c in cals
        ),
        "round_overhead_us": med((lo.round_s * 1e6 for lo in loops), 2),
        "token_overhead_us": med((lo.token_s * 1e6 for lo in loops), 2),
        "ar_token_overhead_us": med((lo.ar_token_s * 1e6 for lo in loops), 2),
        "draft_refill_us": med((r[0] * 1e6 for r in refills), 2),
        "draft_refill_decay": med(r[1] for r in refills),
        "draft_catch_up_us": med((c * 1e6 for c in catch_ups or [0.0]), 2),
    }
    cached = [cache_rates(c) for c in cals if c["levels"]["cache_bytes"] > 0]
    if out["cache_mib"] > 0 and cached:
        out["cache_bw_gb_per_s"] = med(rate_at(k, 1) / 1e9 for k in cached)
        out["multi_token_cache_bw_by_width_gb_per_s"] = per_width(
            [c["levels"]["cache_bw"] for c in cals if c["levels"]["cache_bw"]]
        )
    return out
