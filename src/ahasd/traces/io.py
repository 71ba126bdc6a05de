"""Reading and writing traces: Parquet (canonical, metadata in the schema), CSV and JSONL.

CSV/JSONL carry no metadata block; a JSONL line with a ``"meta"`` key (first line) is read as
metadata. Every reader ends in ``validate_columns`` so errors read the same whatever the format.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np

from ahasd.errors import AhasdError
from ahasd.fileio import atomic_path
from ahasd.traces.schema import COLUMNS, TokenTrace, TraceMeta, validate_columns

SUFFIXES = (".parquet", ".csv", ".jsonl")
META_KEY = b"ahasd.trace_meta"


def load_trace(path: str | os.PathLike[str]) -> TokenTrace:
    """Read and validate a trace; AhasdError (one line) on a missing file or bad data."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise AhasdError(f"trace: got file {str(p)!r}; accepted suffixes: {', '.join(SUFFIXES)}")
    if not p.is_file():
        raise AhasdError(f"trace: file {str(p)!r} does not exist")
    try:
        if suffix == ".parquet":
            cols, meta = _read_parquet(p)
        elif suffix == ".csv":
            cols, meta = _read_csv(p), {}
        else:
            cols, meta = _read_jsonl(p)
    except AhasdError:
        raise
    except Exception as exc:  # corrupt file of any kind -> one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise AhasdError(f"trace: cannot read {str(p)!r}: {first}") from None
    checked = validate_columns(cols)
    if len(checked["target_rank"]) == 0:
        raise AhasdError(f"trace: {str(p)!r} has no rows; accepted: at least one position")
    return TokenTrace(**checked, meta=TraceMeta.from_dict(meta))


def save_trace(trace: TokenTrace, path: str | os.PathLike[str]) -> None:
    """Write Parquet atomically (temp file + rename) with the metadata in the schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(path)
    if p.suffix.lower() != ".parquet":
        raise AhasdError(f"output: got {str(p)!r}; accepted: a .parquet path")
    table = pa.table({c: getattr(trace, c) for c in COLUMNS})
    meta = json.dumps(trace.meta.to_dict(), sort_keys=True).encode()
    table = table.replace_schema_metadata({META_KEY: meta})
    with atomic_path(p) as tmp:  # nothing half-written or left behind on failure
        pq.write_table(table, tmp)


def _read_parquet(p: Path) -> tuple[dict[str, np.ndarray], dict]:
    import pyarrow.parquet as pq

    table = pq.read_table(p)
    cols = {c: table.column(c).to_numpy() for c in table.column_names if c in COLUMNS}
    raw = (table.schema.metadata or {}).get(META_KEY)
    if not raw:
        return cols, {}
    try:
        return cols, json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise AhasdError(f"trace: metadata of {str(p)!r} is not JSON") from None


def _read_csv(p: Path) -> dict[str, list[float]]:
    with p.open(newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        cols: dict[str, list[float]] = {c: [] for c in COLUMNS if c in header}
        for i, row in enumerate(reader):
            for c in cols:
                cols[c].append(_number(row[c], c, i))
    return cols


def _read_jsonl(p: Path) -> tuple[dict[str, list[float]], dict]:
    """One JSON object per line with all five columns; a ``{"meta": {...}}`` line sets metadata."""
    cols: dict[str, list[float]] = {c: [] for c in COLUMNS}
    meta: dict = {}
    row_no = 0
    with p.open() as fh:
        for i, line in enumerate(fh):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise AhasdError(f"trace: line {i + 1} of {str(p)!r} is not JSON") from None
            if not isinstance(row, dict):
                raise AhasdError(f"trace: line {i + 1} of {str(p)!r} is not a JSON object")
            if "meta" in row:
                if not isinstance(row["meta"], dict):
                    raise AhasdError(
                        f"trace: line {i + 1} of {str(p)!r}: meta must be a JSON object"
                    )
                meta = row["meta"]
                continue
            for c in COLUMNS:
                if c not in row:
                    raise AhasdError(f"trace: missing column {c!r} on line {i + 1} of "
                                     f"{str(p)!r}; required: {', '.join(COLUMNS)}")  # fmt: skip
                cols[c].append(_number(row[c], c, row_no))
            row_no += 1
    return cols, meta


def _number(value: object, column: str, row: int) -> float:
    try:
        if isinstance(value, bool):
            raise TypeError  # JSON true/false is not a number
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise AhasdError(f"trace: {column} at row {row} is {value!r}; accepted: a number") from None
