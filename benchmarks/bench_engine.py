"""Real-engine benchmark (a script, not a test): tokens/s on one model pair, one machine, one run.

    python benchmarks/bench_engine.py --pair DEMO_DIR [--policy adaedl] [--tokens 128] [--compile]

Compares target-only greedy decoding, Hugging Face assisted generation
(``generate(assistant_model=...)``, its default schedule), our synchronous engine and our
asynchronous engine (EDC + TVC), after one warm-up each, and prints the ratios. "ours sync, HF
forward" runs our loop through the Hugging Face module forward instead of the lean Llama path
(engine/lean.py), to show what each part is worth. Greedy by default; every greedy speculative
output is checked token-for-token against target-only greedy decoding.
"""

from __future__ import annotations

import argparse
import time

import torch

from ahasd.engine import load_pair
from ahasd.engine.async_decode import generate_async
from ahasd.engine.decode import generate, require_policy, target_only
from ahasd.engine.kv import CachedLM
from ahasd.engine.run import controllers
from ahasd.engine.sampling import SamplingConfig

PROMPTS = [
    "import os\nimport sys\n\n\ndef main(argv):\n",
    'class Queue:\n    """A simple FIFO queue."""\n\n    def __init__(self, maxsize=0):\n',
    'def _splitext(p, sep, altsep, extsep):\n    """Split the extension from a pathname.',
    "    try:\n        with open(filename, 'rb') as f:\n",
]


def interleaved(runs, prompts, reps, sync=None):
    """Per prompt, the best of ``reps`` timed runs of each method, methods interleaved.

    The machine is shared: interleaving and best-of keep a load burst from landing on one
    method only. Each method is warmed up once first. ``sync`` (e.g. a CUDA synchronise) runs
    before and after every timed call. Returns ``{name: (tokens/s, outputs)}``.
    """
    sync = sync or (lambda: None)
    for fn in runs.values():
        fn(prompts[0])
    best = {name: [float("inf")] * len(prompts) for name in runs}
    outs = {name: [None] * len(prompts) for name in runs}
    for i, p in enumerate(prompts):
        for _ in range(reps):
            for name, fn in runs.items():
                sync()
                t0 = time.perf_counter()
                out = fn(p)
                sync()
                best[name][i] = min(best[name][i], time.perf_counter() - t0)
                outs[name][i] = out
    return {name: (sum(len(o) for o in outs[name]) / sum(best[name]), outs[name]) for name in runs}


def hf_generate(target, draft, n, temperature, device="cpu"):
    """``fn(ids, assisted)``: HF ``generate`` of exactly ``n`` tokens, target-only or assisted.

    Same sampler as ours: temperature only (HF would otherwise add its default top-k 50).
    """
    sample_kw = (
        {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
        if temperature
        else {"do_sample": False}
    )

    def run(ids, assisted):
        x = torch.tensor([ids], device=device)
        kw = {"assistant_model": draft} if assisted else {}
        out = target.generate(
            x, max_new_tokens=n, min_new_tokens=n, attention_mask=torch.ones_like(x),
            **sample_kw, **kw,
        )  # fmt: skip
        return out[0, len(ids) :].tolist()

    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pair", required=True, help="directory with draft/ and target/")
    ap.add_argument("--policy", default="adaedl")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    ap.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    ap.add_argument("--reps", type=int, default=3, help="best-of repetitions per prompt")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile'd steps")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    pair = load_pair(f"{a.pair}/draft", f"{a.pair}/target")
    enc = [pair.tokenizer(p)["input_ids"] for p in PROMPTS]
    n = a.tokens
    d, t = CachedLM(pair.draft), CachedLM(pair.target)
    hd, ht = CachedLM(pair.draft, fast=False), CachedLM(pair.target, fast=False)  # no lean path
    cfg = SamplingConfig(temperature=a.temperature, seed=0)
    hf = hf_generate(pair.target, pair.draft, n, a.temperature)

    def ours_sync(ids, lm_d=d, lm_t=t):
        pol = require_policy(a.policy)
        return generate(lm_d, lm_t, ids, policy=pol, sampling=cfg, max_new_tokens=n).tokens

    stats = {}

    def ours_async(ids):
        edc, tvc = controllers(True, True)
        r = generate_async(d, t, ids, policy=require_policy(a.policy), sampling=cfg,
                           max_new_tokens=n, edc=edc, tvc=tvc)  # fmt: skip
        stats.update(r.extras)
        return r.tokens

    runs = {
        "target-only (ours)": lambda i: target_only(t, i, sampling=cfg, max_new_tokens=n).tokens,
        "target-only (HF generate)": lambda i: hf(i, False),
        "HF assisted generation": lambda i: hf(i, True),
        "ours sync": ours_sync,
        "ours sync, HF forward": lambda i: ours_sync(i, hd, ht),
        "ours async": ours_async,
    }
    if a.compile:
        cd, ct = CachedLM.compiled(pair.draft, widths=(1, 2)), CachedLM.compiled(pair.target)
        runs["ours sync, compiled"] = lambda i: ours_sync(i, cd, ct)
    res = interleaved(runs, enc, a.reps)
    for name in runs:
        print(f"{name:<28}{res[name][0]:>9.1f} tok/s")
    ref = res["target-only (ours)"][1]
    for name, (_, outs) in res.items():
        if a.temperature:
            break  # sampled outputs differ run to run; losslessness is tested in tests/engine
        same = all(o[: len(r)] == r[: len(o)] for o, r in zip(outs, ref, strict=True))
        print(f"  {name}: output equals target-only greedy: {same}")
    base, hfa = res["target-only (ours)"][0], res["HF assisted generation"][0]
    print(f"\npair {pair.name}, policy {a.policy}, temperature {a.temperature}, {n} new tokens "
          f"x {len(enc)} prompts, torch threads {torch.get_num_threads()}")  # fmt: skip
    for name in runs:
        print(f"{name:<28} {res[name][0] / base:5.2f}x target-only   "
              f"{res[name][0] / hfa:5.2f}x HF assisted")  # fmt: skip
    print("async extras (last prompt):", {k: round(v, 3) for k, v in stats.items()})


if __name__ == "__main__":
    main()
