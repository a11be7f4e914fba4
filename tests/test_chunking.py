"""Chunk planning: boundaries fall exactly on record starts, for every CSV edge case."""

from __future__ import annotations

import csv
import io
import random

import pytest
from conftest import HEADER, row
from etl.chunking import BOM, plan_chunks
from etl.csvscan import first_record_start, index_complete_records, index_records
from etl.errors import EmptyFile, RecordTooLarge


def record_starts(data: bytes, start: int) -> set[int]:
    """Reference: every record start after `start`, by a sequential parity scan."""
    starts, quotes = {start}, 0
    for i in range(start, len(data)):
        c = data[i]
        if c == 0x22:
            quotes += 1
        elif c == 0x0A and quotes % 2 == 0:
            starts.add(i + 1)
    return starts


def make_csv(
    rng: random.Random,
    n: int,
    *,
    crlf=False,
    bom=False,
    trailing_newline=True,
    quoted_newlines=True,
) -> bytes:
    nl = "\r\n" if crlf else "\n"
    rows = [HEADER]
    for i in range(n):
        kind = rng.random()
        if quoted_newlines and kind < 0.15:
            rows.append(row(i, merchant=f'"line one{nl}line ""two""{nl}, three"'))
        elif kind < 0.3:
            rows.append(row(i, merchant='"ACME, Inc."'))
        else:
            rows.append(row(i))
    text = nl.join(rows) + (nl if trailing_newline else "")
    return (BOM if bom else b"") + text.encode()


def check_plan(data: bytes, chunk_bytes: int, max_record_bytes: int = 4096):
    plan = plan_chunks(
        lambda a, b: data[a:b],
        len(data),
        chunk_bytes=chunk_bytes,
        max_record_bytes=max_record_bytes,
    )
    truth = record_starts(data, plan.header_end)
    assert plan.chunks[0].start == plan.header_end
    assert plan.chunks[-1].end == len(data) and plan.chunks[-1].last
    for a, b in zip(plan.chunks, plan.chunks[1:], strict=False):
        assert a.end == b.start and not a.last
        assert b.start in truth, f"chunk {b.index} starts mid-record at {b.start}"
    assert [c.index for c in plan.chunks] == list(range(len(plan.chunks)))
    return plan


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(
    "opts",
    [
        {},
        {"crlf": True},
        {"bom": True},
        {"trailing_newline": False},
        {"crlf": True, "bom": True, "trailing_newline": False},
    ],
)
def test_boundaries_are_record_starts_for_every_chunk_size(seed, opts):
    rng = random.Random(seed)
    data = make_csv(rng, 120, **opts)
    for chunk_bytes in (64, 97, 200, 512, 1500):
        check_plan(data, chunk_bytes)


