"""SpecPIM's architecture + dataflow co-exploration: a genetic algorithm per (model pair, γ).

[saddle26], [h2llm] (SpecPIM searches offline with a GA, one design per draft length; the H2-LLM
artifact's operators: re-sample, mutations at several depths, crossover, top-K selection) and
[specpim24] (what the genome holds). The evaluator is :mod:`specpim_eval`. Every random draw comes
from one ``numpy`` Generator seeded by ``seed``, so a search is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from ahasd.errors import field_error
from ahasd.explore.specpim_eval import MEMORY_SWITCH, Evaluator, Genome, repair, total_units
from ahasd.validation import json_text

Objective = Literal["latency", "energy", "edp"]
OBJECTIVES = ("latency", "energy", "edp")


@dataclass(frozen=True, slots=True)
class GaConfig:
    """GA knobs (small defaults: the space is ~2^30, one evaluation is microseconds)."""

    population: int = 48
    generations: int = 40
    elite: int = 8  # top-K kept unchanged each generation
    tournament: int = 3
    p_resample: float = 0.05
    p_crossover: float = 0.6
    p_flip_op: float = 0.08  # per-operator flip probability in the deep mutation
    seed: int = 0
    objective: Objective = "latency"

    def __post_init__(self) -> None:
        if self.population < 2:
            raise field_error("population", self.population, "an integer >= 2")
        if self.generations < 1:
            raise field_error("generations", self.generations, "an integer >= 1")
        if not 1 <= self.elite < self.population:
            raise field_error("elite", self.elite, f"1..{self.population - 1}")
        if self.objective not in OBJECTIVES:
            raise field_error("objective", self.objective, ", ".join(OBJECTIVES))


# ---- genetic operators (pure functions of a Generator) ------------------------------------
def random_genome(rng: np.random.Generator, n_draft: int, n_target: int) -> Genome:
    """Re-sample: a uniformly random design."""
    memory = sorted(MEMORY_SWITCH)[int(rng.integers(len(MEMORY_SWITCH)))]
    units = total_units(memory)
    pim = int(rng.integers(0, units + 1))
    draft = int(rng.integers(0, pim + 1))
    return repair(
        Genome(
            memory,
            pim,
            draft,
            bool(rng.integers(2)),
            tuple(bool(b) for b in rng.integers(0, 2, n_draft)),
            tuple(bool(b) for b in rng.integers(0, 2, n_target)),
        )
    )


def mutate_arch(g: Genome, rng: np.random.Generator) -> Genome:
    """Shallow mutation: move one PIM stack in or out, or between the two models."""
    choice = int(rng.integers(3))
    step = 1 if rng.integers(2) else -1
    if choice == 0:
        return repair(replace(g, pim_units=g.pim_units + step))
    if choice == 1:
        return repair(replace(g, draft_units=g.draft_units + step))
    other = sorted(set(MEMORY_SWITCH) - {g.memory})[0]
    return repair(replace(g, memory=other))


def mutate_dataflow(g: Genome, rng: np.random.Generator, p_flip: float) -> Genome:
    """Deep mutation: flip each operator's engine with probability ``p_flip`` (at least one)."""
    d = np.array(g.draft_pim, dtype=bool)
    t = np.array(g.target_pim, dtype=bool)
    flips_d = rng.random(d.size) < p_flip
    flips_t = rng.random(t.size) < p_flip
    if not flips_d.any() and not flips_t.any():
        k = int(rng.integers(d.size + t.size))
        (flips_d if k < d.size else flips_t)[k % d.size if k < d.size else k - d.size] = True
    return repair(
        replace(
            g,
            draft_pim=tuple(bool(x) for x in d ^ flips_d),
            target_pim=tuple(bool(x) for x in t ^ flips_t),
        )
    )


def mutate_mode(g: Genome) -> Genome:
    """Flip serial/concurrent draft-target execution."""
    return replace(g, concurrent=not g.concurrent)


