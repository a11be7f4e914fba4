"""Schema documents: Frictionless Table Schema + CSV Dialect, checked completely up front.

Every problem is reported at once with its JSON path and the file's name; what the pipeline
cannot honour is refused with a reason per keyword; patterns are RE2 (the engine that runs
them), not Python `re`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from etl.errors import SchemaConfigError
from etl.schema_check import check_re2, check_schema_file, load_schema, parse_schema

ROOT = Path(__file__).resolve().parents[1]


def problems(doc: dict) -> list[tuple[str, str]]:
    with pytest.raises(SchemaConfigError) as err:
        parse_schema(doc, "my-schema.json")
    assert str(err.value).startswith("my-schema.json: ")
    return [(p["path"], p["message"]) for p in err.value.problems]


def test_a_frictionless_schema_with_unsupported_keywords_reports_every_problem_at_once():
    # A Table Schema as a frictionless user writes it, with what we cannot honour.
    doc = {
        "fields": [
            {"name": "id", "type": "integer", "constraints": {"required": True, "unique": True}},
            {"name": "when", "type": "duration"},
            {"name": "price", "type": "number", "precision": 5},
            {"name": "day", "type": "date", "format": "%d/%m/%y"},
            {"name": "tags", "type": "string", "categories": ["a", "b"]},
            {"name": "code", "type": "string", "constraints": {"pattern": "(?=[A-Z])\\w+"}},
            {"name": "n", "type": "integer", "constraints": {"pattern": "[0-9]+"}},
            {"name": "pct", "type": "number", "precision": 5, "scale": 2, "bareNumber": False},
            {"name": "ok", "type": "boolean", "trueValues": ["Y"], "falseValues": ["Y", "N"]},
        ],
        "primaryKey": ["id"],
        "foreignKeys": [],
        "null_values": ["NA"],
        "dialect": {"delimiter": ";", "quoteChar": "'", "header": False, "commentChar": "#"},
    }
    assert problems(doc) == [
        (
            "$.primaryKey",
            "'primaryKey' is not supported: uniqueness across a file is not "
            "checked: chunks are processed in parallel",
        ),
        (
            "$.foreignKeys",
            "'foreignKeys' is not supported: references to other tables are not checked",
        ),
        (
            "$.null_values",
            "unknown keyword 'null_values' in the schema; use one of ['dialect', "
            "'fields', 'fieldsMatch', 'maxRejectedShare', 'missingValues', 'name', 'version']",
        ),
        (
            "$.dialect.commentChar",
            "'commentChar' is not supported: comment lines are not "
            "skipped; remove them before upload",
        ),
        ("$.dialect.quoteChar", "\"'\" is not supported: only '\"' is parsed (RFC 4180)"),
        (
            "$.dialect.header",
            "False is not supported: the first line must be the header naming the fields",
        ),
        (
            "$.fields[0].constraints.unique",
            "'unique' is not supported: uniqueness across a "
            "file is not checked: chunks are processed in parallel",
        ),
        (
            "$.fields[1].type",
            "type 'duration' is not supported: declare it a string with a pattern",
        ),
        (
            "$.fields[2]",
            "a number field needs the extensions 'precision' (1..38) and 'scale' "
            "(0..precision) for its exact Parquet DECIMAL, got precision=5 scale=None (leave "
            "both out for DECIMAL(38, 18))",
        ),
        (
            "$.fields[3].format",
            "format '%d/%m/%y': directives ['%y'] are not supported; use "
            "%Y %m %d (a two-digit year or a month name would be a guess)",
        ),
        (
            "$.fields[4].categories",
            "'categories' is not supported: use constraints.enum for the allowed values",
        ),
        (
            "$.fields[5].constraints.pattern",
            "'(?=[A-Z])\\\\w+' is not a valid RE2 regular "
            "expression (invalid perl operator: (?=); patterns run on RE2: no lookarounds or "
            "backreferences",
        ),
        ("$.fields[6].constraints.pattern", "'pattern' applies to ['string'] fields, not integer"),
        (
            "$.fields[7].bareNumber",
            "only true is supported: stripping '€' or '%' around "
            "numbers would change their meaning; remove them at the source",
        ),
        ("$.fields[8].trueValues", "['Y'] are both true and false values"),
    ]


def test_the_message_names_the_file_and_every_path(tmp_path):
    path = tmp_path / "weather.json"
    path.write_text(json.dumps({"fields": [{"name": "d", "type": "integr"}], "nulls": ["NA"]}))
    with pytest.raises(SchemaConfigError) as err:
        check_schema_file(path)
    assert str(err.value) == (
        f"{path}: 2 problems in the schema (Frictionless Table Schema; see docs/schema.md):\n"
        "  $.nulls: unknown keyword 'nulls' in the schema; use one of ['dialect', 'fields', "
        "'fieldsMatch', 'maxRejectedShare', 'missingValues', 'name', 'version']\n"
        "  $.fields[0].type: unknown type 'integr'; use one of ['string', 'integer', "
        "'number', 'boolean', 'date', 'datetime', 'time', 'year', 'yearmonth', 'any']"
    )
    assert {p["file"] for p in err.value.problems} == {str(path)}


def test_a_refused_type_does_not_hide_the_field_s_other_problems():
    doc = {
        "fields": [
            {"name": "t", "type": "geopoint", "constraints": {"unqiue": True}},
            {"name": "u", "type": ["string"]},
        ]
    }
    assert problems(doc) == [
        (
            "$.fields[0].constraints.unqiue",
            "unknown keyword 'unqiue' in constraints; use one of "
            "['enum', 'exclusiveMaximum', 'exclusiveMinimum', 'maxLength', 'maximum', "
            "'minLength', 'minimum', 'pattern', 'required']",
        ),
        (
            "$.fields[0].type",
            "type 'geopoint' is not supported: declare it a string with a pattern",
        ),
        (
            "$.fields[1].type",
            "must be a string; use one of ['string', 'integer', 'number', "
            "'boolean', 'date', 'datetime', 'time', 'year', 'yearmonth', 'any']",
        ),
    ]


def test_the_pre_table_schema_format_is_refused_with_the_migration():
    ((path, message),) = problems({"columns": [{"name": "a", "type": "int64"}]})
    assert path == "$.columns" and "rename 'columns' to 'fields'" in message


def test_constraints_and_formats_that_do_not_fit_the_type_are_refused():
    doc = {
        "fields": [
            {"name": "a", "type": "date", "constraints": {"minLength": 3, "minimum": "2024-13-01"}},
            {"name": "b", "type": "datetime", "format": "%Y-%m-%d %H:%M"},
            {"name": "c", "type": "integer", "constraints": {"enum": ["1", "x"], "maximum": 1.5}},
            {"name": "d", "type": "date", "format": "%Y-%m"},
            {
                "name": "e",
                "type": "number",
                "precision": 5,
                "scale": 2,
                "decimalChar": ",",
                "groupChar": ",",
            },
            {"name": "f", "type": "string", "format": "hostname"},
            {"name": "g", "type": "date", "format": "any"},
        ],
        "maxRejectedShare": 1.5,
        "missingValues": "NA",
    }
    assert problems(doc) == [
        ("$.missingValues", 'must be a list of strings (e.g. ["", "NA"])'),
        ("$.maxRejectedShare", "must be a number from 0 to 1 (e.g. 0.1 for 10%)"),
        ("$.fields[0].constraints.minLength", "'minLength' applies to ['string'] fields, not date"),
        ("$.fields[0].constraints.minimum", "'2024-13-01' is not a date YYYY-MM-DD"),
        (
            "$.fields[1].format",
            "this datetime format has no zone (%z): add the extension "
            '"timezone": "UTC" to state that the values are UTC',
        ),
        ("$.fields[2].constraints.enum[1]", "'x' is not a 64-bit integer"),
        ("$.fields[2].constraints.maximum", "'1.5' is not a 64-bit integer"),
        (
            "$.fields[3].format",
            "format '%Y-%m' of a date needs each of ['%Y', '%m', '%d'] once; missing ['%d']",
        ),
        ("$.fields[4].groupChar", "must differ from the decimal character"),
        (
            "$.fields[5].format",
            "format 'hostname' is not supported for string fields; use 'default' or one of "
            "['binary', 'email', 'uri', 'uuid'] (or a constraints.pattern)",
        ),
        (
            "$.fields[6].format",
            "format 'any' would guess the date form; declare a pattern like %d/%m/%Y",
        ),
    ]


# -- RE2, the engine that runs the patterns (issue 10 item 13) ------------------------------


@pytest.mark.parametrize(
    "pattern,why",
    [
        ("(?=A)[A-Z]+", "invalid perl operator: (?="),
        ("(?!x).*", "invalid perl operator: (?!"),
        ("(?<=a)b", "invalid perl operator: (?<="),
        ("(a)\\1", "invalid escape sequence: \\1"),
        ("[a-", "missing ]: [a-"),
    ],
)
def test_patterns_re2_refuses_are_refused_when_the_schema_is_checked(pattern, why):
    assert check_re2(pattern) == why
    doc = {"fields": [{"name": "s", "constraints": {"pattern": pattern}}]}
    ((path, message),) = problems(doc)
    assert path == "$.fields[0].constraints.pattern" and f"({why})" in message


def test_patterns_re2_accepts_are_accepted_even_where_python_re_refuses(tmp_path):
    import re

    with pytest.raises(re.error):
        re.compile(r"\p{L}+")  # Python re: bad escape \p (the old check refused it)
    schema = parse_schema(
        {
            "fields": [
                {"name": "city", "constraints": {"pattern": r"\p{L}+"}},
                {"name": "n", "type": "integer"},
            ]
        }
    )
    from test_transform import run

    res, valid, rejected = run(
        schema, "Zürich,1\nSão Paulo,2\n".encode(), tmp_path, columns=["city", "n"], first_line=1
    )
    assert [v["city"] for v in valid] == ["Zürich"]
    assert [(r["line"], r["failures"]) for r in rejected] == [
        (2, [{"column": "city", "rule": "pattern", "value": "São Paulo"}])
    ]


def test_without_pyarrow_the_perl_only_constructs_are_still_refused():
    # build.py checks schemas in nox's own interpreter, which has no pyarrow
    code = (
        "import sys; sys.modules['pyarrow'] = None; sys.path.insert(0, 'lambdas');"
        "from etl.schema_check import check_re2;"
        "print([check_re2(p) for p in ['(?=a)', '(a)\\\\1', '\\\\p{L}+', '[A-Z]{3}']])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == (
        "[\"RE2 has no '(?=' (lookarounds, backreferences)\", "
        "\"RE2 has no '\\\\\\\\1' (lookarounds, backreferences)\", None, None]"
    )


# -- the shipped schema, and the checks before anything starts -------------------------------


def test_the_transactions_schema_is_a_table_schema():
    schema = check_schema_file(ROOT / "schemas" / "transactions.json")
    assert schema.names == [
        "transaction_id",
        "account_id",
        "timestamp",
        "amount",
        "currency",
        "merchant",
        "category",
        "status",
    ]
    assert [f.name for f in schema.arrow_schema if not f.nullable] == [
        "transaction_id",
        "account_id",
        "timestamp",
        "amount",
        "currency",
        "status",
    ]
    assert schema.arrow_schema.field("amount").type == pa.decimal128(18, 2)
    assert (schema.delimiter, schema.max_rejected_share) == (",", 0.1)


def test_build_refuses_to_package_an_invalid_schema(tmp_path):
    import build

    (tmp_path / "lambdas").symlink_to(ROOT / "lambdas")
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "ok.json").write_text('{"fields": [{"name": "a"}]}')
    (tmp_path / "schemas" / "bad.json").write_text(
        '{"fields": [{"name": "a", "type": "integer", "constraints": {"pattern": "(?=1)"}}]}'
    )
    with pytest.raises(build.BuildError) as err:
        build.build_all(tmp_path, tmp_path / "dist", functions_only=True)
    assert str(err.value).startswith(
        f"invalid schema:\n{tmp_path / 'schemas' / 'bad.json'}: 1 problem"
    )
    assert "$.fields[0].constraints.pattern: 'pattern' applies to ['string']" in str(err.value)
    assert not (tmp_path / "dist").exists()  # nothing was built
    (tmp_path / "schemas" / "bad.json").unlink()
    assert build.check_schemas(tmp_path) == [tmp_path / "schemas" / "ok.json"]


def test_the_local_run_checks_the_schema_before_the_emulator_starts(tmp_path, capsys, monkeypatch):
    import localrun.__main__ as cli

    started = []
    monkeypatch.setattr(cli, "LocalPipeline", lambda *a, **k: started.append(1))
    bad = tmp_path / "s.json"
    bad.write_text('{"fields": [{"name": "a", "type": "integr"}, {"name": "a"}]}')
    assert cli.main([str(ROOT / "schemas" / "transactions.json"), "--schema", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: SchemaConfigError: {bad}: 1 problem")
    assert "$.fields[0].type: unknown type 'integr'" in err
    assert started == []


def test_a_top_level_delimiter_is_pointed_at_the_dialect():
    assert problems({"delimiter": ";", "fields": [{"name": "a"}]}) == [
        (
            "$.delimiter",
            "'delimiter' is not supported: the CSV delimiter belongs in the dialect: "
            '{"dialect": {"delimiter": ";"}}',
        )
    ]


def test_load_schema_from_bytes_and_invalid_json():
    assert load_schema(b'{"fields": [{"name": "a"}]}').names == ["a"]
    with pytest.raises(SchemaConfigError, match="schema: not valid JSON"):
        load_schema(b"{")
