"""Build step: compile the event loop's hot modules with mypyc (same source, no code of its own).

Everything else about the package is in pyproject.toml. The modules below are plain, type-checked
Python; mypyc turns them into C extensions, which run the simulator's loop about twice as fast
(``benchmarks/bench_sim.py``, docs/systems.md "Speed"). Set ``AHASD_PURE_PYTHON=1`` at install
time to skip compiling, e.g. where there is no C compiler; a compiler error also leaves a working
pure-Python install (the extensions are optional). Each build writes ``ahasd/_native_build.json``
(the modules and their sources' SHA-256): at import, ``ahasd.native`` uses the compiled modules
only while every one of those sources is unchanged, so an edited checkout never runs stale code.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
# the simulator's event loop and what it calls per event (a compiled module calls another
# compiled one directly, so they are compiled, and used, all together)
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
MANIFEST = "_native_build.json"


def source_of(module: str) -> Path:
    return HERE / "src" / Path(*module.split(".")).with_suffix(".py")


class BuildWithManifest(build_ext):
    """``build_ext`` that records which sources the compiled modules were built from."""

    def run(self) -> None:
        super().run()
        built = [m for m in COMPILED if Path(self.get_ext_fullpath(m)).exists()]
        if not built:
            return
        first = Path(self.get_ext_fullpath(COMPILED[0]))
        package_dir = first.parents[len(COMPILED[0].split(".")) - 2]  # .../ahasd
        manifest = {
            "compiled": {
                m: hashlib.sha256(source_of(m).read_bytes()).hexdigest() for m in sorted(built)
            }
        }
        tmp = package_dir / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=1) + "\n")
        tmp.replace(package_dir / MANIFEST)


def extensions() -> list:
    if os.environ.get("AHASD_PURE_PYTHON", "").strip() not in ("", "0"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:  # a build without its declared requirements (--no-build-isolation)
        print("ahasd: mypyc not found; installing the pure-Python build")
        return []
    paths = [str(source_of(m).relative_to(HERE)) for m in COMPILED]
    flags = ["--follow-imports=silent", "--ignore-missing-imports"]
    exts = mypycify(flags + paths, opt_level="3", group_name="ahasd")
    for ext in exts:
        ext.optional = True  # a compiler error leaves the pure-Python modules in use
    return exts


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildWithManifest})
