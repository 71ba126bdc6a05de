"""GPU check of the real engine (a script, not a test): build a pair, check identity, time it.

    PYTHONPATH=src python benchmarks/gpu_check.py --out gpu_check.json            # on a CUDA box
    PYTHONPATH=src python benchmarks/gpu_check.py --device cpu --size small --out x.json  # smoke

1. Builds its own model pair, offline: a Llama target and a smaller Llama draft trained for a
   few hundred steps on the Python standard library's sources (next-byte prediction, vocab 257,
   ``ahasd.engine.demo``'s corpus), saved as safetensors in a temporary directory and loaded
   back through ``ahasd.engine.loading`` (the checked, local-only loader).
2. On the device: greedy speculative output (sync chain for every registered policy, sync tree,
   async with EDC + TVC) must equal target-only greedy decoding token for token. A mismatch is
   reported with the target's top-2 logit margin at that position, so a floating-point near-tie
   (batched verify and one-token decode use different GEMM kernels) is told apart from a bug.
3. Tokens/s, interleaved best-of-reps, one run: target-only (ours and HF ``generate``), HF
   assisted generation, our sync engine (lean Llama path and HF forward) and our async engine.
4. Step latencies (draft step, verify(1), verify(gamma+1)) at one KV length on CPU and on the
   device: the measurement an edge CPU/GPU mapping of draft and target needs.

Writes a JSON summary atomically to ``--out``. Needs torch, transformers, safetensors, numpy and
the ahasd sources (policies need pydantic). No network, no hub.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

SIZES = {  # (hidden, layers, heads, ffn) for target and draft, train steps, batch, seq
    "gpu": {"target": (512, 8, 8, 1536), "draft": (192, 2, 3, 512), "steps": 400, "batch": 32,
            "seq": 256},
    "small": {"target": (96, 2, 4, 256), "draft": (32, 1, 2, 64), "steps": 40, "batch": 8,
              "seq": 64},
}  # fmt: skip
PROMPTS = [
    "import os\nimport sys\n\n\ndef main(argv):\n",
    'class Queue:\n    """A simple FIFO queue."""\n\n    def __init__(self, maxsize=0):\n',
    "    try:\n        with open(filename, 'rb') as f:\n",
]


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def build_pair(size: dict, device: torch.device, root: Path, seed: int) -> dict:
    """Train target and draft on stdlib bytes on ``device``; save safetensors under ``root``."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from ahasd.engine.demo import VOCAB, stdlib_corpus

    data = torch.from_numpy(stdlib_corpus(4_000_000)).to(device)
    info = {}
    for role, s in (("target", seed), ("draft", seed + 1)):
        hidden, layers, heads, ffn = size[role]
        torch.manual_seed(s)
        cfg = LlamaConfig(vocab_size=VOCAB, hidden_size=hidden, intermediate_size=ffn,
                          num_hidden_layers=layers, num_attention_heads=heads,
                          num_key_value_heads=heads, max_position_embeddings=2048,
                          tie_word_embeddings=True, bos_token_id=256, eos_token_id=256)  # fmt: skip
        model = LlamaForCausalLM(cfg).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
        gen = torch.Generator(device="cpu").manual_seed(s)
        n, seq, steps = len(data) - size["seq"] - 1, size["seq"], size["steps"]
        t0 = time.perf_counter()
        model.train()
        for step in range(steps):
            for g in opt.param_groups:
                g["lr"] = 2e-3 * 0.5 * (1 + np.cos(np.pi * step / steps))
            starts = torch.randint(0, n, (size["batch"],), generator=gen).to(device)
            x = data[starts[:, None] + torch.arange(seq + 1, device=device)[None]]
            logits = model(input_ids=x[:, :-1]).logits
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, VOCAB), x[:, 1:].reshape(-1)
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        _sync(device)
        model.eval().save_pretrained(str(root / role), safe_serialization=True)
        info[role] = {"params": sum(p.numel() for p in model.parameters()),
                      "final_loss": float(loss), "train_s": time.perf_counter() - t0,
                      "hidden_layers_heads_ffn": list(size[role])}  # fmt: skip
        _log(f"trained {role}: {info[role]}")
    return info


