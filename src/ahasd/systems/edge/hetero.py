"""``edge-hetero``: whole draft/target graphs mapped onto an edge SoC's CPU or GPU (paper C).

[edgesd] §III: every (draft device, target device) mapping and γ = 0..8 is ranked by the
analytic model of :mod:`.plan`; the event simulator then runs a chosen mapping: γ draft steps
on the draft's device, a hand-off, a verification of γ + 1 positions on the target's device,
strictly alternating (coarse-grained partitioning, no overlap). ``config.gamma`` fixes γ; the
mapping is the analytic model's best for it (or the best overall when ``gamma`` is None).
:func:`simulate_edge` runs an explicit mapping.

Both sides take step costs from the same ``StepCostTable``s and the decode loop's own time from
the same device fields (:class:`~ahasd.cost.rounds.LoopCost`: per round, per drafted token, per
autoregressive token; 0 unless a calibrated platform sets them); the analytic model evaluates
the steps at the mid-run KV length and uses the replayed tokens per round of the same trace, so
any gap between the two is the KV growth the closed form averages away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ahasd.cost.rounds import LoopCost, ar_token_seconds, draft_seconds
from ahasd.errors import field_error
from ahasd.sim.kernel import Kernel
from ahasd.sim.metrics import Metrics
from ahasd.sim.result import Result
from ahasd.sim.timeline import Timelines
from ahasd.systems.base import (
    SYSTEMS,
    RunContext,
    System,
    ar_baseline,
    build_result,
    static_power_w,
)
from ahasd.systems.edge.plan import GAMMA_MAX, DeviceSteps, Plan, enumerate_plans


def compute_devices(platform: Any) -> list[str]:
    """Devices a whole graph can run on (CPU and GPU roofline devices), in platform order.

    A platform with an NPU or PIM is refused: plans over its CPU alone would ignore the
    accelerators it exists for (AHASD, LP-Spec and SpecPIM model those platforms).
    """
    kinds = {n: str(getattr(d, "kind", "")) for n, d in platform.devices.items()}
    accel = [n for n, k in kinds.items() if k == "npu" or k.endswith(("pim", "aim"))]
    if accel:
        raise field_error("platform", platform.name, "a CPU/GPU platform such as edge-imx95 or "
                          f"host-cpu (its {', '.join(accel)} would be ignored)")  # fmt: skip
    return [n for n, k in kinds.items() if k in ("cpu", "gpu")]


def _replay(runs: np.ndarray, gamma: int, n_tokens: int) -> tuple[int, int]:
    """(rounds, fully accepted rounds) when drafting exactly γ ≥ 1 from every committed
    position."""
    pos = rounds = full = 0
    runs_l = runs.tolist()
    while pos < n_tokens:
        took = min(gamma, runs_l[pos])
        full += took == gamma
        pos += took + 1
        rounds += 1
    return rounds, full


def replay_rounds(runs: np.ndarray, gamma: int, n_tokens: int) -> tuple[float, float]:
    """(committed tokens per round, share of rounds accepting all γ drafts) when drafting
    exactly γ from every committed position; one replay gives both. A fully accepted round is
    followed by a two-token catch-up draft step. γ = 0: (1, 0)."""
    if gamma == 0:
        return 1.0, 0.0
    rounds, full = _replay(runs, gamma, n_tokens)
    return n_tokens / rounds, full / rounds


def replay_tau(runs: np.ndarray, gamma: int, n_tokens: int) -> float:
    """Committed tokens per round (:func:`replay_rounds`)."""
    return replay_rounds(runs, gamma, n_tokens)[0]


def replay_full(runs: np.ndarray, gamma: int, n_tokens: int) -> float:
    """The share of rounds that accept all γ drafts (:func:`replay_rounds`)."""
    return replay_rounds(runs, gamma, n_tokens)[1]


def handoff(platform: Any, draft_dev: str, target_dev: str) -> tuple[float, float]:
    """Per-iteration hand-off between two devices: one barrier on each side (op_sync_s).

    Token ids and logits are a few bytes on unified memory ([edgesd]: small, not zero);
    the synchronisation dominates, so the devices' own barrier costs stand in for it.
    """
    if draft_dev == target_dev:
        return 0.0, 0.0
    sync = platform.device(draft_dev).op_sync_s + platform.device(target_dev).op_sync_s
    return sync, 0.0


def _tables(ctx: RunContext, device: str):
    kind = ctx.platform.device(device).kind
    return ctx.table(ctx.draft, kind), ctx.table(ctx.target, kind)


def mid_kv(ctx: RunContext) -> int:
    return ctx.config.prompt_len + ctx.n // 2


def device_steps(ctx: RunContext, device: str, gamma_max: int = GAMMA_MAX) -> DeviceSteps:
    """Step costs of the pair on ``device`` at the mid-run KV length."""
    draft_t, target_t = _tables(ctx, device)
    kv = mid_kv(ctx)
    d_s, d_j, _ = draft_t.cost("draft", 1, kv)
    ver = [target_t.cost("verify", m, kv) for m in range(1, gamma_max + 2)]
    loop = LoopCost.of(ctx.platform.device(device))
    verify_s, verify_j = tuple(v[0] for v in ver), tuple(v[1] for v in ver)
    return DeviceSteps(device, d_s, d_j, verify_s, verify_j, loop)


def plans(ctx: RunContext, gamma_max: int = GAMMA_MAX) -> list[Plan]:
    """Every mapping × γ on this context's platform, best first."""
    steps = {d: device_steps(ctx, d, gamma_max) for d in compute_devices(ctx.platform)}
    if not steps:
        raise field_error("platform", ctx.config.platform, "a platform with a cpu or gpu device")
    per_gamma = [replay_rounds(ctx.replay.runs, g, ctx.n) for g in range(gamma_max + 1)]
    return enumerate_plans(
        steps,
        [tau for tau, _ in per_gamma],
        lambda d, t, _g: handoff(ctx.platform, d, t),
        gamma_max=gamma_max,
        static_w=sum(static_power_w(ctx.platform).values()),
        full_accept=[full for _, full in per_gamma],
    )


