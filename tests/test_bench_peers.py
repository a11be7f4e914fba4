"""The bench's polars and DuckDB peers do the processor's job: same rows kept, same values,
same rows rejected for the same column (or field count)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from etl.schema import load_schema
from etl.transform import process_file

from localrun.sample import write_transactions

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from duckdb_reference import process_file_duckdb  # noqa: E402
from polars_reference import process_file_polars  # noqa: E402

SCHEMA = load_schema(ROOT / "schemas" / "transactions.json")
HEADER = "transaction_id,account_id,timestamp,amount,currency,merchant,category,status\n"
# the edges of the schema's rules, one record each (line numbers from 2)
EDGES = [
    "T1,A1,2024-02-29T00:00:00Z,1,USD,,,POSTED",  # leap day: valid
    "T2,A1,2023-02-29T00:00:00Z,1,USD,,,POSTED",  # no Feb 29 in 2023
    "T3,A1,2024-13-01T00:00:00Z,1,USD,,,POSTED",  # month 13
    "T4,A1,2024-01-01T24:00:00Z,1,USD,,,POSTED",  # hour 24
    "T5,A1,2024-01-01T00:00:00+02:00,1,USD,,,POSTED",  # not UTC
    "T6,A1,2024-01-01 00:00:00Z,1,USD,,,POSTED",  # no T
    "T7,A1,2024-01-01T00:00:00.1234567Z,1,USD,,,POSTED",  # 7 fraction digits
    "T8,A1,2024-01-01T00:00:00.123456+00:00,-0.5,USD,,,POSTED",  # valid
    "T9,A1,0001-01-01T00:00:00Z,9999999999999999.99,USD,,,POSTED",  # valid: the bounds
    "T10,A1,0000-01-01T00:00:00Z,1,USD,,,POSTED",  # year 0
    "T11,A1,2024-01-01T00:00:00Z,10000000000000000,USD,,,POSTED",  # 17 integer digits
    "T12,A1,2024-01-01T00:00:00Z,1.234,USD,,,POSTED",  # 3 fraction digits
    "T13,A1,2024-01-01T00:00:00Z,1e5,USD,,,POSTED",
    "T14,A1,2024-01-01T00:00:00Z,+1,USD,,,POSTED",
    "T15,A1,2024-01-01T00:00:00Z,1.,USD,,,POSTED",
    "T16,A1,2024-01-01T00:00:00Z,1,usd,,,POSTED",  # not an allowed currency
    'T17,A1,2024-01-01T00:00:00Z,1,USD,"Joe ""The Plumber"", Inc.","",SETTLED',  # valid
    "T18,A1,2024-01-01T00:00:00Z,1,USD,,,",  # required status empty
    '"",A1,2024-01-01T00:00:00Z,1,USD,,,POSTED',  # required id empty (quoted)
    "-T20,A1,2024-01-01T00:00:00Z,1,USD,,,POSTED",  # pattern: starts with '-'
    "T21,A1,2024-01-01T00:00:00Z,1,USD,Café Zürich,food,REVERSED",  # valid
    "T22,A1,2024-01-01T00:00:00Z,1,USD,,POSTED",  # 7 fields
    "T23,A1,2024-01-01T00:00:00Z,1,USD,,,POSTED,X",  # 9 fields
    "T24,A1,2024-01-01T00:00:00Z,,,,,POSTED",  # amount and currency empty: amount first
]


def _processor(csv: Path, tmp: Path) -> tuple[object, dict[int, str], dict[int, str]]:
    result = process_file(csv, SCHEMA, tmp / "p_valid.parquet", tmp / "p_rejected.parquet")
    rejects = pq.read_table(tmp / "p_rejected.parquet").to_pylist()
    return (
        result,
        {r["line"]: _category(r["reason"].split("; ")[0]) for r in rejects},
        {r["line"]: r["raw"] for r in rejects},
    )


def _category(reason: str) -> str:
    """What a reject is about: a field count, or the first column that failed.
    processor: 'amount: ...'; peers: 'decimal:amount'; both: 'expected 8 fields, found 7'."""
    if reason.startswith("expected "):
        return reason
    if ": " in reason:
        return reason.split(": ", 1)[0]
    return reason.split(":", 1)[1]


def _assert_same_valid_values(tmp: Path, peer: str) -> None:
    ours = pq.read_table(tmp / "p_valid.parquet")
    theirs = pq.read_table(tmp / f"{peer}_valid.parquet")
    assert theirs.column_names == ours.column_names
    assert theirs.num_rows == ours.num_rows
    for name in ours.column_names:
        mine = ours.column(name).combine_chunks()
        other = theirs.column(name).combine_chunks().cast(mine.type)
        assert other.equals(mine), name


def _run_peers(csv: Path, tmp: Path):
    polars = process_file_polars(
        csv, SCHEMA, tmp / "polars_valid.parquet", tmp / "polars_rejected.parquet"
    )
    duckdb = process_file_duckdb(
        csv, SCHEMA, tmp / "duckdb_valid.parquet", tmp / "duckdb_rejected.parquet", threads=2
    )
    return polars, duckdb


def _check_against_processor(csv: Path, tmp: Path) -> tuple[object, dict[int, str]]:
    ours, categories, raws = _processor(csv, tmp)
    polars, duckdb = _run_peers(csv, tmp)
    for peer, result in (("polars", polars), ("duckdb", duckdb)):
        assert (result.rows_valid, result.rows_rejected) == (ours.rows_valid, ours.rows_rejected)
        assert sum(result.rejected_by_reason.values()) == ours.rows_rejected
        _assert_same_valid_values(tmp, peer)
    # polars: the same lines rejected, for the same column, with the exact raw text
    polars_rejects = pq.read_table(tmp / "polars_rejected.parquet").to_pylist()
    assert {r["line"]: _category(r["reason"]) for r in polars_rejects} == categories
    assert {r["line"]: r["raw"] for r in polars_rejects} == raws
    # DuckDB: the same categories; lines and raw text for the records its reader rejects
    duck_rejects = pq.read_table(tmp / "duckdb_rejected.parquet").to_pylist()
    assert Counter(_category(r["reason"]) for r in duck_rejects) == Counter(categories.values())
    by_reader = {r["line"]: r["raw"] for r in duck_rejects if r["line"] is not None}
    assert by_reader == {
        line: raws[line] for line, cat in categories.items() if cat.startswith("expected ")
    }
    return ours, categories


def test_peers_match_the_processor_on_the_rules_edges(tmp_path):
    csv = tmp_path / "edges.csv"
    csv.write_text(HEADER + "\n".join(EDGES) + "\n", encoding="utf-8")
    ours, categories = _check_against_processor(csv, tmp_path)
    assert (ours.rows_valid, ours.rows_rejected) == (5, 19)
    assert categories == {
        3: "timestamp",
        4: "timestamp",
        5: "timestamp",
        6: "timestamp",
        7: "timestamp",
        8: "timestamp",
        11: "timestamp",
        12: "amount",
        13: "amount",
        14: "amount",
        15: "amount",
        16: "amount",
        17: "currency",
        19: "status",
        20: "transaction_id",
        21: "transaction_id",
        23: "expected 8 fields, found 7",
        24: "expected 8 fields, found 9",
        25: "amount",
    }
    polars_reasons = {
        r["line"]: r["reason"]
        for r in pq.read_table(tmp_path / "polars_rejected.parquet").to_pylist()
    }
    assert polars_reasons[3] == "timestamp:timestamp"
    assert polars_reasons[12] == "decimal:amount"
    assert polars_reasons[17] == "not_allowed:currency"
    assert polars_reasons[19] == "missing:status"
    assert polars_reasons[21] == "pattern:transaction_id"
    assert polars_reasons[25] == "missing:amount"


def test_peers_match_the_processor_and_the_generator(tmp_path):
    csv = tmp_path / "t.csv"
    stats = write_transactions(csv, rows=20_000, invalid_fraction=0.03, seed=11)
    ours, categories = _check_against_processor(csv, tmp_path)
    assert (ours.rows_valid, ours.rows_rejected) == (stats.valid_rows, stats.invalid_rows)
    kinds = Counter(categories.values())
    assert kinds["expected 8 fields, found 7"] == stats.invalid_by_kind["too_few_fields"]
    assert kinds["expected 8 fields, found 9"] == stats.invalid_by_kind["too_many_fields"]


def test_duckdb_peer_keeps_trailing_empty_fields_the_processor_rejects(tmp_path):
    """DuckDB's reader ignores trailing delimiters with nothing after them (by design, even
    in strict mode): its known limit, documented in bench/duckdb_reference.py. The bench's
    sample appends a non-empty extra field, which DuckDB does reject."""
    csv = tmp_path / "trailing.csv"
    csv.write_text(HEADER + "T1,A1,2024-01-01T00:00:00Z,1,USD,,,POSTED,\n")
    ours = process_file(csv, SCHEMA, tmp_path / "p.parquet", tmp_path / "r.parquet")
    duckdb = process_file_duckdb(csv, SCHEMA, tmp_path / "v.parquet", tmp_path / "d.parquet")
    polars = process_file_polars(csv, SCHEMA, tmp_path / "pv.parquet", tmp_path / "pr.parquet")
    assert (ours.rows_valid, ours.rows_rejected) == (0, 1)
    assert (polars.rows_valid, polars.rows_rejected) == (0, 1)
    assert (duckdb.rows_valid, duckdb.rows_rejected) == (1, 0)


def test_polars_peer_refuses_newlines_inside_quotes(tmp_path):
    csv = tmp_path / "qnl.csv"
    csv.write_text(HEADER + 'T1,A1,2024-01-01T00:00:00Z,1,USD,"two\nlines",,POSTED\n')
    with pytest.raises(ValueError, match="records and lines do not pair up"):
        process_file_polars(csv, SCHEMA, tmp_path / "v.parquet", tmp_path / "r.parquet")
