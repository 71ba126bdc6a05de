"""The event simulator's ``edge-hetero`` on the calibrated ``host-cpu`` preset vs the real engine.

For a demo pair and a recorded trace of its greedy decoding, this simulates every fixed γ = 1..8
(and the plan's own choice) on ``host-cpu`` — the same as ``ahasd simulate --system edge-hetero
--platform host-cpu --trace T --draft D --target T --tokens N`` — and runs the real engine's
sync loop at the same γ on the same prompts (greedy, so its accepted tokens are the trace's),
and prints tokens/s simulated vs measured, with the target-only baseline.

Setup (once): ``ahasd calibrate-host --draft DIR/draft --target DIR/target`` writes the preset
to ``$AHASD_HOME/platforms/host-cpu.yaml``; a preset without the decode-loop fields is reported.

Run: ``python benchmarks/bench_edge_e2e.py --pair DIR --prompts P.txt [--max-new-tokens 96]
[--trace T.parquet] [--repeats 3] [--json OUT]``. Tokens/s measured: all prompts' tokens over
all their decode wall time, the median of ``--repeats`` interleaved passes. CPU time of the
process is printed beside, since a shared host's wall time is noisy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

GAMMAS = tuple(range(1, 9))


def simulate_all(pair: Path, trace: Path, tokens: int) -> dict[str, Any]:
    """tok/s the simulator gives at every γ, the plan's own γ, and the AR baseline."""
    from ahasd.hardware import load_platform
    from ahasd.systems import simulate

    base = {"system": "edge-hetero", "platform": "host-cpu", "precision": "fp32",
            "draft": str(pair / "draft"), "target": str(pair / "target"),
            "trace": str(trace), "tokens": tokens}  # fmt: skip
    best = simulate(**base)
    per = {g: simulate(**base, gamma=g) for g in GAMMAS}
    cpu = load_platform("host-cpu").device("cpu")
    return {
        "plan_gamma": best.extras["gamma"],
        "plan_tok_s": best.throughput_tok_s,
        "ar_tok_s": best.ar_throughput_tok_s,
        "tok_s": {g: r.throughput_tok_s for g, r in per.items()},
        "tau": {g: r.tau for g, r in per.items()},
        "loop_us": [
            round(x * 1e6, 1)
            for x in (cpu.round_overhead_s, cpu.token_overhead_s, cpu.ar_token_overhead_s)
        ],  # fmt: skip
    }


def measure_all(pair: Path, prompts: list[str], max_new: int, repeats: int) -> dict[str, Any]:
    """The engine's tok/s at every γ and target-only, median of interleaved passes."""
    from ahasd.engine.decode import generate, target_only
    from ahasd.engine.kv import CachedLM
    from ahasd.engine.loading import load_pair
    from ahasd.policies import make_policy

    p = load_pair(pair / "draft", pair / "target")
    d, t = CachedLM(p.draft), CachedLM(p.target)
    ids = [p.tokenizer(x)["input_ids"] for x in prompts]

    def rate(fn: Any) -> tuple[float, float]:
        n = wall = 0.0
        c0 = time.process_time()
        for one in ids:
            res = fn(one)
            n, wall = n + len(res.tokens), wall + res.wall_s
        return n / wall, time.process_time() - c0

    kinds: dict[Any, Any] = {"ar": lambda x: target_only(t, x, max_new_tokens=max_new)}
    for g in GAMMAS:
        kinds[g] = lambda x, g=g: generate(
            d, t, x, policy=make_policy("fixed", gamma=g), max_new_tokens=max_new
        )
    for fn in kinds.values():  # warm-up
        fn(ids[0])
    seen: dict[Any, list[tuple[float, float]]] = {k: [] for k in kinds}
    for _ in range(repeats):
        for k, fn in kinds.items():
            seen[k].append(rate(fn))
    taus = {g: generate(d, t, ids[0], policy=make_policy("fixed", gamma=g),
                        max_new_tokens=max_new).tau for g in GAMMAS}  # fmt: skip
    return {
        "tok_s": {k: statistics.median(r for r, _ in v) for k, v in seen.items()},
        "spread_pct": {
            k: 100 * (max(r for r, _ in v) / min(r for r, _ in v) - 1) for k, v in seen.items()
        },
        "cpu_s": {k: statistics.median(c for _, c in v) for k, v in seen.items()},
        "tau_first_prompt": taus,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pair", type=Path, required=True, help="demo pair (draft/, target/)")
    ap.add_argument("--prompts", type=Path, required=True, help="one prompt per line")
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--trace", type=Path, help="recorded trace (default: record one here)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    from ahasd.engine.record import read_prompts

    prompts = read_prompts(args.prompts)
    trace = args.trace
    if trace is None:
        from ahasd.engine.loading import load_pair
        from ahasd.engine.record import record_trace
        from ahasd.traces import save_trace

        trace = Path(tempfile.mkdtemp()) / "trace.parquet"
        pair = load_pair(args.pair / "draft", args.pair / "target")
        save_trace(record_trace(pair, prompts, max_new_tokens=args.max_new_tokens), trace)
    tokens = len(prompts) * args.max_new_tokens
    sim = simulate_all(args.pair, trace, tokens)
    if not any(sim["loop_us"]):
        print("note: this host-cpu preset has no decode-loop terms; run ahasd calibrate-host "
              "--draft --target first")  # fmt: skip
    meas = measure_all(args.pair, prompts, args.max_new_tokens, args.repeats)
    print(f"host-cpu loop terms (round, token, AR token): {sim['loop_us']} us; "
          f"plan picks γ = {sim['plan_gamma']}")  # fmt: skip
    print(f"{'γ':>4}{'sim tok/s':>11}{'measured':>10}{'error %':>9}{'spread %':>10}"
          f"{'CPU s':>7}{'sim τ':>7}")  # fmt: skip
    rows = []
    for k in ("ar", *GAMMAS):
        s = sim["ar_tok_s"] if k == "ar" else sim["tok_s"][k]
        m = meas["tok_s"][k]
        rows.append({"gamma": k, "sim_tok_s": s, "measured_tok_s": m,
                     "error_pct": 100 * (s - m) / m, "spread_pct": meas["spread_pct"][k],
                     "cpu_s": meas["cpu_s"][k]})  # fmt: skip
        tau = "" if k == "ar" else f"{sim['tau'][k]:7.2f}"
        print(f"{k!s:>4}{s:>11.1f}{m:>10.1f}{rows[-1]['error_pct']:>9.1f}"
              f"{meas['spread_pct'][k]:>10.0f}{meas['cpu_s'][k]:>7.2f}{tau}")  # fmt: skip
    plan = next(r for r in rows if r["gamma"] == (sim["plan_gamma"] or "ar"))
    gap = 100 * (sim["plan_tok_s"] / plan["measured_tok_s"] - 1)
    print(f"plan (γ = {sim['plan_gamma']}): simulated {sim['plan_tok_s']:.1f} tok/s, engine "
          f"{plan['measured_tok_s']:.1f} tok/s ({gap:+.1f}%)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"sim": sim, "measured": meas, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