def crossover(a: Genome, b: Genome, rng: np.random.Generator) -> Genome:
    """Uniform crossover: architecture block from one parent, each operator from either."""
    arch = a if rng.integers(2) else b
    pick_d = rng.integers(0, 2, len(a.draft_pim)).astype(bool)
    pick_t = rng.integers(0, 2, len(a.target_pim)).astype(bool)
    d = tuple(bool(x) for x in np.where(pick_d, a.draft_pim, b.draft_pim))
    t = tuple(bool(x) for x in np.where(pick_t, a.target_pim, b.target_pim))
    mode = a.concurrent if rng.integers(2) else b.concurrent
    return repair(Genome(arch.memory, arch.pim_units, arch.draft_units, mode, d, t))


# ---- the search ---------------------------------------------------------------------------
def score(ev: Evaluator, g: Genome, objective: str) -> float:
    s, j = ev.evaluate(g)
    return {"latency": s, "energy": j, "edp": s * j}[objective]


def _child(pop: list[Genome], fit: list[float], cfg: GaConfig, rng, sizes) -> Genome:
    if rng.random() < cfg.p_resample:
        return random_genome(rng, *sizes)

    def pick() -> Genome:
        idx = rng.integers(0, len(pop), cfg.tournament)
        return pop[int(min(idx, key=lambda i: (fit[i], i)))]

    child = crossover(pick(), pick(), rng) if rng.random() < cfg.p_crossover else pick()
    r = rng.random()
    if r < 0.3:
        return mutate_arch(child, rng)
    if r < 0.8:
        return mutate_dataflow(child, rng, cfg.p_flip_op)
    if r < 0.9:
        return mutate_mode(child)
    return child


def search(ev: Evaluator, cfg: GaConfig, *, on_gen: Callable | None = None) -> list[Genome]:
    """Run the GA; returns the final population, best first (ties broken by the genome)."""
    rng = np.random.default_rng(cfg.seed)
    sizes = (len(ev.draft_ops), len(ev.target_ops))
    pop = [random_genome(rng, *sizes) for _ in range(cfg.population)]
    cache: dict[Genome, float] = {}

    def fitness(g: Genome) -> float:
        if g not in cache:
            cache[g] = score(ev, g, cfg.objective)
        return cache[g]

    def ranked(gs: list[Genome]) -> list[Genome]:
        uniq = list(dict.fromkeys(gs))
        return sorted(uniq, key=lambda g: (fitness(g), repr(g)))

    for gen in range(cfg.generations):
        pop = ranked(pop)
        fit = [fitness(g) for g in pop]
        if on_gen is not None:
            on_gen(gen, fit[0])
        nxt = pop[: cfg.elite]
        while len(nxt) < cfg.population:
            nxt.append(_child(pop, fit, cfg, rng, sizes))
        pop = nxt
    return ranked(pop)


def round_stats(runs: Sequence[int], gamma: int, n_tokens: int) -> tuple[float, float]:
    """(tokens per round, fraction of rounds fully accepted) replaying a fixed γ."""
    pos = rounds = full = 0
    while pos < n_tokens:
        k = int(runs[pos])
        full += k >= gamma
        pos += min(gamma, k) + 1
        rounds += 1
    return n_tokens / rounds, full / rounds


def exhaustive_attacc(ev: Evaluator, objective: str) -> Genome:
    """AttAcc's mapping (attention -> PIM, FC -> host) on its best architecture (enumerated).

    Both models keep at least one PIM stack, so their attention really runs in memory.
    """
    best = None
    for memory in sorted(MEMORY_SWITCH):
        for pim in range(2, total_units(memory) + 1):
            for draft in range(1, pim):
                for conc in (False, True):
                    g = ev.attacc(memory, pim, draft, conc)
                    key = (score(ev, g, objective), repr(g))
                    if best is None or key < best[0]:
                        best = (key, g)
    return best[1]


