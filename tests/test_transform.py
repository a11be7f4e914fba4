"""The processor core on bytes: exact values, exact rejects, chunked == whole, named errors.

Over 500 lines on purpose: one concern (the chunk driver's observable behaviour), one
shared fixture set; the per-rule cases live in tests/test_schema_data.py."""

from __future__ import annotations

import io
import random
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import HEADER, row
from etl.chunking import plan_chunks
from etl.errors import ChunkBoundaryError, RecordTooLarge, SchemaConfigError
from etl.schema_check import load_schema
from etl.transform import process_stream
from test_chunking import make_csv

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from chunkfile import process_file  # noqa: E402

COLS = HEADER.split(",")


def F(column, rule, value):  # one failure of a reject, as the rejects Parquet holds it
    return {"column": column, "rule": rule, "value": value}


def run(schema, data: bytes, tmp_path, *, columns=COLS, first_line=2, **kw):
    v, r = tmp_path / "v.parquet", tmp_path / "r.parquet"
    res = process_stream(
        io.BytesIO(data),
        schema=schema,
        columns=columns,
        valid_path=v,
        rejected_path=r,
        first_line=first_line,
        **kw,
    )
    return res, pq.read_table(v).to_pylist(), pq.read_table(r).to_pylist()


def test_values_are_typed_exactly(schema, tmp_path):
    data = (
        row(
            1,
            amount="-0.05",
            timestamp="2024-02-29T23:59:59.123456Z",
            merchant='"  Café, ""Zürich""  "',
        )
        + "\n"
    ).encode()
    res, valid, rejected = run(schema, data, tmp_path)
    assert (res.rows_valid, res.rows_rejected, rejected) == (1, 0, [])
    v = valid[0]
    assert v["amount"] == Decimal("-0.05")
    assert v["timestamp"] == datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC)
    assert v["merchant"] == '  Café, "Zürich"  '
    assert v["category"] == "food"


def test_optional_empty_string_is_null_and_required_empty_is_rejected(schema, tmp_path):
    data = (row(1, category="") + "\n" + row(2, account_id="") + "\n").encode()
    res, valid, rejected = run(schema, data, tmp_path)
    assert [x["category"] for x in valid] == [None]
    assert rejected == [
        {
            "line": 3,
            "reason": "account_id: a value is required",
            "raw": row(2, account_id=""),
            "failures": [F("account_id", "required", "")],
        }
    ]


DEC = "amount: not a decimal(18,2) (at most 16 integer and 2 fraction digits)"
TS = "timestamp: not an ISO-8601 UTC timestamp like 2024-03-01T12:34:56Z"
ID_PATTERN = "[A-Za-z0-9][A-Za-z0-9_-]{0,63}"


@pytest.mark.parametrize(
    "field,value,rule,reason",
    [
        ("amount", "12.345", "type", DEC),
        ("amount", "1e5", "type", DEC),
        ("amount", " 12.00", "type", DEC),
        ("amount", "12345678901234567", "type", DEC),
        ("timestamp", "2024-03-01T12:00:00+02:00", "type", TS),
        ("timestamp", "2024-03-01 12:00:00Z", "type", TS),
        ("timestamp", "2024-03-01T12:00:00.1234567Z", "type", TS),
        ("timestamp", "2023-02-29T12:00:00Z", "type", TS),
        ("timestamp", "2024-13-01T00:00:00Z", "type", TS),
        ("currency", "usd", "enum", "currency: not one of the enum values"),
        ("status", "DONE", "enum", "status: not one of the enum values"),
        (
            "transaction_id",
            "T 1",
            "pattern",
            f"transaction_id: does not match the pattern {ID_PATTERN}",
        ),
    ],
)
def test_each_rule_rejects_with_its_reason(schema, tmp_path, field, value, rule, reason):
    data = (row(1) + "\n" + row(2, **{field: value}) + "\n" + row(3) + "\n").encode()
    res, valid, rejected = run(schema, data, tmp_path)
    assert [x["transaction_id"] for x in valid] == ["T000001", "T000003"]
    assert rejected == [
        {
            "line": 3,
            "reason": reason,
            "raw": row(2, **{field: value}),
            "failures": [F(field, rule, value)],
        }
    ]


