"""Real-engine commands: generate, validate, demo-models, and ``trace record``.

Thin: parse, call ``ahasd.engine``, render. The engine (torch, transformers) is imported inside
each command, so the rest of the CLI works without the ``[engine]`` extra.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from ahasd.cli.progress import progress
from ahasd.cli.vocab import engine_model_dir
from ahasd.errors import field_error
from ahasd.outputs import OUT_ROOT
from ahasd.validation import json_text

DRAFT = typer.Option(
    None, "--draft", metavar="DIR", help="Draft model directory (HF format); default: demo pair."
)
TARGET = typer.Option(
    None, "--target", metavar="DIR", help="Target model directory (HF format); default: demo pair."
)
TORCH_DEVICE = typer.Option("cpu", "--torch-device", help="Torch device: cpu, cuda or cuda:N.")
DTYPE = typer.Option("fp32", "--dtype", help="fp32, fp16 or bf16.")


def _load_pair(draft: str | None, target: str | None, **kwargs: Any) -> Any:
    """Both models, each named by its flag in errors (missing: points at ``demo-models``)."""
    from ahasd.engine import load_pair

    return load_pair(engine_model_dir(draft, "--draft", "draft"),
                     engine_model_dir(target, "--target", "target"), **kwargs)  # fmt: skip


def _sampling(greedy: bool, temperature: float, top_k: int, top_p: float, seed: int) -> Any:
    from ahasd.engine.sampling import SamplingConfig

    if greedy and temperature != 0.0:
        raise field_error("--greedy", f"with --temperature {temperature:g}", "one of the two")
    return SamplingConfig(0.0 if greedy else temperature, top_k, top_p, seed)


def _stream_printer(tokenizer: Any) -> Any:
    shown = [""]

    def show(tokens: list[int]) -> None:
        text = tokenizer.decode(tokens, skip_special_tokens=True)
        if text.startswith(shown[0]):
            sys.stdout.write(text[len(shown[0]) :])
            sys.stdout.flush()
            shown[0] = text

    return show


def generate_cmd(
    draft: str | None = DRAFT,
    target: str | None = TARGET,
    prompt: str = typer.Option(..., "--prompt", help="Prompt text (must not be empty)."),
    policy: str = typer.Option("adaedl", "--policy", help="Drafting policy (registry name)."),
    use_async: bool = typer.Option(False, "--async", help="Draft ahead in a thread (AHASD)."),
    greedy: bool = typer.Option(False, "--greedy", help="Greedy decoding (the default)."),
    temperature: float = typer.Option(0.0, "--temperature", min=0, max=100, help="0 = greedy."),
    top_k: int = typer.Option(0, "--top-k", min=0, max=1_000_000, help="0 = off."),
    top_p: float = typer.Option(1.0, "--top-p", help="1 = off."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of every random draw."),
    tokens: int = typer.Option(64, "--tokens", min=1, max=1_000_000, help="Tokens to generate."),
    mode: str = typer.Option("chain", "--mode", help="chain or tree."),
    no_edc: bool = typer.Option(False, "--no-edc", help="Async: always draft ahead."),
    no_tvc: bool = typer.Option(False, "--no-tvc", help="Async: no TVC slack batches."),
    queue_depth: int = typer.Option(
        4, "--queue-depth", min=1, max=64, help="Async: batches in flight."
    ),
    compile_graphs: bool = typer.Option(False, "--compile", help="Steps via torch.compile."),
    baseline: bool = typer.Option(False, "--target-only", help="Plain target decoding."),
    device: str = TORCH_DEVICE,
    dtype: str = DTYPE,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Speculative decoding on a local model pair; ends with a stats line."""
    from ahasd.engine.run import run_generation

    cfg = _sampling(greedy, temperature, top_k, top_p, seed)
    if baseline and use_async:
        raise field_error("--async", "with --target-only", "one of the two (nothing to draft)")
    if not prompt:
        raise field_error("prompt", prompt, "a non-empty string")
    pair = _load_pair(draft, target, device=device, dtype=dtype)
    res = run_generation(
        pair, prompt, policy=policy, sampling=cfg, max_new_tokens=tokens, mode=mode,
        use_async=use_async, use_edc=not no_edc, use_tvc=not no_tvc, queue_depth=queue_depth,
        compile_graphs=compile_graphs, baseline=baseline,
        stream=None if as_json else _stream_printer(pair.tokenizer),
    )  # fmt: skip
    out = res.to_dict()
    if as_json:
        typer.echo(json_text(out, indent=1))
        return
    typer.echo(
        f"\n[{out['new_tokens']} tokens, {out['tokens_per_s']:.1f} tok/s, tau {out['tau']:.2f}, "
        f"acceptance {out['acceptance_rate']:.2f}, mean draft len {out['mean_draft_len']:.2f}]"
    )