def explore_gamma(
    draft: str, target: str, gamma: int, cfg: GaConfig, *, trace_tokens: int = 4096
) -> dict[str, Any]:
    """Search one γ; returns the best design, its metrics and the AttAcc baseline's."""
    from ahasd.models import load_model
    from ahasd.traces import default_profile, synthesize

    if not 1 <= gamma <= 16:
        raise field_error("gamma", gamma, "1..16")
    profile = default_profile(draft, target)
    trace = synthesize(profile, trace_tokens, cfg.seed)
    tau, p_full = round_stats(trace.match_runs(), gamma, len(trace))
    ev = Evaluator(load_model(draft), load_model(target), gamma=gamma, tau=tau, p_full=p_full)
    best = search(ev, cfg)[0]
    attacc = exhaustive_attacc(ev, cfg.objective)

    def metrics(g: Genome) -> dict[str, float]:
        s, j = ev.evaluate(g)
        return {"tokens_per_s": 1.0 / s, "tokens_per_joule_dynamic": 1.0 / j}

    return {
        "draft": draft,
        "target": target,
        "gamma": gamma,
        "profile": profile,
        "tau": tau,
        "p_full": p_full,
        "seed": cfg.seed,
        "objective": cfg.objective,
        "best": {**metrics(best), "design": best.to_design(ev.op_names, gamma)},
        "attacc": {**metrics(attacc), "design": attacc.to_design(ev.op_names, gamma)},
    }


CLI_GAMMAS = tuple(range(1, 9))  # what `explore specpim` searches without --gamma


def cli_config(*, population: int = 48, generations: int = 40, seed: int = 0) -> GaConfig:
    """The GA settings ``ahasd explore specpim`` uses for these options (the report reuses it,
    so the command it quotes gives the same numbers)."""
    return GaConfig(
        population=population,
        generations=generations,
        seed=seed,
        elite=max(1, min(8, population - 1)),
    )


def run_cli(
    *,
    draft: str = "llama2-7b",
    target: str = "llama2-13b",
    gamma: int | None = None,
    seed: int = 0,
    generations: int = 40,
    population: int = 48,
    json_out: bool = False,
) -> None:
    """``ahasd explore specpim``: best design per γ (all of 1..8 unless ``gamma`` is given)."""
    cfg = cli_config(population=population, generations=generations, seed=seed)
    gammas = [gamma] if gamma is not None else list(CLI_GAMMAS)
    rows = [explore_gamma(draft, target, g, cfg) for g in gammas]
    if json_out:
        print(json_text(rows, indent=1, sort_keys=True))
        return
    _print(rows)


def _print(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"SpecPIM GA: {rows[0]['draft']} -> {rows[0]['target']} "
        f"(seed {rows[0]['seed']}, objective {rows[0]['objective']})"
    )
    for col in (
        "γ",
        "τ",
        "best tok/s",
        "AttAcc tok/s",
        "ratio",
        "memory",
        "PIM d/t",
        "mode",
        "ops on PIM d/t",
    ):
        table.add_column(col)
    for r in rows:
        arch = r["best"]["design"]["arch"]
        eng = r["best"]["design"]["op_engine"]
        on_pim = [sum(v == "pim" for v in eng[m].values()) for m in ("draft", "target")]
        table.add_row(
            str(r["gamma"]),
            f"{r['tau']:.2f}",
            f"{r['best']['tokens_per_s']:.1f}",
            f"{r['attacc']['tokens_per_s']:.1f}",
            f"{r['best']['tokens_per_s'] / r['attacc']['tokens_per_s']:.2f}x",
            arch["memory"],
            f"{arch['draft_units']}/{arch['target_units']}",
            "concurrent" if arch["concurrent"] else "serial",
            f"{on_pim[0]}/{on_pim[1]}",
        )
    Console().print(table)
