"""`describe`: the inferred schema, its round trip through the processor, the summary on
stderr, completing an existing schema, and the answer's independence of the chunking."""

from __future__ import annotations

import csv
import io
import json
import sys
from argparse import Namespace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import HEADER, row
from etl.schema import parse_schema

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from chunkfile import process_file  # noqa: E402
from localrun.describe import describe, main  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "describe"


def run_describe(*paths, schema=None, jobs=1, chunk_bytes=None, delimiter=None):
    """(schema document, stderr lines) of describe on `paths`."""
    err = io.StringIO()
    args = Namespace(
        files=[str(p) for p in paths],
        schema=schema and str(schema),
        jobs=jobs,
        chunk_bytes=chunk_bytes,
        delimiter=delimiter,
        name=None,
    )
    doc = describe(args, err=err)
    return doc, err.getvalue().splitlines()


def expected_value(field, text: str):
    """What the processor must store for `text`, by Python's own parsers (independent of
    the pipeline's patterns and casts)."""
    if text in field.missing_values:
        return None
    fmt = "".join(field.format.tokens) if field.format else None
    if field.type == "integer":
        return int(text)
    if field.type == "number":
        return Decimal(text.replace(field.decimal_char, "."))
    if field.type == "boolean":
        assert text in field.true_values + field.false_values
        return text in field.true_values
    if field.type == "date":
        return datetime.strptime(text, fmt or "%Y-%m-%d").date()
    if field.type == "datetime" and fmt is None:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    if field.type == "datetime":
        parsed = datetime.strptime(text, fmt)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if field.type == "time":
        return time.fromisoformat(text)
    return text


def assert_round_trip(path: Path, doc: dict, tmp_path: Path, *, wrong_width: int = 0) -> int:
    """The processor with `doc` on `path`: no rejects but records of the wrong width, and
    every value as its text says. Returns the number of valid rows."""
    schema = parse_schema(doc)
    result = process_file(path, schema, tmp_path / "v.parquet", tmp_path / "r.parquet")
    rejected = pq.read_table(tmp_path / "r.parquet").to_pylist()
    assert [f["rule"] for r in rejected for f in r["failures"]] == ["fields"] * wrong_width
    with open(path, encoding="utf-8-sig", newline="") as f:
        records = list(csv.reader(f, delimiter=schema.delimiter))
    names = [n.strip() for n in records[0]]
    expected = [
        {n: expected_value(schema.column(n), text) for n, text in zip(names, rec, strict=True)}
        for rec in records[1:]
        if rec and len(rec) == len(names)
    ]
    assert pq.read_table(tmp_path / "v.parquet").to_pylist() == expected
    assert (result.rows_valid, result.rows_rejected) == (len(expected), wrong_width)
    return result.rows_valid


PENGUINS = {
    "name": "penguins",
    "dialect": {"delimiter": ",", "header": True},
    "missingValues": ["", "NA"],
    "fields": [
        {"name": "species", "type": "string", "constraints": {"required": True}},
        {"name": "island", "type": "string", "constraints": {"required": True}},
        {"name": "bill_length_mm", "type": "number", "precision": 3, "scale": 1},
        {"name": "bill_depth_mm", "type": "number", "precision": 3, "scale": 1},
        {"name": "flipper_length_mm", "type": "integer"},
        {"name": "body_mass_g", "type": "integer"},
        {"name": "sex", "type": "string"},
        {"name": "year", "type": "integer", "constraints": {"required": True}},
        {"name": "ratio", "type": "number", "precision": 5, "scale": 4},
    ],
}
WEATHER = {
    "name": "weather_semicolon",
    "dialect": {"delimiter": ";", "header": True},
    "missingValues": [""],
    "fields": [
        {"name": "station", "type": "string", "constraints": {"required": True}},
        {"name": "date", "type": "date", "format": "%d.%m.%Y", "constraints": {"required": True}},
        {
            "name": "observed",
            "type": "datetime",
            "format": "%d.%m.%Y %H:%M",
            "timezone": "UTC",
            "constraints": {"required": True},
        },
        {
            "name": "temp_c",
            "type": "number",
            "decimalChar": ",",
            "precision": 3,
            "scale": 1,
            "constraints": {"required": True},
        },
        {"name": "rain_mm", "type": "number", "decimalChar": ",", "precision": 4, "scale": 2},
        {"name": "wind_kmh", "type": "integer", "constraints": {"required": True}},
        {
            "name": "sunny",
            "type": "boolean",
            "trueValues": ["yes"],
            "falseValues": ["no"],
            "constraints": {"required": True},
        },
        {"name": "note", "type": "string"},
    ],
}
TRIPS = {
    "name": "trips",
    "dialect": {"delimiter": "\t", "header": True},
    "missingValues": ["", "N/A", "null"],
    "fields": [
        {"name": "trip_id", "type": "integer", "constraints": {"required": True}},
        {"name": "started_at", "type": "datetime", "constraints": {"required": True}},
        {
            "name": "service_day",
            "type": "date",
            "format": "%Y/%m/%d",
            "constraints": {"required": True},
        },
        {"name": "departs", "type": "time", "constraints": {"required": True}},
        {"name": "distance_km", "type": "number", "precision": 8, "scale": 6},
        {"name": "fare", "type": "number", "precision": 4, "scale": 2},
        {
            "name": "paid",
            "type": "boolean",
            "trueValues": ["TRUE"],
            "falseValues": ["FALSE"],
            "constraints": {"required": True},
        },
        {"name": "comment", "type": "string"},
        {
            "name": "vehicle_serial",
            "type": "number",
            "precision": 19,
            "scale": 0,
            "constraints": {"required": True},
        },
    ],
}


@pytest.mark.parametrize(
    ("fixture", "expected", "rows"),
    [("penguins.csv", PENGUINS, 40), ("weather_semicolon.csv", WEATHER, 35), ("trips.tsv", TRIPS, 30)],
)
def test_realistic_files_get_the_narrowest_schema_and_round_trip(tmp_path, fixture, expected, rows):
    # comma + NA + decimals of 1-4 fraction digits; semicolon + decimal commas + dotted
    # dates and zoneless datetimes + yes/no; tab + BOM + CRLF + N/A and null + quoted tabs
    # and newlines + ISO timestamps with 0/3/6 fraction digits + ids past 64 bits
    doc, _ = run_describe(FIXTURES / fixture)
    assert doc == expected
    assert assert_round_trip(FIXTURES / fixture, doc, tmp_path) == rows


def test_the_summary_names_each_decision_and_the_first_value_that_ruled_out_each_type():
    _, lines = run_describe(FIXTURES / "trips.tsv")
    assert lines[0] == "30 records, delimiter '\\t', missing values ['', 'N/A', 'null']"
    assert lines[lines.index("distance_km: number(8,6), optional (missing: 'N/A' x3)") + 1 :][
        :2
    ] == ["  not boolean: '34' at line 2", "  not integer: '48.7' at line 3"]
    assert lines[lines.index("vehicle_serial: number(19,0), required") + 1 :][:2] == [
        "  not boolean: '9223372036854775807' at line 2",
        "  not integer: '9223372036854776807' at line 3",  # past 2**63 - 1
    ]
    # the record after the quoted CRLF starts a line later than its record number says
    assert "comment: string, optional (missing: '' x5)" in lines