@dataclass(frozen=True, slots=True)
class RoundDone:
    task_id: int


class _Loop:
    """Draft γ on one device, hand off, verify γ + 1 on the other; one event per round."""

    def __init__(self, ctx: RunContext, draft_dev: str | None, target_dev: str, gamma: int):
        self.ctx, self.gamma = ctx, gamma
        self.draft_dev, self.target_dev = draft_dev, target_dev
        self.draft_v = ctx.view(_tables(ctx, draft_dev)[0]) if draft_dev else None
        self.verify_v = ctx.view(_tables(ctx, target_dev)[1])
        self.xfer = handoff(ctx.platform, draft_dev, target_dev) if draft_dev else (0.0, 0.0)
        self.loop = LoopCost.of(ctx.platform.device(target_dev))
        if draft_dev not in (None, target_dev):
            self.loop = LoopCost.mapping(LoopCost.of(ctx.platform.device(draft_dev)), self.loop)
        self.metrics = Metrics(ctx.n, ctx.replay.match)
        self.timelines = Timelines(tuple(ctx.platform.devices))
        self.kernel = Kernel({RoundDone: self._on_done})
        self.runs = ctx.replay.runs.tolist()
        self.links: dict[int, int] = {}
        self.next_id = 0
        self.accepted = 0
        self._start()

    def _span(self, dev: str, track: str, start: float, secs: float) -> int:
        self.next_id += 1
        self.timelines.record(dev, track, start, start + secs, track, self.next_id)
        return self.next_id

    def _start(self) -> None:
        c, g, t = self.metrics.committed, self.gamma, self.kernel.now
        kv = self.ctx.config.prompt_len + c
        if g and self.draft_v is not None:
            dc = self.draft_v("draft", 1, kv + g - 1)
            # round formula: γ·(T_draft + o_token) + T_refill(γ) + c·T_catch, c = 1 after a
            # fully accepted round (the draft then feeds its last token and the bonus token)
            catch_up = 1.0 if c and self.accepted == g else 0.0
            d_s = draft_seconds(g, dc.seconds, self.loop, catch_up)
            draft_id = self._span(self.draft_dev, "draft", t, d_s)
            self.metrics.on_task_energy(dc.energy, g)
            self.metrics.on_draft(g)
            t += d_s + self.xfer[0]
        vc = self.verify_v("verify", g + 1, kv)
        # ... + T_verify(γ+1) + o_round (γ = 0: T_verify(1) + o_ar)
        v_s = vc.seconds + (self.loop.round_s if g else self.loop.ar_token_s)
        verify_id = self._span(self.target_dev, "verify", t, v_s)
        if g:
            self.links[draft_id] = verify_id
        self.metrics.on_task_energy(vc.energy)
        self.accepted = min(g, self.runs[c])
        self.kernel.schedule_at(t + v_s, RoundDone(verify_id))

    def _on_done(self, _ev: RoundDone) -> None:
        m, c = self.metrics, self.metrics.committed
        m.on_verify(self.accepted < self.gamma)
        m.on_commit(c, self.accepted, 1)
        if m.committed < self.ctx.n:
            self._start()


