"""Explore speed and the analytic model's accuracy: points/s/core (goal >= 1,000 with a new
platform per point), the asynchronous systems' error (goal <= 5 %) and the Spearman rank
correlation over a hardware sweep (goal >= 0.95).

Run: ``python benchmarks/bench_explore.py [--json] [--points N] [--distinct-points N]``.
Everything runs in this one process (one core); rates are in CPU time of the process, so other
load on a shared machine barely counts. Analytic caches are cleared before every timed run
(controller replays, placements, operator columns), so each run starts cold. Printed figures
are measurements, not asserts.

Scenarios:
- analytic, shared platforms: random points over system, policy, workload and a few hardware
  values (cost tables shared within a platform group; every workload needs its own controller
  replay);
- analytic, a new platform per point: random continuous and discrete hardware (LPDDR5 data
  rate, NPU TOPS, PIM lanes, ranks, the draft's ranks), ``ahasd``, 256 tokens. Reported twice:
  ``analytic_new_platform_pts_s`` from validated configs to metrics with every point's platform
  built inside the timing (platform caches cleared after the points are built), and
  ``analytic_new_platform_e2e_pts_s`` from the spec (points expanded, validated and hashed too);
- accuracy: the asynchronous systems (``ahasd``, the ablation steps, ``npu-pim-async``) against
  the event simulator on every model pair with the default policy (1,024 tokens) and on an i.i.d.
  trace with a fixed γ (2,048 tokens); the synchronous ones on the i.i.d. trace;
- Spearman: a 200-point random hardware sweep of ``ahasd`` (512 tokens), analytic vs event;
- event: points of the shared kind through the event simulator.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from ahasd.explore.analytic import clear_caches, evaluate_analytic
from ahasd.explore.evaluate import evaluate
from ahasd.explore.points import build_points
from ahasd.explore.spec import SweepSpec

SHARED = {
    "name": "bench-shared",
    "base": {"system": "ahasd"},
    "sampling": "random",
    "axes": {
        "system": ["ahasd", "npu-pim-async", "npu-pim-sync"],
        "platform_overrides.pim.n_alu": [1, 2, 4, 8],
        "policy_args.max_len": {"low": 1, "high": 16, "integer": True},
        "prompt_len": {"low": 32, "high": 2048, "integer": True, "log": True},
        "tokens": [256, 512, 1024],
        "seed": [0, 1, 2, 3],
        "use_aau": [True, False],
    },
}
HARDWARE = {  # continuous and discrete hardware knobs: every point is a new platform
    "platform_overrides.lpddr5.data_rate_mtps": {"low": 3200.0, "high": 6400.0},
    "platform_overrides.npu.matrix_tops": {"low": 4.0, "high": 64.0, "log": True},
    "platform_overrides.pim.lanes": [8, 16, 32],
    "platform_overrides.lpddr5.ranks": [16, 32],
    "platform_overrides.placement.draft_ranks": [4, 6, 8],
}
DISTINCT = {
    "name": "bench-distinct",
    "base": {"system": "ahasd", "tokens": 256},
    "sampling": "random",
    "axes": HARDWARE,
}
SWEEP = {  # the Spearman sweep: the same knobs plus the PIM units per die, 512 tokens
    "name": "bench-spearman",
    "base": {"system": "ahasd", "tokens": 512},
    "sampling": "random",
    "seed": 7,
    "samples": 200,
    "axes": {**HARDWARE, "platform_overrides.pim.units_per_die": [8, 16]},
}
PAIRS = (("opt-1.3b", "opt-6.7b"), ("llama2-7b", "llama2-13b"), ("palm-like-8b", "palm-like-30b"))
ASYNC_VARIANTS = {  # the reproduce matrix's asynchronous variants
    "npu-pim-async": {"system": "npu-pim-async"},
    "+aau": {"system": "ahasd", "use_edc": False, "use_tvc": False},
    "+edc": {"system": "ahasd", "use_tvc": False},
    "ahasd": {"system": "ahasd"},
}
METRICS = ("throughput_tok_s", "tokens_per_joule")


def _clear_platforms() -> None:
    """Forget every built platform, so the next evaluation builds each point's own."""
    from ahasd.explore.points import cached_platform
    from ahasd.hardware import platform

    platform._CACHE.clear()
    cached_platform.cache_clear()