def test_quoted_newline_on_boundary_is_not_split():
    head = (HEADER + "\n").encode()
    rec = row(1, merchant='"a' + "\n" * 50 + 'b"').encode() + b"\n"
    data = head + rec * 20
    # put targets right inside the run of quoted newlines of each record
    for offset in range(len(head) + 30, len(head) + 90, 7):
        plan = check_plan(data, offset - len(head))
        assert all(
            c.start == len(head) + k * len(rec)
            for k, c in [((c.start - len(head)) // len(rec), c) for c in plan.chunks]
        )


def test_undecidable_window_falls_back_to_a_correct_sequential_scan(monkeypatch):
    from etl import chunking

    monkeypatch.setattr(chunking, "first_record_start", lambda *a, **k: None)
    rng = random.Random(5)
    data = make_csv(rng, 300, crlf=True)
    plan = check_plan(data, 700)
    assert plan.fallbacks == plan.boundaries > 5


def test_long_quoted_run_is_decided_by_the_max_record_rule():
    head = (HEADER + "\n").encode()
    # 30 KB of newlines inside one quoted field: the 64 KiB probe can't see both ends
    rec = row(1, merchant='"' + "x\n" * 15000 + '"').encode() + b"\n"
    data = head + rec * 6
    plan = check_plan(data, 45_000, max_record_bytes=64 * 1024)
    assert plan.fallbacks == 0
    assert [c.start for c in plan.chunks] == [len(head) + k * len(rec) for k in (0, 2, 4)]


def test_quote_free_file_reads_at_most_max_record_bytes_per_boundary():
    data = ("\n".join([HEADER] + [row(i) for i in range(20000)]) + "\n").encode()
    plan = check_plan(data, 100_000, max_record_bytes=64 * 1024)
    assert plan.boundaries == len(data) // 100_000
    assert plan.fallbacks == 0
    assert plan.bytes_per_boundary <= 64 * 1024


def test_quoted_file_decides_within_the_first_probe():
    rng = random.Random(7)
    data = make_csv(rng, 20000, quoted_newlines=True)
    plan = check_plan(data, 100_000, max_record_bytes=1024 * 1024)
    assert plan.fallbacks == 0
    assert plan.bytes_per_boundary <= 64 * 1024


def test_header_only_file_has_no_chunks():
    plan = plan_chunks(lambda a, b: b"a,b\n"[a:b], 4, chunk_bytes=10, max_record_bytes=100)
    assert (plan.header, plan.header_end, plan.chunks) == (b"a,b", 4, [])


def test_empty_and_bom_only_files_are_empty():
    with pytest.raises(EmptyFile):
        plan_chunks(lambda a, b: b"", 0, chunk_bytes=10, max_record_bytes=100)
    with pytest.raises(EmptyFile):
        plan_chunks(lambda a, b: BOM[a:b], 3, chunk_bytes=10, max_record_bytes=100)


def test_header_longer_than_max_record_is_record_too_large():
    data = b"x" * 5000
    with pytest.raises(RecordTooLarge, match="header line is longer than"):
        plan_chunks(lambda a, b: data[a:b], len(data), chunk_bytes=100, max_record_bytes=1000)


def test_bom_header_and_crlf_header():
    data = BOM + b"a,b\r\n1,2\r\n"
    plan = plan_chunks(lambda a, b: data[a:b], len(data), chunk_bytes=100, max_record_bytes=100)
    assert (plan.header_start, plan.header, plan.header_end, plan.header_newlines) == (
        3,
        b"a,b",
        8,
        1,
    )


def test_complete_records_end_at_the_last_newline_outside_quotes():
    cut = index_complete_records(b'a,b\n"x\ny')
    assert (cut.length, cut.starts.tolist(), cut.ends.tolist(), cut.newlines.tolist()) == (
        4,
        [0],
        [3],
        [3],
    )
    whole = index_complete_records(b'a,b\n"x\ny"\n')
    assert (whole.length, whole.starts.tolist(), whole.ends.tolist()) == (10, [0, 4], [3, 9])
    assert index_complete_records(b'"no end\n') is None
    assert index_complete_records(b"no newline at all") is None


def test_complete_records_index_equals_the_index_of_the_cut_block():
    rng = random.Random(5)
    data = make_csv(rng, 300, crlf=True).replace(b"\r\nT000050,", b"\r\n\r\n\n\r\nT000050,")
    for end in range(50, len(data), 97):
        got = index_complete_records(data[:end])
        if got is None:
            continue
        want = index_records(data[: got.length])
        assert [a.tolist() for a in (got.starts, got.ends, got.newlines)] == [
            a.tolist() for a in (want.starts, want.ends, want.newlines)
        ]
        assert (got.blank_lines, got.length) == (want.blank_lines, want.length)


def test_index_records_spans_blank_lines_and_crlf():
    idx = index_records(b'a\r\n\r\n"q\nq"\n\nlast')
    assert list(zip(idx.starts.tolist(), idx.ends.tolist(), strict=True)) == [
        (0, 1),
        (5, 10),
        (12, 16),
    ]
    assert idx.blank_lines == 2


def test_first_record_start_decides_by_structure():
    # inside quotes: `"` followed by `,` closes the field; the LF after it ends the record
    assert first_record_start(b'c, d",x\nnext', max_record_bytes=100) == 8
    # outside quotes: quote opens a field after a delimiter
    assert first_record_start(b'x,"a\nb",y\nnext', max_record_bytes=100) == 10
    # no quotes and a window shorter than the max record: cannot decide
    assert first_record_start(b"abc\ndef\n", max_record_bytes=100) is None
    assert first_record_start(b"abc\ndef\n", max_record_bytes=8) == 4


def test_reference_scan_agrees_with_python_csv():
    rng = random.Random(3)
    data = make_csv(rng, 200, crlf=True)
    text = data.decode()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(record_starts(data, 0)) - 1 == len(rows)


def test_a_plan_is_refused_as_soon_as_it_passes_max_chunks():
    from etl.errors import TooManyChunks

    data = make_csv(random.Random(3), 200, quoted_newlines=False)
    read = []

    def read_range(a, b):
        read.append(b - a)
        return data[a:b]

    full = plan_chunks(lambda a, b: data[a:b], len(data), chunk_bytes=500, max_record_bytes=4096)
    assert len(full.chunks) > 10
    exact = plan_chunks(
        lambda a, b: data[a:b],
        len(data),
        chunk_bytes=500,
        max_record_bytes=4096,
        max_chunks=len(full.chunks),
    )
    assert exact.chunks == full.chunks
    with pytest.raises(TooManyChunks, match=r"more than 10 chunks of about 500 bytes"):
        plan_chunks(read_range, len(data), chunk_bytes=500, max_record_bytes=4096, max_chunks=10)
    # 3 reads for the header, then one probe per boundary until the 11th chunk start: the
    # planner stops there instead of planning the whole file
    assert len(read) == 3 + 10


def test_cr_only_line_endings_are_a_line_ending_error_not_a_huge_header():
    from etl.errors import LineEndingError

    data = (HEADER + "\r" + "\r".join(row(i) for i in range(100)) + "\r").encode()
    with pytest.raises(LineEndingError, match="bare carriage return"):
        plan_chunks(lambda a, b: data[a:b], len(data), chunk_bytes=500, max_record_bytes=1000)
