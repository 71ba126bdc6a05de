"""Property-based fuzzing of the CLI's inputs (issue 17): ``--set`` values, run configs,
platform YAML, trace files and sweep specs.

Whatever the input, a command either succeeds (and then any JSON it prints is valid JSON) or
fails with exit code 2 and exactly one ``error: ...`` line, never a traceback (an exception
escaping ``main`` fails the test), and a failed command leaves no file behind. Examples are
bounded (a few seconds in all); hypothesis replays a failing input on the next run.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import _run_cli

CAMPAIGN = os.environ.get("AHASD_FUZZ_EXAMPLES")  # e.g. 500: a longer, random campaign
FUZZ = settings(
    max_examples=int(CAMPAIGN or 30),
    deadline=None,
    derandomize=CAMPAIGN is None,  # the default run: the same examples each time, as CI sees
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

NUMBERS = st.one_of(
    st.sampled_from([0, -1, 1, 0.0, -0.0, 1e3, 1e300, -1e-300, 2**31, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**40), max_value=2**40),
)
TEXTS = st.one_of(
    st.sampled_from(["nan", ".nan", "inf", "-inf", ".inf", "1e3", "1E-3", "0x10", "", " ", "~",
                     "null", "true", "[1, 2]", "{a: 1}", "per-rank", "--", "1_000", "१२"]),
    st.text(max_size=12),
)  # fmt: skip
EDGES = st.sampled_from(["0", "-1", "nan", ".nan", "inf", "-.inf", "1e400", "1e3", "2.5", ""])
VALUES = st.one_of(EDGES, NUMBERS.map(str), TEXTS)  # the edges first: the likeliest bugs


def _files(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


def check(args: list[str], root: Path, inputs: set[Path] = frozenset()) -> None:
    """Run the CLI in-process; assert the contract (see the module docstring)."""
    before = _files(root)
    run = _run_cli(args)
    assert run.code in (0, 2), (args, run.code, run.err[-400:])
    if run.code == 0:
        if "--json" in args:
            json.loads(run.out, parse_constant=_no_constant)
        return
    lines = [ln for ln in run.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), (args, run.err[-400:])
    assert "Traceback" not in run.err
    assert _files(root) - before - inputs == set(), (args, _files(root) - before)


def check_with_file(name: str, body: bytes, args) -> None:
    """Write ``body`` to a fresh folder as ``name``; check ``args(path, folder)`` there."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        path.write_bytes(body)
        check(args(path, Path(d)), Path(d), {Path(name)})


def _no_constant(name: str) -> None:
    raise AssertionError(f"JSON output contains {name}")


def _keys() -> list[str]:
    from ahasd.hardware.platform import preset_spec

    devices = preset_spec("ahasd-mobile")["devices"]  # cost prices npu steps: its fields first
    return [f"{d}.{k}" for d in ("npu", "lpddr5", "pim", "cpu") for k in devices[d] if k != "kind"]


KEYS = st.one_of(
    st.sampled_from(_keys()),
    st.sampled_from(["switches.gops_scope", "switches.efficiency", "switches.nope", "pim",
                     "pim.", ".x", "nodev.units", "pim.units.x", "placement.policy",
                     "placement.draft_ranks", "placement.", "=", "pim.alu_gops="]),
)  # fmt: skip


@FUZZ
@given(sets=st.lists(st.tuples(KEYS, VALUES), min_size=1, max_size=2))
def test_set_overrides_never_crash(sets):
    args = ["cost", "llama2-7b", "--json"]
    for key, value in sets:
        args += ["--set", f"{key}={value}"]
    with tempfile.TemporaryDirectory() as d:
        check(args, Path(d))


SYSTEMS = st.sampled_from(["ahasd", "npu-only", "gpu-only", "specpim", "lpspec", "edge-hetero",
                           "nope", ""])  # fmt: skip
MODELS = st.sampled_from(["llama2-7b", "llama2-13b", "opt-1.3b", "llama-68m", "nope", "", "../x"])
POLICIES = st.sampled_from(["adaedl", "fixed", "svip", "banditspec", "nope", ""])
POLICY_ARGS = st.sampled_from(["gamma", "max_len", "lam", "x", "", "gamma.x"])
TOKENS = st.one_of(st.integers(-3, 48), st.sampled_from([10**7 + 1, 2**63, -(2**63)]))


@FUZZ
@given(
    system=SYSTEMS, draft=MODELS, target=MODELS, policy=POLICIES,
    policy_arg=st.lists(st.tuples(POLICY_ARGS, VALUES), max_size=2), tokens=TOKENS,
    seed=st.one_of(st.integers(-5, 5), st.sampled_from([2**64, -(2**64)])),
    profile=st.one_of(st.none(), st.sampled_from(["iid-alpha-0.7", "iid-alpha-nan",
                                                   "iid-alpha-2", "nope"])),
)  # fmt: skip
def test_simulate_configs_never_crash(system, draft, target, policy, policy_arg, tokens, seed,
                                      profile):  # fmt: skip
    args = ["simulate", "--system", system, "--draft", draft, "--target", target, "--policy",
            policy, "--tokens", str(tokens), "--seed", str(seed), "--json"]  # fmt: skip
    for key, value in policy_arg:
        args += ["--policy-arg", f"{key}={value}"]
    if profile is not None:
        args += ["--profile", profile]
    with tempfile.TemporaryDirectory() as d:
        check(args, Path(d))


