"""The analytic fast path: design points priced in numpy over batches of platforms.

For screening thousands of design points per second, not for final numbers. Points are grouped
by model pair and system plan; each group's platforms are priced together by the vectorised
cost model (:mod:`ahasd.cost.vector`, step costs at KV knots ``KV_KNOT_TOKENS`` apart,
interpolated linearly in between) with the memory layer's placement, sharing and package power
(:mod:`ahasd.explore.analytic_batch`). Then:

- synchronous systems (``npu-only``, ``npu-pim-sync``, ``gpu-only``): the closed form of
  [leviathan23] — tokens per round E = (1 − α^{γ+1}) / (1 − α) with α the trace's per-token
  acceptance, round time γ·t_draft + t_verify(γ+1) at the mid-generation KV length, energy per
  round γ·e_draft + e_verify + static and package power × round time; γ = the config's
  ``gamma``, a ``fixed`` policy's, or the best fixed γ up to the policy's ``max_len``;
- asynchronous systems (``ahasd``, ``npu-pim-async``): a renewal/queueing model
  (:mod:`ahasd.explore.analytic_async`): renewal cycles from the trace, the controllers'
  decisions replayed on a nominal clock, a tandem-queue recursion per cycle with the point's
  costs and rate sharing, the package's time-based energy from the busy times.

Rows carry ``mode = "analytic"`` so they are never mistaken for event-simulated ones.
"""

from __future__ import annotations

import json
from collections import defaultdict
from functools import lru_cache
from typing import Any

import numpy as np

from ahasd.errors import AhasdError
from ahasd.explore.analytic_batch import KV_KNOT_TOKENS
from ahasd.explore.cache import HASH
from ahasd.explore.points import cached_platform
from ahasd.sim.result import flatten

ASYNC_SYSTEMS = {"ahasd": True, "npu-pim-async": False}  # name -> honours use_aau
FIXED_POLICIES = ("fixed",)  # policies that always draft exactly max_len tokens