def bench_analytic(spec_dict: dict, n: int) -> dict[str, float]:
    """Points/s (CPU) from the spec, and from validated configs with platforms built again."""
    spec = SweepSpec.model_validate({**spec_dict, "samples": n})
    clear_caches()
    _clear_platforms()
    t0 = time.process_time()
    points = build_points(spec)
    t1 = time.process_time()
    evaluate_analytic([p.config for p in points])
    t2 = time.process_time()
    clear_caches()
    _clear_platforms()
    t3 = time.process_time()
    out = evaluate_analytic([p.config for p in points])
    t4 = time.process_time()
    return {
        "points": len(points),
        "e2e_pts_s": len(points) / (t2 - t0),
        "build_pts_s": len(points) / (t1 - t0),
        "eval_pts_s": len(points) / (t4 - t3),
        "mean_throughput": float(out["throughput_tok_s"].mean()),
    }


def _configs(variants: dict, **common) -> list[tuple[str, object]]:
    from ahasd.sim.config import SimConfig
    from ahasd.systems.base import SYSTEMS, resolve_platform

    out = []
    for label, fields in variants.items():
        cfg = SimConfig(**fields, **common)
        out.append((label, resolve_platform(cfg, SYSTEMS.get(cfg.system), False)))
    return out


def accuracy() -> tuple[list[dict], float]:
    """Analytic / event ratios; the largest relative error over the asynchronous cases."""
    cases = []
    for draft, target in PAIRS:
        cases += [(f"{label}, {draft}, default policy", cfg, True) for label, cfg in
                  _configs(ASYNC_VARIANTS, draft=draft, target=target, tokens=1024)]  # fmt: skip
    iid = {"policy": "fixed", "profile": "iid-alpha-0.8", "tokens": 2048}
    for gamma in (2, 4):
        variants = {**ASYNC_VARIANTS, **{s: {"system": s}
                    for s in ("npu-only", "npu-pim-sync", "gpu-only")}}  # fmt: skip
        for label, cfg in _configs(variants, **iid, policy_args={"gamma": gamma}):
            cases.append((f"{label}, iid-alpha-0.8, fixed gamma={gamma}", cfg,
                          label in ASYNC_VARIANTS))  # fmt: skip
    clear_caches()
    analytic = evaluate_analytic([cfg for _label, cfg, _a in cases])
    rows, worst = [], 0.0
    for i, (label, cfg, is_async) in enumerate(cases):
        event = evaluate(cfg)
        ratio = {m: float(analytic[m][i] / event[m]) for m in METRICS}
        rows.append({"case": label, "async": is_async, **ratio})
        if is_async:
            worst = max(worst, *(abs(r - 1.0) for r in ratio.values()))
    return rows, worst


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    def rank(v: np.ndarray) -> np.ndarray:
        r = np.empty(v.size)
        r[np.argsort(v, kind="stable")] = np.arange(v.size)
        return r

    return float(np.corrcoef(rank(x), rank(y))[0, 1])


def spearman() -> dict[str, float]:
    """Rank correlation (and error) of analytic vs event over the hardware sweep."""
    points = build_points(SweepSpec.model_validate(SWEEP))
    clear_caches()
    analytic = evaluate_analytic([p.config for p in points])
    event = [evaluate(p.config) for p in points]
    out: dict[str, float] = {"points": len(points)}
    for m in METRICS:
        e = np.array([r[m] for r in event])
        out[f"spearman_{m}"] = _spearman(analytic[m], e)
        out[f"max_rel_err_{m}"] = float(np.max(np.abs(analytic[m] / e - 1.0)))
        out[f"mean_rel_err_{m}"] = float(np.mean(np.abs(analytic[m] / e - 1.0)))
    return out


