"""The sweep result cache: Parquet parts plus a JSON manifest, keyed by resolved-config hash.

A part is written to a temporary name and renamed into place; only then is it added to the
manifest (also rewritten atomically). A sweep killed at any instant therefore leaves a manifest
that lists complete parts only: a rerun skips every hash they hold, and a part written but not
yet listed is ignored (and deleted), so nothing is lost beyond the chunk in flight and nothing is
counted twice.

The cache knows its own files. A folder becomes a cache only when it is new or empty (or holds
a cache of the first format); it then carries a marker file. Nothing is deleted unless its name
is one the cache writes, and a file it did not write refuses the run instead. A lock file held
with ``flock`` keeps two runs off one folder; the kernel drops it when its process dies, so a
lock left by a killed run never blocks the next one.
"""

from __future__ import annotations

import json
import os
import re
import uuid
import weakref
from pathlib import Path
from typing import Any

from ahasd.errors import AhasdError
from ahasd.fileio import write_bytes

HASH = "point_hash"
MANIFEST = "manifest.json"
RESULTS = "results.parquet"
EXPLORE_RESULTS = "explore.parquet"
PARETO_PLOT = "pareto.png"
MARKER = ".ahasd-cache"
LOCK = ".lock"
FORMAT_VERSION = 1
MARKER_TEXT = json.dumps({"ahasd": "result cache", "version": FORMAT_VERSION}) + "\n"

OUTPUTS = (MANIFEST, RESULTS, EXPLORE_RESULTS, PARETO_PLOT)  # what a rebuild starts afresh
_PART = re.compile(r"part-\d{6}-[0-9a-f]{8}\.parquet")
_TEMP = re.compile(r"\..+\.\d+\.[0-9a-f]{8}\.tmp")  # ahasd.fileio's temporary names
REBUILD = "rerun with --rebuild to start this cache afresh"


