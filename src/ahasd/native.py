"""Which build of the event loop runs: the mypyc-compiled modules, or their Python source.

``pip install`` compiles the loop's hot modules (:data:`COMPILED`) with mypyc (``setup.py``) and,
once every extension built, records each source's SHA-256 in ``_native_build.json``. Compiled
and Python modules compute the same floats in the same order, so results are bit-identical
either way (``tests/test_native.py``); only the speed differs. :func:`install` runs when
:mod:`ahasd` is imported and imports the Python source instead of *every* compiled module (they
call each other directly, so it is all or none) when there is no such record, when
``AHASD_PURE_PYTHON=1`` is set, or when any of those sources changed since the build. An edited
checkout therefore runs what it says, slower, until it is rebuilt (``pip install -e .``).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.util
import json
import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from pathlib import Path

# the simulator's event loop and what it calls per event; setup.py compiles these (they call
# each other directly, so they are compiled, and used, all together)
COMPILED = (
    "ahasd.systems._async",
    "ahasd.sim.metrics",
    "ahasd.sim.replay",
    "ahasd.sim.queues",
    "ahasd.sim.timeline",
    "ahasd.memory.sharing",
    "ahasd.policies.edc",
    "ahasd.policies.tvc",
)
PACKAGE_DIR = Path(__file__).parent
MANIFEST = PACKAGE_DIR / "_native_build.json"
ENV_PURE = "AHASD_PURE_PYTHON"

_reason: str | None = None  # why the Python source is used, once install() has run


def source_path(module: str, package_dir: Path = PACKAGE_DIR) -> Path:
    """The ``.py`` file of ``ahasd.x.y`` under ``package_dir``."""
    parts = module.split(".")
    return package_dir.joinpath(*parts[1:]).with_suffix(".py")


def read_manifest(path: Path = MANIFEST) -> dict[str, str]:
    """Compiled module -> SHA-256 of the source it was built from ({} without a build)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    compiled = data.get("compiled") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in compiled.items()} if isinstance(compiled, dict) else {}


def source_digest(module: str, package_dir: Path = PACKAGE_DIR) -> str | None:
    """SHA-256 of the module's ``.py`` source (None: unreadable); what a build records."""
    try:
        return hashlib.sha256(source_path(module, package_dir).read_bytes()).hexdigest()
    except OSError:
        return None


def changed_sources(manifest: dict[str, str], package_dir: Path = PACKAGE_DIR) -> list[str]:
    """The compiled modules whose source no longer matches the build."""
    return [m for m, digest in manifest.items() if source_digest(m, package_dir) != digest]


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Finds the listed modules as Python source, ahead of their compiled extensions."""

    def __init__(self, sources: dict[str, Path]) -> None:
        self.sources = sources

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> ModuleSpec | None:
        src = self.sources.get(fullname)
        return importlib.util.spec_from_file_location(fullname, src) if src else None


def install() -> None:
    """Choose the build for this process (once; before any compiled module is imported)."""
    global _reason
    if _reason is not None or any(isinstance(f, _SourceFinder) for f in sys.meta_path):
        return
    manifest = read_manifest()
    if not manifest:  # no build, or one that did not finish: never import its extensions
        _reason = "no mypyc build"
        manifest = dict.fromkeys(COMPILED, "")
    elif os.environ.get(ENV_PURE, "").strip() not in ("", "0"):
        _reason = f"{ENV_PURE} is set"
    else:
        changed = changed_sources(manifest)
        if not changed:
            _reason = ""
            return
        _reason = (
            f"source changed since the build: {', '.join(changed)}; rebuild with `pip install -e .`"
        )
    sys.meta_path.insert(0, _SourceFinder({m: source_path(m) for m in manifest}))


def status() -> str:
    """``"compiled"``, or ``"python (<why>)"``: what the simulator's event loop runs (read off
    the loaded module, or off the files, without importing the simulator)."""
    install()
    if _reason:
        return f"python ({_reason})"
    loop = sys.modules.get(COMPILED[0])
    if loop is not None:
        compiled = not str(loop.__file__).endswith(".py")
    else:
        compiled = all(_has_extension(m) for m in read_manifest())
    return "compiled" if compiled else "python (extension missing)"


def _has_extension(module: str) -> bool:
    src = source_path(module)
    return any((src.parent / (src.stem + suffix)).exists() for suffix in EXTENSION_SUFFIXES)