def bench_event(n: int, tokens: int) -> tuple[float, float]:
    """(points/s, committed tokens/s) through the event simulator, serially."""
    spec = SweepSpec.model_validate(
        {**SHARED, "samples": n, "seed": 1, "base": {"system": "ahasd", "tokens": tokens}}
    )
    cfgs = [p.config.model_copy(update={"tokens": tokens}) for p in build_points(spec)]
    evaluate(cfgs[0])  # warm caches (imports, cost tables of the first group)
    t0 = time.process_time()
    committed = sum(int(evaluate(c)["committed_tokens"]) for c in cfgs)
    dt = time.process_time() - t0
    return len(cfgs) / dt, committed / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1000, help="shared-platform points")
    ap.add_argument("--distinct-points", type=int, default=1000, help="new-platform points")
    ap.add_argument("--event-points", type=int, default=12)
    ap.add_argument("--tokens", type=int, default=256, help="tokens per event point")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    evaluate_analytic(  # warm imports and numpy (caches are cleared before each timed run)
        [p.config for p in build_points(SweepSpec.model_validate({**SHARED, "samples": 8}))]
    )
    shared = bench_analytic(SHARED, args.points)
    distinct = bench_analytic(DISTINCT, args.distinct_points)
    acc_rows, async_err = accuracy()
    rank = spearman()
    pps, tps = bench_event(args.event_points, args.tokens)
    result = {
        "analytic_shared_pts_s": shared["e2e_pts_s"],
        "analytic_shared_eval_pts_s": shared["eval_pts_s"],
        "analytic_new_platform_pts_s": distinct["eval_pts_s"],
        "analytic_new_platform_e2e_pts_s": distinct["e2e_pts_s"],
        "analytic_new_platform_build_pts_s": distinct["build_pts_s"],
        "async_max_rel_err": async_err,
        "spearman": rank["spearman_throughput_tok_s"],
        **{k: v for k, v in rank.items() if k != "points"},
        "event_pts_s": pps,
        "event_committed_tok_s": tps,
        "accuracy": acc_rows,
        "points": {
            "shared": shared["points"],
            "new_platform": distinct["points"],
            "spearman": rank["points"],
            "event": args.event_points,
        },  # fmt: skip
        "load_average": [load0, os.getloadavg()[0]],
        "timing": "CPU seconds of this process",
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"load average {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end (CPU time)")
    print(f"analytic, shared platforms : {shared['e2e_pts_s']:9.0f} points/s/core from the spec "
          f"({shared['eval_pts_s']:.0f}/s evaluation only; {shared['points']} points)")  # fmt: skip
    print(f"analytic, platform per pt  : {distinct['eval_pts_s']:9.0f} points/s/core, platforms "
          f"built in the timing ({distinct['e2e_pts_s']:.0f}/s from the spec; "
          f"{distinct['points']} points; goal >= 1000)")  # fmt: skip
    print(
        f"analytic vs event, asynchronous systems: max relative error {async_err:.3f} "
        "(goal <= 0.05)"
    )
    for row in acc_rows:
        print(f"  {row['case']:<52} throughput {row['throughput_tok_s']:.3f}, "
              f"tokens/J {row['tokens_per_joule']:.3f}")  # fmt: skip
    thr, tpj = "throughput_tok_s", "tokens_per_joule"
    print(
        f"Spearman over {rank['points']} hardware points: throughput "
        f"{rank[f'spearman_{thr}']:.4f}, tokens/J {rank[f'spearman_{tpj}']:.4f} (goal >= 0.95);"
        f" max error {rank[f'max_rel_err_{thr}']:.3f} / {rank[f'max_rel_err_{tpj}']:.3f}"
    )
    print(f"event simulator            : {pps:9.2f} points/s/core ({tps:,.0f} committed tokens/s; "
          f"{args.event_points} points x {args.tokens} tokens)")  # fmt: skip


if __name__ == "__main__":
    main()
