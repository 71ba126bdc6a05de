"""SpecPIM GA: operators keep genomes valid, the search is deterministic, and it beats AttAcc."""

from __future__ import annotations

import numpy as np
import pytest

from ahasd.errors import AhasdError
from ahasd.explore import specpim_ga as ga
from ahasd.explore.specpim_eval import Evaluator, Genome, repair, total_units
from ahasd.models import load_model

N = 15  # operators per decoder step (models.ops)


def _valid(g: Genome) -> bool:
    return (
        0 <= g.draft_units <= g.pim_units <= total_units(g.memory)
        and len(g.draft_pim) == len(g.target_pim) == N
        and (g.draft_units > 0 or not any(g.draft_pim))
        and (g.pim_units - g.draft_units > 0 or not any(g.target_pim))
    )


@pytest.fixture(scope="module")
def ev() -> Evaluator:
    alpha, gamma = 0.8, 4
    tau = (1 - alpha ** (gamma + 1)) / (1 - alpha)
    return Evaluator(
        load_model("opt-1.3b"), load_model("opt-6.7b"), gamma=gamma, tau=tau, p_full=alpha**gamma
    )


def test_operators_always_produce_valid_genomes():
    rng = np.random.default_rng(1)
    pop = [ga.random_genome(rng, N, N) for _ in range(30)]
    for _ in range(200):
        a, b = pop[int(rng.integers(30))], pop[int(rng.integers(30))]
        for child in (
            ga.crossover(a, b, rng),
            ga.mutate_arch(a, rng),
            ga.mutate_dataflow(a, rng, 0.1),
            ga.mutate_mode(a),
        ):
            assert _valid(child)


def test_dataflow_mutation_flips_at_least_one_operator():
    rng = np.random.default_rng(0)
    g = Genome("hbm2", 2, 1, False, (False,) * N, (False,) * N)
    for _ in range(20):
        m = ga.mutate_dataflow(g, rng, 0.0)
        assert (m.draft_pim, m.target_pim) != (g.draft_pim, g.target_pim)


def test_crossover_takes_each_gene_from_a_parent():
    rng = np.random.default_rng(3)
    a = Genome("hbm2", 4, 2, True, (True,) * N, (True,) * N)
    b = Genome("hbm2", 4, 2, False, (False,) * N, (False,) * N)
    c = ga.crossover(a, b, rng)
    assert c.pim_units == 4 and c.draft_units == 2
    assert 0 < sum(c.draft_pim) < N  # mixed, with overwhelming probability for seed 3


def test_repair_sends_ops_of_a_model_without_pim_to_the_xpu():
    g = repair(Genome("hbm2", 9, 9, False, (True,) * N, (True,) * N))
    assert g.pim_units == total_units("hbm2") and g.draft_units == g.pim_units
    assert not any(g.target_pim)


def test_search_is_deterministic_for_a_seed(ev):
    cfg = ga.GaConfig(population=16, generations=8, elite=4, seed=7)
    assert ga.search(ev, cfg)[:3] == ga.search(ev, cfg)[:3]


def test_search_is_at_least_as_good_as_attacc(ev):
    best = ga.search(ev, ga.GaConfig(population=32, generations=25, seed=0))[0]
    attacc = ga.exhaustive_attacc(ev, "latency")
    assert ev.evaluate(best)[0] <= ev.evaluate(attacc)[0] * (1 + 1e-9)


def test_round_stats_replay():
    runs = np.array([3, 2, 1, 0, 5, 4, 3, 2, 1, 0])
    tau, p_full = ga.round_stats(runs, 2, 10)
    # pos 0: k=3 -> +3; pos 3: k=0 -> +1; pos 4: k=5 -> +3; pos 7: k=2 -> +3 (stop)
    assert tau == pytest.approx(10 / 4)
    assert p_full == pytest.approx(3 / 4)


def test_bad_config_raises():
    with pytest.raises(AhasdError, match="population"):
        ga.GaConfig(population=1)
    with pytest.raises(AhasdError, match="objective"):
        ga.GaConfig(objective="speed")


def test_a_too_long_fixed_gamma_loses_to_a_shorter_one():
    alpha = 0.7
    d, t = load_model("opt-1.3b"), load_model("opt-6.7b")
    best = {}
    for gamma in (2, 8):
        tau = (1 - alpha ** (gamma + 1)) / (1 - alpha)
        ev = Evaluator(d, t, gamma=gamma, tau=tau, p_full=alpha**gamma)
        top = ga.search(ev, ga.GaConfig(population=24, generations=15, seed=0))[0]
        best[gamma] = ev.evaluate(top)[0]
    assert best[8] > best[2]


def test_the_specpim_system_runs_a_found_design():
    from ahasd.systems import simulate

    cfg = ga.GaConfig(population=8, generations=3, elite=2, seed=0)
    found = ga.explore_gamma("opt-1.3b", "opt-6.7b", 3, cfg, trace_tokens=512)
    design = found["best"]["design"]
    base = {"system": "specpim", "draft": "opt-1.3b", "target": "opt-6.7b", "tokens": 96}
    res = simulate(**base, specpim_design=design)
    assert res.extras["gamma"] == 3 and res.committed_tokens == 96
    assert res.extras["op_engine"] == design["op_engine"]
    # the map is really applied: the same design with every op flipped runs differently
    flip = {m: {op: ("gpu" if e == "pim" else "pim") for op, e in ops.items()}
            for m, ops in design["op_engine"].items()}  # fmt: skip
    other = simulate(**base, specpim_design={**design, "op_engine": flip})
    assert other.extras["op_engine"] == flip
    assert other.wall_s != pytest.approx(res.wall_s)
