"""`describe` on numbers written with digit groups and decimal commas (`groupChar`,
`decimalChar`) and on months (`yearmonth`): the exact schema, an answer that does not
depend on the chunking or the row order, and the round trip through `validate`."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from etl.schema_check import parse_schema
from test_describe import expected_value, run_describe

from localrun.validate import validate_file

MARKS_CSV = (
    "en;de;comma;either;dotted;commas;month;year\n"
    "1,234,567.89;1.234.567,89;1,5;1,234;1.234.567;1,234;2024-03;2024\n"
    "12;7,5;2,25;999;12;5,678,901;2023-12;1999\n"
    "-1,000.5;10;3;12,345;4.000;NA;1999-01;2000\n"
)


def field(name: str, typ: str, required: bool = True, **keywords) -> dict:
    out = {"name": name, "type": typ, **keywords}
    return {**out, "constraints": {"required": True}} if required else out


def validate_round_trip(path: Path, doc: dict, tmp_path: Path) -> list[dict]:
    """`validate` with `doc` on `path`: no rejects, and every value as Python's own parsers
    read its text. Returns the valid rows."""
    out = tmp_path / "out"
    result = validate_file(path, json.dumps(doc).encode(), out=out, jobs=1)
    assert (result.status, result.rows_rejected) == ("SUCCEEDED", 0), result.error
    schema = parse_schema(doc)
    with open(path, encoding="utf-8", newline="") as f:
        records = list(csv.reader(f, delimiter=schema.delimiter))
    expected = [
        {n: expected_value(schema.column(n), text) for n, text in zip(records[0], rec, strict=True)}
        for rec in records[1:]
    ]
    valid = [
        r for p in sorted((out / "valid").glob("*.parquet")) for r in pq.read_table(p).to_pylist()
    ]
    assert valid == expected
    return valid


def test_digit_groups_decimal_commas_and_months_get_their_keywords(tmp_path):
    path = tmp_path / "marks.csv"
    path.write_text(MARKS_CSV, encoding="utf-8")
    doc, lines = run_describe(path)
    assert doc["missingValues"] == ["", "NA"]
    assert doc["fields"] == [
        field("en", "number", groupChar=",", precision=9, scale=2),
        field("de", "number", decimalChar=",", groupChar=".", precision=9, scale=2),
        field("comma", "number", decimalChar=",", precision=3, scale=2),
        # every value also reads as digit groups (1234, 999, 12345): the plain reading wins
        field("either", "number", decimalChar=",", precision=6, scale=3),
        field("dotted", "integer", groupChar="."),
        field("commas", "integer", False, groupChar=","),
        field("month", "yearmonth"),
        field("year", "integer"),  # never `year`: an ordinary 4-digit integer looks the same
    ]
    at = lines.index("either: number(6,3), required")
    assert lines[at + 1 : at + 3] == [
        "  not boolean: '1,234' at line 2",
        "  also fits integer (digit groups ','), number (digit groups ','): ',' kept as the "
        "decimal mark (check which the data means)",
    ]
    assert "dotted: integer in digit groups by '.', required" in lines
    rows = validate_round_trip(path, doc, tmp_path)
    assert [r["dotted"] for r in rows] == [1234567, 12, 4000]
    assert [str(r["either"]) for r in rows] == ["1.234", "999.000", "12.345"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # `1,5` rules out digit groups: every value is a decimal comma
        (["1,234", "1,5"], {"type": "number", "decimalChar": ",", "precision": 4, "scale": 3}),
        # `1,234,567` rules out a decimal comma: every value is in digit groups
        (["1,234", "1,234,567"], {"type": "integer", "groupChar": ","}),
        (["1.234", "1.234.567"], {"type": "integer", "groupChar": "."}),
        (["1.234", "0.5"], {"type": "number", "precision": 4, "scale": 3}),
        # groups and a fraction: the mark that is not the group mark is the decimal mark
        (["1,234", "2.5"], {"type": "number", "groupChar": ",", "precision": 5, "scale": 1}),
        (
            ["1.234", "2,5", "-7"],
            {"type": "number", "decimalChar": ",", "groupChar": ".", "precision": 5, "scale": 1},
        ),
        # a group must hold three digits, and only one mark may separate the fraction
        (["1,23,456"], {"type": "string"}),
        (["1,234.5,6"], {"type": "string"}),
        # past 64 bits in groups: not an integer, a number of 19 digits
        (
            ["9,223,372,036,854,775,808", "1"],
            {"type": "number", "groupChar": ",", "precision": 19, "scale": 0},
        ),
    ],
)
def test_every_value_decides_the_reading_whatever_the_order_and_chunking(
    tmp_path, values, expected
):
    answers = []
    for i, order in enumerate(itertools.permutations(values)):
        path = tmp_path / f"o{i}.csv"
        path.write_text("k;v\n" + "".join(f"{n};{v}\n" for n, v in enumerate(order)))
        for chunk_bytes in (None, 9):  # whole, and about one record per chunk
            doc, _ = run_describe(path, chunk_bytes=chunk_bytes)
            answers.append(doc["fields"][1])
    assert answers == [{"name": "v", **expected, "constraints": {"required": True}}] * len(answers)
    validate_round_trip(tmp_path / "o0.csv", doc, tmp_path)


def test_a_schema_with_digit_groups_is_completed_with_the_digits_without_them(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text('a,b\n"1,234,567","12,345.5"\n7,8\n', encoding="utf-8")
    existing = tmp_path / "s.json"
    existing.write_text(
        json.dumps(
            {
                "fields": [
                    {"name": "a", "type": "number", "groupChar": ","},
                    {"name": "b", "type": "number", "groupChar": ","},
                ]
            }
        )
    )
    doc, lines = run_describe(path, schema=existing)
    assert doc["fields"] == [
        {"name": "a", "type": "number", "groupChar": ",", "precision": 7, "scale": 0},
        {"name": "b", "type": "number", "groupChar": ",", "precision": 6, "scale": 1},
    ]
    validate_round_trip(path, doc, tmp_path)


@pytest.mark.parametrize(
    ("delimiter", "expected", "values"),
    [
        # a comma inside a quoted value of a comma-delimited file is a digit-group mark
        (",", {"type": "integer", "groupChar": ","}, [1234, 999, 12345]),
        ("\t", {"type": "integer", "groupChar": ","}, [1234, 999, 12345]),
        # ... and a decimal comma in a `;`-delimited file (the convention that writes them)
        (";", {"type": "number", "decimalChar": ",", "precision": 6, "scale": 3}, None),
    ],
)
def test_a_comma_both_readings_admit_is_read_by_the_delimiter(
    tmp_path, delimiter, expected, values
):
    def quoted(v: str) -> str:
        return f'"{v}"' if delimiter in v else v

    path = tmp_path / "either.csv"
    rows = ["1,234", "999", "12,345"]
    path.write_text(
        f"k{delimiter}v\n" + "".join(f"{n}{delimiter}{quoted(v)}\n" for n, v in enumerate(rows))
    )
    doc, lines = run_describe(path)
    assert doc["fields"][1] == {"name": "v", **expected, "constraints": {"required": True}}
    valid = validate_round_trip(path, doc, tmp_path)
    if values is not None:
        assert [r["v"] for r in valid] == values
        at = lines.index("v: integer in digit groups by ',', required")
        assert lines[at + 2] == (
            "  also fits number (decimal mark ','): ',' read as the digit-group mark, the "
            f"delimiter being {delimiter!r} (check which the data means)"
        )
