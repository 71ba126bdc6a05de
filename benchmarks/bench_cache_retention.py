"""How long this host's cache keeps a working set: torch fp32 ``linear`` streaming rate of a
set of generic matrices re-read after a pause, for pauses of 0 to 3 ms (a busy-wait that
touches no memory of ours).

Why: ``ahasd validate`` prices a cache-resident model's weights at the rate they stream one step
later (``ahasd.engine.host_calib.measure_retained_rates``); on a host whose last-level cache is
shared with busy neighbours that rate falls to DRAM speed within about a millisecond. This prints
the curve so the effect can be checked on any machine.

Run: ``python benchmarks/bench_cache_retention.py [--mib 6] [--budget 0.3] [--threads N]``.
"""

from __future__ import annotations

import argparse

import torch

from ahasd.engine.host_calib import measure_retained_rates

GAPS_MS = (0.0, 0.1, 0.3, 1.0, 3.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=float, default=6.0, help="working set (MiB)")
    ap.add_argument("--budget", type=float, default=0.3, help="seconds per pause length")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"{args.mib:g} MiB of generic fp32 matrices, 1 token, {torch.get_num_threads()} threads")
    first = None
    for gap in GAPS_MS:
        rate = measure_retained_rates(args.mib * 2**20, gap / 1e3, args.budget, widths=(1,))[1]
        first = first or rate
        print(f"pause {gap:4.1f} ms: {rate / 1e9:6.1f} GB/s ({rate / first:.2f}x back to back)")


if __name__ == "__main__":
    main()
