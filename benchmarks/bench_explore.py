"""Explore throughput: analytic design points/s/core (goal ≥ 1,000/s) and event points/s.

Run: ``python benchmarks/bench_explore.py [--points N] [--event-points M] [--tokens T]``.
Everything runs in this one process (one core). Printed figures are measurements, not asserts.

Scenarios:
- analytic, shared platforms: random points over policy/workload/hardware knobs that take a
  few distinct values (cost tables are shared within a platform × model pair group);
- analytic, a distinct platform per point: a continuous hardware axis, so every point builds its
  own step-cost tables (the worst case for the fast path);
- event: the same kind of points through the event simulator (``evaluate``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ahasd.explore.analytic import evaluate_analytic
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
DISTINCT = {
    "name": "bench-distinct",
    "base": {"system": "ahasd", "tokens": 256},
    "sampling": "random",
    "axes": {"platform_overrides.pim.internal_bw_gb_per_s": {"low": 64.0, "high": 1024.0}},
}


def bench_analytic(spec_dict: dict, n: int) -> tuple[float, float, float]:
    """(points/s end to end, points/s evaluation only, mean throughput) for ``n`` points."""
    spec = SweepSpec.model_validate({**spec_dict, "samples": n})
    t0 = time.perf_counter()
    points = build_points(spec)
    t1 = time.perf_counter()
    out = evaluate_analytic([p.config for p in points])
    t2 = time.perf_counter()
    return len(points) / (t2 - t0), len(points) / (t2 - t1), float(out["throughput_tok_s"].mean())


def knot_error(n: int) -> float:
    """Largest relative deviation (throughput, tokens/J) of KV-knot interpolation vs exact."""
    cfgs = [p.config for p in build_points(SweepSpec.model_validate({**SHARED, "samples": n}))]
    a, b = evaluate_analytic(cfgs), evaluate_analytic(cfgs, kv_knot=None)
    keys = ("throughput_tok_s", "tokens_per_joule")
    return max(float(np.max(np.abs(a[k] / b[k] - 1.0))) for k in keys)


def accuracy() -> None:
    """Analytic / event ratios on an i.i.d. trace, fixed γ (the analytic path's validity)."""
    spec = SweepSpec.model_validate({
        "base": {"tokens": 2048, "profile": "iid-alpha-0.8", "policy": "fixed"},
        "axes": {"system": ["npu-only", "npu-pim-sync", "gpu-only", "npu-pim-async", "ahasd"],
                 "policy_args.gamma": [2, 4]},
    })  # fmt: skip
    points = build_points(spec)
    a = evaluate_analytic([p.config for p in points])
    for i, p in enumerate(points):
        e = evaluate(p.config)
        print(
            f"  {p.config.system:14s} gamma={p.config.policy_args['gamma']}: analytic/event "
            f"throughput {a['throughput_tok_s'][i] / e['throughput_tok_s']:.3f}, "
            f"tokens/J {a['tokens_per_joule'][i] / e['tokens_per_joule']:.3f}"
        )


def bench_event(n: int, tokens: int) -> tuple[float, float]:
    """(points/s, committed tokens/s) through the event simulator, serially."""
    spec = SweepSpec.model_validate(
        {**SHARED, "samples": n, "seed": 1, "base": {"system": "ahasd", "tokens": tokens}}
    )
    cfgs = [p.config.model_copy(update={"tokens": tokens}) for p in build_points(spec)]
    evaluate(cfgs[0])  # warm caches (imports, cost tables of the first group)
    t0 = time.perf_counter()
    committed = sum(int(evaluate(c)["committed_tokens"]) for c in cfgs)
    dt = time.perf_counter() - t0
    return len(cfgs) / dt, committed / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=5000)
    ap.add_argument("--distinct-points", type=int, default=200)
    ap.add_argument("--event-points", type=int, default=12)
    ap.add_argument("--tokens", type=int, default=256)
    args = ap.parse_args()
    evaluate_analytic(
        [p.config for p in build_points(SweepSpec.model_validate({**SHARED, "samples": 8}))]
    )
    e2e, ev, _ = bench_analytic(SHARED, args.points)
    print(
        f"analytic, shared platforms : {e2e:9.0f} points/s/core end to end "
        f"({ev:9.0f}/s evaluation only; {args.points} points; goal >= 1000)"
    )
    e2e, ev, _ = bench_analytic(DISTINCT, args.distinct_points)
    print(
        f"analytic, platform per pt  : {e2e:9.0f} points/s/core end to end "
        f"({ev:9.0f}/s evaluation only; {args.distinct_points} points)"
    )
    err = knot_error(500)
    print(f"analytic KV-knot interpolation vs every KV bucket: max relative error {err:.2e}")
    print("analytic vs event (iid-alpha-0.8, 2048 tokens, fixed policy):")
    accuracy()
    pps, tps = bench_event(args.event_points, args.tokens)
    print(
        f"event simulator            : {pps:9.2f} points/s/core "
        f"({tps:,.0f} committed tokens/s; {args.event_points} points x {args.tokens} tokens)"
    )


if __name__ == "__main__":
    main()
