"""Build step: compile the event loop's hot modules with mypyc (same source, no code of its own).

Everything else about the package is in pyproject.toml. The modules (``ahasd.native.COMPILED``)
are plain, type-checked Python; mypyc turns them into C extensions that run the simulator's loop
about 3x as fast (``benchmarks/bench_sim.py``, docs/systems.md "The compiled build"). mypy is
pinned to one minor release (pyproject.toml): a type error stops the build, and a newer mypy may
check more. Set ``AHASD_PURE_PYTHON=1`` at install time to skip compiling; a C compiler error
leaves a working pure-Python install (the extensions are optional). A complete build writes
``ahasd/_native_build.json`` (its sources' SHA-256): at import, ``ahasd.native`` uses the
compiled modules only while every one of those sources is unchanged, so an edited checkout never
runs stale code.
"""

from __future__ import annotations

import json
import os
import runpy
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
# the module list lives with the code that chooses the build at run time (stdlib only: safe to
# run here, before the package's dependencies are installed)
PACKAGE = HERE / "src" / "ahasd"
NATIVE = runpy.run_path(str(PACKAGE / "native.py"))
COMPILED: tuple[str, ...] = NATIVE["COMPILED"]
MANIFEST: str = NATIVE["MANIFEST"].name
ENV_PURE: str = NATIVE["ENV_PURE"]
source_path, source_digest = NATIVE["source_path"], NATIVE["source_digest"]


class BuildWithManifest(build_ext):
    """``build_ext`` that records which sources the compiled modules were built from, once every
    extension built (without a manifest, ``ahasd.native`` never imports them)."""

    def run(self) -> None:
        super().run()
        built = [Path(self.get_ext_fullpath(ext.name)) for ext in self.extensions]
        if not built or not all(path.exists() for path in built):
            return
        package_dir = Path(self.get_ext_fullpath("ahasd.native")).parent
        digests = {m: source_digest(m, PACKAGE) for m in COMPILED}
        tmp = package_dir / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps({"compiled": digests}, indent=1) + "\n")
        tmp.replace(package_dir / MANIFEST)


def extensions() -> list:
    if os.environ.get(ENV_PURE, "").strip() not in ("", "0"):
        # an earlier in-place build's manifest would keep its extensions in use
        (PACKAGE / MANIFEST).unlink(missing_ok=True)
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:  # a build without its declared requirements (--no-build-isolation)
        print("ahasd: mypyc not found; installing the pure-Python build")
        return []
    paths = [str(source_path(m, PACKAGE).relative_to(HERE)) for m in COMPILED]
    flags = ["--follow-imports=silent", "--ignore-missing-imports"]
    exts = mypycify(flags + paths, opt_level="3", group_name="ahasd")
    for ext in exts:
        ext.optional = True  # a compiler error leaves the pure-Python modules in use
    return exts


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildWithManifest})
