"""End-to-end speedup of the real engine, measured and predicted (``ahasd validate``'s e2e rows).

Each run's wall time is predicted from what the run did (its rounds, draft lengths and drafted
tokens: acceptance statistics, not timings) and the cost model's step times plus the loop
overheads of :mod:`ahasd.engine.loop_calib`, through the round formula of
:mod:`ahasd.cost.rounds`:

* sync: Σ_rounds [n_r·(T_draft + o_token) + T_refill(n_r) + T_verify(n_r + 1) + o_round] plus
  T_catch for every draft step that fed two tokens (the run's count, ``catch_up_steps``);
* async (a draft thread beside the verifier): the same sum over rounds, with every drafted
  token charged, the squashed look-ahead ones too, plus ``o_async`` per round, priced one after
  the other; then the draft steps that ran beside a verification (the run's count,
  ``overlapped_draft_steps``) each add ``overlap_cost`` times their draft work
  (:func:`ahasd.cost.rounds.overlapped_seconds`; the cost measured by the engine's own async
  loop on stand-ins of the two steps, :func:`ahasd.engine.step_standin.measure_overlap_cost`).
  The draft's re-read after a verification is charged for the share of draft steps not beside
  one: the overlap cost, measured with both threads stepping, prices the caches they share;
* target-only: N·(T_verify(1) + o_ar).

The speedup is tokens/s over target-only tokens/s, measured and predicted alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from statistics import median
from typing import Any

from ahasd.cost.rounds import (
    LoopCost,
    ar_token_seconds,
    overlapped_seconds,
    round_seconds,
)
from ahasd.engine.loop_calib import LoopOverheads

E2E_GAMMAS: tuple[int, ...] = (1, 2, 4, 8)
ADAPTIVE = "adaedl"
MODES = ("sync", "async")


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One end-to-end configuration: a policy (fixed γ or a named adaptive one) and a mode."""

    policy: str
    gamma: int | None  # None: the adaptive policy decides
    mode: str

    @property
    def label(self) -> str:
        return f"{self.policy}-{self.gamma}" if self.gamma else self.policy

    def make_policy(self) -> Any:
        from ahasd.engine.decode import require_policy

        return require_policy(self.policy, **({"gamma": self.gamma} if self.gamma else {}))


def run_specs(
    gammas: tuple[int, ...] = E2E_GAMMAS,
    adaptive: str | None = ADAPTIVE,
    modes: tuple[str, ...] = MODES,
) -> list[RunSpec]:
    pols = [("fixed", g) for g in gammas] + ([(adaptive, None)] if adaptive else [])
    return [RunSpec(p, g, m) for m in modes for p, g in pols]


def max_draft_len(specs: list[RunSpec]) -> int:
    """The longest draft any spec can make (its policy's cap), for the verify widths to price."""
    return max(spec.make_policy().start_round() for spec in specs)


def run_one(spec: RunSpec, draft: Any, target: Any, ids: list[int], max_new: int) -> Any:
    """One generation of ``spec`` (greedy; async with the engine's default EDC + TVC)."""
    if spec.mode == "sync":
        from ahasd.engine.decode import generate

        return generate(draft, target, ids, policy=spec.make_policy(), max_new_tokens=max_new)
    from ahasd.engine.async_decode import generate_async
    from ahasd.engine.run import controllers

    edc, tvc = controllers(True, True)
    return generate_async(
        draft, target, ids, policy=spec.make_policy(), max_new_tokens=max_new, edc=edc, tvc=tvc
    )


@dataclass(frozen=True, slots=True)
class Steps:
    """Step times to price a run with: one draft token, verify(n), and what a two-token draft
    step takes beyond a one-token one."""

    draft_s: float
    verify_s: dict[int, float]
    catch_up_s: float = 0.0


@dataclass(frozen=True, slots=True)
class HostTerms:
    """One round's host measurements besides the steps: the loop's own time, the draft's re-read
    after a target step (seconds, decay) and the wall seconds a second of draft work beside a
    verification adds in the async engine (None: not measured)."""

    loop: LoopOverheads
    refill: tuple[float, float] = (0.0, 0.0)
    overlap_cost: dict[int, float] | None = None  # per γ of the async stand-in runs

    def cost(self, steps: Steps) -> LoopCost:
        lo = self.loop
        return LoopCost(lo.round_s, lo.token_s, lo.ar_token_s, *self.refill, steps.catch_up_s)


