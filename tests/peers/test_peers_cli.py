"""CLI: edge-plan and lpspec-dau print tables or JSON; bad input exits 2 with one line."""

from __future__ import annotations

import json


def test_edge_plan_json(cli):
    run = cli(
        [
            "edge-plan",
            "--draft",
            "llama-3.2-1b",
            "--target",
            "llama-3.2-3b",
            "--platform",
            "edge-imx95",
            "--tokens",
            "128",
            "--json",
        ]
    )
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert len(data["plans"]) == 34
    speedups = [p["speedup"] for p in data["plans"]]
    assert speedups == sorted(speedups, reverse=True)


def test_edge_plan_table_with_simulation(cli):
    run = cli(["edge-plan", "--platform", "edge-imx95", "--tokens", "96", "--simulate"])
    assert run.code == 0, run.err
    assert "gap %" in run.out


def test_edge_plan_bad_platform(cli):
    run = cli(["edge-plan", "--platform", "nowhere"])
    assert run.code == 2
    assert run.err.startswith("error:") and len(run.err.strip().splitlines()) == 1


def test_lpspec_dau_json(cli):
    run = cli(["lpspec-dau", "--max-nodes", "4", "--json"])
    assert run.code == 0, run.err
    rows = json.loads(run.out)
    assert [r["tree_nodes"] for r in rows] == [0, 1, 2, 3, 4]


def test_lpspec_dau_bad_max_nodes(cli):
    run = cli(["lpspec-dau", "--max-nodes", "0"])
    assert run.code == 2 and "--max-nodes" in run.err