def run_mapping(
    ctx: RunContext,
    system: type[System],
    draft_dev: str | None,
    target_dev: str,
    gamma: int,
    *,
    extra: dict[str, Any] | None = None,
) -> Result:
    """Event-simulate one mapping (``draft_dev`` None or γ = 0: autoregressive)."""
    devices = compute_devices(ctx.platform)
    for field, dev in (("draft_device", draft_dev), ("target_device", target_dev)):
        if dev is not None and dev not in devices:
            raise field_error(field, dev, ", ".join(devices))
    if not 0 <= gamma <= 64:
        raise field_error("gamma", gamma, "0..64")
    if gamma == 0:
        draft_dev = None
    elif draft_dev is None:
        raise field_error("draft_device", None, f"one of {', '.join(devices)} when gamma >= 1")
    _check_capacity(ctx, draft_dev, target_dev)
    loop = _Loop(ctx, draft_dev, target_dev, gamma)
    loop.kernel.run()
    ar_dev = min(devices, key=lambda d: _ar_token_s(ctx, d))
    _d, target_t = _tables(ctx, target_dev)
    prefill = target_t.cost("prefill", ctx.config.prompt_len, 0)[0]
    extras = {
        "draft_device": draft_dev,
        "target_device": target_dev,
        "gamma": gamma,
        "ar_device": ar_dev,
        "handoff_s": loop.xfer[0],
        **(extra or {}),
    }
    return build_result(
        ctx,
        system,
        wall_s=loop.kernel.now,
        metrics=loop.metrics,
        timelines=loop.timelines,
        ar=_ar(ctx, ar_dev),
        prefill_s=prefill,
        extras=extras,
        flow_links=loop.links,
    )


def _ar_token_s(ctx: RunContext, device: str) -> float:
    """Seconds per autoregressive token on ``device`` at the mid-run KV length, loop included."""
    step = _tables(ctx, device)[1].cost("verify", 1, mid_kv(ctx))[0]
    return ar_token_seconds(step, LoopCost.of(ctx.platform.device(device)))


def _ar(ctx: RunContext, device: str) -> tuple[float, float]:
    """The AR baseline on ``device`` (tok/s, tok/J), plus its loop's sampling time per token."""
    tok_s, tok_j = ar_baseline(ctx, _tables(ctx, device)[1])
    extra = ctx.n * LoopCost.of(ctx.platform.device(device)).ar_token_s
    if not extra:
        return tok_s, tok_j
    seconds = ctx.n / tok_s + extra
    joules = ctx.n / tok_j + sum(static_power_w(ctx.platform).values()) * extra
    return ctx.n / seconds, ctx.n / joules


def _check_capacity(ctx: RunContext, draft_dev: str | None, target_dev: str) -> None:
    """Warn (not fail) when the weights exceed the SoC's memory: the user sees the problem."""
    prec = ctx.config.precision
    need = ctx.target.weight_bytes(prec) + (ctx.draft.weight_bytes(prec) if draft_dev else 0)
    cap = min(ctx.platform.device(d).capacity_bytes for d in {draft_dev or target_dev, target_dev})
    if need > cap:
        ctx.warnings.append(
            f"models need {need / 2**30:.1f} GiB but the {target_dev} memory holds "
            f"{cap / 2**30:.1f} GiB"
        )


@SYSTEMS.register("edge-hetero")
class EdgeHetero(System):
    name = "edge-hetero"
    default_platform = "edge-imx95"
    required_devices = ()

    def run(self, ctx: RunContext) -> Result:
        ranked = plans(ctx, max(GAMMA_MAX, ctx.config.gamma or 0))
        if ctx.config.gamma is not None:
            ranked = [p for p in ranked if p.gamma == ctx.config.gamma]
        best = ranked[0]
        return run_mapping(
            ctx,
            type(self),
            best.draft_device,
            best.target_device,
            best.gamma,
            extra={"predicted_speedup": best.speedup},
        )


def simulate_edge(
    config: Any, *, draft_device: str | None, target_device: str, gamma: int
) -> Result:
    """Event-simulate an explicit mapping (the report and tests compare it with the plan)."""
    from ahasd.sim.config import SimConfig
    from ahasd.systems.base import prepare, resolve_platform

    cfg = config if isinstance(config, SimConfig) else SimConfig(**config)
    explicit = "platform" in cfg.model_fields_set
    cfg = resolve_platform(cfg.model_copy(update={"system": EdgeHetero.name}), EdgeHetero, explicit)
    return run_mapping(prepare(cfg, EdgeHetero), EdgeHetero, draft_device, target_device, gamma)
