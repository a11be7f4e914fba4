"""The bench's polars and DuckDB peers do the processor's job: same rows kept, same values,
same rows rejected for the same first rule, in the processor's words."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from etl.schema import load_schema

from localrun.sample import write_transactions

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from chunkfile import process_file  # noqa: E402
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
    "T14,A1,2024-01-01T00:00:00Z,+1,USD,,,POSTED",  # valid: Table Schema allows a sign
    "T15,A1,2024-01-01T00:00:00Z,1.,USD,,,POSTED",  # valid: XML Schema's decimal form
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
        {r["line"]: _first_reason(r) for r in rejects},
        {r["line"]: r["raw"] for r in rejects},
    )


def _first_reason(reject: dict) -> str:
    """The processor's first failing rule, as the peers name a reject: its reason, and for
    the field count the number found (which the processor keeps in `failures`)."""
    first = reject["failures"][0]
    reason = reject["reason"].split("; ")[0]
    return f"{reason}, found {first['value']}" if first["rule"] == "fields" else reason


def _column(reason: str) -> str:
    return "fields" if reason.startswith("wrong number of fields") else reason.split(": ")[0]


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
    # polars: the same lines rejected, for the same first rule, with the exact raw text
    polars_rejects = pq.read_table(tmp / "polars_rejected.parquet").to_pylist()
    assert {r["line"]: r["reason"] for r in polars_rejects} == categories
    assert {r["line"]: r["raw"] for r in polars_rejects} == raws
    # DuckDB: the same reasons; lines and raw text for the records its reader rejects
    duck_rejects = pq.read_table(tmp / "duckdb_rejected.parquet").to_pylist()
    assert Counter(r["reason"] for r in duck_rejects) == Counter(categories.values())
    by_reader = {r["line"]: r["raw"] for r in duck_rejects if r["line"] is not None}
    assert by_reader == {
        line: raws[line] for line, reason in categories.items() if _column(reason) == "fields"
    }
    return ours, categories


def test_peers_match_the_processor_on_the_rules_edges(tmp_path):
    csv = tmp_path / "edges.csv"
    csv.write_text(HEADER + "\n".join(EDGES) + "\n", encoding="utf-8")
    ours, categories = _check_against_processor(csv, tmp_path)
    assert (ours.rows_valid, ours.rows_rejected) == (7, 17)
    assert {line: _column(reason) for line, reason in categories.items()} == {
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
        17: "currency",
        19: "status",
        20: "transaction_id",
        21: "transaction_id",
        23: "fields",
        24: "fields",
        25: "amount",
    }
    assert categories[3] == "timestamp: not an ISO-8601 UTC timestamp like 2024-03-01T12:34:56Z"
    assert categories[12].startswith("amount: not a decimal(18,2)")
    assert categories[17] == "currency: not one of the enum values"
    assert categories[19] == "status: a value is required"
    assert categories[21] == (
        "transaction_id: does not match the pattern [A-Za-z0-9][A-Za-z0-9_-]{0,63}"
    )
    assert categories[23] == "wrong number of fields: expected 8, found 7"
    assert categories[24] == "wrong number of fields: expected 8, found 9"
    assert categories[25] == "amount: a value is required"


def test_peers_match_the_processor_and_the_generator(tmp_path):
    csv = tmp_path / "t.csv"
    stats = write_transactions(csv, rows=20_000, invalid_fraction=0.03, seed=11)
    ours, categories = _check_against_processor(csv, tmp_path)
    assert (ours.rows_valid, ours.rows_rejected) == (stats.valid_rows, stats.invalid_rows)
    kinds = Counter(categories.values())
    few, many = (f"wrong number of fields: expected 8, found {n}" for n in (7, 9))
    assert kinds[few] == stats.invalid_by_kind["too_few_fields"]
    assert kinds[many] == stats.invalid_by_kind["too_many_fields"]


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


OTHER_TYPES = {
    "name": "other",
    "missingValues": ["", "NA"],
    "fields": [
        {"name": "n", "type": "integer", "constraints": {"required": True}},
        {"name": "flag", "type": "boolean", "trueValues": ["yes"], "falseValues": ["no"]},
        {"name": "day", "type": "date"},
        {"name": "code", "type": "string", "constraints": {"minLength": 2, "maxLength": 3}},
    ],
}
OTHER_ROWS = [
    "1,yes,2024-02-29,ab",  # valid
    "9223372036854775807,no,NA,abc",  # valid: the int64 maximum, a missing date
    "9223372036854775808,no,,ab",  # past the int64 range
    "-9223372036854775809,,,ab",  # below it
    "NA,yes,,ab",  # required, missing by missingValues
    "2,maybe,,ab",  # not a declared boolean word
    "3,yes,2023-02-29,ab",  # no Feb 29 in 2023
    "4,,,a",  # too short
    "5,,,abcd",  # too long
    "6,NA,NA,NA",  # valid: optional values missing
]


def test_peers_match_the_processor_on_other_types(tmp_path):
    """integer (and its 64-bit range), boolean words, dates, lengths, extra missing values:
    the rules come from the Field as the processor's, in its order and words."""
    from etl.schema import parse_schema
    from pandas_reference import process_file_pandas

    schema = parse_schema(OTHER_TYPES)
    csv = tmp_path / "other.csv"
    csv.write_text("n,flag,day,code\n" + "\n".join(OTHER_ROWS) + "\n")
    ours = process_file(csv, schema, tmp_path / "p_valid.parquet", tmp_path / "p_rej.parquet")
    expected = {
        r["line"]: r["reason"].split("; ")[0]
        for r in pq.read_table(tmp_path / "p_rej.parquet").to_pylist()
    }
    assert (ours.rows_valid, ours.rows_rejected) == (3, 7)
    assert expected == {
        4: "n: not a 64-bit integer",
        5: "n: not a 64-bit integer",
        6: "n: a value is required",
        7: "flag: not one of ['yes'] or ['no']",
        8: "day: not a date YYYY-MM-DD",
        9: "code: shorter than 2 characters",
        10: "code: longer than 3 characters",
    }
    polars = process_file_polars(
        csv, schema, tmp_path / "polars_valid.parquet", tmp_path / "polars_rej.parquet"
    )
    assert {
        r["line"]: r["reason"] for r in pq.read_table(tmp_path / "polars_rej.parquet").to_pylist()
    } == expected
    duckdb = process_file_duckdb(
        csv, schema, tmp_path / "duckdb_valid.parquet", tmp_path / "duckdb_rej.parquet"
    )
    pandas = process_file_pandas(csv, schema, tmp_path / "pd_valid", tmp_path / "pd_rej")
    for peer, result in (("polars", polars), ("duckdb", duckdb)):
        assert (result.rows_valid, result.rows_rejected) == (3, 7), peer
        assert result.rejected_by_reason == Counter(expected.values()), peer
        _assert_same_valid_values(tmp_path, peer)
    assert (pandas.rows_valid, pandas.rows_rejected) == (3, 7)
    assert pandas.rejected_by_reason == Counter(expected.values())
    theirs = pq.read_table(tmp_path / "pd_valid")
    ours_valid = pq.read_table(tmp_path / "p_valid.parquet")
    for name in ours_valid.column_names:
        mine = ours_valid.column(name).combine_chunks()
        assert theirs.column(name).combine_chunks().cast(mine.type).equals(mine), name


def test_peers_refuse_what_they_do_not_implement(tmp_path):
    from etl.schema import parse_schema
    from peer_rules import PeerUnsupported, row_rules

    dated = {"fields": [{"name": "d", "type": "date", "format": "%d.%m.%Y"}]}
    with pytest.raises(PeerUnsupported, match="'d': a declared date/datetime format"):
        row_rules(parse_schema(dated))
    ranged = {"fields": [{"name": "n", "type": "integer", "constraints": {"minimum": 0}}]}
    with pytest.raises(PeerUnsupported, match="'n': a range constraint"):
        row_rules(parse_schema(ranged))