def validate_cmd(
    draft: str | None = DRAFT,
    target: str | None = TARGET,
    kv_len: int = typer.Option(
        128, "--kv", min=1, max=1_000_000, help="KV length of the timed steps."
    ),
    gamma: int = typer.Option(
        4, "--gamma", min=1, max=64, help="Draft length of the summary speedup."
    ),
    reps: int = typer.Option(20, "--reps", min=1, max=10_000, help="Timed repetitions per step."),
    calib_s: float = typer.Option(
        2.0, "--calibrate-seconds", min=0, max=600, help="Host micro-benchmark time (> 0)."
    ),
    rounds: int = typer.Option(
        5, "--rounds", min=1, max=100, help="Alternate calibration and timing this many times."
    ),
    no_dispatch: bool = typer.Option(False, "--no-dispatch", help="Ignore per-op overhead."),
    prompt: str = typer.Option(
        "import os\nimport sys\n\n\ndef main(argv):\n", "--prompt", help="Prompt of the e2e runs."
    ),
    device: str = TORCH_DEVICE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Measured vs cost-model-predicted step latencies and end-to-end speedups (host-cpu)."""
    from ahasd.engine.validate import validate

    if not calib_s > 0:
        raise field_error("--calibrate-seconds", calib_s, "a number > 0")
    pair = _load_pair(draft, target, device=device)
    from ahasd.engine.run import encode_prompt

    with progress() as report:
        r = validate(pair, kv_len=kv_len, gamma=gamma, reps=reps, calib_s=calib_s,
                     rounds=rounds, dispatch=not no_dispatch,
                     prompt_ids=encode_prompt(pair, prompt), progress=report)  # fmt: skip
    rows = [
        {"phase": x.phase, "n_tokens": x.n_tokens, "measured_ms": x.measured_s * 1e3,
         "predicted_ms": x.predicted_s * 1e3, "error_pct": x.error_pct,
         "measured_spread_pct": x.measured_spread_pct}
        for x in r["rows"]
    ]  # fmt: skip
    summary = {k: v for k, v in r.items() if k != "rows"}
    if as_json:
        typer.echo(json_text({"phases": rows, **summary}, indent=1))
        return
    typer.echo(_calibration_line(r["calibration"]))
    typer.echo(f"{'phase':<10}{'n':>4}{'measured ms':>14}{'predicted ms':>14}{'error %':>10}"
               f"{'spread %':>10}")  # fmt: skip
    for x in rows:
        typer.echo(f"{x['phase']:<10}{x['n_tokens']:>4}{x['measured_ms']:>14.3f}"
                   f"{x['predicted_ms']:>14.3f}{x['error_pct']:>10.1f}"
                   f"{x['measured_spread_pct']:>10.0f}")  # fmt: skip
    worst = max(x["measured_spread_pct"] for x in rows)
    if worst > 15:
        typer.echo(f"note: a measured step varied by up to {worst:.0f}% between rounds (spread "
                   "column): this host's timing noise is as large as the errors; more --rounds "
                   "or a quieter machine narrows it")  # fmt: skip
    _print_e2e(r)


def _print_e2e(r: dict[str, Any]) -> None:
    """End-to-end rows: measured vs predicted speedup (round formula with the loop's time)."""
    lo = r["calibration"]["loop_overheads"]
    typer.echo(f"decode loop (stand-in micro-benchmark): {lo['round_us']:.0f} us/round, "
               f"{lo['token_us']:.0f} us/drafted token, {lo['ar_token_us']:.0f} us/AR token, "
               f"async +{lo['async_round_us']:.0f} us/round; draft re-read "
               f"{lo['refill_us']:.0f} us/round (decay {lo['refill_decay']:.2f})")  # fmt: skip
    if "overlap_cost" in lo:
        per = ", ".join(f"{c:+.2f} s at γ = {g}" for g, c in lo["overlap_cost"].items())
        typer.echo(f"async engine on whole-step stand-ins: each second of draft work beside a "
                   f"verification adds {per}")  # fmt: skip
    ar = r["target_only"]
    typer.echo(f"target-only: measured {ar['measured_tok_s']:.1f} tok/s, predicted "
               f"{ar['predicted_tok_s']:.1f} tok/s ({ar['error_pct']:+.1f}%, spread "
               f"{ar['measured_spread_pct']:.0f}%)")  # fmt: skip
    typer.echo(f"{'policy':<10}{'mode':<7}{'tau':>6}{'measured':>10}{'predicted':>11}"
               f"{'error %':>9}{'spread %':>10}{'steps only':>12}"
               f"{'CPU-time error %':>18}")  # fmt: skip
    for x in r["e2e"]:
        cpu = f"{x['cpu_error_pct']:>18.1f}" if x["cpu_error_pct"] is not None else f"{'-':>18}"
        typer.echo(f"{str(x['gamma']):<10}{x['mode']:<7}{x['tau']:>6.2f}"
                   f"{x['measured_speedup']:>9.2f}x{x['predicted_speedup']:>10.2f}x"
                   f"{x['error_pct']:>9.1f}{x['measured_spread_pct']:>10.0f}"
                   f"{x['steps_only_speedup']:>11.2f}x{cpu}")  # fmt: skip
    typer.echo(f"median |error| over the e2e rows: {r['e2e_median_abs_error_pct']:.1f}%")
    if r["e2e_median_abs_cpu_error_pct"] is not None:
        typer.echo("in CPU time (sync rows; torch on one thread, so a busy host's preemptions "
                   f"drop out): {r['e2e_median_abs_cpu_error_pct']:.1f}%")  # fmt: skip
    noisy = [f"{x['gamma']}/{x['mode']}" for x in r["e2e"] if x["noisy"]]
    if noisy:
        typer.echo(f"note: in {len(noisy)} rows ({', '.join(noisy)}) the measured speedup varied "
                   "between rounds by more than the error: on this host the error is within the "
                   "noise there")  # fmt: skip


def _calibration_line(cal: dict[str, Any]) -> str:
    """The calibration in one readable line (``--json`` has every figure and round)."""

    def rates(table: dict) -> str:
        widths = "/".join(map(str, table))
        return "/".join(f"{v:.1f}" for v in table.values()) + f" GB/s at {widths}"

    cache = (f"cache {cal['cache_mib']:g} MiB at {rates(cal['cache_bw_gb_per_s'])} tokens, "
             if cal["cache_bw_gb_per_s"] else "no cache level seen, ")  # fmt: skip
    over = "; ".join(
        f"{who} {', '.join(f'{v:.2f}' for v in cal[f'{who}_overhead_ms'].values())} ms"
        for who in ("draft", "target")
    )
    kept = "".join(
        f"; {who} weights re-read one step later at {rates(cal[key])} tokens"
        for who in ("draft", "target")
        if (key := f"{who}_cache_bw_after_step_gb_per_s") in cal
    )
    return (f"host-cpu calibration (micro-benchmarks, medians of {cal['rounds']} rounds): fp32 "
            f"GEMM {cal['fp32_gflops']:.0f} GFLOP/s; {cache}memory "
            f"{rates(cal['mem_bw_gb_per_s'])} tokens; framework time per step "
            f"({cal['target_overhead_method']}): {over}{kept}")  # fmt: skip


def demo_models_cmd(
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Folder for target/ and draft/; default: where the engine looks "
        "($AHASD_DEMO_MODELS, else ~/.cache/ahasd/demo-models).",
    ),
    size: str = typer.Option(
        "full", "--size", help="full (~10 min on 2 idle cores), small (seconds) or tiny (tests)."
    ),
    small: bool = typer.Option(False, "--small", help="Same as --size small."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of every random draw."),
) -> None:
    """Train a demo llama-style pair on the Python standard library's sources (HF format)."""
    from ahasd.engine.demo import make_demo_models
    from ahasd.report.host import demo_dir

    with progress() as report:
        summary = make_demo_models(out or demo_dir(), size="small" if small else size,
                                   seed=seed, progress=report)  # fmt: skip
    typer.echo(json_text(summary, indent=1))


def trace_record_cmd(
    draft: str | None = DRAFT,
    target: str | None = TARGET,
    prompts: Path = typer.Option(..., "--prompts", help="Text file (one per line) or .jsonl."),
    output: Path | None = typer.Option(
        None, "-o", "--output", help="Trace file (.parquet) [default: ahasd-out/traces/...]."
    ),
    tokens: int = typer.Option(
        128, "--tokens", min=1, max=1_000_000, help="Tokens to generate per prompt."
    ),
    temperature: float = typer.Option(0.0, "--temperature", min=0, max=100, help="0 = greedy."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of every random draw."),
    device: str = TORCH_DEVICE,
) -> None:
    """Record a token trace by teacher-forcing the target's own output."""
    from ahasd.engine.record import read_prompts, record_trace
    from ahasd.traces import save_trace

    texts = read_prompts(prompts)
    pair = _load_pair(draft, target, device=device)
    cfg = _sampling(temperature == 0.0, temperature, 0, 1.0, seed)
    with progress() as report:
        trace = record_trace(pair, texts, max_new_tokens=tokens, sampling=cfg,
                             dataset=prompts.stem, progress=report)  # fmt: skip
    output = output or OUT_ROOT / "traces" / f"{prompts.stem}-recorded.parquet"
    save_trace(trace, output)
    typer.echo(f"wrote {len(trace)} positions from {len(texts)} prompts to {output}")


def register(app: typer.Typer) -> None:
    """Attach generate, validate, demo-models, and ``trace record`` on the traces sub-app."""
    app.command("generate")(generate_cmd)
    app.command("validate")(validate_cmd)
    app.command("demo-models")(demo_models_cmd)
    from ahasd.cli import trace_cmd

    trace_app = getattr(trace_cmd, "trace_app", None)
    if trace_app is not None:
        trace_app.command("record")(trace_record_cmd)