def expected_tokens(alpha: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """E[N+1] = (1 − α^{γ+1})/(1 − α), and γ + 1 at α = 1 ([leviathan23])."""
    alpha = np.asarray(alpha, dtype=np.float64)
    gamma = np.asarray(gamma, dtype=np.float64)
    a = np.clip(alpha, 0.0, 1.0)
    safe = np.where(a < 1.0, 1.0 - a, 1.0)
    return np.where(a < 1.0, (1.0 - a ** (gamma + 1.0)) / safe, gamma + 1.0)


def round_metrics(
    *,
    alpha: np.ndarray,
    gamma: np.ndarray,
    t_draft_s: np.ndarray,
    e_draft_j: np.ndarray,
    t_verify_s: np.ndarray,
    e_verify_j: np.ndarray,
    static_w: np.ndarray | float,
    overlap: np.ndarray | bool,
) -> dict[str, np.ndarray]:
    """Vectorised per-point metrics from per-point step costs (all arrays broadcast together).

    ``t_draft_s``/``e_draft_j`` are one draft step; ``t_verify_s``/``e_verify_j`` verify γ+1.
    """
    tokens = expected_tokens(alpha, gamma)
    draft_s = gamma * t_draft_s
    round_s = np.where(overlap, np.maximum(draft_s, t_verify_s), draft_s + t_verify_s)
    round_j = gamma * e_draft_j + e_verify_j + static_w * round_s
    return {
        "tau": tokens,
        "throughput_tok_s": tokens / round_s,
        "tokens_per_joule": tokens / round_j,
        "edp_per_token": (round_s / tokens) * (round_j / tokens),
    }


@lru_cache(maxsize=4096)
def _alpha(
    profile: str | None, trace: str | None, draft: str, target: str, tokens: int, seed: int
) -> float:
    from ahasd.traces import default_profile, load_trace, synthesize, trace_stats

    if trace is not None:
        tr = load_trace(trace)
    else:
        tr = synthesize(profile or default_profile(draft, target), tokens, seed)
    return float(trace_stats(tr).alpha)


def _plan(cfg: Any) -> tuple[str, str, bool]:
    """(draft placement, verify placement, overlap) of a system, read from its driver class."""
    from ahasd.systems._sync import SyncSystem
    from ahasd.systems.base import SYSTEMS

    if cfg.system in ASYNC_SYSTEMS:
        aau = cfg.use_aau and ASYNC_SYSTEMS[cfg.system]
        return ("pim" if aau else "pim-no-aau"), "npu", True
    cls = SYSTEMS.get(cfg.system)
    dp, vp = getattr(cls, "draft_placement", ""), getattr(cls, "verify_placement", "")
    plain = issubclass(cls, SyncSystem) and getattr(cls, "_offload", None) is None
    if dp and vp and (plain or dp in ("gpu", "cpu")) and not cfg.specpim_design:
        return dp, vp, False
    supported = sorted({*ASYNC_SYSTEMS, "gpu-only", "npu-only", "npu-pim-sync"})
    raise AhasdError(
        f"system: got {cfg.system!r}; the analytic path supports {', '.join(supported)} "
        "(use mode: event for the others)"
    )


def _offloads(cfg: Any, platform: Any, placement: str, memory_device: str) -> dict[str, int]:
    if placement not in ("gpu", "cpu") or not memory_device:
        return {}
    from ahasd.cost import plan_memory
    from ahasd.models import load_model

    plan = plan_memory(
        platform,
        [load_model(cfg.draft), load_model(cfg.target)],
        precision=cfg.precision,
        device=memory_device,
        kv_tokens=cfg.prompt_len + cfg.tokens,
    )
    return {k: int(v) for k, v in plan.offload_bytes.items()}


def _gamma_plan(cfg: Any) -> tuple[int, bool]:
    """(γ cap, fixed?): the config's ``gamma``, a ``fixed`` policy's γ, else the policy's cap."""
    if cfg.gamma is not None:
        return int(cfg.gamma), True
    return policy_cap(cfg.policy, json.dumps(cfg.policy_args, sort_keys=True))


@lru_cache(maxsize=1024)
def policy_cap(policy: str, args_json: str) -> tuple[int, bool]:
    """(the policy's longest batch, does it always draft exactly that many?)."""
    from ahasd.policies import make_policy

    pol = make_policy(policy, **json.loads(args_json))
    return int(pol.max_len), policy in FIXED_POLICIES


def _group_key(cfg: Any) -> tuple:
    """Points priced together: one model pair, precision and system plan, any platform."""
    if cfg.system in ASYNC_SYSTEMS:
        plan: tuple = ("async",)
    else:
        plan = (cfg.system, *_plan(cfg))
    return (plan, cfg.platform, cfg.draft, cfg.target, cfg.precision)


OUTPUTS = ("tau", "throughput_tok_s", "tokens_per_joule", "edp_per_token", "alpha", "gamma",
           "ar_throughput_tok_s", "ar_tokens_per_joule")  # fmt: skip


def evaluate_analytic(
    configs: list[Any], *, kv_knot: int | None = KV_KNOT_TOKENS
) -> dict[str, np.ndarray]:
    """Analytic metrics for many SimConfigs, each group of one model pair and system plan
    priced over all its platforms at once.

    ``kv_knot``: step costs are taken at KV lengths ``kv_knot`` apart and interpolated linearly
    in between (costs are near-affine in KV); ``None`` = every KV bucket.
    """
    out = {k: np.zeros(len(configs)) for k in OUTPUTS}
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, cfg in enumerate(configs):
        groups[_group_key(cfg)].append(i)
    for idx in groups.values():
        cfgs = [configs[i] for i in idx]
        batch, point = _batch(cfgs, kv_knot)
        idx_arr = np.asarray(idx)
        if cfgs[0].system in ASYNC_SYSTEMS:
            from ahasd.explore.analytic_async import evaluate_async

            got = evaluate_async(cfgs, batch, point)
            for key in ("tau", "throughput_tok_s", "tokens_per_joule", "edp_per_token",
                        "ar_throughput_tok_s", "ar_tokens_per_joule"):  # fmt: skip
                out[key][idx_arr] = got[key]
            out["gamma"][idx_arr] = np.round(got["mean_draft_len"])
        else:
            _evaluate_sync(cfgs, batch, point, idx_arr, out)
        out["alpha"][idx_arr] = [
            _alpha(c.profile, c.trace, c.draft, c.target, c.tokens, c.seed) for c in cfgs
        ]
    return out


def _batch(cfgs: list[Any], kv_knot: int | None):
    """The group's distinct (platform, placement or host offload) rows and each config's row."""
    from ahasd.explore.analytic_batch import PointBatch, memory_model
    from ahasd.models import load_model
    from ahasd.systems.base import SYSTEMS

    first = cfgs[0]
    draft, target = load_model(first.draft), load_model(first.target)
    system = SYSTEMS.get(first.system)
    memory = system.uses_memory_model
    verify = _plan(first)[1] if first.system not in ASYNC_SYSTEMS else "npu"
    rows: dict[tuple, int] = {}
    point = np.empty(len(cfgs), dtype=np.int64)
    plats, mems, offloads = [], [], []
    for i, c in enumerate(cfgs):
        overrides = json.dumps(c.platform_overrides, sort_keys=True)
        plat = cached_platform(c.platform, overrides)
        mem = None
        if memory:  # the KV the placement sizes for: prompt, every token, a full queue
            kv_tokens = c.prompt_len + c.tokens + c.queue_depth * 8
            mem = memory_model(plat, draft, target, precision=c.precision, kv_tokens=kv_tokens)
        # a GPU/CPU keeps the KV cache and spills weights to the host (``plan_memory``)
        off = _offloads(c, plat, verify, system.memory_device)
        ranks = tuple(sorted(mem.placement.ranks.items())) if mem is not None else None
        key = (overrides, ranks, tuple(sorted(off.items())))
        if key not in rows:
            rows[key] = len(plats)
            plats.append(plat)
            mems.append(mem)
            offloads.append(off)
        point[i] = rows[key]
    low = min(c.prompt_len for c in cfgs)
    high = max(c.prompt_len + c.tokens + c.queue_depth * 8 for c in cfgs)
    batch = PointBatch(plats, mems, draft, target, precision=first.precision, kv_low=low,
                       kv_high=high, knot=kv_knot or first.kv_bucket)  # fmt: skip
    batch.offloads = offloads
    return batch, point


def _evaluate_sync(cfgs, batch, point, idx, out) -> None:
    """Synchronous systems: the best (or fixed) γ of the closed form, per point."""
    from ahasd.explore.analytic_batch import at_kv

    dp, vp, overlap = _plan(cfgs[0])
    off_d = np.array([o.get(cfgs[0].draft, 0) for o in batch.offloads], dtype=np.float64)
    off_v = np.array([o.get(cfgs[0].target, 0) for o in batch.offloads], dtype=np.float64)
    plans = [_gamma_plan(c) for c in cfgs]
    max_len = np.array([p[0] for p in plans], dtype=np.int64)
    fixed = np.array([p[1] for p in plans])
    gmax = int(max_len.max())
    gammas = np.arange(1, gmax + 1)
    td = batch.table(batch.draft, dp, "draft", (1,), off_d)
    tv = batch.table(batch.target, vp, "verify", tuple(range(1, gmax + 2)), off_v)
    pkg = batch.package
    dies = pkg["draft"] + pkg["target"] + pkg["both"] + pkg["none"]
    extra = pkg["active_w"] - pkg["down_w"]
    floor = dies * (pkg["down_w"] + pkg["refresh_w"] + pkg["leak_w"])
    static_w = (batch.static_w + floor)[point]
    draft_w = ((pkg["draft"] + pkg["both"]) * extra)[point]
    verify_w = ((pkg["target"] + pkg["both"]) * extra)[point]
    kv = np.array([c.prompt_len + c.tokens // 2 for c in cfgs], dtype=np.float64)
    ns = np.arange(1, gmax + 2)
    grid = lambda t, n: at_kv(t, batch.knots, point[:, None], kv[:, None], n[None, :])  # noqa: E731
    t_d = at_kv(td.seconds[:, 0], batch.knots, point, kv)
    e_d = at_kv(td.joules[:, 0], batch.knots, point, kv) + draft_w * t_d
    t_v = grid(tv.seconds, ns)
    e_v = grid(tv.joules, ns) + verify_w[:, None] * t_v
    g = gammas[None, :]
    m = round_metrics(alpha=np.array([_alpha(c.profile, c.trace, c.draft, c.target, c.tokens,
                                             c.seed) for c in cfgs])[:, None],
                      gamma=g, t_draft_s=t_d[:, None], e_draft_j=e_d[:, None],
                      t_verify_s=t_v[:, gammas], e_verify_j=e_v[:, gammas],
                      static_w=static_w[:, None], overlap=overlap)  # fmt: skip
    allowed = (g <= max_len[:, None]) & (~fixed[:, None] | (g == max_len[:, None]))
    best = np.argmax(np.where(allowed, m["throughput_tok_s"], -np.inf), axis=1)
    rows = np.arange(len(cfgs))
    for key, arr in m.items():
        out[key][idx] = arr[rows, best]
    out["gamma"][idx] = gammas[best]
    ar_s = t_v[:, 0]
    out["ar_throughput_tok_s"][idx] = 1.0 / ar_s
    out["ar_tokens_per_joule"][idx] = 1.0 / (e_v[:, 0] + static_w * ar_s)


def clear_caches() -> None:
    """Forget the analytic path's memos (controller replays, placements, operator columns,
    trace statistics), so the next evaluation starts cold (the benchmark times it so)."""
    from ahasd.cost.vector import op_arrays
    from ahasd.explore import analytic_async, analytic_batch

    analytic_async._REPLAYS.clear()
    analytic_async._workload.cache_clear()
    analytic_batch._PLACEMENTS.clear()
    analytic_batch._RESIDENCES.clear()
    op_arrays.cache_clear()
    _alpha.cache_clear()
    policy_cap.cache_clear()


def evaluate_analytic_rows(configs: list[Any], *, hashes: list[str]) -> list[dict[str, Any]]:
    """Flat rows like the event simulator's, labelled ``mode = analytic``."""
    m = evaluate_analytic(configs)
    rows = []
    for i, cfg in enumerate(configs):
        row: dict[str, Any] = {HASH: hashes[i], "mode": "analytic", "system": cfg.system}
        row.update({k: float(v[i]) for k, v in m.items() if k != "gamma"})
        row["analytic_gamma"] = int(m["gamma"][i])
        row["error"] = None
        flatten("cfg", cfg.model_dump(mode="json"), row)  # same columns as Result.to_row
        rows.append(row)
    return rows
