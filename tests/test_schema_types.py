"""Table Schema types as published: a `number` without precision/scale, `year`, `yearmonth`,
`time` and `any`, each kept exactly or rejected with a reason (README "The schema").

Before issue 20 every one of these documents was refused by the loader."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
from etl.schema import parse_schema
from test_transform import run


def F(column, rule, value):
    return {"column": column, "rule": rule, "value": value}


def one_field(field: dict, lines: list[str], tmp_path):
    """The processor on a file of the field and a row number (a one-column file could not
    hold an empty value: an empty line is not a record): (counts, valid values, rejects
    with their raw text cut to the value, Parquet type)."""
    schema = parse_schema({"fields": [field, {"name": "k", "type": "integer"}]})
    data = "".join(f"{line},{i}\n" for i, line in enumerate(lines)).encode()
    res, valid, rejected = run(schema, data, tmp_path, columns=[field["name"], "k"])
    for r in rejected:
        r["raw"] = r["raw"].rsplit(",", 1)[0]
    parquet_type = pq.read_schema(tmp_path / "v.parquet").field(field["name"]).type
    return res, [v[field["name"]] for v in valid], rejected, parquet_type


def rejects(rejected: list[dict]) -> list[tuple[int, str, str]]:
    return [(r["line"], r["reason"], r["raw"]) for r in rejected]


def test_a_number_without_precision_is_a_decimal_38_18_kept_exactly(tmp_path):
    widest = "12345678901234567890.123456789012345678"  # 20 integer and 18 fraction digits
    res, values, rejected, typ = one_field(
        {"name": "x", "type": "number"},
        [
            "0",
            "-1.5",
            widest,
            "+0.000000000000000001",
            "",
            "1.0000000000000000001",  # 19 fraction digits
            "123456789012345678901",  # 21 integer digits
            "1e5",
            "NaN",
        ],
        tmp_path,
    )
    assert typ == pa.decimal128(38, 18)
    assert values == [Decimal("0"), Decimal("-1.5"), Decimal(widest), Decimal("1E-18"), None]
    reason = "x: not a decimal(38,18) (at most 20 integer and 18 fraction digits)"
    assert rejects(rejected) == [
        (7, reason, "1.0000000000000000001"),
        (8, reason, "123456789012345678901"),
        (9, reason, "1e5"),
        (10, reason, "NaN"),
    ]
    assert rejected[0]["failures"] == [F("x", "type", "1.0000000000000000001")]
    assert (res.rows_valid, res.rows_rejected) == (5, 4)


def test_a_number_without_precision_keeps_its_marks_and_constraints(tmp_path):
    field = {
        "name": "x",
        "type": "number",
        "decimalChar": ",",
        "groupChar": ".",
        "constraints": {"minimum": 0, "required": True},
    }
    _, values, rejected, _ = one_field(field, ['"1.234,5"', '"0,25"', "-1", ""], tmp_path)
    assert values == [Decimal("1234.5"), Decimal("0.25")]
    assert [(r["line"], r["failures"]) for r in rejected] == [
        (4, [F("x", "minimum", "-1")]),
        (5, [F("x", "required", "")]),
    ]


def test_year_is_a_32_bit_integer_of_four_digits(tmp_path):
    field = {"name": "y", "type": "year", "constraints": {"minimum": 1900}}
    _, values, rejected, typ = one_field(
        field, ["2024", "1900", "", "24", "20245", "-2024", "2024.0", "1899"], tmp_path
    )
    assert typ == pa.int32()
    assert values == [2024, 1900, None]
    assert rejects(rejected) == [
        (5, "y: not a year YYYY", "24"),
        (6, "y: not a year YYYY", "20245"),
        (7, "y: not a year YYYY", "-2024"),
        (8, "y: not a year YYYY", "2024.0"),
        (9, "y: less than the minimum 1900", "1899"),
    ]


def test_yearmonth_is_kept_as_its_text_after_a_calendar_check(tmp_path):
    field = {"name": "m", "type": "yearmonth", "constraints": {"minimum": "2020-01"}}
    _, values, rejected, typ = one_field(
        field, ["2024-03", "2020-01", "", "2024-13", "2024-3", "2024/03", "2019-12"], tmp_path
    )
    assert typ == pa.string()
    assert values == ["2024-03", "2020-01", None]
    reason = "m: not a year and month YYYY-MM"
    assert rejects(rejected) == [
        (5, reason, "2024-13"),
        (6, reason, "2024-3"),
        (7, reason, "2024/03"),
        (8, "m: less than the minimum 2020-01", "2019-12"),
    ]


def test_time_is_a_parquet_time_in_microseconds(tmp_path):
    field = {"name": "t", "type": "time", "constraints": {"maximum": "18:00:00"}}
    _, values, rejected, typ = one_field(
        field,
        ["00:00:00", "17:59:59.123456", "12:34:56.5", "", "24:00:00", "12:60:00", "12:34"]
        + ["12:34:56Z", "18:00:01"],
        tmp_path,
    )
    assert typ == pa.time64("us")
    assert values == [time(0, 0), time(17, 59, 59, 123456), time(12, 34, 56, 500000), None]
    reason = "t: not a time of day HH:MM:SS (up to 6 fraction digits)"
    assert rejects(rejected) == [
        (6, reason, "24:00:00"),
        (7, reason, "12:60:00"),
        (8, reason, "12:34"),
        (9, reason, "12:34:56Z"),
        (10, "t: greater than the maximum 18:00:00", "18:00:01"),
    ]


def test_time_in_a_declared_format(tmp_path):
    field = {"name": "t", "type": "time", "format": "%H.%M"}
    _, values, rejected, _ = one_field(field, ["9.05", "23.59", "24.00", "9:05"], tmp_path)
    assert values == [time(9, 5), time(23, 59)]
    assert rejects(rejected) == [
        (4, "t: not a time of day in the format %H.%M", "24.00"),
        (5, "t: not a time of day in the format %H.%M", "9:05"),
    ]


def test_a_time_format_takes_only_clock_directives():
    from etl.errors import SchemaConfigError

    try:
        parse_schema({"fields": [{"name": "t", "type": "time", "format": "%Y %H:%M"}]})
    except SchemaConfigError as err:
        assert [p["message"] for p in err.problems] == [
            "format '%Y %H:%M' of a time needs each of ['%H', '%M'] once; ['%Y'] do not "
            "belong in a time"
        ]
    else:
        raise AssertionError("a %Y in a time format was accepted")


def test_any_keeps_every_text_and_missing_values_become_null(tmp_path):
    field = {"name": "a", "type": "any", "constraints": {"required": False}}
    _, values, rejected, typ = one_field(
        field, ["x", "1e5", "NA", " 2024-13-01 ", '"a,b"', ""], tmp_path
    )
    assert typ == pa.string()
    assert values == ["x", "1e5", "NA", " 2024-13-01 ", "a,b", None]
    assert rejected == []


def test_any_takes_enum_but_not_string_constraints():
    from etl.errors import SchemaConfigError

    schema = parse_schema(
        {"fields": [{"name": "a", "type": "any", "constraints": {"enum": ["x"]}}]}
    )
    assert schema.fields[0].enum == ("x",)
    try:
        parse_schema({"fields": [{"name": "a", "type": "any", "constraints": {"maxLength": 3}}]})
    except SchemaConfigError as err:
        assert [p["message"] for p in err.problems] == [
            "'maxLength' applies to ['string'] fields, not any"
        ]
    else:
        raise AssertionError("maxLength on an any field was accepted")