def test_field_count_errors_and_blank_lines(schema, tmp_path):
    short = ",".join(row(2).split(",")[:5])
    long = row(3) + ",extra"
    data = f"{row(1)}\n\n{short}\r\n{long}\n\n{row(4)}".encode()
    res, valid, rejected = run(schema, data, tmp_path)
    assert (res.rows_valid, res.rows_rejected, res.records, res.blank_lines) == (2, 2, 4, 2)
    assert rejected == [
        {
            "line": 4,
            "reason": "wrong number of fields: expected 8",
            "raw": short,
            "failures": [F(None, "fields", "5")],
        },
        {
            "line": 5,
            "reason": "wrong number of fields: expected 8",
            "raw": long,
            "failures": [F(None, "fields", "9")],
        },
    ]


def test_invalid_utf8_row_is_rejected_and_neighbours_kept(schema, tmp_path):
    data = (
        row(1).encode()
        + b"\n"
        + row(2, merchant="caf\udce9").encode("utf-8", "surrogateescape")
        + b"\n"
        + row(3).encode()
        + b"\n"
    )
    res, valid, rejected = run(schema, data, tmp_path)
    assert [x["transaction_id"] for x in valid] == ["T000001", "T000003"]
    assert (rejected[0]["line"], rejected[0]["reason"]) == (3, "not valid UTF-8 text")
    assert rejected[0]["failures"] == [F(None, "encoding", "invalid continuation byte at byte 44")]
    assert rejected[0]["raw"] == row(2, merchant="caf\\xe9")


def test_header_order_may_differ_from_schema(schema, tmp_path):
    cols = list(reversed(COLS))
    data = (",".join(reversed(row(1).split(","))) + "\n").encode()
    res, valid, _ = run(schema, data, tmp_path, columns=cols)
    assert list(valid[0]) == COLS and valid[0]["transaction_id"] == "T000001"


def test_small_blocks_carry_records_across_reads(schema, tmp_path):
    rng = random.Random(1)
    data = make_csv(rng, 200, crlf=True)
    body = data[data.index(b"\n") + 1 :]
    whole = run(schema, body, tmp_path)
    small = run(schema, body, tmp_path, block_bytes=61)
    assert whole[1:] == small[1:] and whole[0].records == small[0].records == 200


@pytest.mark.parametrize("chunk_bytes", [150, 1000, 4096])
def test_chunked_output_equals_whole_file_output(schema, tmp_path, chunk_bytes):
    rng = random.Random(chunk_bytes)
    lines = (
        make_csv(rng, 300, crlf=chunk_bytes == 1000)
        .decode()
        .split("\r\n" if chunk_bytes == 1000 else "\n")
    )
    for i in range(5, len(lines) - 1, 17):
        lines[i] = lines[i].replace("USD", "usd")
    data = ("\r\n" if chunk_bytes == 1000 else "\n").join(lines).encode()
    (tmp_path / "f.csv").write_bytes(data)
    whole = process_file(
        tmp_path / "f.csv", schema, tmp_path / "wv.parquet", tmp_path / "wr.parquet"
    )
    plan = plan_chunks(
        lambda a, b: data[a:b], len(data), chunk_bytes=chunk_bytes, max_record_bytes=4096
    )
    valid, rejected, line = [], [], 1 + plan.header_newlines
    for c in plan.chunks:
        res, v, r = run(
            schema, data[c.start : c.end], tmp_path, first_line=line, is_last_chunk=c.last
        )
        valid += v
        rejected += r
        line += res.lines
    assert len(plan.chunks) > 3
    assert valid == pq.read_table(tmp_path / "wv.parquet").to_pylist()
    assert rejected == pq.read_table(tmp_path / "wr.parquet").to_pylist()
    assert whole.rows_rejected == len(rejected) > 0


def test_chunk_ending_mid_record_is_a_boundary_error(schema, tmp_path):
    with pytest.raises(ChunkBoundaryError):
        run(schema, (row(1) + "\n" + row(2)[:20]).encode(), tmp_path, is_last_chunk=False)