def first_mismatch(ref: list[int], out: list[int], target, prompt: list[int], dev) -> dict | None:
    """None when equal; else the position and the target's top-2 margin there (near-tie check)."""
    n = min(len(ref), len(out))
    i = next((k for k in range(n) if ref[k] != out[k]), None)
    if i is None and len(ref) == len(out):
        return None
    i = n if i is None else i
    with torch.no_grad():
        logits = target(input_ids=torch.tensor([prompt + ref[:i]], device=dev)).logits[0, -1]
    top = torch.topk(logits.float(), 2).values
    return {"position": i, "top2_logit_margin": float(top[0] - top[1])}


def greedy_checks(d, t, prompts, n, dev) -> dict:
    from ahasd.engine.async_decode import generate_async
    from ahasd.engine.decode import generate, require_policy, target_only
    from ahasd.engine.run import controllers
    from ahasd.policies import POLICIES

    out = {}
    for pi, ids in enumerate(prompts):
        ref = target_only(t, ids, max_new_tokens=n).tokens
        cases = {f"sync-chain/{p}": ("chain", p) for p in POLICIES.names()}
        cases["sync-tree/adaedl"] = ("tree", "adaedl")
        cases["async/adaedl+edc+tvc"] = ("async", "adaedl")
        cases["async/fixed4"] = ("async", "fixed")
        for name, (mode, pol) in cases.items():
            policy = require_policy(pol)
            if mode == "async":
                edc, tvc = controllers(True, True) if "edc" in name else (None, None)
                r = generate_async(d, t, ids, policy=policy, max_new_tokens=n, edc=edc, tvc=tvc)
            else:
                r = generate(d, t, ids, policy=policy, max_new_tokens=n, mode=mode)
            mm = first_mismatch(ref, r.tokens, t.model, ids, dev)
            row = out.setdefault(name, {"identical": True, "tau": [], "mismatches": []})
            row["identical"] &= mm is None
            row["tau"].append(round(r.tau, 3))
            if mm is not None:
                row["mismatches"].append({"prompt": pi, **mm})
    return out


def throughput(pair_d, pair_t, d, t, prompts, n, reps, dev, temperature) -> dict:
    from bench_engine import hf_generate, interleaved  # the CPU benchmark's runners, shared

    from ahasd.engine.async_decode import generate_async
    from ahasd.engine.decode import generate, require_policy, target_only
    from ahasd.engine.kv import CachedLM
    from ahasd.engine.run import controllers
    from ahasd.engine.sampling import SamplingConfig

    cfg = SamplingConfig(temperature=temperature, seed=0)
    hd, ht = CachedLM(pair_d, fast=False), CachedLM(pair_t, fast=False)
    hf = hf_generate(pair_t, pair_d, n, temperature, device=dev)

    def sync(ids, a=d, b=t, mode="chain"):
        return generate(a, b, ids, policy=require_policy("adaedl"), sampling=cfg,
                        max_new_tokens=n, mode=mode).tokens  # fmt: skip

    def asyn(ids):
        edc, tvc = controllers(True, True)
        return generate_async(d, t, ids, policy=require_policy("adaedl"), sampling=cfg,
                              max_new_tokens=n, edc=edc, tvc=tvc).tokens  # fmt: skip

    runs = {
        "target-only (ours)": lambda i: target_only(t, i, sampling=cfg, max_new_tokens=n).tokens,
        "target-only (HF generate)": lambda i: hf(i, False),
        "HF assisted generation": lambda i: hf(i, True),
        "ours sync": sync,
        "ours sync, HF forward": lambda i: sync(i, hd, ht),
        "ours sync tree": lambda i: sync(i, mode="tree"),
        "ours async": asyn,
    }
    res = interleaved(runs, prompts, reps, sync=lambda: _sync(dev))
    tps = {k: rate for k, (rate, _) in res.items()}
    hfa = tps["HF assisted generation"]
    return {
        "tokens_per_s": tps,
        "vs_hf_assisted": {k: v / hfa for k, v in tps.items()},
        "vs_target_only": {k: v / tps["target-only (ours)"] for k, v in tps.items()},
    }


