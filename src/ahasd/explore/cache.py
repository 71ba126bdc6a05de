"""The sweep result cache: Parquet parts plus a JSON manifest, keyed by resolved-config hash.

A part is written to a temporary name and renamed into place; only then is it added to the
manifest (also rewritten atomically). A sweep killed at any instant therefore leaves a manifest
that lists complete parts only: a rerun skips every hash they hold, and a part written but not
yet listed is ignored (and deleted), so nothing is lost beyond the chunk in flight and nothing is
counted twice.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

HASH = "point_hash"
MANIFEST = "manifest.json"
RESULTS = "results.parquet"
FORMAT_VERSION = 1


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a torn one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    """Rows → one Parquet file, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = to_table(rows)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


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


class ResultCache:
    """One output directory: ``manifest.json``, ``parts/*.parquet``, ``results.parquet``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.parts_dir = self.root / "parts"
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        self.manifest = self._load_manifest()
        self._drop_orphans()

    def _load_manifest(self) -> dict[str, Any]:
        path = self.root / MANIFEST
        if not path.exists():
            return {"version": FORMAT_VERSION, "parts": []}
        from ahasd.errors import AhasdError

        try:
            data = json.loads(path.read_text())
        except ValueError as exc:  # never torn by us (atomic writes): edited by hand
            raise AhasdError(
                f"out: {path} is not a sweep manifest ({exc}); use a fresh --out directory"
            ) from exc
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            version = data.get("version") if isinstance(data, dict) else None
            raise AhasdError(
                f"out: {path} has cache format {version!r}; "
                f"accepted: {FORMAT_VERSION} (use a fresh --out directory)"
            )
        return data

    def _drop_orphans(self) -> None:
        """Parts or temp files from a run killed between write and manifest update."""
        listed = {p["file"] for p in self.manifest["parts"]}
        for f in self.parts_dir.iterdir():
            if f"parts/{f.name}" not in listed:
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
        atomic_write_bytes(self.root / MANIFEST, json.dumps(manifest, indent=1).encode())
        self.manifest = manifest

    def rows(self) -> dict[str, dict[str, Any]]:
        """Every cached row by hash (first occurrence wins)."""
        out: dict[str, dict[str, Any]] = {}
        for part in self.manifest["parts"]:
            for row in read_parquet_rows(self.root / part["file"]):
                out.setdefault(row[HASH], row)
        return out

    def write_results(self, rows: list[dict[str, Any]]) -> Path:
        path = self.root / RESULTS
        write_parquet(rows, path)
        return path
