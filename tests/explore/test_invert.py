"""`ahasd invert`: the readings table, the claims registry, the search, and the CLI end to end."""

from __future__ import annotations

import json
import math

import pytest

from ahasd.errors import AhasdError
from ahasd.explore.invert import CLAIMS, load_entries, resolve, select
from ahasd.explore.invert.claims import Arm, Cell, Claim
from ahasd.explore.invert.readings import Param
from ahasd.explore.invert.search import ClaimSearch
from tests.conftest import _run_cli

# ---- the readings table -------------------------------------------------------------------


def test_builtin_table_resolves_with_preset_defaults_and_sources():
    params = {p.name: p for p in resolve(load_entries())}
    assert params["ahasd.gops_scope"].default == "total"  # ahasd-mobile's switch default
    assert params["laptop.host_link"].default == 25.0  # gpu-rtx4090-laptop's YAML value
    assert params["ahasd.pim_op_sync"].default == 500  # in the unit the table names (ns)
    assert params["gpu-only.platform"].default == "gpu-rtx4090-laptop"
    for p in params.values():
        assert p.source.strip()
        assert p.is_choice or (math.isfinite(p.low) and math.isfinite(p.high) and p.low < p.high)
        if p.on:
            assert p.default in p.values if p.is_choice else p.low <= p.default <= p.high


def test_keys_a_preset_lacks_are_skipped_not_errors(tmp_path):
    extra = tmp_path / "r.yaml"
    extra.write_text(
        "readings:\n  - name: future.switch\n    set: switches.no_such_switch\n"
        "    applies: [ahasd-mobile]\n    values: [a, b]\n    source: 'assumption: test'\n"
    )
    params = {p.name: p for p in resolve(load_entries(extra))}
    assert params["future.switch"].on == ()  # listed, but applies nowhere
    assert "ahasd.gops_scope" in params  # the built-in table is still there


@pytest.mark.parametrize(
    "body, match",
    [
        ("range: [0, .inf]", r"range: got \[0.0, inf\]; accepted: two finite numbers"),
        ("range: [.nan, 5]", "range"),
        ("range: [5, 1]", "low < high"),
        ("values: []", "values"),
    ],
)
def test_bad_readings_files_fail_with_one_line(tmp_path, body, match):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "readings:\n  - name: x\n    set: pim.op_sync_ns\n    applies: [ahasd-mobile]\n"
        f"    {body}\n    source: s\n"
    )
    with pytest.raises(AhasdError, match=match):
        load_entries(bad)


def test_a_default_outside_the_documented_range_is_refused(tmp_path):
    f = tmp_path / "r.yaml"
    f.write_text(
        "readings:\n  - name: x\n    set: pim.op_sync_ns\n    applies: [ahasd-mobile]\n"
        "    range: [600, 900]\n    source: s\n"
    )
    with pytest.raises(AhasdError, match="default 500 lies outside"):
        resolve(load_entries(f))


# ---- the claims registry ------------------------------------------------------------------


def test_at_least_ten_claims_from_all_four_papers():
    assert len(CLAIMS) >= 10
    assert {c.paper for c in CLAIMS} == {"AHASD", "SpecPIM", "LP-Spec", "Edge SD"}
    assert len({c.name for c in CLAIMS}) == len(CLAIMS)


def test_ahasd_claims_match_the_report_headline():
    """The report's headline (report/claims.py) and invert check the same AHASD numbers."""
    from ahasd.report.claims import CLAIMS as REPORT
    from ahasd.report.matrix import PAIRS, POLICIES, VARIANTS

    def arm(variant: str) -> tuple:
        cfg = dict(VARIANTS[variant])
        return cfg.pop("system"), tuple(sorted((k, v) for k, v in cfg.items() if v is False))

    ours = {
        (
            c.claimed,
            c.metric,
            c.agg,
            c.invert,
            (c.num.system, tuple(sorted(c.num.flags))),
            (c.den.system, tuple(sorted(c.den.flags))),
        )
        for c in CLAIMS
        if c.den and c.paper == "AHASD"
    }
    for r in REPORT:
        key = (r.claimed, r.metric, r.agg, r.invert, arm(r.num), arm(r.den))
        assert key in ours, r.label
    cells = {(c.draft, c.target, c.policy) for c in select("ahasd-tput-vs-gpu")[0].cells}
    assert cells == {(d, t, p) for d, t in PAIRS for p in POLICIES}


def test_unknown_claim_names_the_accepted_ones():
    with pytest.raises(AhasdError, match="claims: got 'nope'; accepted: ahasd-tput-vs-gpu"):
        select("ahasd-area,nope")