def write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    """Rows → one Parquet file, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = to_table(rows)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    write_bytes(path, sink.getvalue().to_pybytes())


def to_table(rows: list[dict[str, Any]]):
    """Rows with possibly different keys → an Arrow table over the union of columns.

    A column whose values Arrow cannot type together (say, numbers and strings from different
    systems' extras) is stored as JSON text rather than failing the sweep.
    """
    import pyarrow as pa

    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    cols = {}
    for name in names:
        values = [row.get(name) for row in rows]
        try:
            cols[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            cols[name] = pa.array([None if v is None else json.dumps(v) for v in values])
    return pa.table(cols)


def read_parquet_rows(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def _own_name(name: str, in_parts: bool) -> bool:
    """A file name this cache writes (parts and temporaries in ``parts/``, outputs at the top)."""
    if _TEMP.fullmatch(name):
        return True
    return bool(_PART.fullmatch(name)) if in_parts else name in (*OUTPUTS, MARKER, LOCK)


def _try_lock(fd: int) -> bool:
    """Take an exclusive lock that the OS drops when the process dies; False if held."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: a byte-range lock past the pid text
        import msvcrt

        os.lseek(fd, 1 << 20, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        finally:
            os.lseek(fd, 0, os.SEEK_SET)
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class _Lock:
    """An exclusive OS lock on ``root/.lock``; the file holds the owner's pid for messages."""

    def __init__(self, root: Path) -> None:
        self.path = root / LOCK
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(self.fd):
            owner = os.read(self.fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(self.fd)
            raise AhasdError(
                f"out: {root} is in use by another ahasd run (pid {owner}); wait for it to "
                "finish or use another --out"
            ) from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()}\n".encode())
        # closing the file drops the lock: at release(), or when a caller forgets and this is
        # garbage-collected
        self._close = weakref.finalize(self, os.close, self.fd)

    def release(self) -> None:
        self._close()


class ResultCache:
    """One output directory: marker, lock, ``manifest.json``, ``parts/*.parquet``, results.

    Use it as a context manager (or call :meth:`close`) so the lock is released; a run that
    fails before its first part removes the folder it created.
    """

    def __init__(self, root: str | Path, *, rebuild: bool = False) -> None:
        self.root = Path(root)
        self.parts_dir = self.root / "parts"
        self._created = not self.root.exists()
        self._claim(rebuild)
        try:
            self._lock = _Lock(self.root)
        except BaseException:
            self._remove_if_created()
            raise
        try:
            if rebuild:
                self._remove_own_files()
            if rebuild or not (self.root / MARKER).exists():
                write_bytes(self.root / MARKER, MARKER_TEXT.encode())
            self.parts_dir.mkdir(exist_ok=True)
            self.manifest = self._load_manifest()
            self._drop_orphans()
        except BaseException:
            self._lock.release()
            self._remove_if_created()
            raise

    # ---- ownership ----------------------------------------------------------------------------

    def _claim(self, rebuild: bool) -> None:
        """Refuse a folder that is not a cache: never write into, or delete from, one."""
        root = self.root
        if self._created:
            root.mkdir(parents=True)
            return
        if not root.is_dir():
            raise AhasdError(f"out: {root} exists and is not a folder; accepted: a folder path")
        foreign = self._foreign_files()
        marker = root / MARKER
        if marker.exists():
            if marker.read_text(errors="replace") != MARKER_TEXT and not rebuild:
                raise AhasdError(f"out: {marker} is damaged or from another version; {REBUILD}")
        elif foreign or not self._legacy_or_empty():
            what = foreign[0] if foreign else next(iter(sorted(root.iterdir())))
            raise AhasdError(
                f"out: {root} is not an ahasd result cache (it holds {what.name}); accepted: a "
                "new or empty folder, or one a previous sweep/explore wrote"
            )
        if foreign:
            raise AhasdError(
                f"out: {foreign[0]} was not written by ahasd; move it out of the cache "
                "(the cache deletes only its own files)"
            )

    def _foreign_files(self) -> list[Path]:
        parts = self.parts_dir
        found = [] if parts.is_dir() or not parts.exists() else [parts]
        if parts.is_dir():
            found += [f for f in sorted(parts.iterdir()) if not _own_name(f.name, True)]
            found += [f for f in sorted(parts.iterdir()) if not f.is_file() and f not in found]
        return found

    def _legacy_or_empty(self) -> bool:
        """Empty, being claimed by another run (its lock only), or a cache written before the
        marker existed (a manifest and only our names)."""
        names = {p.name for p in self.root.iterdir()}
        if names <= {LOCK}:
            return True
        return MANIFEST in names and all(n == "parts" or _own_name(n, False) for n in names)

    def _remove_own_files(self) -> None:
        """``--rebuild``: the manifest, parts and outputs go; anything else stays."""
        for name in OUTPUTS:
            (self.root / name).unlink(missing_ok=True)
        if self.parts_dir.is_dir():
            for f in self.parts_dir.iterdir():
                if _own_name(f.name, True) and f.is_file():
                    f.unlink()

    # ---- manifest and parts -------------------------------------------------------------------

    def _load_manifest(self) -> dict[str, Any]:
        path = self.root / MANIFEST
        if not path.exists():
            return {"version": FORMAT_VERSION, "parts": []}
        try:
            data = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise AhasdError(f"out: {path} is damaged ({exc}); {REBUILD}") from None
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            version = data.get("version") if isinstance(data, dict) else None
            raise AhasdError(
                f"out: {path} has cache format {version!r}; accepted: {FORMAT_VERSION} ({REBUILD})"
            )
        parts = data.get("parts")
        if not isinstance(parts, list) or not all(_valid_entry(p) for p in parts):
            raise AhasdError(f"out: {path} is damaged (bad parts list); {REBUILD}")
        for part in parts:
            if not (self.root / part["file"]).is_file():
                raise AhasdError(
                    f"out: {self.root / part['file']} is listed in {MANIFEST} but missing; "
                    f"{REBUILD}"
                )
        return data

    def _drop_orphans(self) -> None:
        """Parts or temp files from a run killed between write and manifest update."""
        listed = {p["file"] for p in self.manifest["parts"]}
        for f in self.parts_dir.iterdir():
            if f"parts/{f.name}" not in listed and _own_name(f.name, True):
                f.unlink(missing_ok=True)
        for f in self.root.iterdir():
            if f.is_file() and _TEMP.fullmatch(f.name):
                f.unlink(missing_ok=True)

    def hashes(self) -> set[str]:
        return {h for part in self.manifest["parts"] for h in part["hashes"]}

    def add(self, rows: list[dict[str, Any]]) -> None:
        """Persist finished rows as a new part; rows already cached are dropped first."""
        done = self.hashes()
        fresh: dict[str, dict[str, Any]] = {}
        for row in rows:
            if row[HASH] not in done:
                fresh.setdefault(row[HASH], row)
        if not fresh:
            return
        name = f"part-{len(self.manifest['parts']):06d}-{uuid.uuid4().hex[:8]}.parquet"
        write_parquet(list(fresh.values()), self.parts_dir / name)
        parts = [*self.manifest["parts"], {"file": f"parts/{name}", "hashes": list(fresh)}]
        manifest = {**self.manifest, "parts": parts}
        write_bytes(self.root / MANIFEST, json.dumps(manifest, indent=1).encode())
        self.manifest = manifest

    def rows(self) -> dict[str, dict[str, Any]]:
        """Every cached row by hash (first occurrence wins)."""
        out: dict[str, dict[str, Any]] = {}
        for part in self.manifest["parts"]:
            path = self.root / part["file"]
            try:
                rows = read_parquet_rows(path)
            except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise AhasdError(f"out: {path} is damaged ({first}); {REBUILD}") from None
            for row in rows:
                if not isinstance(row.get(HASH), str):
                    raise AhasdError(f"out: {path} is damaged (no {HASH} column); {REBUILD}")
                out.setdefault(row[HASH], row)
        return out

    def write_results(self, rows: list[dict[str, Any]], name: str = RESULTS) -> Path:
        path = self.root / name
        write_parquet(rows, path)
        return path

    # ---- lifetime -----------------------------------------------------------------------------

    def close(self, failed: bool = False) -> None:
        """Release the lock; after a failure with nothing cached, remove a folder we created."""
        self._lock.release()
        if failed and not self.manifest["parts"]:
            self._remove_if_created()

    def _remove_if_created(self) -> None:
        """Undo a folder this run created and left empty of results (our files only)."""
        if not self._created:
            return
        for name in (MARKER, MANIFEST, LOCK):
            (self.root / name).unlink(missing_ok=True)
        for d in (self.parts_dir, self.root):
            try:
                if d.exists():
                    d.rmdir()  # only when empty: a file someone else put there stays
            except OSError:
                return

    def __enter__(self) -> ResultCache:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(failed=exc_type is not None)


def _valid_entry(part: object) -> bool:
    if not isinstance(part, dict) or not isinstance(part.get("hashes"), list):
        return False
    file = part.get("file")
    return isinstance(file, str) and file.startswith("parts/") and bool(_PART.fullmatch(file[6:]))
