"""Spec validation: bad specs fail before any work, with one line naming the path."""

from __future__ import annotations

import os
import textwrap

import pytest

from ahasd.errors import AhasdError
from ahasd.explore.points import build_points
from ahasd.explore.spec import SweepSpec, load_spec

# Until the traces/policies layer (issue 3) lands, SimConfig cannot be imported: skip, not fail.
pytest.importorskip("ahasd.policies.edc", reason="needs ahasd.policies.edc (issue 3)")


BASE = {"system": "npu-only", "tokens": 64}


def _spec(**kw) -> SweepSpec:
    return SweepSpec.model_validate({"base": BASE, **kw})


@pytest.mark.parametrize(
    ("axes", "path"),
    [
        ({"no_such_field": [1]}, "axes.no_such_field"),
        ({"edc.no_such_option": [1]}, "axes.edc.no_such_option"),
        ({"tokens": []}, "axes.tokens"),
        ({"tokens": ["many"]}, "axes.tokens"),
        ({"platform_overrides.npu.no_such_knob": [3]}, "axes.platform_overrides.npu.no_such_knob"),
        ({"policy_args.no_such_arg": [3]}, "axes.policy_args.no_such_arg"),
        ({"pair": [["llama2-7b"]]}, "axes.pair"),
    ],
)
def test_bad_axis_fails_up_front_naming_the_path(axes, path):
    with pytest.raises(AhasdError) as err:
        build_points(_spec(axes=axes))
    msg = str(err.value)
    assert "\n" not in msg
    assert path in msg


def test_cli_bad_spec_is_exit_2_one_line(cli, tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("base: {tokens: 64}\naxes:\n  use_edc: [yes, 7]\n")
    run = cli(["sweep", spec, "--jobs", "1", "--out", tmp_path / "out"])
    assert run.code == 2
    assert run.err.strip().startswith("error: axes.use_edc")
    assert len(run.err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "results.parquet").exists()


def test_grid_is_the_cartesian_product_and_dedups():
    pts = build_points(_spec(axes={"seed": [0, 1, 2], "queue_depth": [4, 8], "tokens": [64, 64]}))
    assert len(pts) == 6
    assert len({p.hash for p in pts}) == 6


def test_random_sampling_is_seeded():
    axes = {"seed": {"low": 0, "high": 1000, "integer": True}, "queue_depth": [2, 4, 8]}
    a = build_points(_spec(axes=axes, sampling="random", samples=10, seed=3))
    b = build_points(_spec(axes=axes, sampling="random", samples=10, seed=3))
    c = build_points(_spec(axes=axes, sampling="random", samples=10, seed=4))
    assert [p.hash for p in a] == [p.hash for p in b]
    assert [p.hash for p in a] != [p.hash for p in c]


def test_dotted_paths_reach_nested_fields():
    pts = build_points(
        _spec(
            axes={
                "platform_overrides.npu.clock_ghz": [0.5],
                "pair": [["opt-1.3b", "opt-6.7b"]],
            }
        )
    )
    cfg = pts[0].config
    assert cfg.platform_overrides == {"npu.clock_ghz": 0.5}
    assert (cfg.draft, cfg.target) == ("opt-1.3b", "opt-6.7b")
    assert cfg.platform == "npu-lpddr5"  # the system's own platform, resolved before hashing


def test_load_spec_rejects_unknown_keys(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(
        textwrap.dedent("""
        base: {tokens: 64}
        axis: {seed: [1]}
    """)
    )
    with pytest.raises(Exception) as err:  # pydantic ValidationError: extra="forbid"
        load_spec(p)
    assert "axis" in str(err.value)


def test_axes_reach_policy_edc_tvc_profile_and_seed_and_change_the_key():
    """Any config field is an axis; each value is a distinct, fully resolved cache key."""
    axes = {
        "policy": ["fixed"],
        "policy_args.gamma": [2, 5],
        "edc.history": [4, 8],
        "tvc.entries": [2, 4],
        "profile": ["iid-alpha-0.7", "opt-1.3b-opt-6.7b"],
        "seed": [0, 3],
    }
    pts = build_points(
        SweepSpec.model_validate({"base": {"system": "ahasd", "tokens": 64}, "axes": axes})
    )
    assert len(pts) == 32 and len({p.hash for p in pts}) == 32
    last = pts[-1].config
    assert (last.policy, last.policy_args, last.edc.history, last.tvc.entries) == (
        "fixed",
        {"gamma": 5},
        8,
        4,
    )
    assert (last.profile, last.seed) == ("opt-1.3b-opt-6.7b", 3)


def test_cache_key_covers_what_names_resolve_to(tmp_path):
    """A re-calibrated platform file gets a new key (no stale cached rows), same SimConfig."""
    import yaml

    from ahasd.explore import points as points_mod
    from ahasd.hardware.platform import preset_spec

    data = preset_spec("npu-lpddr5")
    data.pop("base", None)
    path = tmp_path / "plat.yaml"
    path.write_text(yaml.safe_dump(data))
    spec = SweepSpec.model_validate(
        {"base": {**BASE, "platform": str(path)}, "axes": {"seed": [0]}}
    )
    before = build_points(spec)[0]
    data["devices"]["npu"]["clock_ghz"] = 0.123  # same file name, different hardware
    path.write_text(yaml.safe_dump(data))
    os.utime(path, ns=(1, 1))  # a different mtime even on a coarse-clock file system
    points_mod.cached_platform.cache_clear()
    points_mod._inputs_digest.cache_clear()
    after = build_points(spec)[0]
    assert after.config.config_hash() == before.config.config_hash()
    assert after.hash != before.hash