def test_record_longer_than_the_maximum_is_record_too_large(schema, tmp_path):
    data = (row(1) + "\n" + "x" * 5000 + "\n").encode()
    with pytest.raises(RecordTooLarge, match="longer than the maximum record size of 1000"):
        run(schema, data, tmp_path, block_bytes=512, max_record_bytes=1000)


def test_schema_file_errors_are_named(tmp_path):
    bad = tmp_path / "s.json"
    bad.write_text('{"fields": [{"name": "a", "type": "money"}]}')
    with pytest.raises(SchemaConfigError, match=r"\$\.fields\[0\]\.type: unknown type 'money'"):
        load_schema(bad)
    bad.write_text('{"fields": [{"name": "a", "type": "number", "precision": 40, "scale": 2}]}')
    with pytest.raises(SchemaConfigError, match=r"'precision' \(1..38\)"):
        load_schema(bad)
    bad.write_text('{"fields": [{"name": "a"}, {"name": "a"}]}')
    with pytest.raises(SchemaConfigError, match="duplicate field names"):
        load_schema(bad)


def test_a_different_schema_needs_no_code_change(tmp_path):
    s = tmp_path / "s.json"
    s.write_text(
        '{"name": "m", "dialect": {"delimiter": ";"}, "fields": ['
        '{"name": "id", "type": "integer", "constraints": {"required": true}},'
        '{"name": "day", "type": "date", "constraints": {"required": true}},'
        '{"name": "ok", "type": "boolean"}]}'
    )
    schema = load_schema(s)
    data = b"1;2024-01-31;true\n2;2024-02-30;false\n9999999999999999999;2024-01-01;\n"
    res, valid, rejected = run(schema, data, tmp_path, columns=["id", "day", "ok"], first_line=1)
    assert valid == [{"id": 1, "day": datetime(2024, 1, 31).date(), "ok": True}]
    assert [r["line"] for r in rejected] == [2, 3]
    assert [(r["reason"], r["failures"]) for r in rejected] == [
        ("day: not a date YYYY-MM-DD", [F("day", "type", "2024-02-30")]),
        ("id: not a 64-bit integer", [F("id", "type", "9999999999999999999")]),
    ]


def test_stray_quote_record_is_rejected_as_malformed_and_nothing_is_lost(schema, tmp_path):
    # RFC 4180: a quote inside an unquoted field opens nothing for pyarrow but flips the
    # quote parity, so the next line joins the record: both lines are rejected together.
    # The swallowed lines run up to the next line end with even quote parity.
    stray = row(2, merchant='5" screen')
    closing = row(4, merchant='7" tv')
    data = "\n".join([row(1, merchant='"ACME, Inc."'), stray, row(3), closing, row(5), ""]).encode()
    res, valid, rejected = run(schema, data, tmp_path)
    assert [v["transaction_id"] for v in valid] == ["T000001", "T000005"]
    assert rejected == [
        {
            "line": 3,
            "reason": "malformed CSV record: a stray quote or a bare carriage "
            "return splits it differently than RFC 4180 quoting",
            "raw": "\n".join([stray, row(3), closing]),
            "failures": [F(None, "malformed", None)],
        }
    ]
    assert res.records == 3 and res.rows_valid + res.rows_rejected == res.records


def test_non_utf8_row_among_quoted_rows_keeps_the_fast_parse(schema, tmp_path):
    rows = [row(i, merchant='"A, B"').encode() for i in range(300)]
    rows[150] = row(150, merchant='"caf\udce9"').encode("utf-8", "surrogateescape")
    res, valid, rejected = run(schema, b"\n".join(rows) + b"\n", tmp_path)
    assert (res.rows_valid, res.rows_rejected) == (299, 1)
    assert rejected[0]["line"] == 152 and rejected[0]["raw"] == row(150, merchant='"caf\\xe9"')


