"""The lpspec system: commits the trace, is deterministic, and its DAU/NMC/N_ALU rules hold."""

from __future__ import annotations

import pytest

from ahasd.errors import AhasdError
from ahasd.hardware import load_platform
from ahasd.models import load_model
from ahasd.systems.lpspec import LpSpecOptions, simulate_lpspec
from ahasd.systems.lpspec.compare import dau_table
from ahasd.systems.lpspec.cost import LpSpecCosts

BASE = {
    "draft": "llama2-7b",
    "target": "llama2-7b",
    "profile": "llama2-7b-medusa",
    "tokens": 192,
    "seed": 3,
}


@pytest.fixture(scope="module")
def result():
    return simulate_lpspec(BASE)


def test_commits_every_token_and_reports_baselines(result):
    assert result.system == "lpspec"
    assert result.committed_tokens == BASE["tokens"]
    assert result.config["platform"] == "lpspec-mobile"
    base = result.extras["baselines"]
    assert base["npu-ar"]["throughput_tok_s"] == pytest.approx(result.ar_throughput_tok_s)
    assert base["gemv-pim-ar"]["throughput_tok_s"] > 0
    assert 0 <= result.extras["mean_tree_nodes"] <= LpSpecOptions().max_nodes


def test_deterministic_for_a_seed(result):
    again = simulate_lpspec(BASE)
    assert again.to_dict() == result.to_dict()


def test_static_tree_and_gemv_pim_si_variants_run():
    static = simulate_lpspec(BASE, LpSpecOptions(use_pruner=False, static_tree_nodes=15))
    assert static.extras["mean_tree_nodes"] == 15
    si = simulate_lpspec(BASE, LpSpecOptions(mode="pim", use_pruner=False, static_tree_nodes=7))
    assert si.system == "lpspec-pim-si"
    assert si.committed_tokens == BASE["tokens"]


def test_the_near_data_controller_overlap_never_hurts():
    plat, model = load_platform("lpspec-mobile"), load_model("llama2-7b")

    def costs(concurrent: bool) -> LpSpecCosts:
        return LpSpecCosts(
            plat,
            model,
            mode="dau",
            precision="int8",
            n_heads=5,
            kv_bucket=64,
            concurrent=concurrent,
        )

    with_nmc, without = costs(True), costs(False)
    for n in (1, 4, 9, 33):
        assert with_nmc(n, 256).seconds <= without(n, 256).seconds
    assert with_nmc(33, 256).seconds < 0.9 * without(33, 256).seconds
    assert 0.0 < with_nmc(4, 256).r_npu < 1.0
    res = simulate_lpspec(BASE, LpSpecOptions(use_nmc=False))
    assert res.committed_tokens == BASE["tokens"]


def test_sampled_decoding_is_refused():
    with pytest.raises(AhasdError, match="decoding"):
        simulate_lpspec({**BASE, "decoding": "sampled"})


def test_dau_split_is_never_slower_than_either_engine():
    for row in dau_table(target="llama2-7b", platform="lpspec-mobile", kv=256, max_nodes=8):
        assert row["split_s"] <= min(row["npu_s"], row["pim_s"]) * 1.001 + 1e-4
        assert 0.0 < row["r_npu"] < 1.0


def test_pim_time_steps_by_n_alu_when_memory_bound():
    # LP-Spec's text reading (409.6 GB/s internal) makes PIM weight passes dominate
    plat = load_platform("lpspec-mobile", {"switches.internal_bw": "text"})
    costs = LpSpecCosts(
        plat, load_model("llama2-7b"), mode="pim", precision="int8", n_heads=0, kv_bucket=64
    )
    t = {n: costs(n, 128, heads=False).seconds for n in (1, 4, 5, 8, 9)}
    assert t[4] - t[1] < 0.1 * t[1]  # one pass serves N_ALU = 4 tokens
    assert t[5] > 1.6 * t[4]  # the fifth token needs a second pass
    assert t[8] - t[5] < 0.1 * t[5]
    assert t[9] > 1.3 * t[8]


def test_pim_time_steps_by_n_alu_in_the_default_reading():
    # compute-bound (51.2 TB/s internal): each ALU serves one token, so tokens 1..4 share one
    # pass of ALU time and the fifth opens the next (LP-Spec V-B)
    rows = dau_table(target="llama2-7b", platform="lpspec-mobile", kv=256, max_nodes=8)
    pim = {r["tokens"]: r["pim_s"] for r in rows}
    assert pim[4] == pytest.approx(pim[1], rel=0.01)
    assert pim[5] > 1.7 * pim[4]
    assert pim[8] == pytest.approx(pim[5], rel=0.01)
    assert pim[9] > 1.3 * pim[8]


def test_one_alu_per_token_is_slower_for_one_token_than_spreading_it():
    # the same 409.6 GOPS organised as 4 token-parallel ALUs: a lone token gets a quarter
    one = load_platform("lpspec-mobile", {"pim.n_alu": 1})
    four = load_platform("lpspec-mobile")
    model = load_model("llama2-7b")

    def pim_s(plat, n):
        c = LpSpecCosts(plat, model, mode="pim", precision="int8", n_heads=0, kv_bucket=64)
        return c(n, 128, heads=False).seconds

    assert pim_s(four, 1) > 3.0 * pim_s(one, 1)
    assert pim_s(four, 4) == pytest.approx(pim_s(one, 4), rel=0.05)


def test_the_pruner_grows_a_tree_that_fits_the_pim_pass(result):
    # speculation happens (not AR in disguise) and the tree is not grown past what pays
    assert 1.0 <= result.extras["mean_tree_nodes"] <= 7.0
    assert result.tau > 1.0
