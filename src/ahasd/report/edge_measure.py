"""Edge mappings measured for real: every (draft device, target device) × γ with the engine.

Paper C's method ([edgesd] §III) on this machine: profile one draft step and a target
pass over m = 1..γ_max + 1 tokens on each device, rank every mapping with the analytic model of
:mod:`ahasd.systems.edge.plan` using those profiled steps and the τ each run measured, then run
the real engine for every mapping (draft on one device, target on the other) and put the
measured speedup over the best single-device AR beside the prediction. The ``cpu`` rows also get
the cost model's own prediction (``host-cpu`` preset calibrated by micro-benchmarks only, as
``ahasd.engine.validate``, with the decode loop's own time from stand-ins of the models), which
is the plan ``ahasd edge-plan --platform host-cpu`` makes on a preset written by ``ahasd
calibrate-host --draft --target``.

Devices are ``cpu`` and, where torch sees one, ``cuda``; without a GPU the GPU mappings are
skipped with a note. Lives in ``report`` (not ``systems``): it imports torch and the engine,
which the simulator layers never do (docs/dev/contracts.md).
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ahasd.cost.rounds import LoopCost, ar_token_seconds, round_seconds
from ahasd.errors import AhasdError, field_error
from ahasd.systems.edge.plan import DeviceSteps, enumerate_plans

DEVICE_CHOICES = ("auto", "cpu", "cuda")
# Python source: the demo pair is trained on the standard library, so drafts are plausible
PROMPT = 'import os\nimport sys\n\n\ndef main(argv=None):\n    """Run the tool."""\n    '


@dataclass
class MeasuredPlans:
    """Rows (best predicted first) and notes on what was skipped."""

    devices: list[str]
    rows: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def resolve_devices(request: str) -> tuple[list[str], list[str]]:
    """Devices to measure and notes: ``auto`` adds ``cuda`` only where torch sees a GPU."""
    if request not in DEVICE_CHOICES:
        raise field_error("device", request, ", ".join(DEVICE_CHOICES))
    if importlib.util.find_spec("torch") is None:
        raise AhasdError("device: measuring needs the [engine] extra (torch), not installed")
    import torch

    has_gpu = torch.cuda.is_available()
    if request == "cpu":
        return ["cpu"], []
    if has_gpu:
        return ["cpu", "cuda"], []
    note = "GPU mappings skipped: torch sees no CUDA device on this machine"
    return ["cpu"], [note]


def _profile(lms: dict[str, Any], device: str, kv: int, gamma_max: int, reps: int) -> DeviceSteps:
    from ahasd.engine.host_calib import time_step

    d, t = lms[device]
    verify = tuple(time_step(t, kv, m, reps) for m in range(1, gamma_max + 2))
    return DeviceSteps(device, time_step(d, kv, 1, reps), 0.0, verify, (0.0,) * len(verify))


def _cost_model_steps(
    pair: Any, lms: tuple[Any, Any], kv: int, gamma_max: int, calib_s: float
) -> DeviceSteps:
    """The calibrated ``host-cpu`` cost model's step times and decode-loop time, the draft's
    re-read and its two-token catch-up step (micro-benchmarks and stand-ins of the models, never
    fitted)."""
    from ahasd.engine.host_calib import predict_steps
    from ahasd.engine.loop_calib import measure_loop_overheads
    from ahasd.engine.step_standin import StepStandIn, measure_refill
    from ahasd.models import load_model

    shapes = load_model(str(pair.draft_dir)), load_model(str(pair.target_dir))
    widths = tuple(range(1, gamma_max + 2))
    pred = predict_steps(lms[0], lms[1], shapes, kv, widths, calib_s=calib_s, reps=5)
    verify = tuple(pred.verify_s[m] for m in widths)
    sd, st = StepStandIn(lms[0], kv), StepStandIn(lms[1], kv)
    lo = measure_loop_overheads(sd.kv_shape, st.kv_shape, calib_s, asynchronous=False)
    refill = measure_refill(sd, st, lo.token_s, calib_s / 2, target_width=min(5, len(widths)))
    loop = LoopCost(lo.round_s, lo.token_s, lo.ar_token_s, *refill, pred.catch_up_s)
    return DeviceSteps("cpu", pred.draft_s, 0.0, verify, (0.0,) * len(verify), loop)


def measure_mappings(
    draft_dir: str | Path,
    target_dir: str | Path,
    *,
    device: str = "auto",
    gamma_max: int = 8,
    new_tokens: int = 64,
    reps: int = 10,
    repeats: int = 3,
    calib_s: float = 1.0,
    progress: Any = None,
) -> MeasuredPlans:
    """Profile, plan and run every mapping × γ = 0..gamma_max on this machine's devices.

    ``reps``: timed repetitions per profiled step (median); ``repeats``: end-to-end runs per
    mapping (the median-speed one is kept), each set after one warm-up run; ``calib_s``: the
    host micro-benchmarks' budget for the cost-model column; ``progress(label, done, total)``
    follows the mappings as they run.
    """
    with warnings.catch_warnings():  # transformers' deprecation chatter is not a result
        warnings.simplefilter("ignore", FutureWarning)
        args = (device, gamma_max, new_tokens, reps, repeats, calib_s)
        return _measure(Path(draft_dir), Path(target_dir), *args, progress or (lambda *_: None))


def _measure(
    draft_dir: Path,
    target_dir: Path,
    device: str,
    gamma_max: int,
    new_tokens: int,
    reps: int,
    repeats: int,
    calib_s: float,
    progress: Any,
) -> MeasuredPlans:
    """The work of :func:`measure_mappings` (warnings already filtered)."""
    if not 0 <= gamma_max <= 16:
        raise field_error("gamma_max", gamma_max, "0..16")
    if new_tokens < 8:
        raise field_error("new_tokens", new_tokens, "an integer >= 8")
    if reps < 1:
        raise field_error("reps", reps, "an integer >= 1")
    if repeats < 1:
        raise field_error("repeats", repeats, "an integer >= 1")
    devices, notes = resolve_devices(device)
    from ahasd.engine.decode import generate, target_only
    from ahasd.engine.kv import CachedLM
    from ahasd.engine.loading import load_pair
    from ahasd.policies import make_policy

    pairs = {dev: load_pair(draft_dir, target_dir, device=dev) for dev in devices}
    lms = {dev: (CachedLM(p.draft), CachedLM(p.target)) for dev, p in pairs.items()}
    ids = pairs["cpu"].tokenizer(PROMPT)["input_ids"]
    kv = len(ids) + new_tokens // 2
    steps = {dev: _profile(lms, dev, kv, gamma_max, reps) for dev in devices}
    model = _cost_model_steps(pairs["cpu"], lms["cpu"], kv, gamma_max, calib_s)

    def median_run(fn: Any) -> Any:
        """Median-speed run of ``repeats`` (one warm-up first: lazy kernels, caches)."""
        fn()
        done = sorted((fn() for _ in range(repeats)), key=lambda r: r.tokens_per_s)
        return done[len(done) // 2]

    label = f"running every mapping ({1 + repeats} runs of {new_tokens} tokens each)"
    total = len(devices) * (1 + gamma_max * len(devices))
    progress(label, 0, total)
    ar = {}
    for dev in devices:
        ar[dev] = median_run(
            lambda dev=dev: target_only(lms[dev][1], ids, max_new_tokens=new_tokens)
        )
        progress(label, len(ar), total)
    ar_best = max(r.tokens_per_s for r in ar.values())
    runs: dict[tuple[str | None, str, int], Any] = {}
    for g in range(1, gamma_max + 1):
        for dd in devices:
            for td in devices:

                def sd(dd: str = dd, td: str = td, g: int = g) -> Any:
                    pol = make_policy("fixed", gamma=g)
                    return generate(
                        lms[dd][0], lms[td][1], ids, policy=pol, max_new_tokens=new_tokens
                    )

                runs[(dd, td, g)] = median_run(sd)
                progress(label, len(ar) + len(runs), total)
    # E[tokens] per γ: the τ the engine measured on the first mapping (greedy: same on all)
    expected = [1.0] + [runs[(devices[0], devices[0], g)].tau for g in range(1, gamma_max + 1)]
    plans = enumerate_plans(steps, expected, lambda *_: (0.0, 0.0), gamma_max=gamma_max)
    t_ar_model = ar_token_seconds(model.verify_s[0], model.loop)
    rows = []
    for p in plans:
        key = (p.draft_device, p.target_device, p.gamma)
        run = ar[p.target_device] if p.gamma == 0 else runs[key]
        measured = run.tokens_per_s / ar_best
        row: dict[str, Any] = {
            "draft_device": p.draft_device,
            "target_device": p.target_device,
            "gamma": p.gamma,
            "tau": run.tau if p.gamma else 1.0,
            "predicted_speedup": p.speedup,
            "measured_speedup": measured,
            "error_pct": 100.0 * (p.speedup - measured) / measured,
            "measured_tokens_per_s": run.tokens_per_s,
        }
        if {p.draft_device or "cpu", p.target_device} == {"cpu"}:
            # the host-cpu plan: speedup over AR on the CPU, from the calibrated cost model
            full = run.catch_up_steps / run.rounds if p.gamma and run.rounds else 0.0
            t_iter = (
                round_seconds(
                    p.gamma, model.draft_s, model.verify_s[p.gamma], model.loop, catch_up=full
                )  # fmt: skip
                if p.gamma
                else t_ar_model
            )
            pred = row["tau"] * t_ar_model / t_iter
            over_cpu = run.tokens_per_s / ar["cpu"].tokens_per_s
            row["cost_model_speedup"] = pred
            row["measured_over_cpu_ar"] = over_cpu
            row["cost_model_error_pct"] = 100.0 * (pred - over_cpu) / over_cpu
        rows.append(row)
    if len(devices) > 1:
        notes.append(
            "The cost-model columns cover the CPU-only mappings (speedup over AR on the CPU): "
            "there is no preset for this machine's GPU, so GPU rows use the profiled step times "
            "(paper C's method)"
        )
    return MeasuredPlans(devices, rows, notes)


def row_cells(r: dict, digits: int = 3, pct: str = "") -> list[str]:
    """One measured mapping as table cells (shared by the CLI table and the report)."""
    cells = [
        r["draft_device"] or "-",
        r["target_device"],
        str(r["gamma"]),
        f"{r['tau']:.2f}",
        f"{r['predicted_speedup']:.{digits}f}x",
        f"{r['measured_speedup']:.{digits}f}x",
        f"{r['error_pct']:+.1f}{pct}",
    ]
    if "cost_model_speedup" not in r:
        return cells + ["-", "-", "-"]
    return cells + [
        f"{r['cost_model_speedup']:.{digits}f}x",
        f"{r['measured_over_cpu_ar']:.{digits}f}x",
        f"{r['cost_model_error_pct']:+.1f}{pct}",
    ]


def markdown(result: MeasuredPlans, top: int = 12) -> str:
    """The measured table for the report (best predicted first)."""
    head = ["draft", "target", "γ", "τ", "predicted (profiled)", "measured", "error"]
    head += ["host-cpu plan (cost model)", "measured vs CPU AR", "error"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result.rows[:top]:
        cells = row_cells(r, digits=2, pct="%")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n" + "".join(f"\n{n}.\n" for n in result.notes)
