"""Placement policies, capacity per rank and the errors a model that fits nowhere gives."""

from __future__ import annotations

import pytest

from ahasd.errors import AhasdError
from ahasd.hardware import load_platform
from ahasd.memory.model import dram_spec
from ahasd.memory.placement import group_sizes, plan_placement
from ahasd.models import load_model

SPEC = dram_spec(load_platform("ahasd-mobile"))
L7, L13 = load_model("llama2-7b"), load_model("llama2-13b")
SIZES = group_sizes(L7, L13, precision="int8", kv_tokens=1152)


def test_paper_policy_separates_the_models_over_every_channel():
    p = plan_placement(SPEC, SIZES, {"policy": "paper"})
    draft, target = set(p.ranks["draft-weights"]), set(p.ranks["target-weights"])
    assert draft and target and not draft & target
    assert p.spread("draft-weights").channels == 4 and p.spread("target-weights").channels == 4
    assert p.ranks["draft-kv"] == p.ranks["draft-weights"]
    for rank in range(SPEC.ranks):  # every byte on a rank, no rank over capacity
        assert p.used_bytes(rank) <= SPEC.rank_capacity_bytes
    total = sum(p.used_bytes(r) for r in range(SPEC.ranks))
    assert total == pytest.approx(sum(SIZES.values()))


def test_draft_ranks_override_and_interleaved():
    p = plan_placement(SPEC, SIZES, {"policy": "paper", "draft_ranks": 8})
    assert len(p.ranks["draft-weights"]) == 8 and len(p.ranks["target-weights"]) == 8
    inter = plan_placement(SPEC, SIZES, {"policy": "interleaved"})
    assert inter.spread("draft-weights").dies == 16 == inter.spread("target-weights").dies


def test_dedicated_channel_gives_the_draft_whole_channels():
    p = plan_placement(SPEC, SIZES, {"policy": "dedicated-channel"})
    assert p.spread("draft-weights").dies_per_channel == (4, 0, 0, 0)
    assert p.spread("target-weights").dies_per_channel == (0, 4, 4, 4)


def test_user_rank_lists():
    p = plan_placement(SPEC, SIZES, {"policy": "user", "draft": "0,1,2,3",
                                     "target": list(range(4, 16))})  # fmt: skip
    assert p.ranks["target-weights"] == tuple(range(4, 16))
    with pytest.raises(AhasdError, match="placement.draft"):
        plan_placement(SPEC, SIZES, {"policy": "user", "draft": "0,99", "target": "1"})


def test_too_few_ranks_for_a_model_names_it_and_the_shortfall():
    with pytest.raises(AhasdError) as err:
        plan_placement(SPEC, SIZES, {"policy": "paper", "draft_ranks": 1},
                       names={"draft": "llama2-7b", "target": "llama2-13b"})  # fmt: skip
    msg = str(err.value)
    assert "llama2-7b" in msg and "short by" in msg and "\n" not in msg


def test_a_pair_larger_than_the_package_is_refused():
    big = load_model("palm-like-30b")
    sizes = group_sizes(big, big, precision="fp16", kv_tokens=1152)
    with pytest.raises(AhasdError, match="short by"):
        plan_placement(SPEC, sizes, {"policy": "interleaved"})


@pytest.mark.parametrize("bad", [{"policy": "nope"}, {"draft_ranks": 0}, {"draft_ranks": 16},
                                 {"nonsense": 1}])  # fmt: skip
def test_bad_options_are_one_line_errors(bad):
    with pytest.raises(AhasdError, match="placement"):
        plan_placement(SPEC, SIZES, bad)


def test_memory_plan_cli_must_show(cli):
    import json

    run = cli(["memory-plan", "--platform", "ahasd-mobile", "--draft", "llama2-7b", "--target",
               "llama2-13b", "--json"])  # fmt: skip
    assert run.code == 0, run.err
    out = json.loads(run.out)
    assert out["fits"] is True
    for row in out["ranks"]:
        assert {"rank", "channel", "capacity_bytes", "used_bytes", "holds"} <= set(row)
    holds = {h for row in out["ranks"] for h in row["holds"]}
    assert holds == {"draft-weights", "target-weights", "draft-kv", "target-kv"}
    assert not set(out["draft"]["ranks"]) & set(out["target"]["ranks"])
    for key in ("pim_ops_per_s", "pim_internal_bytes_per_s"):
        assert 0 < out["draft"][key] < out["package"][key]
        assert out["target"][key] > 0
    run = cli(["memory-plan", "--draft", "palm-like-30b", "--target", "palm-like-30b",
               "--precision", "fp16"])  # fmt: skip
    assert run.code == 2 and len(run.err.strip().splitlines()) == 1 and "short by" in run.err
