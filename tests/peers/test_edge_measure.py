"""edge-plan --measure: the real engine runs every CPU/GPU mapping × γ beside the plan.

Needs the [engine] extra (torch); the CUDA case runs only where torch sees a GPU and is skipped
otherwise, so the suite passes on CPU-only machines.
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from ahasd.errors import AhasdError  # noqa: E402
from ahasd.report.edge_measure import markdown, measure_mappings, resolve_devices  # noqa: E402

HAS_CUDA = torch.cuda.is_available()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """An untrained 'tiny' demo-shaped pair (timing and plumbing need no training)."""
    from ahasd.engine.demo import SIZES, _model, build_tokenizer

    out = tmp_path_factory.mktemp("demo")
    tok, size = build_tokenizer(), SIZES["tiny"]
    torch.manual_seed(0)
    for role, spec in (("draft", size.draft), ("target", size.target)):
        _model(spec, size.seq_len).save_pretrained(str(out / role), safe_serialization=True)
        tok.save_pretrained(str(out / role))
    return out / "draft", out / "target"


def test_auto_adds_cuda_only_where_torch_sees_a_gpu():
    devices, notes = resolve_devices("auto")
    assert devices[0] == "cpu"
    assert ("cuda" in devices) == HAS_CUDA
    assert bool(notes) == (not HAS_CUDA)  # the skip is said, not silent
    assert resolve_devices("cpu") == (["cpu"], [])


def test_bad_device_is_a_one_line_error():
    with pytest.raises(AhasdError, match="device"):
        resolve_devices("tpu")


def _check_rows(rows, devices, gamma_max):
    n = len(devices)
    assert len(rows) == n + n * n * gamma_max  # AR per device + every mapping x γ >= 1
    assert {r["gamma"] for r in rows} == set(range(gamma_max + 1))
    pred = [r["predicted_speedup"] for r in rows]
    assert pred == sorted(pred, reverse=True)  # ranked by the analytic model
    for r in rows:
        assert r["measured_speedup"] > 0 and r["measured_tokens_per_s"] > 0
        want = 100.0 * (r["predicted_speedup"] - r["measured_speedup"]) / r["measured_speedup"]
        assert r["error_pct"] == pytest.approx(want)
        cpu_only = {r["draft_device"] or "cpu", r["target_device"]} == {"cpu"}
        assert ("cost_model_speedup" in r) == cpu_only
        if r["gamma"] == 0:
            assert r["draft_device"] is None and r["tau"] == 1.0
    return rows


def test_cpu_mappings_measured_with_the_cost_model_beside(demo):
    calls = []
    res = measure_mappings(
        *demo, device="cpu", gamma_max=2, new_tokens=16, reps=2, repeats=1, calib_s=0.2,
        progress=lambda *call: calls.append(call),
    )  # fmt: skip
    assert res.devices == ["cpu"]
    assert [done for _, done, _ in calls] == [0, 1, 2, 3] and calls[-1][2] == 3  # AR, γ = 1, 2
    rows = _check_rows(res.rows, ["cpu"], 2)
    ar = next(r for r in rows if r["gamma"] == 0)
    assert ar["measured_speedup"] == pytest.approx(1.0)
    assert ar["cost_model_speedup"] == pytest.approx(1.0)
    assert "host-cpu plan" in markdown(res)


@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA device: GPU mappings are measured only with one")
def test_cpu_gpu_mappings_measured_where_a_gpu_exists(demo):
    res = measure_mappings(
        *demo, device="auto", gamma_max=2, new_tokens=16, reps=2, repeats=1, calib_s=0.2
    )
    assert res.devices == ["cpu", "cuda"]
    rows = _check_rows(res.rows, res.devices, 2)
    pairs = {(r["draft_device"], r["target_device"]) for r in rows if r["gamma"]}
    assert pairs == {("cpu", "cpu"), ("cpu", "cuda"), ("cuda", "cpu"), ("cuda", "cuda")}


@pytest.mark.slow
def test_cli_measure_json(cli, demo):
    d, t = demo
    run = cli(
        ["edge-plan", "--measure", "--torch-device", "cpu", "--draft", str(d), "--target",
         str(t), "--gamma-max", "1", "--tokens", "8", "--json"]
    )  # fmt: skip
    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert data["devices"] == ["cpu"] and len(data["plans"]) == 2


def test_cli_measure_bad_input_exits_2(cli, tmp_path):
    run = cli(["edge-plan", "--measure", "--torch-device", "tpu"])
    assert run.code == 2 and "device" in run.err and len(run.err.strip().splitlines()) == 1
    run = cli(["edge-plan", "--measure", "--torch-device", "cpu", "--draft", str(tmp_path / "x")])
    assert run.code == 2 and len(run.err.strip().splitlines()) == 1
    assert "--draft" in run.err and "ahasd demo-models" in run.err
