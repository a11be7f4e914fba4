"""An unbalanced double quote (a quoted field that never closes) is the file's fault and is
named as such (`UnbalancedQuote`, with the line of the opening quote), never blamed on the
chunk plan (`ChunkBoundaryError`) and never allowed to merge the following rows into one."""

from __future__ import annotations

import io
import json

import pytest
from conftest import HEADER, row
from etl.events import ChunkItem, ChunkRange, Validated
from etl.status import SORT_KEY, chunk_id
from test_handlers import Ctx, mark_failed_event, split_event, upload
from test_transform import COLS


def _lines(n: int, **bad: str) -> list[str]:
    """n records; `bad` maps "i" (record number) to the merchant text of that record."""
    return [row(i, merchant=bad.get(str(i), "Shop")) for i in range(n)]


def _csv(records: list[str]) -> bytes:
    return ("\n".join([HEADER, *records]) + "\n").encode()


def test_the_validator_names_the_line_of_a_quote_that_never_closes(aws):
    import mark_failed
    import splitter
    import validator
    from etl.errors import UnbalancedQuote

    # record 3 is file line 5 (the header is line 1); 40 records fan out into many chunks
    body = _csv(_lines(40, **{"3": '"Shop, Inc'}))
    detail = upload(aws, "incoming/transactions/open-quote.csv", body)
    split = splitter.handler(split_event(detail, "e"), Ctx())
    assert split["chunk_count"] > 3
    with pytest.raises(UnbalancedQuote) as err:
        validator.handler(split, Ctx())
    reason = str(err.value)
    offset = body.index(b'"')
    assert reason.startswith(
        f"line 5 (byte offset {offset} of the file): a quoted field opens here and never closes"
    )
    assert reason.endswith(
        "close the quote, or write a quote that belongs to the text as two "
        '("") inside a quoted field, then upload the file again'
    )
    cause = json.dumps({"errorType": "UnbalancedQuote", "errorMessage": reason})
    out = mark_failed.handler(
        mark_failed_event({**split, "error": {"Error": "UnbalancedQuote", "Cause": cause}}, "e"),
        Ctx(),
    )
    assert (out["status"], out["error"], out["reason"]) == ("FAILED", "UnbalancedQuote", reason)
    # nothing fanned out: no chunk was started
    assert aws.status.chunks(split["file_id"]) == []


def test_the_validator_names_a_stray_quote_in_an_unquoted_field(aws):
    import splitter
    import validator
    from etl.errors import UnbalancedQuote

    body = _csv(_lines(12, **{"7": 'Joe"s Diner'}))
    detail = upload(aws, "incoming/transactions/stray.csv", body)
    split = splitter.handler(split_event(detail, "e"), Ctx())
    with pytest.raises(
        UnbalancedQuote, match=r"^line 9 \(byte offset \d+ of the file\): a quoted field opens here"
    ):
        validator.handler(split, Ctx())


def test_balanced_quoted_newlines_still_pass_the_validator(aws):
    import splitter
    import validator

    body = _csv(_lines(12, **{"2": '"Multi\nline, ""quoted"""'}))
    detail = upload(aws, "incoming/transactions/ok.csv", body)
    split = splitter.handler(split_event(detail, "e"), Ctx())
    assert validator.handler(split, Ctx())["columns"] == COLS


def _stream(schema, data: bytes, tmp_path, **kw):
    from etl.transform import process_stream

    return process_stream(
        io.BytesIO(data),
        schema=schema,
        columns=COLS,
        valid_path=tmp_path / "v.parquet",
        rejected_path=tmp_path / "r.parquet",
        **kw,
    )


def test_a_chunk_that_ends_inside_an_unclosed_quote_is_unbalanced_quote(schema, tmp_path):
    """Past the validator's sample, the processor sees it: not ChunkBoundaryError."""
    from etl.errors import UnbalancedQuote

    data = "".join(f"{r}\n" for r in _lines(6, **{"2": '"Shop, Inc'})).encode()
    offset = data.index(b'"')
    with pytest.raises(UnbalancedQuote) as err:
        _stream(schema, data, tmp_path, is_last_chunk=False, threads=1)
    assert str(err.value).startswith(
        f"line 3 of the chunk (byte {offset} of the chunk): a quoted field opens here "
        "and never closes"
    )
    assert (err.value.offset, err.value.line) == (offset, 3)


