"""Real-world CSV shapes described with Table Schema, through the processor and the handlers.

Written from scratch after the shapes of public files no one here wrote: a penguin
measurements file (`NA` for missing values), a daily weather file (dates `2012/01/01`,
yes/no flags), a European export (dotted dates, decimal commas, digit groups), range
checks, and a file that is entirely rejected.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from etl.errors import TooManyRejects
from etl.schema_check import parse_schema
from test_transform import run


def F(column, rule, value):
    return {"column": column, "rule": rule, "value": value}


PENGUINS = {
    "name": "penguins",
    "missingValues": ["NA"],
    "fields": [
        {
            "name": "species",
            "type": "string",
            "constraints": {"required": True, "enum": ["Adelie", "Gentoo"]},
        },
        {"name": "island", "type": "string"},
        {
            "name": "bill_length_mm",
            "type": "number",
            "precision": 5,
            "scale": 1,
            "constraints": {"minimum": 10, "maximum": 100},
        },
        {"name": "body_mass_g", "type": "integer", "constraints": {"minimum": 1000}},
        {
            "name": "sex",
            "type": "string",
            "missingValues": ["NA", ""],
            "constraints": {"enum": ["male", "female"]},
        },
        {
            "name": "year",
            "type": "integer",
            "constraints": {"required": True, "minimum": 2007, "maximum": 2009},
        },
    ],
}
PENGUIN_COLS = [f["name"] for f in PENGUINS["fields"]]


def test_na_is_a_missing_value_in_every_type_strings_included(tmp_path):
    data = (
        b"Adelie,Torgersen,39.1,3750,male,2007\n"
        b"Adelie,NA,NA,NA,NA,2007\n"  # optional NA -> null, string field too
        b"Gentoo,Biscoe,46.1,4500,,2008\n"  # sex declares "" missing as well
        b"Adelie,,39.5,3800,female,2007\n"  # "" is NOT missing for island: kept as ""
        b"NA,Dream,40.0,3900,male,2008\n"  # species required: NA is a reject
        b"Adelie,Dream,,3900,male,2008\n"  # "" is not missing for bill_length: not a number
    )
    res, valid, rejected = run(
        parse_schema(PENGUINS), data, tmp_path, columns=PENGUIN_COLS, first_line=2
    )
    assert valid == [
        {
            "species": "Adelie",
            "island": "Torgersen",
            "bill_length_mm": Decimal("39.1"),
            "body_mass_g": 3750,
            "sex": "male",
            "year": 2007,
        },
        {
            "species": "Adelie",
            "island": None,
            "bill_length_mm": None,
            "body_mass_g": None,
            "sex": None,
            "year": 2007,
        },
        {
            "species": "Gentoo",
            "island": "Biscoe",
            "bill_length_mm": Decimal("46.1"),
            "body_mass_g": 4500,
            "sex": None,
            "year": 2008,
        },
        {
            "species": "Adelie",
            "island": "",
            "bill_length_mm": Decimal("39.5"),
            "body_mass_g": 3800,
            "sex": "female",
            "year": 2007,
        },
    ]
    assert [(r["line"], r["reason"], r["failures"]) for r in rejected] == [
        (6, "species: a value is required", [F("species", "required", "NA")]),
        (
            7,
            "bill_length_mm: not a decimal(5,1) (at most 4 integer and 1 fraction digits)",
            [F("bill_length_mm", "type", "")],
        ),
    ]


def test_ranges_on_numbers_integers_and_dates_with_every_failure_recorded(tmp_path):
    data = (
        b"Adelie,Dream,9.9,3750,male,2007\n"
        b"Adelie,Dream,100.1,999,male,2010\n"
        b"Adelie,Dream,100.0,1000,male,2009\n"
        b"Emperor,Dream,50,1000,unknown,2006\n"
    )
    res, valid, rejected = run(
        parse_schema(PENGUINS), data, tmp_path, columns=PENGUIN_COLS, first_line=1
    )
    assert [v["bill_length_mm"] for v in valid] == [Decimal("100.0")]
    assert [(r["line"], r["reason"], r["failures"]) for r in rejected] == [
        (1, "bill_length_mm: less than the minimum 10", [F("bill_length_mm", "minimum", "9.9")]),
        (
            2,
            "bill_length_mm: greater than the maximum 100; body_mass_g: less than the minimum "
            "1000; year: greater than the maximum 2009",
            [
                F("bill_length_mm", "maximum", "100.1"),
                F("body_mass_g", "minimum", "999"),
                F("year", "maximum", "2010"),
            ],
        ),
        (
            4,
            "species: not one of the enum values; sex: not one of the enum values; year: less "
            "than the minimum 2007",
            [
                F("species", "enum", "Emperor"),
                F("sex", "enum", "unknown"),
                F("year", "minimum", "2006"),
            ],
        ),
    ]
    assert res.failure_counts == {
        ("bill_length_mm", "minimum"): 1,
        ("bill_length_mm", "maximum"): 1,
        ("body_mass_g", "minimum"): 1,
        ("year", "maximum"): 1,
        ("year", "minimum"): 1,
        ("species", "enum"): 1,
        ("sex", "enum"): 1,
    }
    assert res.first_rejects == [
        {
            "line": 1,
            "reason": "bill_length_mm: less than the minimum 10",
            "raw": "Adelie,Dream,9.9,3750,male,2007",
        },
        {"line": 2, "reason": rejected[1]["reason"], "raw": "Adelie,Dream,100.1,999,male,2010"},
        {"line": 4, "reason": rejected[2]["reason"], "raw": "Emperor,Dream,50,1000,unknown,2006"},
    ]


WEATHER = {
    "name": "weather",
    "fields": [
        {
            "name": "date",
            "type": "date",
            "format": "%Y/%m/%d",
            "constraints": {
                "required": True,
                "minimum": "2012/01/01",
                "exclusiveMaximum": "2016/01/01",
            },
        },
        {"name": "precipitation", "type": "number", "precision": 6, "scale": 1},
        {
            "name": "rain",
            "type": "boolean",
            "trueValues": ["Yes", "yes"],
            "falseValues": ["No", "no"],
        },
        {"name": "observed", "type": "datetime", "format": "%d.%m.%Y %H:%M", "timezone": "UTC"},
    ],
}


def test_slash_dates_yes_no_booleans_and_dotted_datetimes(tmp_path):
    data = (
        b"2012/01/01,0.0,No,01.01.2012 07:30\n"
        b"2012/2/29,10.9,Yes,29.2.2012 23:59\n"  # strptime's %m/%d take one digit too
        b"2015/12/31,,yes,\n"
        b"2013/02/29,1.0,No,01.01.2013 07:30\n"  # not a leap year: rejected, never guessed
        b"2011/12/31,1.0,maybe,31.04.2012 07:30\n"  # below the minimum; not a word; no 31 April
        b"2016/01/01,1.0,no,01.01.2016 24:00\n"  # not below the exclusive maximum; no hour 24
        b"2012-01-01,1.0,no,2012-01-01T07:30:00Z\n"  # ISO is not the declared format
    )
    cols = ["date", "precipitation", "rain", "observed"]
    res, valid, rejected = run(parse_schema(WEATHER), data, tmp_path, columns=cols, first_line=2)
    assert valid == [
        {
            "date": date(2012, 1, 1),
            "precipitation": Decimal("0.0"),
            "rain": False,
            "observed": datetime(2012, 1, 1, 7, 30, tzinfo=UTC),
        },
        {
            "date": date(2012, 2, 29),
            "precipitation": Decimal("10.9"),
            "rain": True,
            "observed": datetime(2012, 2, 29, 23, 59, tzinfo=UTC),
        },
        {"date": date(2015, 12, 31), "precipitation": None, "rain": True, "observed": None},
    ]
    date_form = "date: not a date in the format %Y/%m/%d"
    obs_form = "observed: not a date and time in the format %d.%m.%Y %H:%M"
    assert [(r["line"], r["failures"]) for r in rejected] == [
        (5, [F("date", "type", "2013/02/29")]),
        (
            6,
            [
                F("date", "minimum", "2011/12/31"),
                F("rain", "type", "maybe"),
                F("observed", "type", "31.04.2012 07:30"),
            ],
        ),
        (
            7,
            [
                F("date", "exclusiveMaximum", "2016/01/01"),
                F("observed", "type", "01.01.2016 24:00"),
            ],
        ),
        (8, [F("date", "type", "2012-01-01"), F("observed", "type", "2012-01-01T07:30:00Z")]),
    ]
    assert rejected[0]["reason"] == date_form
    assert rejected[1]["reason"] == (
        "date: less than the minimum 2012/01/01; rain: not one of ['Yes', 'yes'] or "
        f"['No', 'no']; {obs_form}"
    )
    assert rejected[3]["reason"] == f"{date_form}; {obs_form}"


def test_dotted_dates_decimal_commas_digit_groups_and_zoned_datetimes(tmp_path):
    schema = parse_schema(
        {
            "dialect": {"delimiter": ";"},
            "fields": [
                {"name": "datum", "type": "date", "format": "%d.%m.%Y"},
                {
                    "name": "betrag",
                    "type": "number",
                    "precision": 10,
                    "scale": 2,
                    "decimalChar": ",",
                    "groupChar": ".",
                },
                {"name": "stueck", "type": "integer", "groupChar": "."},
                {"name": "zeit", "type": "datetime", "format": "%Y-%m-%d %H:%M:%S.%f%z"},
            ],
        }
    )
    data = (
        b"01.03.2024;1.234,56;1.000;2024-03-01 12:00:00.5+00:00\n"
        b"1.3.2024;-0,5;7;2024-03-01 12:00:00.000001Z\n"
        b"31.12.2024;12.345.678,9;1.000.000;2024-03-01 12:00:00.25+0000\n"
        b"31.11.2024;1234,5;1,000;2024-03-01 12:00:00.5+02:00\n"  # no 31 Nov; ',' no group
        b"01.01.2024;123.456.789,00;1.00;2024-03-01 12:00:00+00:00\n"  # 9 digits > 8; bad group
        b"01.01.2024;1.5;10000000000000000000;2024-03-01 12:00:00.1Z\n"  # '.' no decimal; > int64
    )
    res, valid, rejected = run(
        schema, data, tmp_path, columns=["datum", "betrag", "stueck", "zeit"], first_line=1
    )
    assert valid == [
        {
            "datum": date(2024, 3, 1),
            "betrag": Decimal("1234.56"),
            "stueck": 1000,
            "zeit": datetime(2024, 3, 1, 12, 0, 0, 500000, tzinfo=UTC),
        },
        {
            "datum": date(2024, 3, 1),
            "betrag": Decimal("-0.50"),
            "stueck": 7,
            "zeit": datetime(2024, 3, 1, 12, 0, 0, 1, tzinfo=UTC),
        },
        {
            "datum": date(2024, 12, 31),
            "betrag": Decimal("12345678.90"),
            "stueck": 1000000,
            "zeit": datetime(2024, 3, 1, 12, 0, 0, 250000, tzinfo=UTC),
        },
    ]
    assert [(r["line"], [(f["column"], f["value"]) for f in r["failures"]]) for r in rejected] == [
        (
            4,
            [("datum", "31.11.2024"), ("stueck", "1,000"), ("zeit", "2024-03-01 12:00:00.5+02:00")],
        ),
        (
            5,
            [
                ("betrag", "123.456.789,00"),
                ("stueck", "1.00"),
                ("zeit", "2024-03-01 12:00:00+00:00"),
            ],
        ),
        (6, [("betrag", "1.5"), ("stueck", "10000000000000000000")]),
    ]
    assert {f["rule"] for r in rejected for f in r["failures"]} == {"type"}


def test_reasons_do_not_hold_values_so_rejects_group(tmp_path):
    # 1,461 distinct bad dates used to make 1,461 distinct reasons
    schema = parse_schema(
        {"fields": [{"name": "d", "type": "date"}, {"name": "n", "type": "integer"}]}
    )
    data = "".join(f"2012/01/{1 + i % 28:02d},{i}\n" for i in range(200)).encode()
    res, valid, rejected = run(schema, data, tmp_path, columns=["d", "n"], first_line=2)
    assert (res.rows_valid, res.rows_rejected) == (0, 200)
    assert {r["reason"] for r in rejected} == {"d: not a date YYYY-MM-DD"}
    assert len({r["failures"][0]["value"] for r in rejected}) == 28
    assert res.failure_counts == {("d", "type"): 200}
    assert [r["line"] for r in res.first_rejects] == [2, 3, 4, 5, 6]


def test_an_empty_optional_string_is_null_unless_missing_values_say_otherwise(tmp_path):
    doc = {
        "fields": [
            {"name": "a", "constraints": {"required": True}},
            {"name": "b"},
            {"name": "c", "missingValues": []},
        ]
    }
    res, valid, rejected = run(
        parse_schema(doc), b"x,,\n,y,z\n", tmp_path, columns=["a", "b", "c"], first_line=1
    )
    assert valid == [{"a": "x", "b": None, "c": ""}]
    assert [r["failures"] for r in rejected] == [[F("a", "required", "")]]


def test_string_lengths_and_the_combined_screen_with_missing_values(tmp_path):
    doc = {
        "missingValues": ["", "n/a"],
        "fields": [
            {
                "name": "code",
                "constraints": {"required": True, "pattern": "[A-Z]{2,4}", "minLength": 3},
            },
            {"name": "ref", "constraints": {"pattern": "R[0-9]+", "maxLength": 4}},
            {"name": "n", "type": "integer"},
        ],
    }
    data = b"ABC,R1,1\nAB,n/a,n/a\nABCD,R12345,\nn/a,R2,3\nABC,R3,x\n"
    res, valid, rejected = run(
        parse_schema(doc), data, tmp_path, columns=["code", "ref", "n"], first_line=1
    )
    assert valid == [{"code": "ABC", "ref": "R1", "n": 1}]
    assert [(r["line"], r["failures"]) for r in rejected] == [
        (2, [F("code", "minLength", "AB")]),
        (3, [F("ref", "maxLength", "R12345")]),
        (4, [F("code", "required", "n/a")]),
        (5, [F("n", "type", "x")]),
    ]


# -- a file that is entirely rejected: TooManyRejects, nothing published ---------------------


def _weather_file(rows: int) -> bytes:
    lines = ["date,precipitation,rain,observed"]
    lines += [
        f"{2012 + i // 365}/{1 + i % 12:02d}/{1 + i % 28:02d},0.{i % 10},No," for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def test_a_file_that_is_entirely_rejected_fails_with_too_many_rejects(aws):
    from etl.contract import CONTRACT
    from test_handlers import BUCKET, run_pipeline, upload

    schema_key = CONTRACT.schema_object_key("transactions")

    # the schema says ISO dates (the default format), the file has slashes
    wrong = {
        **WEATHER,
        "fields": [
            {**WEATHER["fields"][0], "format": "default", "constraints": {"required": True}},
            *WEATHER["fields"][1:],
        ],
    }
    aws.s3.put_object(Bucket=BUCKET, Key=schema_key, Body=json.dumps(wrong).encode())
    with pytest.raises(TooManyRejects) as err:
        run_pipeline(aws, upload(aws, "incoming/transactions/weather.csv", _weather_file(40)))
    assert str(err.value) == (
        "40 of 40 rows rejected (100.0%), more than the schema's maxRejectedShare 10.0%; top "
        "rules: date type 40. Nothing was published: check that the schema describes the file "
        "(formats, missingValues, constraints) or fix the file, then upload it again (or raise "
        "maxRejectedShare)"
    )
    keys = [o["Key"] for o in aws.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert not [k for k in keys if k.startswith(("processed/", "rejected/"))]

    # the right schema: every row kept; the threshold comes from the schema itself
    right = {**WEATHER, "maxRejectedShare": 0.25}
    aws.s3.put_object(Bucket=BUCKET, Key=schema_key, Body=json.dumps(right).encode())
    body = _weather_file(40).replace(b"2012/03/03,0.2,No,", b"2012/03/03,0.2,Perhaps,")
    summary = run_pipeline(aws, upload(aws, "incoming/transactions/weather.csv", body))
    assert (summary["status"], summary["rows_valid"], summary["rows_rejected"]) == (
        "COMPLETE",
        39,
        1,
    )
    assert summary["rejects_by_rule"] == [{"column": "rain", "rule": "type", "count": 1}]
    reason = "rain: not one of ['Yes', 'yes'] or ['No', 'no']"
    assert summary["first_rejects"] == [{"line": 4, "reason": reason}]  # no raw text
    item = aws.status.get_file(summary["file_id"])
    assert item["first_rejects"] == [
        {"line": 4, "reason": reason, "raw": "2012/03/03,0.2,Perhaps,"}
    ]
    assert item["max_rejected_share"] == "0.25"


def test_the_threshold_is_a_share_of_the_file_and_names_the_top_rules():
    from etl.contract import CONTRACT
    from etl.finalize import FileTotals, check_reject_threshold, max_rejected_share, reject_summary

    items = [
        {
            CONTRACT.table.sort_key: CONTRACT.table.chunk_id(0),
            "failure_counts": [
                {"column": "amount", "rule": "type", "count": 3},
                {"column": None, "rule": "fields", "count": 1},
            ],
            "first_rejects": [{"line": 2, "reason": "r", "raw": "a"}],
        },
        {
            CONTRACT.table.sort_key: CONTRACT.table.chunk_id(1),
            "failure_counts": [
                {"column": "amount", "rule": "type", "count": 2},
                {"column": "currency", "rule": "enum", "count": 2},
            ],
            "first_rejects": [{"line": 1, "reason": "s", "raw": "b"}],
        },
    ]
    rejects = reject_summary(items, {0: 2, 1: 100})
    assert rejects == {
        "rejects_by_rule": [
            {"column": "amount", "rule": "type", "count": 5},
            {"column": "currency", "rule": "enum", "count": 2},
            {"column": None, "rule": "fields", "count": 1},
        ],
        "first_rejects": [
            {"line": 3, "reason": "r", "raw": "a"},
            {"line": 100, "reason": "s", "raw": "b"},
        ],
    }

    def totals(valid, rejected):
        return FileTotals(2, valid, rejected, valid + rejected, 0, 0, {})

    check_reject_threshold(totals(90, 10), rejects, 0.1)  # exactly the share: fine
    check_reject_threshold(totals(0, 0), rejects, 0.0)
    with pytest.raises(
        TooManyRejects,
        match=r"^11 of 100 rows rejected \(11.0%\), more than "
        r"the schema's maxRejectedShare 10.0%; top rules: amount type 5; "
        r"currency enum 2; fields 1\. Nothing",
    ):
        check_reject_threshold(totals(89, 11), rejects, 0.1)
    assert max_rejected_share({"max_rejected_share": "0.25"}) == 0.25
    assert max_rejected_share({}) == max_rejected_share(None) == 0.1