def test_separator_inside_a_value_cannot_fool_the_combined_screen(tmp_path):
    s = tmp_path / "s.json"
    s.write_text(
        '{"fields": [{"name": "a", "constraints": {"pattern": "^.*$"}},'
        '{"name": "n", "type": "integer"}, {"name": "z", "constraints": {"pattern": ".*"}}]}'
    )
    schema = load_schema(s)
    # joined "x\x1fy\x1f1\x1fz" would match .*, [0-9]+, .* by shifting the boundaries
    data = b"x,y\x1f1,z\nx,7,z\n"
    res, valid, rejected = run(schema, data, tmp_path, columns=["a", "n", "z"], first_line=1)
    assert valid == [{"a": "x", "n": 7, "z": "z"}]
    assert rejected == [
        {
            "line": 1,
            "reason": "n: not a 64-bit integer",
            "raw": "x,y\x1f1,z",
            "failures": [F("n", "type", "y\x1f1")],
        }
    ]


@pytest.mark.parametrize("rows", [63, 64, 65, 192, 200])
def test_grouped_screen_finds_rejects_at_every_group_position(schema, tmp_path, rows):
    """The screen matches groups of SCREEN_GROUP_ROWS rows at once, then the rows of failing
    groups one by one: a reject is found at a group's first and last row, next to another
    reject, and in a last, partial group; the rows around it are kept."""
    from etl.rules import SCREEN_GROUP_ROWS

    assert SCREEN_GROUP_ROWS == 64
    bad = sorted({0, 1, 62, 63, 64, 127, 128, rows - 1} & set(range(rows)))
    lines = [row(i, amount="1.234") if i in bad else row(i) for i in range(rows)]
    data = ("\n".join(lines) + "\n").encode()
    res, valid, rejected = run(schema, data, tmp_path, first_line=2)
    assert [r["line"] - 2 for r in rejected] == bad
    assert all(r["failures"] == [F("amount", "type", "1.234")] for r in rejected)
    assert (res.rows_valid, res.rows_rejected) == (rows - len(bad), len(bad))


@pytest.mark.parametrize("threads", [2, 3])
def test_parallel_blocks_give_the_same_output_as_one_thread(schema, tmp_path, threads):
    rng = random.Random(11)
    lines = make_csv(rng, 400, crlf=True).decode().split("\r\n")[1:]
    for i in range(3, len(lines) - 1, 29):
        lines[i] = lines[i].replace("USD", "usd")
    lines[50] = ""  # a blank line
    body = "\r\n".join(lines).encode()
    one = run(schema, body, tmp_path, block_bytes=300, threads=1)
    many = run(schema, body, tmp_path, block_bytes=300, threads=threads)
    assert one[1:] == many[1:]
    assert one[0] == many[0] and one[0].rows_rejected > 5 and one[0].blank_lines == 1


def test_an_error_in_a_later_block_stops_the_parallel_run(schema, tmp_path):
    data = (
        "\n".join(row(i) for i in range(200)) + "\n" + "x" * 5000 + "\n" + row(9) + "\n"
    ).encode()
    with pytest.raises(RecordTooLarge):
        run(schema, data, tmp_path, block_bytes=700, max_record_bytes=1000, threads=2)


def test_parallel_run_really_prepares_blocks_on_two_threads_at_once(schema, tmp_path, monkeypatch):
    import threading

    from etl import transform

    seen = set()
    both = threading.Barrier(2, timeout=20)  # the first two blocks wait for each other
    calls = []
    original = transform.ChunkProcessor.prepare

    def spy(self, block, index=None):
        calls.append(self._valid is not None)
        seen.add(threading.current_thread().name)
        if len(calls) <= 2:
            both.wait()
        return original(self, block, index)

    monkeypatch.setattr(transform.ChunkProcessor, "prepare", spy)
    body = ("\n".join(row(i) for i in range(300)) + "\n").encode()
    res, valid, _ = run(schema, body, tmp_path, block_bytes=400, threads=2)
    assert res.rows_valid == 300 and [v["transaction_id"] for v in valid] == [
        f"T{i:06d}" for i in range(300)
    ]
    assert len(seen) == 2
    assert all(calls)  # the first block too, after its first rows fixed the encodings


