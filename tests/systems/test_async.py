"""The asynchronous systems: look-ahead waste, squashes, AAU, EDC, TVC pre-verification."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ahasd.systems import simulate

# A PIM ten times faster than AHASD Table 2 makes pre-verification fit in the NPU's slack, so
# the TVC path runs (with the Table-2 PIM one pre-verified token outlasts a verification).
FAST_PIM = {"pim.alu_gops": 1024, "pim.internal_bw_gb_per_s": 2560}


@pytest.fixture(scope="module")
def runs():
    kw = {"tokens": 512, "seed": 4, "platform_overrides": FAST_PIM}
    return {
        "async": simulate(system="npu-pim-async", **kw),
        "aau": simulate(use_edc=False, use_tvc=False, **kw),
        "edc": simulate(use_tvc=False, **kw),
        "ahasd": simulate(**kw),
        "sync": simulate(system="npu-pim-sync", **kw),
    }


def test_look_ahead_is_wasted_after_a_mismatch_only_in_async_systems(runs):
    assert runs["sync"].wasted_draft_fraction == 0.0
    assert runs["async"].wasted_draft_fraction > 0.0
    assert runs["async"].extras["squashes"] > 0
    # the committed tokens are the same; only the work spent differs
    assert {r.committed_tokens for r in runs.values()} == {512}


def test_without_aau_draft_ops_take_npu_time(runs):
    assert runs["async"].extras["npu_stolen_s"] > 0
    assert runs["aau"].extras["npu_stolen_s"] == 0
    assert runs["aau"].throughput_tok_s > runs["async"].throughput_tok_s


def test_edc_stops_look_ahead_and_cuts_waste(runs):
    assert runs["edc"].extras["edc_stops"] > 0
    assert runs["aau"].extras["edc_stops"] == 0
    assert runs["edc"].wasted_draft_fraction < runs["aau"].wasted_draft_fraction


def test_tvc_pre_verifies_and_switches_ranks(runs):
    x = runs["ahasd"].extras
    assert x["preverifies"] > 0 and x["preverify_tokens"] >= x["preverifies"]
    assert x["gtsu_switches"] == 2 * x["preverifies"]  # to the target's ranks and back
    assert runs["ahasd"].energy_by_component.get("gtsu", 0.0) > 0
    assert runs["edc"].extras["preverifies"] == 0


def test_no_gtsu_makes_switches_free():
    kw = {"tokens": 256, "seed": 4, "platform_overrides": FAST_PIM}
    free = simulate(use_gtsu=False, **kw)
    assert free.energy_by_component.get("gtsu", 0.0) == 0.0
    assert free.committed_tokens == 256


def test_timeline_links_each_verification_to_its_draft_batch():
    r = simulate(tokens=64, seed=1, record_timeline=True)
    spans = r.timeline
    assert spans is not None
    verify_ids = {s.task_id for s in spans if s.name == "verify"}
    linked = [s for s in spans if s.flow_to is not None]
    assert linked and all(s.flow_to in verify_ids for s in linked)
    assert all(s.end_s <= r.wall_s + 1e-9 for s in spans if s.device == "npu")
    assert simulate(tokens=64, seed=1).timeline is None


@pytest.mark.parametrize("depth", [1, 2])
def test_small_queues_still_commit_everything(depth):
    r = simulate(system="npu-pim-async", tokens=200, seed=2, queue_depth=depth,
                 platform_overrides=FAST_PIM)  # fmt: skip
    assert r.committed_tokens == 200 and r.extras["queue_high_water"] <= depth


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    policy=st.sampled_from(["adaedl", "svip", "banditspec", "hf-heuristic", "fixed"]),
    fast=st.booleans(),
    decoding=st.sampled_from(["greedy", "sampled"]),
    depth=st.integers(1, 8),
    flags=st.sampled_from([{}, {"use_tvc": False}, {"use_edc": False}, {"use_aau": False}]),
)
def test_async_commits_every_token_whatever_the_settings(
    seed, policy, fast, decoding, depth, flags
):
    """Metrics.on_commit raises on a gap, a repeat, or an accepted token the trace rejects."""
    r = simulate(
        tokens=150, seed=seed, policy=policy, decoding=decoding, queue_depth=depth,
        platform_overrides=FAST_PIM if fast else {}, **flags,
    )  # fmt: skip
    assert r.committed_tokens == 150
    assert r.wall_s > 0 and all(d["busy_s"] <= r.wall_s + 1e-12 for d in r.devices.values())


def test_tvc_r1_options_reach_the_driver():
    """The artifact pre-verifies only with >= 2 pending batches: the driver reports the queue."""
    kw = {"tokens": 256, "seed": 4, "platform_overrides": FAST_PIM}
    paper = simulate(**kw)
    r1 = simulate(tvc={"min_pending_batches": 2}, **kw)
    assert r1.committed_tokens == 256
    assert 0 < r1.extras["preverifies"] <= paper.extras["preverifies"]
