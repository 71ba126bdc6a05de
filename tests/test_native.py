"""The compiled event loop (mypyc, setup.py) and its Python source: chosen safely, same results."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ahasd import native

# one short run per system that goes through the compiled modules, every float as hex
RUN = """
import json, sys
import ahasd.native
from ahasd.sim.config import SimConfig
from ahasd.systems import simulate
def enc(o):
    if isinstance(o, float): return o.hex()
    if isinstance(o, dict): return {k: enc(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)): return [enc(v) for v in o]
    return o
out = {"status": ahasd.native.status(), "runs": {}}
for kw in (dict(system="ahasd"), dict(system="ahasd", decoding="sampled", seed=3),
           dict(system="ahasd", use_aau=False, use_gtsu=False), dict(system="npu-pim-async")):
    d = simulate(SimConfig(tokens=1500, **kw)).to_dict()
    d.pop("version", None)
    out["runs"][repr(sorted(kw.items()))] = enc(d)
json.dump(out, sys.stdout, sort_keys=True)
"""


def _run(pure: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k != native.ENV_PURE}
    if pure:
        env[native.ENV_PURE] = "1"
    res = subprocess.run(
        [sys.executable, "-c", RUN], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(res.stdout)


def test_pure_python_on_request_and_bit_identical_results() -> None:
    pure, default = _run(pure=True), _run(pure=False)
    assert pure["status"].startswith("python (")
    assert pure["runs"] == default["runs"]
    if not native.read_manifest():
        pytest.skip("installed without the mypyc build: both runs used the Python source")
    assert default["status"] == "compiled", default["status"]


def test_an_unchanged_build_is_used() -> None:
    manifest = native.read_manifest()
    if not manifest or native.changed_sources(manifest) or os.environ.get(native.ENV_PURE):
        pytest.skip("no current mypyc build in this checkout")
    import ahasd.systems._async as loop

    assert native.status() == "compiled"
    assert not str(loop.__file__).endswith(".py")


def _fake_package(tmp_path: Path) -> Path:
    pkg = tmp_path / "ahasd"
    (pkg / "sim").mkdir(parents=True)
    (pkg / "sim" / "metrics.py").write_text("X = 1\n")
    digest = hashlib.sha256(b"X = 1\n").hexdigest()
    (pkg / "_native_build.json").write_text(json.dumps({"compiled": {"ahasd.sim.metrics": digest}}))
    return pkg


def test_edited_or_missing_sources_are_detected(tmp_path: Path) -> None:
    pkg = _fake_package(tmp_path)
    manifest = native.read_manifest(pkg / "_native_build.json")
    assert manifest == {"ahasd.sim.metrics": hashlib.sha256(b"X = 1\n").hexdigest()}
    assert native.changed_sources(manifest, pkg) == []
    (pkg / "sim" / "metrics.py").write_text("X = 2\n")
    assert native.changed_sources(manifest, pkg) == ["ahasd.sim.metrics"]
    (pkg / "sim" / "metrics.py").unlink()
    assert native.changed_sources(manifest, pkg) == ["ahasd.sim.metrics"]


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", '{"compiled": 3}'])
def test_a_bad_manifest_means_no_build(tmp_path: Path, text: str) -> None:
    path = tmp_path / "_native_build.json"
    path.write_text(text)
    assert native.read_manifest(path) == {}
    assert native.read_manifest(tmp_path / "missing.json") == {}


def test_an_edited_source_falls_back_to_python(tmp_path: Path) -> None:
    """A stale build is never used: the source finder imports every listed module from ``.py``."""
    pkg = _fake_package(tmp_path)
    (pkg / "__init__.py").write_text("")
    (pkg / "sim" / "__init__.py").write_text("")
    finder = native._SourceFinder({"ahasd.sim.metrics": pkg / "sim" / "metrics.py"})
    spec = finder.find_spec("ahasd.sim.metrics")
    assert spec is not None and spec.origin == str(pkg / "sim" / "metrics.py")
    assert finder.find_spec("ahasd.sim.replay") is None
