"""Pareto fronts, the NSGA-II search and the `explore specpim` delegation."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from ahasd.errors import AhasdError
from ahasd.explore.pareto import pareto_mask, parse_objectives


def test_pareto_mask_keeps_exactly_the_non_dominated_points():
    vals = np.array([[1.0, 5.0], [2.0, 4.0], [1.5, 3.0], [3.0, 1.0], [np.nan, 9.0]])
    # maximise both: (1.5, 3) is dominated by (2, 4); the NaN row never counts
    assert pareto_mask(vals, [True, True]).tolist() == [True, True, False, True, False]
    # minimise the second instead: (3, 1) is best on both and dominates everything
    assert pareto_mask(vals, [True, False]).tolist() == [False, False, False, True, False]


def test_objective_names_are_checked():
    assert [o.column for o in parse_objectives("throughput,area")] == [
        "throughput_tok_s",
        "area_mm2",
    ]
    assert parse_objectives("min:wall_s")[0].maximize is False
    with pytest.raises(AhasdError, match="objectives"):
        parse_objectives("speed")
    with pytest.raises(AhasdError, match="result column"):
        parse_objectives("max:nosuchcol")  # refused before any point runs (issue 17)
    assert parse_objectives("max:memory.utilisation")[0].column == "memory.utilisation"


def test_explore_specpim_delegates_to_the_ga(cli, monkeypatch):
    calls = []
    fake = types.ModuleType("ahasd.explore.specpim_ga")

    def run_cli(
        *,
        draft=None,
        target=None,
        gamma=None,
        seed=0,
        generations=None,
        population=None,
        json_out=False,
    ):
        calls.append(dict(draft=draft, target=target, gamma=gamma, seed=seed, json_out=json_out))

    fake.run_cli = run_cli
    monkeypatch.setitem(sys.modules, "ahasd.explore.specpim_ga", fake)
    run = cli(
        [
            "explore",
            "specpim",
            "--draft",
            "llama2-7b",
            "--target",
            "llama2-13b",
            "--gamma",
            "4",
            "--json",
        ]
    )
    assert run.code == 0, run.err
    assert calls == [dict(draft="llama2-7b", target="llama2-13b", gamma=4, seed=0, json_out=True)]


def test_explore_writes_front_table_and_plot(cli, tmp_path):
    pytest.importorskip("optuna")
    pytest.importorskip("ahasd.policies.edc", reason="needs ahasd.policies.edc (issue 3)")
    spec = tmp_path / "e.yaml"
    spec.write_text(
        "name: e\nmode: analytic\nbase: {system: ahasd, tokens: 64}\n"
        "axes:\n  platform_overrides.pim.n_alu: [1, 2, 4]\n  use_aau: [true, false]\n"
        "  policy_args.max_len: [2, 4, 8]\n"
    )
    out = tmp_path / "out"
    run = cli(
        [
            "explore",
            spec,
            "--objectives",
            "throughput,tokens_per_joule,area",
            "--trials",
            "12",
            "--population",
            "4",
            "--confirm",
            "2",
            "--jobs",
            "1",
            "--out",
            out,
        ]
    )
    assert run.code == 0, run.err
    assert (out / "pareto.png").stat().st_size > 1000
    assert "Pareto front" in run.out
    import pyarrow.parquet as pq

    rows = pq.read_table(out / "explore.parquet").to_pylist()
    modes = [r["mode"] for r in rows]
    assert modes.count("analytic") == 12 and 1 <= modes.count("event") <= 2
    # each event row names the analytic trial it confirms and how far the two differed
    assert "Confirmed by the event simulator" in run.out and "largest analytic vs event" in run.out
    by_trial = {r["trial"]: r for r in rows if r["mode"] == "analytic"}
    for ev in (r for r in rows if r["mode"] == "event"):
        screened = by_trial[ev["confirms"]]
        assert screened["confirmed"] is True
        for m in ("throughput_tok_s", "tokens_per_joule"):
            assert ev[f"analytic.{m}"] == screened[m]
            assert ev[f"event_vs_analytic.{m}"] == pytest.approx(ev[m] / screened[m] - 1)
            assert abs(ev[f"event_vs_analytic.{m}"]) < 0.1