# ---- the search, on a closed-form stand-in for the simulator -------------------------------


def _params():
    on = ("ahasd-mobile",)
    return {
        "a": Param("a", "pim.op_sync_ns", "assumption", 0.0, on, low=0.0, high=1.0),
        "b": Param("b", "switches.gops_scope", "src", "x", on, values=("x", "y")),
        "c": Param("c", "npu.static_mw", "assumption", 1.0, on, low=0.5, high=2.0),  # no effect
    }


def _drive(claimed: float, relation: str = "approx", budget: int = 60):
    """Run the search with value = (1 + a) * (1.5 if b == 'y' else 1)."""
    claim = Claim(
        "fake",
        "fake",
        "X",
        "[x]",
        claimed,
        "throughput_tok_s",
        Arm("ahasd"),
        cells=(Cell("d", "t"),),
        relation=relation,
    )
    gen = ClaimSearch(claim, _params(), budget).run()
    request = next(gen)
    while True:
        values = [(1 + r.get("a", 0.0)) * (1.5 if r.get("b", "x") == "y" else 1.0) for r in request]
        try:
            request = gen.send(values)
        except StopIteration as stop:
            return stop.value


def test_holds_at_the_defaults():
    out = _drive(1.05)
    assert (out.status, out.best.reading, out.tried) == ("holds", {}, 1)


def test_one_range_is_bisected_to_the_near_edge_of_the_band():
    out = _drive(2.0)  # band [1.8, 2.2]: a alone reaches it; 5 bisection steps give a = 0.8125
    assert out.status == "reachable"
    assert out.best.reading == {"a": 0.8125}
    assert out.best.value == pytest.approx(1.8125)


def test_two_parameters_when_one_is_not_enough():
    out = _drive(2.8)  # band [2.52, 3.08]: a alone tops out at 2, b at 1.5; together 3
    assert out.status == "reachable"
    assert out.best.reading == {"a": 0.6875, "b": "y"}  # 1.5 * 1.6875 = 2.53
    assert 2.52 <= out.best.value <= 3.08


def test_unreachable_reports_the_closest_reading():
    out = _drive(5.0)  # everything favourable gives 3.0
    assert out.status == "unreachable"
    assert out.best.reading == {"a": 1.0, "b": "y"} and out.best.value == pytest.approx(3.0)


def test_the_search_is_deterministic_and_keeps_to_its_budget():
    a, b = _drive(2.8, budget=9), _drive(2.8, budget=9)
    assert a.tried <= 9 and (a.status, a.best, a.tried) == (b.status, b.best, b.tried)


# ---- the command, end to end -------------------------------------------------------------

SMALL = [
    "invert",
    "--claims",
    "lpspec-tput-vs-npu,lpspec-edp,ahasd-area",
    "--budget",
    "12",
    "--seed",
    "0",
    "-j",
    "1",
    "--json",
]


@pytest.fixture(scope="module")
def small_doc():
    run = _run_cli(SMALL)
    assert run.code == 0, run.err
    return json.loads(run.out)


def test_json_document_has_the_promised_fields(small_doc):
    assert set(small_doc) >= {"claims", "joint"}
    for c in small_doc["claims"]:
        assert {"claim", "paper", "ours_default", "status", "changes", "best"} <= set(c)
        assert c["status"] in ("holds", "reachable", "unreachable")
        assert ("reason" in c) == (c["status"] == "unreachable")
        for ch in c["changes"]:
            assert {"key", "default", "value", "source"} <= set(ch)
    status = {c["claim"]: c["status"] for c in small_doc["claims"]}
    assert status["ahasd-area"] == "holds" and status["lpspec-tput-vs-npu"] == "reachable"
    assert {"largest", "contradictions"} <= set(small_doc["joint"])


def simulate_argv(basis: dict, cell: dict, arm: dict, changes: list[dict]) -> list[str]:
    """The `ahasd simulate` command of one side of one cell, built from the JSON alone."""
    from ahasd.systems import SYSTEMS

    system = arm["system"]
    platform = next(
        (c["value"] for c in changes if c["key"] == "platform" and system in c["applies_to"]),
        SYSTEMS.get(system).default_platform,
    )
    argv = [
        "simulate",
        "--system",
        system,
        "--platform",
        platform,
        "--draft",
        cell["draft"],
        "--target",
        cell["target"],
        "--policy",
        cell["policy"],
        "--tokens",
        str(basis["tokens"]),
        "--seed",
        str(basis["seed"]),
        "--json",
    ]
    argv += [f"--no-{k.removeprefix('use_')}" for k, v in arm["flags"].items() if v is False]
    argv += [x for k, v in cell["policy_args"].items() for x in ("--policy-arg", f"{k}={v}")]
    argv += ["--profile", cell["profile"]] if cell["profile"] else []
    for c in changes:
        if c["key"] != "platform" and platform in c["applies_to"]:
            argv += ["--set", f"{c['key']}={c['value']}"]
    return argv