def predicted_wall_s(
    res: Any, mode: str, steps: Steps, host: HostTerms | None, gamma: int = 1
) -> float:
    """Wall seconds the round formula gives for what ``res`` did (see the module docstring),
    ``gamma`` the policy's longest draft; ``host`` None: the step-only formula (no loop terms,
    re-read, catch-up or overlap cost)."""
    cost = host.cost(steps) if host else LoopCost()
    rounds = len(res.draft_lens)
    catch_up = res.catch_up_steps / rounds if rounds else 0.0
    beside = res.extras.get("overlapped_draft_steps", 0.0) if mode == "async" and host else 0.0
    if beside:
        # a draft step beside a verification meets the target's traffic in the caches as it
        # runs: the overlap cost (measured with both stepping) prices that, so the re-read
        # after a verification is charged only for the share of draft steps not beside one
        alone = max(1.0 - beside / max(res.extras.get("drafted_tokens", beside), 1.0), 0.0)
        cost = replace(cost, refill_s=cost.refill_s * alone)
    total = sum(
        round_seconds(n, steps.draft_s, steps.verify_s[n + 1], cost, catch_up=catch_up)
        for n in res.draft_lens
    )
    if mode == "async":
        per_token = steps.draft_s + cost.token_s
        wasted = res.extras.get("drafted_tokens", res.proposed) - res.proposed
        total += wasted * per_token
        total += rounds * (host.loop.async_round_s if host else 0.0)
        if host is not None and host.overlap_cost:
            cost_s = overlap_cost_at(host.overlap_cost, gamma)
            total = overlapped_seconds(total, beside * per_token, cost_s)
    return total


def overlap_cost_at(costs: dict[int, float], gamma: int) -> float:
    """The overlap cost measured at the γ nearest to ``gamma`` (the larger one on a tie)."""
    return costs[min(costs, key=lambda g: (abs(g - gamma), -g))]


def ar_wall_s(n_tokens: int, verify1_s: float, host: HostTerms | None) -> float:
    cost = LoopCost(ar_token_s=host.loop.ar_token_s) if host else LoopCost()
    return n_tokens * ar_token_seconds(verify1_s, cost)


@dataclass(frozen=True, slots=True)
class RoundFigures:
    """One validation round: the runs and the step times (predicted and measured) to price them."""

    runs: dict[RunSpec, Any]
    ar: Any
    predicted: Steps
    measured: Steps
    host: HostTerms
    one_thread: bool = False  # torch ran one thread: a sync run's CPU time is its idle time


