"""Lexical forms the standard allows (issue 18): XML Schema's decimal forms `.5` and `5.`
(item 14), and the string formats email, uri, uuid and binary (item 15), through the
processor and the rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from etl.schema import parse_schema
from test_transform import run


def test_decimals_without_integer_or_fraction_digits_are_exact_values(tmp_path):
    """XML Schema's (Table Schema's) decimal lexical form allows `.5` and `5.`; not `.`, and
    not more fraction digits than the scale (issue 18, item 14: both were rejected)."""
    schema = parse_schema(
        {
            "fields": [
                {"name": "a", "type": "number", "precision": 5, "scale": 2},
                {"name": "b", "type": "number", "precision": 3, "scale": 0},
                {
                    "name": "c",
                    "type": "number",
                    "precision": 6,
                    "scale": 2,
                    "decimalChar": ",",
                    "groupChar": ".",
                },
                {"name": "d", "type": "number", "precision": 2, "scale": 2},
            ]
        }
    )
    data = (
        b".5,5.,1.234,.01\n"
        b'-.25,+7,",5",0.\n'
        b'5.,-0.,"1.234,",.99\n'
        b".,1,1,.1\n"  # a lone mark
        b"1.,1.0,1,.1\n"  # scale 0: no fraction digit
        b".123,1,1,.1\n"  # 3 fraction digits > 2
        b"1,1,1,1.5\n"  # decimal(2,2): no integer digit but 0
    )
    res, valid, rejected = run(schema, data, tmp_path, columns=list("abcd"), first_line=1)
    assert valid == [
        {"a": Decimal("0.50"), "b": Decimal("5"), "c": Decimal("1234.00"), "d": Decimal("0.01")},
        {"a": Decimal("-0.25"), "b": Decimal("7"), "c": Decimal("0.50"), "d": Decimal("0.00")},
        {"a": Decimal("5.00"), "b": Decimal("0"), "c": Decimal("1234.00"), "d": Decimal("0.99")},
    ]
    assert [(r["line"], [(f["column"], f["value"]) for f in r["failures"]]) for r in rejected] == [
        (4, [("a", ".")]),
        (5, [("b", "1.0")]),
        (6, [("a", ".123")]),
        (7, [("d", "1.5")]),
    ]


FORMATS = {
    "fields": [
        {"name": "email", "format": "email"},
        {"name": "uri", "format": "uri"},
        {"name": "uuid", "format": "uuid", "constraints": {"pattern": "[0-9a-f-]+"}},
        {"name": "blob", "format": "binary"},
    ]
}
FORMAT_COLS = [f["name"] for f in FORMATS["fields"]]


def test_string_formats_keep_matching_values_as_text_and_reject_the_rest(tmp_path):
    """email, uri, uuid and binary: each a documented RE2 pattern (issue 18, item 15: they
    were refused as schema problems)."""
    schema = parse_schema(FORMATS)
    uuid = "123e4567-e89b-12d3-a456-426614174000"
    data = (
        (
            f"jörg@example.com,https://example.com/a?b=c#d,{uuid},aGVsbG8=\n"  # non-ASCII local
            f"a.b+tag@sub.example.co,urn:isbn:0451450523,{uuid},aGk=\n"
            f"no-at-sign,example.com/no-scheme,{uuid.upper()},aGVsbG8\n"  # 3 bad; upper: pattern
            f"a@b,mailto:x@y.z,{uuid[:-1]},YQ==\n"  # short uuid
            f"a@-b.com,http://x/%zz,not-a-uuid,Y Q==\n"
            f",,,\n"  # missing values: null
        ).encode()
    )
    res, valid, rejected = run(schema, data, tmp_path, columns=FORMAT_COLS, first_line=1)
    assert valid == [
        {
            "email": "a.b+tag@sub.example.co",
            "uri": "urn:isbn:0451450523",
            "uuid": uuid,
            "blob": "aGk=",
        },
        {"email": None, "uri": None, "uuid": None, "blob": None},
    ]
    failures = {r["line"]: [(f["column"], f["rule"]) for f in r["failures"]] for r in rejected}
    assert failures == {
        1: [("email", "type")],  # the HTML form is ASCII
        3: [("email", "type"), ("uri", "type"), ("uuid", "pattern"), ("blob", "type")],
        4: [("uuid", "type")],
        5: [
            ("email", "type"),
            ("uri", "type"),
            ("uuid", "pattern"),  # the pattern first, then the format
            ("uuid", "type"),
            ("blob", "type"),
        ],
    }
    assert rejected[0]["reason"] == (
        "email: not an email address (local@domain, as HTML's email input accepts)"
    )


def test_string_formats_give_the_same_verdicts_with_and_without_the_screen():
    import pyarrow as pa
    from etl.rules import validate

    schema = parse_schema(FORMATS)
    rows = [
        ["a@b.c", "x:y", "123e4567-e89b-12d3-a456-426614174000", "YQ=="],
        ["a@b.c", "x y", "123E4567-E89B-12D3-A456-426614174000", "YQ="],
        ["@b.c", "1x:y", "zzz", "Y"],
    ] * 70
    table = pa.table({c: [r[i] for r in rows] for i, c in enumerate(FORMAT_COLS)})

    def verdicts(**kw):
        checks, _ = validate(table, schema, **kw)
        return sorted((c.column, c.rule, tuple(c.mask.to_pylist())) for c in checks)

    grouped = verdicts(may_hold_separator=False)
    assert grouped == verdicts(may_hold_separator=True)
    assert {(c, r) for c, r, _ in grouped} == {
        ("email", "type"),
        ("uri", "type"),
        ("uuid", "pattern"),
        ("uuid", "type"),
        ("blob", "type"),
    }


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (
            {"name": "h", "format": "hostname"},
            "format 'hostname' is not supported for string "
            "fields; use 'default' or one of ['binary', 'email', 'uri', 'uuid']",
        ),
        (
            {"name": "n", "type": "integer", "format": "email"},
            "format 'email' is not supported for integer fields",
        ),
        (
            {"name": "e", "format": "email", "constraints": {"enum": ["a@b.c", "x"]}},
            "'x' is not an email address",
        ),
    ],
)
def test_unsupported_formats_and_enum_values_outside_the_format_are_schema_problems(field, message):
    from etl.errors import SchemaConfigError

    with pytest.raises(SchemaConfigError) as raised:
        parse_schema({"fields": [field]})
    assert message in str(raised.value)
