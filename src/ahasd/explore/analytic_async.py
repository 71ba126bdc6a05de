"""The analytic model of the asynchronous systems (``ahasd``, ``npu-pim-async``).

Throughput and energy are renewal rewards over the run's renewal cycles
(:mod:`ahasd.explore.renewal`): each cycle's tokens come from the trace, its duration and
dynamic energy from a tandem-queue recursion with the point's step costs (vectorised over every
cycle of every point), and the package's time-based energy — per-die active/standby/power-down
background, refresh, PIM unit leakage gated by the GTSU — from the busy times the recursion
returns. What to draft, when EDC stops and what TVC pre-verifies comes from replaying the
controllers on a nominal clock (:mod:`ahasd.explore.async_replay`): the point's ratios of
verification and pre-verification time to draft time at the mid-generation KV length, snapped
to the nearest point of a grid (``CLOCK_STEPS`` octaves), so the points of one grid cell share
one replay per workload. A policy that reads round seconds (``reads_seconds``, e.g.
``banditspec``) is replayed on the point's own clock instead, KV growth included.
(``CLOCK_INTERP`` interpolates between the cell's corners instead: smoother in the hardware,
similar error on a grid twice as coarse, two to three times the work; docs/explore.md.)
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ahasd.explore.analytic_batch import PointBatch, at_kv
from ahasd.explore.async_replay import Clock, Decisions, replay
from ahasd.explore.renewal import CycleInputs, run_cycles

# grid of the replay clock, in octaves (log2) of the verification / draft and the
# pre-verification / draft time ratios (TVC's decisions move slowly with the second); chosen by
# accuracy against the event simulator and replays per sweep (docs/explore.md)
CLOCK_STEPS = (0.375, 1.0)
CLOCK_INTERP = False  # interpolate between the surrounding grid corners (else: the nearest)
CANONICAL_DRAFT_S = 1e-3  # time scale of replays whose controllers read no seconds
# pre-verification lengths tabled; others are interpolated linearly (PIM runs one weight pass
# per token, so the cost is affine in the length up to rounding)
PV_LENGTHS = (1, 2, 4, 8, 16, 32, 64)
CHUNK = 256  # points whose cycles are stepped together (memory: about 1 MB per point)
_REPLAYS: OrderedDict[tuple, Decisions] = OrderedDict()
_REPLAY_CACHE = 1024


@dataclass(frozen=True)
class AsyncPlan:
    """The system's switches, as its driver resolves them (``Ahasd.flags``)."""

    use_aau: bool
    use_edc: bool
    use_tvc: bool
    use_gtsu: bool

    @classmethod
    def of(cls, cfg: Any) -> AsyncPlan:
        if cfg.system == "npu-pim-async":
            return cls(False, False, False, False)
        return cls(cfg.use_aau, cfg.use_edc, cfg.use_tvc, cfg.use_gtsu)

    @property
    def flags(self) -> dict[str, bool]:
        return {"use_aau": self.use_aau, "use_edc": self.use_edc, "use_tvc": self.use_tvc,
                "use_gtsu": self.use_gtsu}  # fmt: skip