def round_figures(
    specs: list[RunSpec],
    draft: Any,
    target: Any,
    ids: list[int],
    max_new: int,
    tick: Callable[[str], None] = lambda _what: None,
) -> tuple[dict[RunSpec, Any], Any]:
    """Every spec once, and target-only before, halfway and after them (``tick`` after each
    run); the target-only run of median speed is the round's baseline, so that one slow moment
    of a shared host does not move every speedup of the round."""
    from ahasd.engine.decode import target_only

    ars, runs = [], {}
    half = len(specs) // 2
    for i, spec in enumerate([*specs, None]):
        if i in (0, half, len(specs)):
            ars.append(target_only(target, ids, max_new_tokens=max_new))
            tick("target-only")
        if spec is not None:
            runs[spec] = run_one(spec, draft, target, ids, max_new)
            tick(f"{spec.label} {spec.mode}")
    return runs, sorted(ars, key=lambda r: r.tokens_per_s)[len(ars) // 2]


def _speedups(fig: RoundFigures, spec: RunSpec) -> dict[str, float]:
    res = fig.runs[spec]
    n, n_ar = len(res.tokens), len(fig.ar.tokens)
    measured = res.tokens_per_s / fig.ar.tokens_per_s

    gamma = spec.gamma or spec.make_policy().start_round()

    def tok_s(steps: Steps, host: HostTerms | None) -> float:
        return n / predicted_wall_s(res, spec.mode, steps, host, gamma)

    def pred(steps: Steps, host: HostTerms | None) -> float:
        return tok_s(steps, host) / (n_ar / ar_wall_s(n_ar, steps.verify_s[1], host))

    cpu = None
    if fig.one_thread and spec.mode == "sync" and res.cpu_s > 0 and fig.ar.cpu_s > 0:
        cpu = (n / res.cpu_s) / (n_ar / fig.ar.cpu_s)
    return {
        "measured": measured,
        "measured_cpu": cpu,
        "predicted": pred(fig.predicted, fig.host),
        "from_measured_steps": pred(fig.measured, fig.host),
        "steps_only": pred(fig.predicted, None),
        "tau": res.tau,
        "catch_up_steps": res.catch_up_steps,
        "overlapped_draft_steps": res.extras.get("overlapped_draft_steps", 0.0),
        "measured_tok_s": res.tokens_per_s,
        "predicted_tok_s": tok_s(fig.predicted, fig.host),
    }


def _spread(values: list[float]) -> float:
    return 100.0 * (max(values) / min(values) - 1.0) if min(values) > 0 else 0.0


def e2e_rows(specs: list[RunSpec], figs: list[RoundFigures]) -> list[dict[str, Any]]:
    """Per spec, medians over rounds of the measured and predicted speedups, and the error."""
    rows = []
    for spec in specs:
        per = [_speedups(f, spec) for f in figs]
        med = {k: median(p[k] for p in per) for k in per[0] if per[0][k] is not None}
        err = 100.0 * (med["predicted"] - med["measured"]) / med["measured"]
        spread = _spread([p["measured"] for p in per])
        cpu = med.get("measured_cpu")
        cpu_spread = _spread([p["measured_cpu"] for p in per]) if cpu else None
        rows.append(
            {
                "policy": spec.policy,
                "gamma": spec.gamma if spec.gamma else spec.policy,
                "mode": spec.mode,
                "tau": med["tau"],
                # what the run did besides its rounds (medians): two-token draft steps, and
                # (async) draft steps beside a verification
                "catch_up_steps": med["catch_up_steps"],
                "overlapped_draft_steps": med["overlapped_draft_steps"],
                "measured_speedup": med["measured"],
                "predicted_speedup": med["predicted"],
                "error_pct": err,
                "measured_spread_pct": spread,
                "noisy": spread > abs(err),
                "from_measured_steps_speedup": med["from_measured_steps"],
                "steps_only_speedup": med["steps_only"],
                "measured_tok_s": med["measured_tok_s"],
                "predicted_tok_s": med["predicted_tok_s"],
                # sync runs with torch on one thread: the speedup in CPU time, and the error
                "measured_cpu_speedup": cpu,
                "cpu_error_pct": 100.0 * (med["predicted"] - cpu) / cpu if cpu else None,
                "measured_cpu_spread_pct": cpu_spread,
            }
        )
    return rows


def target_only_row(figs: list[RoundFigures]) -> dict[str, Any]:
    """Target-only tokens/s measured vs predicted (medians over rounds)."""
    meas = [f.ar.tokens_per_s for f in figs]
    pred = [len(f.ar.tokens) / ar_wall_s(len(f.ar.tokens), f.predicted.verify_s[1], f.host)
            for f in figs]  # fmt: skip
    m, p = median(meas), median(pred)
    out = {
        "measured_tok_s": m,
        "predicted_tok_s": p,
        "error_pct": 100.0 * (p - m) / m,
        "measured_spread_pct": _spread(meas),
    }
    if all(f.one_thread and f.ar.cpu_s > 0 for f in figs):
        cpu = median(len(f.ar.tokens) / f.ar.cpu_s for f in figs)
        out.update(measured_cpu_tok_s=cpu, cpu_error_pct=100.0 * (p - cpu) / cpu)
    return out


def loop_summary(hosts: list[HostTerms]) -> dict[str, Any]:
    """Medians over rounds of the loop overheads, the draft's re-read (µs, decay) and the
    overlap cost per γ, and every round's."""
    keys = ("round_s", "token_s", "ar_token_s", "async_round_s")
    out: dict[str, Any] = {
        k.replace("_s", "_us"): round(median(getattr(h.loop, k) for h in hosts) * 1e6, 2)
        for k in keys
    }
    out["refill_us"] = round(median(h.refill[0] for h in hosts) * 1e6, 2)
    out["refill_decay"] = round(median(h.refill[1] for h in hosts), 3)
    costs = [h.overlap_cost for h in hosts if h.overlap_cost]
    if costs:
        out["overlap_cost"] = {g: round(median(c[g] for c in costs), 3) for g in costs[0]}
    out["per_round"] = [_host_dict(h) for h in hosts]
    return out


def _host_dict(h: HostTerms) -> dict[str, Any]:
    out = {**h.loop.as_dict(), "refill_us": round(h.refill[0] * 1e6, 2),
           "refill_decay": round(h.refill[1], 3)}  # fmt: skip
    if h.overlap_cost:
        out["overlap_cost"] = {g: round(c, 3) for g, c in h.overlap_cost.items()}
    return out