def resimulate(claim: dict) -> float:
    """The claim's value recomputed from `ahasd simulate --set ...` runs (CLI, in-process)."""
    b = claim["basis"]
    values = []
    for cell in b["cells"]:
        res = []
        for arm in (b["num"], b["den"]):
            if arm is None:
                continue
            run = _run_cli(simulate_argv(b, cell, arm, claim["changes"]))
            assert run.code == 0, run.err
            res.append(json.loads(run.out))
        num = res[0][b["metric"]] * b["scale"]
        if b["den"] is not None:
            den = res[1][b["metric"]] * b["scale"]
            values.append(den / num if b["invert"] else num / den)
        else:
            values.append(num / res[0][b["den_metric"]] if b["den_metric"] else num)
    if b["agg"] == "max":
        return max(values)
    if b["agg"] == "geomean":
        return math.exp(sum(map(math.log, values)) / len(values))
    return sum(values) / len(values)


def test_reachable_changes_give_the_reported_value_through_simulate_set(small_doc):
    reachable = [c for c in small_doc["claims"] if c["status"] == "reachable"]
    assert reachable
    for c in reachable:
        assert c["changes"]
        assert resimulate(c) == pytest.approx(c["best"], rel=1e-9), c["claim"]
        assert math.isclose(c["best"], c["paper"], rel_tol=0.1 + 1e-9)


@pytest.mark.slow
def test_full_default_budget_every_reachable_claim_resimulates():
    run = _run_cli(["invert", "--json", "--budget", "60", "--seed", "0"])
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    assert len(doc["claims"]) >= 10
    for c in doc["claims"]:
        if c["status"] == "reachable":
            assert resimulate(c) == pytest.approx(c["best"], rel=1e-9), c["claim"]


@pytest.mark.parametrize(
    "args, match",
    [
        (["--claims", "nope"], "claims: got 'nope'"),
        (["--budget", "0"], "'--budget': Input should be greater than or equal to 1"),
        (["--budget", "-3"], "'--budget': Input should be greater than or equal to 1"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, match):
    run = _run_cli(["invert", *args])
    assert run.code == 2 and match in run.err and run.err.count("\n") == 1


def test_a_non_finite_bound_in_a_readings_file_exits_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "readings:\n  - name: x\n    set: pim.op_sync_ns\n    applies: [ahasd-mobile]\n"
        "    range: [0, .inf]\n    source: s\n"
    )
    run = _run_cli(["invert", "--readings", str(bad), "--claims", "ahasd-area"])
    assert run.code == 2 and "x.range: got [0.0, inf]" in run.err and run.err.count("\n") == 1


def test_results_do_not_depend_on_the_executor_or_the_cache(tmp_path, monkeypatch):
    """A 2-process pool, a serial run (its own process: nothing simulated in this one) and a
    warm result cache give the same claims."""
    import subprocess
    import sys

    from ahasd.explore import get_executor
    from ahasd.explore.invert import invert, runs

    monkeypatch.setattr(runs, "SERIAL_BELOW", 0)  # every batch to the pool, even small ones

    name, budget, seed = "ahasd-ee-vs-specpim", 4, 1
    args = [
        "invert",
        "--claims",
        name,
        "--budget",
        str(budget),
        "--seed",
        str(seed),
        "-j",
        "1",
        "--joint-trials",
        "0",
        "--json",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "ahasd.cli.main", *args], capture_output=True, text=True, check=True
    )
    serial = json.loads(proc.stdout)
    claims, params = select(name), resolve(load_entries())

    def run(jobs):
        return invert(
            claims,
            params,
            budget=budget,
            seed=seed,
            joint_trials=0,
            executor=get_executor("local", jobs=jobs),
            cache_dir=tmp_path / "cache",
        )

    pooled, cached = run(2), run(1)
    assert json.loads(json.dumps(pooled["claims"], default=str)) == serial["claims"]
    assert pooled["claims"] == cached["claims"] and pooled["joint"] == cached["joint"]
    assert pooled["settings"]["runs_simulated"] == serial["settings"]["runs_simulated"] > 0
    assert cached["settings"]["runs_simulated"] == 0
