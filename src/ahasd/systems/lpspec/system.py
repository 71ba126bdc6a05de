"""``lpspec`` (LP-Spec, ICCAD'25) and its GEMV-PIM speculative baseline ``lpspec-pim-si``.

LP-Spec ([lpspec25]): the target (``config.target``) verifies a Medusa tree each
iteration. The tree comes from per-(head, rank) accuracies refreshed after every verification
and is pruned by the hardware-aware DTP (:mod:`.tree`); every matrix operator of the
verification and of the heads is column-split NPU/PIM by the DAU so both finish together, with
the near-data controller letting NPU traffic to the DRAM rank overlap PIM compute
(:mod:`.dau`, :mod:`.cost`). Acceptance is greedy: the target's token at depth d
must be among the tree's children at that depth (``target_rank`` from the trace, read as the
rank under head d). ``config.draft`` and the chain drafting policy are not used.

Baselines on the same substrate: the mobile NPU autoregressive (``ar_*`` fields, closed form),
GEMV-PIM autoregressive (Samsung LPDDR5-PIM, 102.4 GOPS per die, one token per weight pass;
closed form in ``extras["baselines"]``), and GEMV-PIM running SI (system ``lpspec-pim-si``: a
static Medusa tree of ``static_tree_nodes`` nodes, matrix ops on PIM, non-linear ops on the NPU).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import numpy as np

from ahasd.errors import field_error
from ahasd.hardware import load_platform
from ahasd.sim.kernel import Kernel
from ahasd.sim.metrics import Metrics
from ahasd.sim.result import Result
from ahasd.sim.timeline import Timelines
from ahasd.systems.base import SYSTEMS, RunContext, System, build_result, kv_groups
from ahasd.systems.lpspec.cost import LpSpecCosts, lpspec_memory
from ahasd.systems.lpspec.tree import HeadStats, greedy_order, prune

# Samsung LPDDR5-PIM as LP-Spec's GEMV baseline: 102.4 GOPS per die, one token per weight pass
# ([lpspec25] §VI, [samsung-lpddr5-pim]).
GEMV_PIM_OVERRIDES: dict[str, Any] = {"pim.alu_gops": 102.4, "pim.n_alu": 1}


@dataclass(frozen=True, slots=True)
class LpSpecOptions:
    """Knobs of the LP-Spec mechanisms (defaults: [capim]'s reconstruction)."""

    n_heads: int = 5  # Medusa heads ([capim]: 5 in the reconstruction)
    top_k: int = 10  # candidates per head (Medusa trees use up to ~10 at depth 1)
    max_nodes: int = 64  # Medusa's static trees have ~63 nodes ([medusa])
    objective: Literal["both", "edp", "latency", "energy"] = "both"
    use_pruner: bool = True  # False: a static tree of static_tree_nodes nodes
    static_tree_nodes: int = 63  # mc_sim_7b_63 size ([medusa])
    use_nmc: bool = True  # near-data controller: NPU and PIM overlap on split operators
    mode: Literal["dau", "pim", "npu"] = "dau"

    def __post_init__(self) -> None:
        for name in ("n_heads", "top_k", "max_nodes", "static_tree_nodes"):
            if getattr(self, name) < 1:
                raise field_error(name, getattr(self, name), "an integer >= 1")


@dataclass(frozen=True, slots=True)
class IterDone:
    task_id: int


class _Loop:
    """Per-run state: one event per iteration (heads + tree verification)."""

    def __init__(self, ctx: RunContext, costs: LpSpecCosts, opts: LpSpecOptions) -> None:
        self.ctx, self.costs, self.opts = ctx, costs, opts
        self.ranks = np.asarray(ctx.trace.target_rank, dtype=np.int64).tolist()
        match = np.asarray(ctx.trace.target_rank) < opts.top_k
        self.metrics = Metrics(ctx.n, match)
        self.timelines = Timelines(tuple(ctx.platform.devices))
        self.kernel = Kernel({IterDone: self._on_done})
        self.stats = HeadStats(opts.n_heads, opts.top_k)
        self.lookahead = max(1, int(ctx.platform.device("pim").n_alu))
        self.prompt = ctx.config.prompt_len
        self.pending: list[int] = []  # iteration start positions whose heads await the truth
        self.sizes: list[int] = []
        self.r_npu: list[float] = []
        self.next_id = 0
        self.depth = 0
        self._start()

    def _tree(self, kv: int):
        acc = self.stats.accuracy()
        o = self.opts
        if not o.use_pruner:
            return greedy_order(acc, o.static_tree_nodes)
        return prune(
            acc,
            lambda n: self.costs.with_static(n + 1, kv),
            max_nodes=o.max_nodes,
            objective=o.objective,
            lookahead=self.lookahead,
        )

    def _start(self) -> None:
        c = self.metrics.committed
        kv = self.prompt + c
        self.pending.append(c)
        tree = self._tree(kv)
        window = self.ranks[c : min(c + self.opts.n_heads, self.ctx.n)]
        self.depth = tree.accepted_depth(window)
        cost = self.costs(tree.size + 1, kv)
        self.next_id += 1
        start = self.kernel.now
        for dev, secs in cost.engine_s.items():
            if secs > 0:
                self.timelines.record(
                    dev,
                    "verify",
                    start,
                    start + secs,
                    "tree-verify",
                    self.next_id,
                    args=(("nodes", tree.size),),
                )
        self.metrics.on_task_energy(cost.energy)
        if tree.size:
            self.metrics.on_draft(tree.size)
        self.sizes.append(tree.size)
        self.r_npu.append(cost.r_npu)
        self.kernel.schedule(IterDone(self.next_id), cost.seconds)

    def _on_done(self, ev: IterDone) -> None:
        m, c, a = self.metrics, self.metrics.committed, self.depth
        m.on_verify(a < self.opts.n_heads)
        m.on_commit(c, a, 1)
        self._learn(c, m.committed)
        if m.committed < self.ctx.n:
            self._start()

    def _learn(self, old: int, new: int) -> None:
        """Heads' predictions made at earlier starts s are checked once position s + d - 1 is
        committed (delayed feedback: every head learns, whatever the tree kept)."""
        k = self.opts.n_heads
        for s in self.pending:
            for j in range(max(old, s), min(new, s + k)):
                self.stats.observe_one(j - s, self.ranks[j])
        self.pending = [s for s in self.pending if s + k > new]


def closed_form_ar(ctx: RunContext, costs: LpSpecCosts) -> tuple[float, float]:
    """Autoregressive decoding (one token per step, no heads): (tok/s, tok/J) incl. static."""
    seconds = joules = 0.0
    for kv, count in kv_groups(ctx.config.prompt_len, ctx.n, ctx.config.kv_bucket):
        c = costs(1, kv, heads=False)
        seconds += c.seconds * count
        joules += c.joules * count
    joules += costs.static_w * seconds
    return ctx.n / seconds, (ctx.n / joules if joules > 0 else math.inf)  # no energy modelled


def _costs(ctx: RunContext, platform: Any, mode: str, opts: LpSpecOptions) -> LpSpecCosts:
    cfg = ctx.config
    mem = lpspec_memory(platform, ctx.target, precision=cfg.precision,
                        kv_tokens=cfg.prompt_len + cfg.tokens)  # fmt: skip
    return LpSpecCosts(
        platform,
        ctx.target,
        mode=mode,
        precision=cfg.precision,
        n_heads=opts.n_heads,
        kv_bucket=cfg.kv_bucket,
        concurrent=opts.use_nmc,
        mem=mem,
    )


def run_lpspec(ctx: RunContext, system: type[System], opts: LpSpecOptions) -> Result:
    """Simulate LP-Spec (or a variant given by ``opts``) on a prepared context."""
    if ctx.config.decoding != "greedy":
        raise field_error("decoding", ctx.config.decoding, "greedy (trees are verified greedily)")
    gemv = load_platform(
        ctx.config.platform, {**ctx.config.platform_overrides, **GEMV_PIM_OVERRIDES}
    )
    if opts.mode == "pim":
        ctx.platform = gemv
    costs = _costs(ctx, ctx.platform, opts.mode, opts)
    ctx.mem = costs.mem
    if costs.mem is not None:
        ctx.warnings.extend(costs.mem.warnings)
    loop = _Loop(ctx, costs, opts)
    loop.kernel.run()
    npu_ar = closed_form_ar(ctx, _costs(ctx, ctx.platform, "npu", opts))
    gemv_ar = closed_form_ar(ctx, _costs(ctx, gemv, "pim", opts))
    extras = {
        "iterations": loop.metrics.verifications,
        "mean_tree_nodes": float(np.mean(loop.sizes)),
        "mean_r_npu": float(np.mean(loop.r_npu)),
        "options": {k: getattr(opts, k) for k in opts.__slots__},
        "head_accuracy": loop.stats.accuracy().round(4).tolist(),
        "baselines": {
            "npu-ar": {"throughput_tok_s": npu_ar[0], "tokens_per_joule": npu_ar[1]},
            "gemv-pim-ar": {"throughput_tok_s": gemv_ar[0], "tokens_per_joule": gemv_ar[1]},
        },
        "gemv_pim_overrides": GEMV_PIM_OVERRIDES,
        "r_npu_max": costs.r_max,
    }
    prefill = _costs(ctx, ctx.platform, "npu", opts)(ctx.config.prompt_len, 0, heads=False)
    return build_result(
        ctx,
        system,
        wall_s=loop.kernel.now,
        metrics=loop.metrics,
        timelines=loop.timelines,
        ar=npu_ar,
        prefill_s=prefill.seconds,
        extras=extras,
        prefill=(prefill.seconds, prefill.joules + costs.static_w * prefill.seconds),
    )


class _LpSpecBase(System):
    default_platform = "lpspec-mobile"
    default_target = "llama2-7b"  # [lpspec25]'s model; the 13B does not fit its 3 PIM ranks
    required_devices = ("npu", "pim")
    options: ClassVar[LpSpecOptions] = LpSpecOptions()

    def run(self, ctx: RunContext) -> Result:
        return run_lpspec(ctx, type(self), self.options)


@SYSTEMS.register("lpspec")
class LpSpec(_LpSpecBase):
    name = "lpspec"


@SYSTEMS.register("lpspec-pim-si")
class LpSpecPimSi(_LpSpecBase):
    """GEMV-PIM running speculative inference: static Medusa tree, no DAU, no pruning."""

    name = "lpspec-pim-si"
    options = LpSpecOptions(mode="pim", use_pruner=False)


def simulate_lpspec(config: Any, options: LpSpecOptions | None = None) -> Result:
    """``simulate`` for LP-Spec with explicit mechanism options (ablations, report, CLI)."""
    from ahasd.sim.config import SimConfig
    from ahasd.systems.base import prepare, resolve_platform

    cfg = config if isinstance(config, SimConfig) else SimConfig(**config)
    opts = options or LpSpecOptions()
    system = LpSpecPimSi if opts.mode == "pim" else LpSpec
    explicit = "platform" in cfg.model_fields_set
    cfg = resolve_platform(cfg.model_copy(update={"system": system.name}), system, explicit)
    return run_lpspec(prepare(cfg, system), system, replace(opts))