def _calendar_cases() -> list[tuple[str, bool]]:
    """Every month/day pair from 00-00 to 13-32 in years that test each leap rule (and the
    ends of the range), with whether it is a real date by Python's calendar."""
    from datetime import date

    cases = []
    for year in (0, 1, 4, 100, 400, 1900, 1996, 2000, 2023, 2024, 2100, 2400, 9996, 9999):
        for month in range(14):
            for day in range(33):
                try:
                    real = date(year, month, day) is not None
                except ValueError:
                    real = False
                cases.append((f"{year:04d}-{month:02d}-{day:02d}", real))
    return cases


def test_timestamps_are_kept_exactly_when_the_date_is_real_and_rejected_otherwise(schema, tmp_path):
    # the calendar rules live in the timestamp pattern (run by Arrow's RE2 in the combined
    # screen and per column), so check them against Python's calendar on every date shape
    cases = _calendar_cases()
    times = ["00:00:00Z", "23:59:59.999999Z", "12:30:00+00:00"]
    data = "".join(
        row(i, timestamp=f"{d}T{times[i % 3]}") + "\n" for i, (d, _) in enumerate(cases)
    ).encode()
    res, valid, rejected = run(schema, data, tmp_path, first_line=1)
    kept = {v["transaction_id"]: v["timestamp"] for v in valid}
    expected_kept = {f"T{i:06d}" for i, (_, real) in enumerate(cases) if real}
    assert set(kept) == expected_kept and res.rows_rejected == len(cases) - len(expected_kept)
    for i, (d, real) in enumerate(cases):
        if real:
            t = datetime.fromisoformat(f"{d}T{times[i % 3]}".replace("Z", "+00:00"))
            assert kept[f"T{i:06d}"] == t
    assert {r["line"] for r in rejected} == {i + 1 for i, (_, real) in enumerate(cases) if not real}


@pytest.mark.parametrize(
    "clock",
    [
        "24:00:00Z",
        "23:60:00Z",
        "23:59:60Z",
        "1:00:00Z",
        "12:00:00.1234567Z",
        "12:00:00+01:00",
        "12:00:00z",
    ],
)
def test_timestamps_out_of_clock_range_are_rejected(schema, tmp_path, clock):
    res, valid, rejected = run(
        schema, (row(1, timestamp=f"2024-03-01T{clock}") + "\n").encode(), tmp_path
    )
    assert (res.rows_valid, valid) == (0, [])
    assert [(r["reason"], r["failures"]) for r in rejected] == [
        (TS, [F("timestamp", "type", f"2024-03-01T{clock}")])
    ]


def test_dates_are_calendar_exact(tmp_path):
    s = tmp_path / "s.json"
    s.write_text('{"fields": [{"name": "id", "type": "integer"}, {"name": "day", "type": "date"}]}')
    schema = load_schema(s)
    cases = _calendar_cases()
    data = "".join(f"{i},{d}\n" for i, (d, _) in enumerate(cases)).encode()
    res, valid, rejected = run(schema, data, tmp_path, columns=["id", "day"], first_line=1)
    from datetime import date

    assert valid == [
        {"id": i, "day": date.fromisoformat(d)} for i, (d, real) in enumerate(cases) if real
    ]
    assert len(rejected) == sum(1 for _, real in cases if not real)


def test_rejects_of_many_blocks_share_row_groups(schema, tmp_path, monkeypatch):
    from etl import transform

    body = "".join(
        row(i, currency="usd" if i % 3 == 0 else "USD") + "\n" for i in range(120)
    ).encode()
    res, _, rejected = run(schema, body, tmp_path, block_bytes=400, threads=1)
    meta = pq.ParquetFile(tmp_path / "r.parquet").metadata
    assert res.rows_rejected == 40 and meta.num_rows == 40 and meta.num_row_groups == 1
    assert [r["line"] for r in rejected] == [2 + i for i in range(0, 120, 3)]
    # a bounded buffer: past the threshold the pending rejects are written out
    monkeypatch.setattr(transform, "REJECTS_ROW_GROUP_ROWS", 5)
    res, _, again = run(schema, body, tmp_path, block_bytes=400, threads=1)
    meta = pq.ParquetFile(tmp_path / "r.parquet").metadata
    assert again == rejected and meta.num_row_groups > 1
    assert all(meta.row_group(i).num_rows < 5 + 4 for i in range(meta.num_row_groups))