def _preset_devices() -> dict:
    from ahasd.hardware.platform import preset_spec

    return preset_spec("npu-lpddr5")["devices"]


JUNK = st.one_of(st.sampled_from([0, -1, math.nan, math.inf, 2.5, "x"]), NUMBERS, TEXTS, st.none(),
                 st.booleans(), st.lists(NUMBERS, max_size=2),
                 st.dictionaries(st.text(max_size=4), NUMBERS, max_size=2))  # fmt: skip


@st.composite
def platform_yaml(draw) -> object:
    """A valid preset with a few fields replaced, deleted or added, or a malformed document."""
    devices = _preset_devices()
    doc: dict = {"name": "fuzz", "devices": json.loads(json.dumps(devices))}
    for _ in range(draw(st.integers(1, 3))):
        dev = draw(st.sampled_from(sorted(doc["devices"])))
        fields = doc["devices"][dev]
        if not isinstance(fields, dict) or not fields:
            continue
        key = draw(st.one_of(st.sampled_from(sorted(fields)), st.text(max_size=8)))
        action = draw(st.sampled_from(["set", "delete", "device"]))
        if action == "set":
            fields[key] = draw(JUNK)
        elif action == "delete":
            fields.pop(key, None)
        else:
            doc["devices"][dev] = draw(JUNK)
    return draw(st.one_of(st.just(doc), JUNK, st.just({"devices": draw(JUNK)})))


@FUZZ
@given(doc=platform_yaml())
def test_platform_yaml_never_crashes(doc):
    body = yaml.safe_dump(doc).encode()
    check_with_file("platform.yaml", body, lambda p, _d: ["cost", "llama2-7b", "--platform", p,
                                                          "--json"])  # fmt: skip


ROW = st.fixed_dictionaries({
    "draft_entropy": JUNK, "draft_top1_prob": JUNK, "target_rank": JUNK, "accept_prob": JUNK,
    "target_entropy": JUNK,
})  # fmt: skip


@st.composite
def trace_file(draw) -> tuple[str, bytes]:
    suffix = draw(st.sampled_from([".jsonl", ".csv", ".parquet", ".txt"]))
    if suffix == ".jsonl":
        rows = draw(st.lists(ROW, max_size=4))
        body = "\n".join(json.dumps(r, default=str) for r in rows).encode()
    elif suffix == ".csv":
        head = "draft_entropy,draft_top1_prob,target_rank,accept_prob,target_entropy\n"
        cells = draw(st.lists(st.lists(VALUES, min_size=5, max_size=5), max_size=4))
        body = (head + "\n".join(",".join(c.replace(",", ";") for c in r) for r in cells)).encode()
    else:
        body = draw(st.binary(max_size=64))
    return suffix, draw(st.one_of(st.just(body), st.binary(max_size=32)))


@FUZZ
@given(f=trace_file())
def test_trace_files_never_crash(f):
    suffix, body = f
    check_with_file(f"t{suffix}", body, lambda path, _d: ["trace", "stats", path, "--json"])


AXIS = st.one_of(
    st.lists(st.one_of(st.integers(-2, 3), TEXTS), max_size=3),
    st.fixed_dictionaries({"low": NUMBERS, "high": NUMBERS},
                          optional={"num": NUMBERS, "log": JUNK, "integer": JUNK}),
    JUNK,
)  # fmt: skip
PATHS = st.sampled_from(
    [
        "seed",
        "tokens",
        "queue_depth",
        "platform_overrides.npu.matrix_tops",
        "policy_args.gamma",
        "pair",
        "edc.h_max",
        "nope",
        "edc.nope",
        "",
    ]
)


@st.composite
def sweep_spec(draw) -> object:
    spec = {
        "name": draw(st.one_of(st.just("fz"), st.text(max_size=10),
                               st.sampled_from(["../../x", "/tmp/x", ".x", "a/b"]))),
        "base": {"system": "npu-only", "tokens": 16, "policy": "fixed"},
        "axes": draw(st.dictionaries(PATHS, AXIS, max_size=2)),
        "mode": "analytic",
    }  # fmt: skip
    if draw(st.booleans()):
        spec.update(sampling="random", samples=draw(NUMBERS), seed=draw(NUMBERS))
    if draw(st.booleans()):
        spec["batch"] = draw(NUMBERS)
    return draw(st.one_of(st.just(spec), JUNK))


@FUZZ
@given(spec=sweep_spec())
def test_sweep_specs_never_crash(spec):
    check_with_file(
        "spec.yaml",
        yaml.safe_dump(spec).encode(),
        lambda path, d: ["sweep", path, "--out", d / "out", "--jobs", "1", "--json"],
    )


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_json_output_is_valid_when_a_result_is_not_finite(cli, value):
    """The renderer refuses rather than print ``NaN`` (the inputs that could make one are
    refused first, so this guards only what the model itself cannot define)."""
    from ahasd.validation import json_text

    with pytest.raises(ValueError, match=r"^a\.b\[1\]: the result is not a finite number"):
        json_text({"a": {"b": [1.0, value]}})
