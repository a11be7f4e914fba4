"""`describe`: the inferred schema, its round trip through the processor, the summary on
stderr, completing an existing schema, and the answer's independence of the chunking."""

from __future__ import annotations

import csv
import io
import sys
from argparse import Namespace
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import HEADER, row
from etl.schema_check import parse_schema

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from chunkfile import process_file  # noqa: E402

from localrun.describe import describe  # noqa: E402

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
    if field.type in ("integer", "number") and field.group_char:
        text = text.replace(field.group_char, "")
    if field.type in ("integer", "year"):
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
    [
        ("penguins.csv", PENGUINS, 40),
        ("weather_semicolon.csv", WEATHER, 35),
        ("trips.tsv", TRIPS, 30),
    ],
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


def test_the_generated_sample_round_trips(tmp_path):
    from localrun.sample import write_transactions

    clean, dirty = tmp_path / "clean.csv", tmp_path / "dirty.csv"
    write_transactions(clean, rows=3000, invalid_fraction=0, seed=5)
    stats = write_transactions(dirty, rows=3000, invalid_fraction=0.02, seed=5)
    doc, _ = run_describe(clean)
    assert [(f["name"], f["type"], f.get("precision"), f.get("scale")) for f in doc["fields"]] == [
        ("transaction_id", "string", None, None),
        ("account_id", "string", None, None),
        ("timestamp", "datetime", None, None),
        ("amount", "number", 6, 2),  # at most 4 integer and 2 fraction digits
        ("currency", "string", None, None),
        ("merchant", "string", None, None),
        ("category", "string", None, None),
        ("status", "string", None, None),
    ]
    assert assert_round_trip(clean, doc, tmp_path) == 3000
    # invalid values widen their field (an amount 'abc' makes it a string); records with
    # too few or too many fields are the only rejects
    doc, lines = run_describe(dirty)
    wrong = stats.invalid_by_kind["too_few_fields"] + stats.invalid_by_kind["too_many_fields"]
    assert wrong > 0 and f"  {wrong:,} records have another number of fields" in lines[1]
    (tmp_path / "d").mkdir()
    assert assert_round_trip(dirty, doc, tmp_path / "d", wrong_width=wrong) == 3000 - wrong


@pytest.mark.parametrize("seed", range(4))
def test_the_test_suite_s_csv_shapes_round_trip(tmp_path, seed):
    import random

    from test_chunking import make_csv
    from test_schema_data import _weather_file

    rng = random.Random(seed)
    files = {
        "chunking.csv": make_csv(
            rng, 50, crlf=seed % 2 == 1, bom=seed >= 2, trailing_newline=seed != 3
        ),
        "weather.csv": _weather_file(40 + seed),
        "rows.csv": (HEADER + "\n" + "\n".join(row(i) for i in range(30)) + "\n").encode(),
    }
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        doc, _ = run_describe(path)
        (tmp_path / f"out-{name}").mkdir()
        assert assert_round_trip(path, doc, tmp_path / f"out-{name}") > 0


def random_csv(rng, rows: int) -> str:
    """A CSV whose columns each hold one kind of value, with missing values, quoted
    delimiters and newlines, and now and then a value that rules a type out."""
    kinds = {
        "i": lambda: str(rng.randint(-(10**6), 10**6)),
        "d": lambda: f"{rng.uniform(-1e4, 1e4):.{rng.randint(0, 5)}f}",
        "b": lambda: rng.choice(["yes", "no", "Yes"]),
        "day": lambda: (
            f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1990, 2030)}"
        ),
        "ts": lambda: f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T0{rng.randint(0, 9)}:00:00Z",
        "s": lambda: rng.choice(["plain", '"a, b"', '"two\nlines"', '"say ""x"""', "Zoë"]),
        "g": lambda: f'"{rng.uniform(-1e7, 1e7):,.{rng.choice([0, 0, 2])}f}"',  # digit groups
    }
    spoilers = ["x1", "1.5", "2024-13-01", "99999999999999999999", "TRUE"]
    lines = [",".join(kinds)]
    for _ in range(rows):
        values = []
        for make in kinds.values():
            roll = rng.random()
            values.append(
                rng.choice(["", "NA", "null"]) if roll < 0.05
                else rng.choice(spoilers) if roll < 0.07
                else make()
            )  # fmt: skip
        lines.append(",".join(values))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(6))
