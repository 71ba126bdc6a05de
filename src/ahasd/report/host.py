"""Predicted vs measured edge speedup on this machine, with the real engine's demo pair.

Lives in ``report`` (not ``systems``) because it times the optional ``[engine]``: the simulator
layers never import torch (DESIGN.md §2).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from ahasd.systems.edge_compare import plan_context
from ahasd.systems.edge_hetero import device_steps


def demo_dir() -> Path:
    """Where the engine's demo pair is looked for: ``$AHASD_DEMO_MODELS`` or ``$AHASD_HOME``."""
    from ahasd.hardware.platform import ahasd_home

    return Path(os.environ.get("AHASD_DEMO_MODELS", ahasd_home() / "demo-models"))


def measure_host(*, quick: bool, seed: int, models: Path | None = None) -> str:
    """Predicted vs measured speedup on this machine with the engine's demo pair, if possible.

    The engine is optional (``[engine]`` extra) and its demo pair must exist (``ahasd
    demo-models --out DIR``, found through :func:`demo_dir`); without either, say so instead of
    inventing a number. The prediction is the ``host-cpu`` plan (cpu/cpu, the engine's γ) with
    the tokens per round the engine measured (the edge paper measures α per pair, §4.3).
    """
    if quick and models is None:
        return "Host measurement: skipped in --quick mode (it times the real engine).\n"
    root = Path(models) if models is not None else demo_dir()
    if not (root / "draft" / "config.json").is_file() or not (root / "target").is_dir():
        return (
            f"Host measurement: skipped — no demo pair under {root} (build one with "
            f"`ahasd demo-models --out {root}`).\n"
        )
    if importlib.util.find_spec("torch") is None:
        return "Host measurement: skipped — the [engine] extra (torch) is not installed.\n"
    gamma = 4
    try:
        m = _measure(root, gamma, quick)
    except Exception as exc:  # a broken demo dir or engine must not sink the report
        return f"Host measurement: failed — {type(exc).__name__}: {exc}\n"
    ctx = plan_context(
        draft=str(root / "draft"),
        target=str(root / "target"),
        platform="host-cpu",
        profile=None,
        tokens=128,
        prompt_len=m["kv_len"],
        seed=seed,
    )
    steps = device_steps(ctx, "cpu", gamma)
    t_iter = gamma * steps.draft_s + steps.verify_s[gamma]
    predicted = m["tau"] * steps.verify_s[0] / t_iter
    err = 100.0 * (predicted - m["speedup_measured"]) / m["speedup_measured"]
    return (
        f"Host (host-cpu, demo pair under {root}, γ = {gamma}, measured τ = {m['tau']:.2f}): "
        f"predicted {predicted:.2f}x, measured {m['speedup_measured']:.2f}x, error "
        f"{err:+.1f}% (the engine's own validate predicts {m['speedup_predicted']:.2f}x).\n"
    )


def _measure(root: Path, gamma: int, quick: bool) -> dict:
    """Run the engine's validation with a fixed draft length γ."""
    from ahasd.engine.loading import load_pair
    from ahasd.engine.validate import validate
    from ahasd.policies import make_policy

    pair = load_pair(root / "draft", root / "target")
    return validate(
        pair,
        gamma=gamma,
        reps=3 if quick else 5,
        calib_s=0.5 if quick else 1.0,
        max_new_tokens=48 if quick else 96,
        policy=make_policy("fixed", gamma=gamma),
    )
