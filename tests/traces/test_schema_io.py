"""Trace schema, validation and the Parquet/CSV/JSONL readers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ahasd.errors import AhasdError
from ahasd.traces import COLUMNS, TokenTrace, TraceMeta, load_trace, save_trace, synthesize


def _cols(n: int = 6) -> dict[str, np.ndarray]:
    return {
        "draft_entropy": np.linspace(0.1, 2.0, n),
        "draft_top1_prob": np.linspace(0.9, 0.2, n),
        "target_rank": np.array([0, 0, 1, 0, 0, 3][:n]),
        "accept_prob": np.full(n, 0.7),
        "target_entropy": np.full(n, 0.5),
    }


def test_match_runs_counts_consecutive_zero_ranks():
    t = TokenTrace(**_cols(), meta=TraceMeta())
    assert t.match_runs().tolist() == [2, 1, 0, 2, 1, 0]
    assert t.match_runs().dtype == np.int32
    assert len(t) == 6 and t.target_rank.dtype == np.int32


def test_slice_and_content_hash():
    t = TokenTrace(**_cols(), meta=TraceMeta(pair="a->b"))
    s = t.slice(1, 4)
    assert len(s) == 3 and s.meta.pair == "a->b"
    assert s.match_runs().tolist() == [1, 0, 2 - 1]
    assert t.content_hash != s.content_hash
    assert t.content_hash == TokenTrace(**_cols(), meta=TraceMeta(pair="x")).content_hash


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_round_trip_all_formats(tmp_path, suffix):
    t = synthesize("iid-alpha-0.7", 200, 3)
    path = tmp_path / f"t{suffix}"
    if suffix == ".parquet":
        save_trace(t, path)
    elif suffix == ".csv":
        lines = [",".join(COLUMNS)]
        lines += [",".join(repr(float(getattr(t, c)[i])) for c in COLUMNS) for i in range(len(t))]
        path.write_text("\n".join(lines) + "\n")
    else:
        rows = [json.dumps({"meta": t.meta.to_dict()})]
        rows += [json.dumps({c: getattr(t, c)[i].item() for c in COLUMNS}) for i in range(len(t))]
        path.write_text("\n".join(rows) + "\n")
    back = load_trace(path)
    assert back.content_hash == t.content_hash
    if suffix != ".csv":
        assert back.meta == t.meta


@pytest.mark.parametrize(
    "change, needle",
    [
        ({"accept_prob": None}, "missing column 'accept_prob'"),
        ({"draft_entropy": [0.1, np.nan, 0, 0, 0, 0]}, "NaN"),
        ({"draft_top1_prob": [0.5, 1.5, 0.5, 0.5, 0.5, 0.5]}, "draft_top1_prob at row 1"),
        ({"accept_prob": [-0.2, 0.5, 0.5, 0.5, 0.5, 0.5]}, "accept_prob at row 0"),
        ({"target_entropy": [0.1, 0.1, -1.0, 0.1, 0.1, 0.1]}, "target_entropy at row 2"),
        ({"target_rank": [0, -1, 0, 0, 0, 0]}, "target_rank at row 1"),
        ({"target_rank": [0, 0.5, 0, 0, 0, 0]}, "an integer"),
        ({"target_entropy": [0.1, 0.1]}, "different lengths"),
    ],
)
def test_malformed_columns_are_one_line_errors(change, needle):
    cols = {**_cols(), **change}
    with pytest.raises(AhasdError) as exc:
        TokenTrace(**cols, meta=TraceMeta())
    msg = str(exc.value)
    assert needle in msg and "\n" not in msg


def test_readers_reject_bad_files(tmp_path):
    with pytest.raises(AhasdError, match="does not exist"):
        load_trace(tmp_path / "missing.parquet")
    with pytest.raises(AhasdError, match="accepted suffixes"):
        load_trace(tmp_path / "t.txt")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(AhasdError, match="cannot read"):
        load_trace(bad)
    csv = tmp_path / "t.csv"
    csv.write_text("draft_entropy,draft_top1_prob\n0.1,0.9\n")
    with pytest.raises(AhasdError, match="missing column 'target_rank'"):
        load_trace(csv)
    csv.write_text(",".join(COLUMNS) + "\n0.1,abc,0,0.5,0.1\n")
    with pytest.raises(AhasdError, match="draft_top1_prob at row 0"):
        load_trace(csv)
    csv.write_text(",".join(COLUMNS) + "\n")
    with pytest.raises(AhasdError, match="no rows"):
        load_trace(csv)
    js = tmp_path / "t.jsonl"
    js.write_text("{not json}\n")
    with pytest.raises(AhasdError, match="line 1"):
        load_trace(js)


def test_save_requires_parquet_and_is_atomic(tmp_path):
    t = synthesize("iid-alpha-0.5", 10, 0)
    with pytest.raises(AhasdError, match="parquet"):
        save_trace(t, tmp_path / "t.csv")
    save_trace(t, tmp_path / "sub" / "t.parquet")
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["t.parquet"]


def test_recorded_rounding_is_tolerated_and_clipped():
    cols = _cols()
    cols["accept_prob"] = np.full(6, 1.0 + 1e-9)
    t = TokenTrace(**cols, meta=TraceMeta(source="recorded"))
    assert t.accept_prob.max() == 1.0


def _row(**over) -> str:
    row = {"draft_entropy": 0.1, "draft_top1_prob": 0.9, "target_rank": 0, "accept_prob": 0.8,
           "target_entropy": 0.2, **over}  # fmt: skip
    return json.dumps(row)


@pytest.mark.parametrize(
    "meta, needle",
    [
        ({"temperature": "hot"}, "meta.temperature"),
        ({"temperature": -1}, "meta.temperature"),
        ({"seed": "x"}, "meta.seed"),
        ({"seed": 1.5}, "meta.seed"),
        ({"pair": ["a"]}, "meta.pair"),
        ({"source": "dreamt"}, "meta.source"),
        ("oops", "meta must be a JSON object"),
    ],
)
def test_bad_metadata_is_a_one_line_error(tmp_path, meta, needle):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"meta": meta}) + "\n" + _row() + "\n")
    with pytest.raises(AhasdError) as exc:
        load_trace(path)
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_good_metadata_round_trips_and_unknown_keys_are_ignored(tmp_path):
    path = tmp_path / "t.jsonl"
    meta = {"pair": "a->b", "temperature": 0.7, "seed": 3, "source": "recorded", "extra": 1}
    path.write_text(json.dumps({"meta": meta}) + "\n" + _row() + "\n")
    m = load_trace(path).meta
    assert (m.pair, m.temperature, m.seed, m.source) == ("a->b", 0.7, 3, "recorded")


def test_jsonl_names_the_line_missing_a_column_and_rejects_booleans(tmp_path):
    path = tmp_path / "t.jsonl"
    row = json.loads(_row())
    del row["target_entropy"]
    path.write_text(_row() + "\n" + json.dumps(row) + "\n")
    with pytest.raises(AhasdError, match="missing column 'target_entropy' on line 2"):
        load_trace(path)
    path.write_text(_row(target_rank=True) + "\n")
    with pytest.raises(AhasdError, match="target_rank at row 0 is True"):
        load_trace(path)


def test_parquet_with_corrupt_metadata_and_nulls(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({c: [0.1, 0.2] for c in COLUMNS}).replace_schema_metadata(
        {b"ahasd.trace_meta": b"{not json"}
    )
    table = table.set_column(2, "target_rank", pa.array([0, 1]))
    pq.write_table(table, tmp_path / "m.parquet")
    with pytest.raises(AhasdError, match="metadata .* is not JSON"):
        load_trace(tmp_path / "m.parquet")
    nulls = pa.table({c: [0.1, None] for c in COLUMNS})
    pq.write_table(nulls, tmp_path / "n.parquet")
    with pytest.raises(AhasdError, match="NaN"):
        load_trace(tmp_path / "n.parquet")