def test_the_answer_does_not_depend_on_the_chunking_or_the_row_order(tmp_path, seed):
    import random

    rng = random.Random(seed)
    text = random_csv(rng, 300)
    path = tmp_path / "f.csv"
    path.write_text(text, encoding="utf-8")
    whole = run_describe(path)
    for chunk_bytes in (97, 512, 4096):
        # the same schema and the same summary (first values and their lines included)
        assert run_describe(path, chunk_bytes=chunk_bytes) == whole
    header = text.splitlines(keepends=True)[0]
    records = ["".join(r) for r in _records(text)]  # whole records: some span two lines
    rng.shuffle(records)
    shuffled = tmp_path / "shuffled.csv"
    shuffled.write_text(header + "".join(records), encoding="utf-8")
    assert run_describe(shuffled, chunk_bytes=777)[0] == {**whole[0], "name": "shuffled"}
    assert_round_trip(path, whole[0], tmp_path)


def _records(text: str) -> list[list[str]]:
    """The data records of `text` as their raw lines (a quoted newline joins two lines)."""
    out, pending = [], []
    for line in text.splitlines(keepends=True)[1:]:
        pending.append(line)
        if "".join(pending).count('"') % 2 == 0:
            out.append(pending)
            pending = []
    return out


def test_all_processes_give_the_answer_of_one(tmp_path):
    import random

    path = tmp_path / "f.csv"
    path.write_text(random_csv(random.Random(9), 2000), encoding="utf-8")
    assert run_describe(path, jobs=2, chunk_bytes=8192) == run_describe(path)


def test_the_merge_is_commutative_and_associative(tmp_path):
    import random

    from localrun.chunkread import summarize_chunk
    from localrun.describe import plan_file

    rng = random.Random(3)
    path = tmp_path / "f.csv"
    path.write_text(random_csv(rng, 400), encoding="utf-8")
    _, names, _, tasks = plan_file(str(path), 0, 1, 700, None)
    parts = [summarize_chunk(t) for t in tasks]
    assert len(parts) > 5
    for _ in range(20):
        a, b, c = rng.sample(parts, 3)
        assert a.merged(b) == b.merged(a)
        assert a.merged(b).merged(c) == a.merged(b.merged(c))
    in_order = parts[0]
    for p in parts[1:]:
        in_order = in_order.merged(p)
    rng.shuffle(parts)
    shuffled = parts[0]
    for p in parts[1:]:
        shuffled = shuffled.merged(p)
    assert shuffled == in_order


def test_each_narrower_type_names_the_value_that_ruled_it_out_across_chunks(tmp_path):
    path = tmp_path / "f.csv"
    values = ["1", "0", "7", "2.5", "3", "abc", "4", "05/06/2024"]
    path.write_text("k,v\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)))
    doc, lines = run_describe(path, chunk_bytes=9)  # about one record per chunk
    assert doc["fields"][1] == {"name": "v", "type": "string", "constraints": {"required": True}}
    assert lines[lines.index("v: string, required") + 1 :] == [
        "  not boolean, date, datetime, time, yearmonth: '1' at line 2",  # 1/0 are integers
        "  not integer: '2.5' at line 5",
        "  not number: 'abc' at line 7",
    ]


def test_a_date_that_fits_two_formats_keeps_the_first_and_says_so(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("d\n01/02/2024\n12/11/2023\n")
    doc, lines = run_describe(path)
    assert doc["fields"] == [
        {"name": "d", "type": "date", "format": "%d/%m/%Y", "constraints": {"required": True}}
    ]
    assert "  also fits date %m/%d/%Y (first kept: check which the data means)" in lines


def test_a_number_wider_than_38_digits_and_an_empty_field_are_strings(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("a,b\n123456789012345678901234567890.123456789,\n1,\n")
    doc, lines = run_describe(path)
    assert doc["fields"] == [
        {"name": "a", "type": "string", "constraints": {"required": True}},
        {"name": "b", "type": "string"},
    ]
    assert lines[2:] == [
        "  not boolean, integer, date, datetime, time, yearmonth: "
        "'123456789012345678901234567890.123456789' at line 2",
        "  not number: needs 39 digits, more than 38",
        "  not number (digit groups ','): needs 39 digits, more than 38",
        "b: string, optional (missing: '' x2)",
        "  no values at all: a string",
    ]
