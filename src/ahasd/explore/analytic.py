"""The analytic fast path: closed-form speculative decoding over step-cost tables, in numpy.

For screening thousands of design points per second, not for final numbers. Per point:

- tokens per round E = (1 − α^{γ+1}) / (1 − α)   ([leviathan23]),
  with α the per-token acceptance of the point's own trace (``trace_stats``);
- round time T = γ·t_draft(1, L) + t_verify(γ+1, L) for synchronous systems, and
  max(γ·t_draft, t_verify) for the asynchronous ones (draft on PIM overlaps verify on the NPU),
  with step costs from ``StepCostTable`` at the mid-generation KV length L = prompt + tokens/2
  (taken every ``KV_KNOT_TOKENS`` of KV and interpolated linearly in between);
- energy per round = γ·e_draft + e_verify + (sum of static power)·T, and on platforms with a
  described DRAM the memory layer's time-based energy: every die in power-down plus refresh all
  the time, a die active while a task of its model runs, ungated PIM units leaking;
- γ = the config's ``gamma``, the ``fixed`` policy's γ, or, for adaptive policies, the best
  fixed γ in 1..(the policy's ``max_len`` cap) — an optimistic stand-in for adaptive drafting
  that ignores EDC/TVC, look-ahead and wasted drafts.

Rows carry ``mode = "analytic"`` so they are never mistaken for event-simulated ones.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from typing import Any

import numpy as np

from ahasd.errors import AhasdError
from ahasd.explore.cache import HASH
from ahasd.explore.points import cached_platform
from ahasd.sim.result import flatten

ASYNC_SYSTEMS = {"ahasd": True, "npu-pim-async": False}  # name -> honours use_aau
FIXED_POLICIES = ("fixed",)  # policies that always draft exactly max_len tokens
KV_KNOT_TOKENS = 256  # cost-table knots for the analytic path (benchmark prints the error)


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


@lru_cache(maxsize=256)
def _table(
    platform_key: tuple[str, str],
    model: str,
    placement: str,
    precision: str,
    kv_bucket: int,
    offload_bytes: int,
    where: Any = None,
):
    from ahasd.cost import StepCostTable
    from ahasd.models import load_model

    plat = cached_platform(*platform_key)
    return StepCostTable(
        plat,
        load_model(model),
        placement=placement,
        precision=precision,
        kv_bucket=kv_bucket,
        offload_bytes=offload_bytes,
        where=where,
    )


def _memory(cfg: Any, platform: Any, system: str):
    """The run's memory model (as ``prepare`` builds it), or None."""
    from ahasd.memory.model import build_memory
    from ahasd.models import load_model
    from ahasd.systems.base import SYSTEMS

    if not SYSTEMS.get(system).uses_memory_model:
        return None
    kv_tokens = cfg.prompt_len + cfg.tokens + cfg.queue_depth * 8
    return build_memory(platform, load_model(cfg.draft), load_model(cfg.target),
                        precision=cfg.precision, kv_tokens=kv_tokens)  # fmt: skip


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
    import json

    return _policy_cap(cfg.policy, json.dumps(cfg.policy_args, sort_keys=True))


@lru_cache(maxsize=1024)
def _policy_cap(policy: str, args_json: str) -> tuple[int, bool]:
    import json

    from ahasd.policies import make_policy

    pol = make_policy(policy, **json.loads(args_json))
    return int(pol.max_len), policy in FIXED_POLICIES


def _group_key(cfg: Any) -> tuple:
    import json

    return (
        cfg.system,
        cfg.platform,
        json.dumps(cfg.platform_overrides, sort_keys=True),
        cfg.draft,
        cfg.target,
        cfg.precision,
        cfg.kv_bucket,
        cfg.use_aau,
        cfg.prompt_len + cfg.tokens + cfg.queue_depth * 8,  # KV sizes the placement
    )


def evaluate_analytic(
    configs: list[Any], *, kv_knot: int | None = KV_KNOT_TOKENS
) -> dict[str, np.ndarray]:
    """Analytic metrics for many SimConfigs: one cost-table build per distinct platform/pair.

    ``kv_knot``: step costs are taken from the table at KV lengths ``kv_knot`` apart and
    interpolated linearly in between (costs are near-affine in KV); ``None`` = every KV bucket.
    """
    n = len(configs)
    out = {
        k: np.zeros(n)
        for k in (
            "tau",
            "throughput_tok_s",
            "tokens_per_joule",
            "edp_per_token",
            "alpha",
            "gamma",
            "ar_throughput_tok_s",
            "ar_tokens_per_joule",
        )
    }
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, cfg in enumerate(configs):
        groups[_group_key(cfg)].append(i)
    for idx in groups.values():
        _evaluate_group([configs[i] for i in idx], np.asarray(idx), out, kv_knot)
    return out