def test_the_last_chunk_does_not_merge_the_rows_after_an_unclosed_quote(schema, tmp_path):
    from etl.errors import UnbalancedQuote

    data = "".join(f"{r}\n" for r in _lines(6, **{"4": '"Shop, Inc'})).encode()
    with pytest.raises(UnbalancedQuote) as err:
        _stream(schema, data, tmp_path, is_last_chunk=True, block_bytes=64, threads=1)
    assert (err.value.offset, err.value.line) == (data.index(b'"'), 5)


def test_an_unclosed_quote_longer_than_a_record_is_unbalanced_quote(schema, tmp_path):
    from etl.errors import UnbalancedQuote

    data = "".join(f"{r}\n" for r in _lines(60, **{"1": '"Shop, Inc', "8": '"A, B"'})).encode()
    with pytest.raises(UnbalancedQuote) as err:
        _stream(schema, data, tmp_path, block_bytes=512, max_record_bytes=1000, threads=1)
    assert (err.value.offset, err.value.line) == (data.index(b'"'), 2)


def test_a_long_balanced_quoted_field_is_still_record_too_large(schema, tmp_path):
    from etl.errors import RecordTooLarge

    data = (row(1) + "\n" + row(2, merchant='"' + "x\n" * 600 + '"') + "\n").encode()
    with pytest.raises(RecordTooLarge):
        _stream(schema, data, tmp_path, block_bytes=256, max_record_bytes=1000, threads=1)


def test_a_processor_reports_the_file_offset_of_the_open_quote(aws, monkeypatch):
    """Detected by a processor (past the validator's sample): the reason gives the chunk and
    the file byte offset, and the chunk item records the name."""
    import processor
    import splitter
    import validator
    from etl.errors import UnbalancedQuote

    monkeypatch.setattr(validator, "SAMPLE_BYTES", 64)
    body = _csv(_lines(40, **{"20": '"Shop, Inc'}))
    detail = upload(aws, "incoming/transactions/late.csv", body)
    split = splitter.handler(split_event(detail, "e"), Ctx())
    checked = validator.handler(split, Ctx())
    manifest = json.loads(
        aws.s3.get_object(Bucket=checked["bucket"], Key=checked["manifest_key"])["Body"].read()
    )
    quote = body.index(b'"')
    chunk = next(c for c in manifest if c["start"] <= quote < c["end"])
    item = ChunkItem.of(Validated.from_dict(checked), ChunkRange.from_dict(chunk), "e")
    with pytest.raises(UnbalancedQuote) as err:
        processor.handler(item.to_dict(), Ctx())
    local_line = body[chunk["start"] : quote].count(b"\n") + 1
    assert str(err.value).startswith(
        f"line {local_line} of the chunk (byte offset {quote} of the file): a quoted field "
        "opens here and never closes"
    )
    failed = [i for i in aws.status.chunks(checked["file_id"]) if i["status"] == "FAILED"]
    assert [(i[SORT_KEY], i["error"]) for i in failed] == [
        (chunk_id(chunk["index"]), "UnbalancedQuote")
    ]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("last", [True, False])
def test_an_unclosed_quote_after_many_blocks_is_placed_on_its_line(schema, tmp_path, threads, last):
    """A parallel run's cutter counts no lines (its workers do): the line of an unclosed
    quote far into the chunk is the one-thread run's, from the blocks cut before it."""
    from etl.errors import UnbalancedQuote

    data = "".join(f"{r}\n" for r in _lines(60, **{"41": '"Shop, Inc', "50": '"A, B"'})).encode()
    with pytest.raises(UnbalancedQuote) as err:
        _stream(
            schema,
            data,
            tmp_path,
            is_last_chunk=last,
            block_bytes=512,
            max_record_bytes=1000,
            threads=threads,
        )
    assert (err.value.offset, err.value.line) == (data.index(b'"'), 42)