def latencies(model_d, model_t, dev, kv: int, gamma: int, reps: int) -> dict:
    """Median step latency of draft(1), verify(1), verify(gamma+1) on CPU and on ``dev``."""
    from ahasd.engine.host_calib import time_step
    from ahasd.engine.kv import CachedLM

    out = {}
    devices = [("cpu", torch.device("cpu"))] + ([(dev.type, dev)] if dev.type != "cpu" else [])
    for label, dv in devices:
        md = model_d if dv == dev else copy.deepcopy(model_d).to(dv)
        mt = model_t if dv == dev else copy.deepcopy(model_t).to(dv)
        for fast in (True, False):
            key = f"{label}/{'lean' if fast else 'hf-forward'}"
            d, t = CachedLM(md, fast=fast), CachedLM(mt, fast=fast)
            out[key] = {
                "draft_1_ms": 1e3 * time_step(d, kv, 1, reps),
                "verify_1_ms": 1e3 * time_step(t, kv, 1, reps),
                f"verify_{gamma + 1}_ms": 1e3 * time_step(t, kv, gamma + 1, reps),
            }
            _log(f"latency {key}: {out[key]}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, help="JSON summary path")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--size", default="gpu", choices=sorted(SIZES))
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--temperature", type=float, default=0.0, help="throughput runs only")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.device.startswith("cuda") and not torch.cuda.is_available():
        print("device: cuda asked for but no CUDA GPU is visible; accepted: cpu", file=sys.stderr)
        return 2
    try:
        import ahasd.policies  # noqa: F401  (pydantic)
    except ImportError as exc:
        print(f"imports: {exc}; put pydantic on PYTHONPATH (see docs/engine.md)", file=sys.stderr)
        return 2
    from ahasd.engine.kv import CachedLM
    from ahasd.engine.loading import _transformers, load_causal_lm

    transformers = _transformers()  # offline, quiet

    dev = torch.device(a.device)
    t_start = time.perf_counter()
    summary: dict = {
        "python": platform.python_version(), "torch": torch.__version__,
        "transformers": transformers.__version__, "device": a.device,
        "device_name": (torch.cuda.get_device_name(dev) if dev.type == "cuda"
                        else platform.machine()),
        "cpu_threads": torch.get_num_threads(), "size": a.size, "tokens": a.tokens,
    }  # fmt: skip
    torch.backends.cuda.matmul.allow_tf32 = True  # training only
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        summary["models"] = build_pair(SIZES[a.size], dev, root, a.seed)
        torch.backends.cuda.matmul.allow_tf32 = False  # inference in true fp32
        torch.backends.cudnn.allow_tf32 = False
        md = load_causal_lm(root / "draft", "draft", dev, torch.float32)
        mt = load_causal_lm(root / "target", "target", dev, torch.float32)
    prompts = [list(p.encode()) for p in PROMPTS]  # byte-level vocabulary: id = byte
    d, t = CachedLM(md), CachedLM(mt)
    summary["lean_path"] = d.lean is not None and t.lean is not None
    _log("greedy identity checks")
    summary["greedy"] = greedy_checks(d, t, prompts, a.tokens, dev)
    summary["greedy_all_identical"] = all(v["identical"] for v in summary["greedy"].values())
    _log(f"greedy all identical: {summary['greedy_all_identical']}")
    _log("throughput")
    summary["throughput"] = throughput(md, mt, d, t, prompts, a.tokens, a.reps, dev,
                                       a.temperature)  # fmt: skip
    for k, v in summary["throughput"]["tokens_per_s"].items():
        r = summary["throughput"]["vs_hf_assisted"][k]
        _log(f"  {k:<28}{v:>9.1f} tok/s  {r:5.2f}x HF assisted")
    summary["latency"] = latencies(md, mt, dev, kv=128, gamma=4, reps=10)
    summary["total_s"] = time.perf_counter() - t_start
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=out.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(summary, f, indent=1)
    os.replace(tmp_name, out)
    _log(f"wrote {out} in {summary['total_s']:.0f} s")
    return 0 if summary["greedy_all_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