def _evaluate_group(
    cfgs: list[Any], idx: np.ndarray, out: dict[str, np.ndarray], kv_knot: int | None
) -> None:
    from ahasd.systems.base import SYSTEMS

    first = cfgs[0]
    dp, vp, overlap = _plan(first)
    pkey = (first.platform, _group_key(first)[2])
    platform = cached_platform(*pkey)
    offload = _offloads(first, platform, vp, SYSTEMS.get(first.system).memory_device)
    mem = _memory(first, platform, first.system)
    where = {r: mem.residence(r) if mem else None for r in ("draft", "target")}
    t_d = _table(pkey, first.draft, dp, first.precision, first.kv_bucket,
                 offload.get(first.draft, 0), where["draft"])  # fmt: skip
    t_v = _table(pkey, first.target, vp, first.precision, first.kv_bucket,
                 offload.get(first.target, 0), where["target"])  # fmt: skip
    from ahasd.memory.energy import package_power

    mem_floor, draft_w, verify_w = package_power(mem)
    static_w = mem_floor + sum(
        float(getattr(d, "static_w", 0.0) or 0.0) for d in platform.devices.values()
    )
    alpha = np.array(
        [_alpha(c.profile, c.trace, c.draft, c.target, c.tokens, c.seed) for c in cfgs]
    )
    kv = np.array([c.prompt_len + c.tokens // 2 for c in cfgs], dtype=np.int64)
    plans = [_gamma_plan(c) for c in cfgs]
    max_len = np.array([p[0] for p in plans], dtype=np.int64)
    fixed = np.array([p[1] for p in plans])
    gmax = int(max_len.max())
    gammas = np.arange(1, gmax + 1)
    cost = _cost_grid(t_d, t_v, np.unique(kv), gmax, kv_knot)
    k = np.searchsorted(np.unique(kv), kv)
    g = gammas[None, :]
    cost["ed"] = cost["ed"] + draft_w * cost["td"]  # the draft's dies active while it runs
    cost["ev"] = cost["ev"] + verify_w * cost["tv"]
    m = round_metrics(
        alpha=alpha[:, None],
        gamma=g,
        t_draft_s=cost["td"][k][:, None],
        e_draft_j=cost["ed"][k][:, None],
        t_verify_s=cost["tv"][k][:, gammas],
        e_verify_j=cost["ev"][k][:, gammas],
        static_w=static_w,
        overlap=overlap,
    )
    allowed = (g <= max_len[:, None]) & (~fixed[:, None] | (g == max_len[:, None]))
    best = np.argmax(np.where(allowed, m["throughput_tok_s"], -np.inf), axis=1)
    rows = np.arange(len(cfgs))
    for key, arr in m.items():
        out[key][idx] = arr[rows, best]
    out["alpha"][idx] = alpha
    out["gamma"][idx] = gammas[best]
    ar_s = cost["tv"][k, 0]
    out["ar_throughput_tok_s"][idx] = 1.0 / ar_s
    out["ar_tokens_per_joule"][idx] = 1.0 / (cost["ev"][k, 0] + static_w * ar_s)


def _cost_grid(
    t_d: Any, t_v: Any, kvs: np.ndarray, gmax: int, kv_knot: int | None
) -> dict[str, np.ndarray]:
    """Step costs per KV length (rows): draft 1 token; verify n = 1..gmax+1 (column n-1).

    ``StepCostTable.grid`` costs each distinct (n, KV bucket) once; with ``kv_knot`` only the
    knots are costed and the rows in between interpolated.
    """
    ns = list(range(1, gmax + 2))
    if kv_knot is None:
        td, ed = t_d.grid("draft", [1], kvs)
        tv, ev = t_v.grid("verify", ns, kvs)
        return {"td": td[0], "ed": ed[0], "tv": tv.T, "ev": ev.T}
    lo = int(kvs.min()) // kv_knot * kv_knot
    hi = -(-int(kvs.max()) // kv_knot) * kv_knot
    knots = np.arange(lo, hi + 1, kv_knot)
    td, ed = t_d.grid("draft", [1], knots)
    tv, ev = t_v.grid("verify", ns, knots)

    def interp(table: np.ndarray) -> np.ndarray:  # (n values, knots) -> (kvs, n values)
        return np.stack([np.interp(kvs, knots, row) for row in table], axis=1)

    return {"td": interp(td)[:, 0], "ed": interp(ed)[:, 0], "tv": interp(tv), "ev": interp(ev)}


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
