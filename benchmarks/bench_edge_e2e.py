"""The event simulator's ``edge-hetero`` on the calibrated ``host-cpu`` preset vs the real engine.

For a demo pair and a trace recorded from it (``ahasd trace record``, greedy), each round
calibrates ``host-cpu`` for the pair (as ``ahasd calibrate-host --draft --target`` does, into a
temporary ``$AHASD_HOME``), simulates every fixed γ = 1..8 and the plan's own choice on it — as
``ahasd simulate --system edge-hetero --platform host-cpu --trace T --draft D --target T
--tokens N`` does — and runs the real engine's sync loop at the same γ on the same prompts
(greedy, so it accepts what the trace says) and target-only. Rows: tokens/s simulated vs
measured, medians over rounds, with the spread of the measured figure (slowest round over the
fastest). Why rounds: a shared host drifts by tens of percent within seconds, and a calibration
taken in one state and runs timed in another disagree for that reason alone.

Run: ``python benchmarks/bench_edge_e2e.py --pair DIR --prompts examples/edge_prompts.txt
[--trace T.parquet] [--max-new-tokens 96] [--rounds 5] [--seconds 2] [--no-calibrate]
[--json OUT]``; ``--no-calibrate`` uses the ``host-cpu`` preset as it is (``$AHASD_HOME``).
Beside wall-time tokens/s, tokens per CPU second of the decoding thread (the engine's
``cpu_s``): with torch on one thread (``OMP_NUM_THREADS=1``) that is the run less a busy host's
preemptions, the figure an idle host would show.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ahasd.fileio import write_text

GAMMAS = tuple(range(1, 9))
KEYS = ("ar", *GAMMAS)


def calibrate(pair: Any, home: Path, seconds: float) -> None:
    """Write the pair's host-cpu preset into ``home`` (one calibration round)."""
    from ahasd.engine.host_preset import pair_preset_values
    from ahasd.hardware.host import calibrate_host, write_host_preset

    values = pair_preset_values(pair, seconds=seconds, rounds=1)
    write_host_preset(calibrate_host(seconds / 4), home / "platforms" / "host-cpu.yaml", values)


def simulate_all(pair: Path, trace: Path, tokens: int) -> dict[str, Any]:
    """tok/s the simulator gives at every γ, the plan's own γ and the AR baseline."""
    from ahasd.systems import simulate

    base = {"system": "edge-hetero", "platform": "host-cpu", "precision": "fp32",
            "draft": str(pair / "draft"), "target": str(pair / "target"),
            "trace": str(trace), "tokens": tokens}  # fmt: skip
    best = simulate(**base)
    out = {k: simulate(**base, gamma=k).throughput_tok_s for k in GAMMAS}
    out["ar"] = best.ar_throughput_tok_s
    out["plan"] = best.throughput_tok_s
    out["plan_gamma"] = best.extras["gamma"]
    return out


def measure_all(lms: tuple[Any, Any], ids: list[list[int]], max_new: int) -> dict[Any, tuple]:
    """(tok/s, tok per CPU s) of the engine at every γ and target-only, one pass each."""
    from ahasd.engine.decode import generate, target_only
    from ahasd.policies import make_policy

    d, t = lms

    def one(k: Any, x: list[int]) -> Any:
        if k == "ar":
            return target_only(t, x, max_new_tokens=max_new)
        return generate(d, t, x, policy=make_policy("fixed", gamma=k), max_new_tokens=max_new)

    out = {}
    for k in KEYS:
        n = wall = cpu = 0.0
        for x in ids:
            res = one(k, x)
            n, wall, cpu = n + len(res.tokens), wall + res.wall_s, cpu + res.cpu_s
        out[k] = (n / wall, n / cpu)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pair", type=Path, required=True, help="demo pair (draft/, target/)")
    ap.add_argument("--prompts", type=Path, required=True, help="one prompt per line")
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--trace", type=Path, help="recorded trace (default: record one here)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.0, help="calibration budget per round")
    ap.add_argument("--no-calibrate", action="store_true", help="use host-cpu as it is")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    import torch

    from ahasd.engine.kv import CachedLM
    from ahasd.engine.loading import load_pair
    from ahasd.engine.record import read_prompts, record_trace
    from ahasd.traces import save_trace

    if torch.get_num_threads() != 1:
        print(f"note: torch runs {torch.get_num_threads()} threads; the CPU-time columns count "
              "only the decoding thread's (OMP_NUM_THREADS=1: the run's own)")  # fmt: skip
    prompts = read_prompts(args.prompts)
    pair = load_pair(args.pair / "draft", args.pair / "target")
    trace = args.trace
    if trace is None:
        trace = Path(tempfile.mkdtemp()) / "trace.parquet"
        save_trace(record_trace(pair, prompts, max_new_tokens=args.max_new_tokens), trace)
    tokens = len(prompts) * args.max_new_tokens
    lms = CachedLM(pair.draft), CachedLM(pair.target)
    ids = [pair.tokenizer(x)["input_ids"] for x in prompts]
    measure_all(lms, ids[:1], 8)  # warm-up
    home = Path(tempfile.mkdtemp())
    if not args.no_calibrate:
        os.environ["AHASD_HOME"] = str(home)
    sims, meas = [], []
    for r in range(args.rounds):
        if not args.no_calibrate:
            calibrate(pair, home, args.seconds)
        sims.append(simulate_all(args.pair, trace, tokens))
        meas.append(measure_all(lms, ids, args.max_new_tokens))
        load = os.getloadavg()[0]
        print(f"round {r + 1}/{args.rounds}: plan γ = {sims[-1]['plan_gamma']}, "
              f"{time.strftime('%H:%M:%S')}, load {load:.2f}", flush=True)  # fmt: skip
    rows = []
    print(f"{'γ':>4}{'sim tok/s':>11}{'wall tok/s':>12}{'error %':>9}{'spread %':>10}"
          f"{'CPU tok/s':>11}{'error %':>9}{'spread %':>10}")  # fmt: skip
    for k in KEYS:
        s = statistics.median(x[k] for x in sims)
        row: dict[str, Any] = {"gamma": k, "sim_tok_s": s}
        for i, name in enumerate(("wall", "cpu")):
            seen = [m[k][i] for m in meas]
            m = statistics.median(seen)
            row[f"{name}_tok_s"] = m
            row[f"{name}_error_pct"] = 100 * (s - m) / m
            row[f"{name}_spread_pct"] = 100 * (max(seen) / min(seen) - 1)
        rows.append(row)
        print(f"{k!s:>4}{s:>11.1f}{row['wall_tok_s']:>12.1f}{row['wall_error_pct']:>9.1f}"
              f"{row['wall_spread_pct']:>10.0f}{row['cpu_tok_s']:>11.1f}"
              f"{row['cpu_error_pct']:>9.1f}{row['cpu_spread_pct']:>10.0f}")  # fmt: skip
    for name in ("wall", "cpu"):
        errs = [abs(r[f"{name}_error_pct"]) for r in rows]
        print(f"median |error| over the {len(rows)} rows, {name} time: "
              f"{statistics.median(errs):.1f}%")  # fmt: skip
    print(f"plan's γ per round: {[x['plan_gamma'] for x in sims]}")
    if args.json:
        write_text(args.json, json.dumps({"rows": rows, "sim_rounds": sims}, indent=1))


if __name__ == "__main__":
    main()
