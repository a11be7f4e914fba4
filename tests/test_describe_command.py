"""`describe` as a user runs it: completing an existing schema, the command's output and
exit codes, several files at once (inference and round trips: tests/test_describe.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_describe import FIXTURES, PENGUINS, WEATHER, assert_round_trip, run_describe


def test_an_existing_schema_is_completed_and_keeps_what_its_author_wrote(tmp_path):
    existing = {
        "title": "Palmer penguins",
        "fields": [
            {"name": "species", "type": "string", "title": "Species"},
            {"name": "bill_length_mm", "type": "number", "description": "culmen length"},
            {"name": "flipper_length_mm", "type": "integer"},
            {"name": "ratio", "type": "number", "constraints": {"minimum": 0}},
            {"name": "year", "type": "year"},
        ],
    }
    path = tmp_path / "penguins.schema.json"
    path.write_text(json.dumps(existing))
    doc, lines = run_describe(FIXTURES / "penguins.csv", schema=path)
    by_name = {f["name"]: f for f in PENGUINS["fields"]}
    assert doc == {
        "title": "Palmer penguins",
        "fields": [
            {"name": "species", "type": "string", "title": "Species"},
            {
                "name": "bill_length_mm",
                "type": "number",
                "description": "culmen length",
                "precision": 3,
                "scale": 1,
            },
            {"name": "flipper_length_mm", "type": "integer"},
            {
                "name": "ratio",
                "type": "number",
                "constraints": {"minimum": 0},
                "precision": 5,
                "scale": 4,
            },
            {"name": "year", "type": "year"},
            by_name["island"],
            by_name["bill_depth_mm"],
            by_name["body_mass_g"],
            by_name["sex"],
        ],
        "dialect": {"delimiter": ",", "header": True},
        "missingValues": ["", "NA"],
    }
    assert lines[lines.index(f"added to {path}:") :] == [
        f"added to {path}:",
        '  $.dialect = {"delimiter": ",", "header": true}',
        '  $.missingValues = ["", "NA"]',
        "  $.fields[1].precision = 3",
        "  $.fields[1].scale = 1",
        "  $.fields[3].precision = 5",
        "  $.fields[3].scale = 4",
        f"  $.fields[5] = {json.dumps(by_name['island'])}",
        f"  $.fields[6] = {json.dumps(by_name['bill_depth_mm'])}",
        f"  $.fields[7] = {json.dumps(by_name['body_mass_g'])}",
        f"  $.fields[8] = {json.dumps(by_name['sex'])}",
    ]
    assert_round_trip(FIXTURES / "penguins.csv", doc, tmp_path)


def test_completion_adds_a_format_a_timezone_and_boolean_words(tmp_path):
    existing = {
        "dialect": {"delimiter": ";"},
        "fields": [
            {"name": "station"},
            {"name": "date", "type": "date"},
            {"name": "observed", "type": "datetime", "format": "%d.%m.%Y %H:%M"},
            {"name": "temp_c", "type": "number", "decimalChar": ",", "precision": 5, "scale": 2},
            {"name": "rain_mm", "type": "string"},
            {"name": "wind_kmh", "type": "integer"},
            {"name": "sunny", "type": "boolean"},
            {"name": "note"},
        ],
    }
    path = tmp_path / "weather.schema.json"
    path.write_text(json.dumps(existing))
    doc, lines = run_describe(FIXTURES / "weather_semicolon.csv", schema=path)
    assert lines[lines.index(f"added to {path}:") :] == [
        f"added to {path}:",
        '  $.fields[1].format = "%d.%m.%Y"',
        '  $.fields[2].timezone = "UTC"',
        '  $.fields[6].trueValues = ["yes"]',
        '  $.fields[6].falseValues = ["no"]',
    ]
    assert doc["fields"][3] == existing["fields"][3]  # a wider precision stays as written
    assert_round_trip(FIXTURES / "weather_semicolon.csv", doc, tmp_path)


def test_completion_says_which_declared_fields_the_data_does_not_fit(tmp_path):
    existing = {
        "dialect": {"delimiter": ";"},
        "fields": [
            {"name": "station", "type": "integer"},
            {"name": "date", "type": "date", "format": "%d.%m.%Y"},
            {"name": "observed"},
            {"name": "temp_c", "type": "number", "decimalChar": ",", "precision": 2, "scale": 0},
            {"name": "rain_mm"},
            {"name": "wind_kmh", "type": "boolean"},
            {"name": "sunny"},
            {"name": "note"},
        ],
    }
    path = tmp_path / "weather.schema.json"
    path.write_text(json.dumps(existing))
    doc, lines = run_describe(FIXTURES / "weather_semicolon.csv", schema=path)
    assert doc == existing
    assert lines[lines.index(f"nothing to add to {path}") :] == [
        f"nothing to add to {path}",
        "does not fit the data: $.fields[0]: 'ST01' at line 2 is not of type 'integer' (the "
        "pipeline would reject it)",
        "does not fit the data: $.fields[3]: precision 2 and scale 0 are too narrow: the "
        "values need 2 integer and 1 fraction digits",
        "does not fit the data: $.fields[5]: '16' at line 2 is not of type 'boolean' (the "
        "pipeline would reject it)",
    ]


def _cli(*args, cwd=None):
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    return subprocess.run(
        [sys.executable, "-m", "localrun.describe", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd or repo,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(repo)},
        timeout=120,
    )


def test_the_command_prints_the_schema_on_stdout_and_the_summary_on_stderr():
    done = _cli(FIXTURES / "weather_semicolon.csv", "--jobs", "2")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == WEATHER
    assert done.stdout.splitlines()[5] == '    {"name": "station", "type": "string", ' + (
        '"constraints": {"required": true}},'
    )  # one field per line, ready to edit
    assert done.stderr.splitlines()[0] == "35 records, delimiter ';', missing values ['']"
    assert "\r" not in done.stderr  # no progress when stderr is not a terminal


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a,b\n1,\xff\n", "not UTF-8 text at byte offset 6 (invalid start byte)"),
        (b"a,b\n", "the file has a header but no records: nothing to describe"),
        (b"a,b\n\n\r\n", "only blank lines after the header: no records"),
        (b"a,a\n1,2\n", "the header has duplicate names ['a']"),
        (b"", "the file is empty"),
        (b"\x1f\x8b\x08\x00", "gzip-compressed: describe the decompressed file (gunzip -k "),
        (b'a,b\n1,x\n2,"open\n3,x\n', "byte offset 10: a quoted field opens there and never"),
    ],
)
def test_a_file_that_cannot_be_described_exits_2_with_the_reason(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    done = _cli(path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("describe: ") and message in done.stderr


def test_files_of_another_layout_are_not_described_together(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("x,y\n1,2\n")
    b.write_text("x,z\n1,2\n")
    done = _cli(a, b)
    assert done.returncode == 2
    assert f"{b}: its header (',', ['x', 'z']) differs from {a}'s" in done.stderr


def test_several_files_of_one_layout_give_one_schema_and_say_which_file(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("n,when\n1,2024-01-01\n2,2024-01-02\n")
    b.write_text("when,n\n2024-01-03,3\n2024-01-04,4.5\n")  # another order, a decimal
    doc, lines = run_describe(a, b)
    assert doc["fields"] == [
        {
            "name": "n",
            "type": "number",
            "precision": 2,
            "scale": 1,
            "constraints": {"required": True},
        },
        {"name": "when", "type": "date", "constraints": {"required": True}},
    ]
    assert lines[1:3] == ["n: number(2,1), required", f"  not boolean: '1' at {a} line 2"]
    assert lines[3] == f"  not integer: '4.5' at {b} line 3"
