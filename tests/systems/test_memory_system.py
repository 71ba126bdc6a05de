"""Every NPU/PIM system on one memory model: traffic, contention, gating, energy, prefill."""

from __future__ import annotations

import json

import pytest

import ahasd

TOKENS = 256


def run(system: str, **kw):
    return ahasd.simulate(system=system, tokens=TOKENS, seed=0, **kw)


@pytest.fixture(scope="module")
def default_ahasd():
    return run("ahasd")


def test_simulate_json_reports_the_memory_system(cli):
    out = json.loads(cli(["simulate", "--system", "ahasd", "--tokens", "128", "--json"]).out)
    mem = out["memory"]
    for ch in mem["channels"]:
        assert {"busy_s", "utilisation", "bytes"} <= set(ch) and ch["bytes"] > 0
    assert set(mem["contention_s"]) == {"npu_stalled_by_pim", "pim_stalled_by_npu"}
    lp = out["devices"]["lpddr5"]
    assert lp["utilisation"] > 0
    assert lp["energy_j"]["background"] > 0 and lp["energy_j"]["refresh"] > 0
    assert {"ttft_s", "e2e_throughput_tok_s", "prefill_energy_j"} <= set(out)
    assert out["e2e_throughput_tok_s"] < out["throughput_tok_s"]


def test_npu_only_has_no_pim_contention_and_ahasd_stalls_the_npu(default_ahasd):
    plain = run("npu-only")
    assert plain.memory["contention_s"] == {"npu_stalled_by_pim": 0.0, "pim_stalled_by_npu": 0.0}
    assert plain.devices["lpddr5"]["utilisation"] > 0.5  # a verify is a weight stream
    assert default_ahasd.extras["preverifies"] > 0
    assert default_ahasd.memory["contention_s"]["npu_stalled_by_pim"] > 0


def test_bytes_do_not_depend_on_how_the_channels_are_shared(default_ahasd):
    """Sharing stretches time, never work: the same tasks move the same bytes."""
    blocked = run("ahasd", platform_overrides={"switches.channel_sharing": "blocked"},
                  platform="ahasd-mobile")  # fmt: skip
    assert blocked.wall_s > default_ahasd.wall_s
    c = blocked.memory["contention_s"]
    assert c["npu_stalled_by_pim"] == pytest.approx(c["pim_stalled_by_npu"])  # proportional
    assert c["npu_stalled_by_pim"] > default_ahasd.memory["contention_s"]["npu_stalled_by_pim"]
    # the same verification passes stream the same bytes per verified token
    per = [sum(ch["bytes"] for ch in r.memory["channels"]) / r.committed_tokens
           for r in (default_ahasd, blocked)]  # fmt: skip
    assert per[0] == pytest.approx(per[1], rel=0.15)


def test_no_gtsu_switches_take_the_plain_controller_path(default_ahasd):
    plain = run("ahasd", use_gtsu=False)
    assert plain.extras["preverifies"] > 0 and default_ahasd.extras["preverifies"] > 0
    gtsu_sw, plain_sw = default_ahasd.memory["switches"], plain.memory["switches"]
    assert plain_sw["seconds"] / plain_sw["count"] > 5 * gtsu_sw["seconds"] / gtsu_sw["count"]
    assert plain.wall_s > default_ahasd.wall_s
    # without rank gating every PIM unit leaks for the whole run
    assert plain.devices["pim"]["energy_j"]["leakage"] > default_ahasd.devices["pim"][
        "energy_j"]["leakage"]  # fmt: skip


def test_more_draft_ranks_draft_faster():
    def draft_s_per_token(draft_ranks):
        r = run("npu-pim-async", platform="ahasd-mobile",
                platform_overrides={"placement.draft_ranks": draft_ranks})  # fmt: skip
        return r.devices["pim"]["busy_s"] / (r.mean_draft_len * sum(r.draft_len_hist.values()))

    four, eight = draft_s_per_token(4), draft_s_per_token(8)
    # twice the dies stream the draft's weights: the array time halves (I/O does not)
    assert 0.45 < eight / four < 0.6


def test_without_the_aau_draft_ops_share_the_npu_instead_of_double_booking():
    r = run("ahasd", use_aau=False)
    assert r.extras["npu_stolen_s"] > 0
    assert r.devices["npu"]["busy_s"] <= r.wall_s
    assert r.memory["contention_s"]["npu_stalled_by_pim"] > 0


def test_prefill_runs_on_the_npu_and_reports_ttft(default_ahasd):
    assert 0 < default_ahasd.ttft_s < default_ahasd.prefill_s < 2.0  # not 20 s on PIM
    assert default_ahasd.prefill_energy_j > 0


def test_lpspec_runs_on_the_same_memory_model():
    r = run("lpspec", target="llama2-7b")
    assert r.memory["utilisation"] > 0 and r.devices["lpddr5"]["energy_j"]["background"] > 0
    with pytest.raises(ahasd.errors.AhasdError, match="PIM ranks"):
        run("lpspec", target="llama2-13b")  # 13 GB does not fit LP-Spec's three 4 GB PIM ranks