def evaluate_async(cfgs: list[Any], batch: PointBatch, point: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics of ``cfgs`` (one model pair and precision); ``point[i]``: the batch platform of
    config i."""
    plans = [AsyncPlan.of(c) for c in cfgs]
    n_verify = max(_cap(c) for c in cfgs) + 2
    out = {
        k: np.zeros(len(cfgs))
        for k in (
            "throughput_tok_s",
            "tokens_per_joule",
            "edp_per_token",
            "tau",
            "mean_draft_len",
            "ar_throughput_tok_s",
            "ar_tokens_per_joule",
        )
    }
    verify = batch.table(batch.target, "npu", "verify", tuple(range(1, n_verify + 1)))
    _ar(cfgs, batch, point, verify, out)
    by_aau: dict[bool, list[int]] = {}
    for i, plan in enumerate(plans):
        by_aau.setdefault(plan.use_aau, []).append(i)
    for aau, members in by_aau.items():
        costs = _Costs(batch, aau, verify, n_verify)
        for lo in range(0, len(members), CHUNK):  # bounded memory: rows are points x cycles
            idx = np.asarray(members[lo : lo + CHUNK])
            _evaluate([cfgs[i] for i in idx], [plans[i] for i in idx], batch, point[idx], costs,
                      idx, out)  # fmt: skip
    return out


def _cap(cfg: Any) -> int:
    from ahasd.explore.analytic import policy_cap

    return policy_cap(cfg.policy, json.dumps(cfg.policy_args, sort_keys=True))[0]


class _Costs:
    """Step tables of one draft placement (with or without the AAU) and the sharing rates."""

    def __init__(self, batch: PointBatch, aau: bool, verify, n_verify: int) -> None:
        self.batch, self.verify = batch, verify
        self.placement = "pim" if aau else "pim-no-aau"
        self.draft = batch.table(batch.draft, self.placement, "draft", (1,))
        self.pre = batch.table(batch.target, self.placement, "verify", PV_LENGTHS)
        shape = self.draft.seconds[:, 0].shape
        self.r_dv = self.r_pv = np.ones(shape)
        self.r_sw = {True: np.ones(shape), False: np.ones(shape)}
        share = batch.sharing()
        if share.live:
            v2 = _slice(verify, 1)
            vu = share.verify_usage(v2)
            self.r_dv = share.pim_rate(_slice(self.draft, 0), vu, on_target=False)
            self.r_pv = share.pim_rate(_slice(self.pre, 1), vu, on_target=True)
            self.r_sw = {gtsu: share.switch_rate(vu, not gtsu) for gtsu in (True, False)}
        self.switch = {gtsu: _switch_costs(batch, gtsu) for gtsu in (True, False)}
        self.pim_hz, self.npu_hz = _clocks(batch)


def _slice(t, col: int):
    from ahasd.cost.vector import StepArrays

    return StepArrays(*(getattr(t, f)[:, col] for f in StepArrays.__slots__))


def _switch_costs(batch: PointBatch, gtsu: bool) -> tuple[np.ndarray, np.ndarray]:
    """(seconds, joules) of one rank switch per platform (``AsyncParts.switch_cost``)."""
    from ahasd.memory.gating import switch_cost

    pairs = [switch_cost(m.spec if m is not None else None, p.device("pim"), gtsu=gtsu)
             for p, m in zip(batch.platforms, batch.mems, strict=True)]  # fmt: skip
    return np.array([s for s, _ in pairs]), np.array([j for _, j in pairs])


def _clocks(batch: PointBatch) -> tuple[np.ndarray, np.ndarray]:
    from ahasd.systems._async_parts import clock_hz

    pim = np.array([clock_hz(p.device("pim"), 1e9) for p in batch.platforms])
    npu = np.array([clock_hz(p.device("npu"), 1e9) for p in batch.platforms])
    return pim, npu


# --- the replay clock and its grid ------------------------------------------------------------
def _corners(cfgs, plans, costs: _Costs, point: np.ndarray) -> list[list[tuple[float, Clock]]]:
    """Per config: (weight, Clock) of the grid corners around the point's clock."""
    from ahasd.policies import POLICIES

    knots = costs.batch.knots
    kv = np.array([c.prompt_len + c.tokens // 2 for c in cfgs], dtype=np.float64)
    at = lambda table: at_kv(table, knots, point, kv)  # noqa: E731
    draft_s = at(costs.draft.seconds[:, 0])
    verify_s = at(costs.verify.seconds[:, 2])
    ratio_v = verify_s / draft_s
    kv0 = np.array([float(c.prompt_len) for c in cfgs])  # slopes from the run's first to mid KV
    span = np.maximum(kv - kv0, 1.0)
    draft_slope = (1.0 - at_kv(costs.draft.seconds[:, 0], knots, point, kv0) / draft_s) / span
    verify_slope = (1.0 - at_kv(costs.verify.seconds[:, 2], knots, point, kv0) / verify_s) / span
    ratio_pv = at(costs.pre.seconds[:, 0]) / draft_s
    r_pv, r_dv = np.round(at(costs.r_pv), 2), np.round(at(costs.r_dv), 2)
    out = []
    for i, (cfg, plan) in enumerate(zip(cfgs, plans, strict=True)):
        p = int(point[i])
        axes = [math.log2(ratio_v[i])] + ([math.log2(ratio_pv[i])] if plan.use_tvc else [])
        steps = CLOCK_STEPS[: len(axes)]
        lows = [math.floor(a / h) * h for a, h in zip(axes, steps, strict=True)]
        fracs = [(a - lo) / h for a, lo, h in zip(axes, lows, steps, strict=True)]
        if not CLOCK_INTERP:
            fracs = [float(f >= 0.5) for f in fracs]
        scale, slopes = CANONICAL_DRAFT_S, (0.0, 0.0)
        if POLICIES.get(cfg.policy).reads_seconds:  # its own clock: seconds are not scale-free
            scale, lows, fracs = float(draft_s[i]), axes, [0.0] * len(axes)
            slopes = (float(draft_slope[i]), float(verify_slope[i]))
        corners = []
        for corner in range(1 << len(axes)):
            bits = [(corner >> d) & 1 for d in range(len(axes))]
            w = math.prod(f if b else 1.0 - f for f, b in zip(fracs, bits, strict=True))
            if w <= 1e-12:
                continue
            ratio = [2.0 ** (lo + b * h) for lo, b, h in zip(lows, bits, steps, strict=True)]
            pv = ratio[1] if plan.use_tvc else 1.0  # without TVC nothing pre-verifies
            clock = Clock(scale, scale * ratio[0], scale * pv,
                          float(r_pv[i]) if plan.use_tvc else 1.0, float(r_dv[i]),
                          float(costs.pim_hz[p]), float(costs.npu_hz[p]), *slopes)  # fmt: skip
            corners.append((w, clock))
        out.append(corners)
    return out


def decisions(cfg: Any, plan: AsyncPlan, clock: Clock, workload: tuple | None = None):
    """The controllers' decisions for ``cfg``'s workload on ``clock`` (memoised);
    ``workload``: ``cfg``'s workload key when the caller has it."""
    key = (workload or _workload_key(cfg, plan), clock)
    found = _REPLAYS.get(key)
    if found is None:
        trace, runs = _workload(*_trace_key(cfg))
        found = replay(cfg, trace, runs, plan.flags, clock)
        _REPLAYS[key] = found
        if len(_REPLAYS) > _REPLAY_CACHE:
            _REPLAYS.popitem(last=False)
    return found


def _trace_key(cfg: Any) -> tuple:
    return (cfg.trace, cfg.profile, cfg.draft, cfg.target, cfg.tokens, cfg.seed, cfg.decoding)


def _workload_key(cfg: Any, plan: AsyncPlan) -> tuple:
    return (*_trace_key(cfg), cfg.policy, json.dumps(cfg.policy_args, sort_keys=True),
            cfg.edc.model_dump_json() if plan.use_edc else "",
            cfg.tvc.model_dump_json() if plan.use_tvc else "", cfg.queue_depth, plan.use_edc,
            plan.use_tvc)  # fmt: skip


@lru_cache(maxsize=64)
def _workload(trace_path, profile, draft, target, tokens, seed, decoding):
    """The trace and acceptance runs exactly as ``systems.base.prepare`` builds them."""
    from ahasd.sim.config import SimConfig
    from ahasd.sim.replay import Replay
    from ahasd.systems.base import _load_trace

    cfg = SimConfig(trace=trace_path, profile=profile, draft=draft, target=target,
                    tokens=tokens, seed=seed, decoding=decoding)  # fmt: skip
    trace = _load_trace(cfg)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    return trace, Replay.build(trace, decoding, rng).runs


# --- rows: (point, corner, cycle) ------------------------------------------------------------
def _evaluate(cfgs, plans, batch: PointBatch, point, costs: _Costs, idx, out) -> None:
    parts = []  # (config index, weight, decisions)
    corners = _corners(cfgs, plans, costs, point)
    for i, (cfg, plan) in enumerate(zip(cfgs, plans, strict=True)):
        workload = _workload_key(cfg, plan)
        for w, clock in corners[i]:
            parts.append((i, w, decisions(cfg, plan, clock, workload)))
    groups: dict[tuple, list[int]] = {}
    for k, (i, _w, _d) in enumerate(parts):
        cfg, plan = cfgs[i], plans[i]
        keeps = cfg.tvc.no_slack == "draft"
        groups.setdefault((cfg.queue_depth, plan.use_tvc, keeps), []).append(k)
    totals = [None] * len(parts)
    for (depth, use_tvc, keeps), ks in groups.items():
        rows = _rows([parts[k] for k in ks], cfgs, plans, point, costs)
        res = run_cycles(rows.x, depth=depth, use_tvc=use_tvc, keeps_drafting=keeps)
        for k, seg in zip(ks, rows.segments(res), strict=True):
            totals[k] = seg
    pkg = batch.package
    acc = np.zeros((len(cfgs), 5))  # wall, joules, verifications, drafted, batches
    for (i, w, _d), tot in zip(parts, totals, strict=True):
        cfg, plan, p = cfgs[i], plans[i], int(point[i])
        wall = tot["seconds"]
        joules = tot["joules"] + batch.static_w[p] * wall + _package_j(pkg, p, tot, wall, plan)
        acc[i] += w * np.array([wall, joules, tot["verifies"], tot["drafted"], tot["batches"]])
    n = np.array([c.tokens for c in cfgs], dtype=np.float64)
    wall, joules = acc[:, 0], acc[:, 1]
    out["throughput_tok_s"][idx] = n / wall
    out["tokens_per_joule"][idx] = n / joules
    out["edp_per_token"][idx] = (wall / n) * (joules / n)
    out["tau"][idx] = n / acc[:, 2]
    out["mean_draft_len"][idx] = acc[:, 3] / np.maximum(acc[:, 4], 1e-9)


def _package_j(pkg: dict, p: int, tot: dict, wall: float, plan: AsyncPlan) -> float:
    """Background, refresh and leakage of the package over the run (``memory_use``)."""
    draft_b = tot["draft_busy"]
    target_b = min(wall, tot["npu_busy"] + tot["pv_busy"] - tot["overlap_pv"])
    both_b = min(wall, draft_b + tot["npu_busy"] + tot["pv_busy"] - tot["overlap_dv"]
                 - tot["overlap_pv"])  # fmt: skip
    after = pkg["after_s"][p]
    j = 0.0
    for role, busy, gaps in (("draft", draft_b, tot["pim_gaps"]),
                             ("target", target_b, tot["npu_gaps"]),
                             ("both", both_b, min(tot["pim_gaps"], tot["npu_gaps"])),
                             ("none", 0.0, 1.0)):  # fmt: skip
        dies = pkg[role][p]
        if not dies:
            continue
        idle = max(wall - busy, 0.0)
        standby = min(idle, gaps * after) if after > 0 and pkg["down_w"][p] > 0 else idle
        j += dies * (busy * pkg["active_w"][p] + standby * pkg["standby_w"][p]
                     + (idle - standby) * pkg["down_w"][p])  # fmt: skip
    dies_all = pkg["draft"][p] + pkg["target"][p] + pkg["both"][p] + pkg["none"][p]
    j += dies_all * pkg["refresh_w"][p] * wall
    leak = pkg["leak_w"][p]
    if leak:
        if plan.use_gtsu:  # the GTSU powers a rank's units only while its task runs on PIM
            j += leak * (draft_b * (pkg["draft"][p] + pkg["both"][p])
                         + tot["pv_busy"] * (pkg["target"][p] + pkg["both"][p]))  # fmt: skip
        else:
            j += leak * dies_all * wall
    return j


@dataclass
class _Rows:
    x: CycleInputs
    bounds: list[tuple[int, int]]  # row range of each part

    def segments(self, res) -> list[dict[str, float]]:
        names = ("seconds", "draft_busy", "pv_busy", "npu_busy", "overlap_dv", "overlap_pv",
                 "drafted", "joules", "pim_gaps", "npu_gaps", "verifies", "batches")  # fmt: skip
        starts = np.array([lo for lo, _hi in self.bounds])
        sums = {f: np.add.reduceat(getattr(res, f), starts) for f in names}
        out = []
        for k, (_lo, hi) in enumerate(self.bounds):
            seg = {f: float(sums[f][k]) for f in names}
            tail = float(res.npu_carry[hi - 1])  # verifications left when the last cycle ended
            seg["seconds"] += tail
            seg["npu_busy"] += tail
            out.append(seg)
        return out


class _Lookup:
    """Step costs of a row's tasks at its cycle's KV length, interpolated between knots."""

    def __init__(self, costs: _Costs, plat: np.ndarray, kv: np.ndarray) -> None:
        knots = costs.batch.knots
        pos = np.clip((kv - knots[0]) / (knots[1] - knots[0]), 0.0, knots.size - 1.000001)
        self.i = pos.astype(np.int64)
        self.f = pos - self.i
        self.plat, self.costs = plat, costs

    def _at(self, table: np.ndarray, rows: np.ndarray, col: np.ndarray) -> np.ndarray:
        p, i, f = self.plat[rows], self.i[rows], self.f[rows]
        col = np.clip(col, 0, table.shape[1] - 1)
        return table[p, col, i] * (1.0 - f) + table[p, col, i + 1] * f

    def row(self, table: np.ndarray) -> np.ndarray:
        """A (platform, knot) table at every row's KV length."""
        return table[self.plat, self.i] * (1.0 - self.f) + table[self.plat, self.i + 1] * self.f

    def verify(self, rows, tokens):
        v = self.costs.verify
        return self._at(v.seconds, rows, tokens - 1), self._at(v.joules, rows, tokens - 1)

    def preverify(self, rows, tokens):
        """Interpolated linearly between the tabled lengths ``PV_LENGTHS`` (and beyond)."""
        lengths = np.asarray(PV_LENGTHS, dtype=np.float64)
        hi = np.clip(np.searchsorted(lengths, tokens), 1, lengths.size - 1)
        w = (tokens - lengths[hi - 1]) / (lengths[hi] - lengths[hi - 1])
        pre = self.costs.pre
        out = []
        for table in (pre.seconds, pre.joules):
            lo_v, hi_v = self._at(table, rows, hi - 1), self._at(table, rows, hi)
            out.append(lo_v + (hi_v - lo_v) * w)
        return out[0], out[1]


def _rows(parts, cfgs, plans, point, costs: _Costs) -> _Rows:
    """Stack the cycles of every (point, corner) and price them with the point's costs."""
    width = max(d.sizes.shape[1] for _i, _w, d in parts)
    counts = [d.runs.size for _i, _w, d in parts]
    bounds = np.cumsum([0, *counts])

    def cat(field: str) -> np.ndarray:  # the parts' (cycle, batch) tables, stacked and padded
        first = getattr(parts[0][2], field)
        out = np.zeros((int(bounds[-1]), width), dtype=first.dtype)
        for k, (_i, _w, d) in enumerate(parts):
            block = getattr(d, field)
            out[bounds[k] : bounds[k + 1], : block.shape[1]] = block
        return out

    owner = np.repeat([i for i, _w, _d in parts], counts)
    plat = point[owner]
    anchors = np.concatenate([d.anchors for _i, _w, d in parts])
    prompt = np.array([cfgs[i].prompt_len for i in range(len(cfgs))], dtype=np.float64)[owner]
    bucket = np.array([cfgs[i].kv_bucket for i in range(len(cfgs))], dtype=np.float64)[owner]
    gtsu = np.array([plans[i].use_gtsu for i in range(len(cfgs))])[owner]
    first = np.zeros(owner.size, bool)
    first[bounds[:-1]] = True
    look = _Lookup(costs, plat, np.ceil((prompt + anchors) / bucket) * bucket)
    sw = costs.switch
    x = CycleInputs(
        sizes=cat("sizes"), stops=cat("stops"), pv_n=cat("pv_n"), pv_hit=cat("pv_hit"),
        run=np.concatenate([d.runs for _i, _w, d in parts]),
        last=np.concatenate([d.last for _i, _w, d in parts]), first=first,
        draft_s=look.row(costs.draft.seconds[:, 0]), draft_j=look.row(costs.draft.joules[:, 0]),
        switch_s=np.where(gtsu, sw[True][0][plat], sw[False][0][plat]),
        switch_j=np.where(gtsu, sw[True][1][plat], sw[False][1][plat]),
        r_dv=look.row(costs.r_dv), r_pv=look.row(costs.r_pv),
        r_sw=np.where(gtsu, look.row(costs.r_sw[True]), look.row(costs.r_sw[False])),
        costs=look,
    )  # fmt: skip
    return _Rows(x, [(int(bounds[k]), int(bounds[k + 1])) for k in range(len(parts))])


# --- the autoregressive baseline (``systems.base.ar_baseline``) ------------------------------
def _ar(cfgs, batch: PointBatch, point, verify, out) -> None:
    pkg = batch.package
    floor = (pkg["draft"] + pkg["target"] + pkg["both"] + pkg["none"]) * (
        pkg["down_w"] + pkg["refresh_w"] + pkg["leak_w"]
    )
    target_w = (pkg["target"] + pkg["both"]) * (pkg["active_w"] - pkg["down_w"])
    for i, cfg in enumerate(cfgs):
        p = int(point[i])
        kv = np.arange(cfg.prompt_len, cfg.prompt_len + cfg.tokens, dtype=np.float64)
        kv = np.ceil(kv / cfg.kv_bucket) * cfg.kv_bucket
        pts = np.full(kv.size, p)
        s = float(at_kv(verify.seconds[:, 0], batch.knots, pts, kv).sum())
        j = float(at_kv(verify.joules[:, 0], batch.knots, pts, kv).sum())
        j += (batch.static_w[p] + floor[p] + target_w[p]) * s
        out["ar_throughput_tok_s"][i] = cfg.tokens / s
        out["ar_tokens_per_joule"][i] = cfg.tokens / j
