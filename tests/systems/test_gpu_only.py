"""``gpu-only``: a pair over the GPU's memory streams its excess weights over the host link."""

from __future__ import annotations

import pytest

from ahasd.systems import simulate


@pytest.fixture(scope="module")
def laptop():
    """LLaMA2-7B -> 13B at INT8 (~20 GB) on the 16 GB RTX 4090 Laptop preset."""
    return simulate(system="gpu-only", tokens=96, seed=2)


def test_a_pair_over_gpu_memory_is_flagged_and_warned(laptop):
    assert laptop.fits_in_memory is False
    assert len(laptop.warnings) == 1 and "host link" in laptop.warnings[0]
    offload = laptop.extras["offload_bytes"]
    assert offload["target"] > 0 and offload["draft"] == 0  # the draft stays resident
    assert laptop.energy_by_component.get("link", 0.0) > 0  # streaming costs link energy


def test_streaming_is_what_makes_it_slow(laptop):
    """The same run on a GPU with room for both models: no warning, no link energy, faster."""
    big = simulate(
        system="gpu-only", tokens=96, seed=2, platform="gpu-rtx4090-laptop",
        platform_overrides={"gpu.capacity_gib": 32},
    )  # fmt: skip
    assert big.fits_in_memory is True and big.warnings == ()
    assert big.extras["offload_bytes"] == {"draft": 0, "target": 0}
    assert big.energy_by_component.get("link", 0.0) == 0.0
    assert big.throughput_tok_s > laptop.throughput_tok_s
    assert big.committed_tokens == laptop.committed_tokens == 96


def test_pairs_that_fit_raise_no_warning():
    r = simulate(system="gpu-only", draft="llama2-7b", target="llama2-7b", tokens=32)
    assert r.fits_in_memory is True and r.warnings == ()


def test_matched_scale_baselines_hold_the_pair_in_unified_memory():
    """On the mobile GPU the LLaMA2 pair fits the 64 GB LPDDR5: nothing crosses a host link."""
    from ahasd.systems import simulate

    gpu = simulate(system="gpu-only", platform="gpu-mobile", tokens=64)
    spim = simulate(system="specpim", platform="specpim-mobile", tokens=64)
    for r in (gpu, spim):
        assert r.fits_in_memory and not [w for w in r.warnings if "host link" in w]
    assert gpu.extras["offload_bytes"] == {"draft": 0, "target": 0}
    assert "lpddr5" in spim.devices and "pim" in spim.devices
