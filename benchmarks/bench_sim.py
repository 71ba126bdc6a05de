"""Committed tokens simulated per second per core, per system (the project's goal: ≥ 100k/s
for ``ahasd`` once the cost tables are built).

Run: ``python benchmarks/bench_sim.py [--tokens 50000] [--repeat 3] [--systems ahasd,...]``.
Each run is prepared first (platform, models, trace, policy; tables warmed by one untimed run),
then only the driver's event loop is timed, in CPU time of this process (other load on a shared
machine does not count); the end-to-end ``simulate`` time, trace synthesis included, is printed
beside it. The event counts make a behaviour change visible.
"""

from __future__ import annotations

import argparse
import time

from ahasd.sim.config import SimConfig
from ahasd.systems import SYSTEMS, simulate
from ahasd.systems.base import prepare, resolve_platform


def bench(system: str, tokens: int, repeat: int) -> tuple[float, float, int]:
    cfg = SimConfig(system=system, tokens=tokens, seed=0)
    cls = SYSTEMS.get(system)
    cfg = resolve_platform(cfg, cls, explicit=False)
    simulate(cfg)  # warm the memoised cost tables
    best_loop = best_e2e = float("inf")
    events = 0
    for _ in range(repeat):
        ctx = prepare(cfg, cls)
        t0 = time.process_time()
        result = cls().run(ctx)
        best_loop = min(best_loop, time.process_time() - t0)
        events = int(result.extras.get("events", 0))
        t0 = time.process_time()
        simulate(cfg)
        best_e2e = min(best_e2e, time.process_time() - t0)
    return tokens / best_loop, tokens / best_e2e, events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--systems", default="ahasd,npu-pim-async,npu-pim-sync,gpu-only")
    args = ap.parse_args()
    target = 100_000.0
    print(f"{'system':<16}{'loop tok/s':>14}{'e2e tok/s':>14}{'events':>10}{'loop/target':>13}")
    for name in args.systems.split(","):
        loop, e2e, events = bench(name, args.tokens, args.repeat)
        print(f"{name:<16}{loop:>14,.0f}{e2e:>14,.0f}{events:>10}{loop / target:>12.2f}x")


if __name__ == "__main__":
    main()