def test_repeating_columns_get_dictionaries_and_patterns_still_hold_per_row(schema, tmp_path):
    # account_id repeats (7 values): parsed as a dictionary, its pattern checked per distinct
    # value and mapped back to every row; currency (allowed values) is checked per row
    lines = [row(i) for i in range(3000)]
    lines[1500] = row(1500, account_id="A!")
    lines[2500] = row(2500, currency="EURO")
    res, valid, rejected = run(schema, ("\n".join(lines) + "\n").encode(), tmp_path, first_line=1)
    assert (res.rows_valid, res.rows_rejected) == (2998, 2)
    assert [(r["line"], r["reason"], r["failures"]) for r in rejected] == [
        (
            1501,
            f"account_id: does not match the pattern {ID_PATTERN}",
            [F("account_id", "pattern", "A!")],
        ),
        (2501, "currency: not one of the enum values", [F("currency", "enum", "EURO")]),
    ]
    assert [v["account_id"] for v in valid[:8]] == [f"A{i % 7}" for i in range(8)]
    meta = pq.ParquetFile(tmp_path / "v.parquet").metadata.row_group(0)
    encodings = {
        meta.column(i).path_in_schema: meta.column(i).encodings for i in range(meta.num_columns)
    }
    assert "RLE_DICTIONARY" in encodings["account_id"] and "RLE_DICTIONARY" in encodings["currency"]
    assert "RLE_DICTIONARY" not in encodings["transaction_id"]


@pytest.mark.parametrize(
    "pattern", ["A.*", "A[^,]*", "A\\\\S*", "A[\\\\x00-~]*", "A[[:cntrl:]a-z0-9]*"]
)
def test_a_pattern_that_can_match_the_separator_cannot_hide_the_next_bad_value(tmp_path, pattern):
    """The screen matches groups of values at once, each ending with a separator byte; a
    pattern that could match that byte could swallow the next value with it, so such a
    pattern is never grouped: "B2" (not starting with A) is rejected wherever it stands."""
    s = tmp_path / "s.json"
    s.write_text(
        '{"fields": [{"name": "id", "constraints": {"pattern": "' + pattern + '"}},'
        ' {"name": "n", "constraints": {"pattern": "[a-z]"}}]}'
    )
    schema = load_schema(s)
    ids = ["A1", "B2", "A3", "A4", "B5"] * 30
    data = "".join(f"{v},x\n" for v in ids).encode()
    res, valid, rejected = run(schema, data, tmp_path, columns=["id", "n"], first_line=1)
    assert [r["line"] for r in rejected] == [i + 1 for i, v in enumerate(ids) if v[0] == "B"]
    assert all(r["failures"] == [F("id", "pattern", r["raw"][:2])] for r in rejected)
    assert res.rows_valid == 90


@pytest.mark.parametrize(
    ("pattern", "safe"),
    [
        ("[A-Za-z0-9][A-Za-z0-9_-]{0,63}", True),
        ("^[+-]?[0-9]{1,16}(?:\\.[0-9]{1,2})?$", True),
        ("\\d{3}\\s\\w+", True),
        ("[]a]+", True),
        ("[ -~]+", True),
        ("a.b", False),
        ("[^a]", False),
        ("\\S+", False),
        ("\\W", False),
        ("\\D", False),
        ("\\x1f", False),
        ("\\pC", False),
        ("\\C", False),
        ("\\Qa.b\\E", False),
        ("[[:cntrl:]]", False),
        ("a\x1fb", False),
        ("[\x00-z]", False),
        ("a\\", False),
    ],
)
def test_separator_safe_is_conservative(pattern, safe):
    from etl.rules import SEP, separator_safe

    assert SEP == "\x1f"
    assert separator_safe(pattern) is safe
