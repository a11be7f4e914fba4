"""Reading one chunk for `describe`: a record-aligned byte range of a file, in blocks.

The blocks are cut as the processor cuts them (`etl.blocks.iter_blocks`: whole records,
quote-aware) and parsed by pyarrow as string columns; records with another number of
fields than the header are counted and skipped (the processor rejects them). Each block is
summarised (`localrun.inference.summarize_block`) and merged into the chunk's summary;
probes a block ruled out are not run on the chunk's later blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from localrun.inference import BlockRows, Summary, summarize_block

BLOCK_BYTES = 4 * 1024 * 1024
_PARSER_BLOCK_BYTES = 64 * 1024 * 1024  # > any block handed to the parser


class DescribeError(Exception):
    """The input cannot be described; the message says why and what to do."""


@dataclass(frozen=True)
class ChunkTask:
    """One record-aligned byte range of one file to summarise (picklable for a worker)."""

    path: str
    file: int
    start: int
    end: int
    last: bool
    names: tuple[str, ...]
    delimiter: str
    max_record_bytes: int


class _Range:
    """`read()` over the bytes [start, end) of an open file (iter_blocks' stream)."""

    def __init__(self, f, length: int):
        self._f = f
        self._left = length

    def read(self, n: int) -> bytes:
        data = self._f.read(min(n, self._left)) if self._left > 0 else b""
        self._left -= len(data)
        return data


def summarize_chunk(task: ChunkTask, report=None) -> Summary:
    """The summary of one chunk; `report(bytes, records)` is called after every block."""
    from etl.errors import UnbalancedQuote

    try:
        return _summarize_chunk(task, report)
    except UnbalancedQuote as exc:
        if exc.offset is None:
            raise
        raise DescribeError(
            f"{task.path}: byte offset {task.start + exc.offset}: a quoted field opens there "
            "and never closes, so every row after it would be read as part of that field: "
            'close the quote, or write a quote that belongs to the text as two ("")'
        ) from exc


def _summarize_chunk(task: ChunkTask, report) -> Summary:
    from etl.blocks import iter_blocks

    summary = Summary.empty(task.names)
    skip: dict[str, set[str]] = {}
    offset, lines = task.start, 0
    with open(task.path, "rb") as f:
        f.seek(task.start)
        blocks = iter_blocks(
            _Range(f, task.end - task.start),
            block_bytes=BLOCK_BYTES,
            max_record_bytes=task.max_record_bytes,
            is_last_chunk=task.last,
            delimiter=task.delimiter,
        )
        for block, index in blocks:
            table, skipped = parse_block(block, task, offset)
            if len(index) != table.num_rows + len(skipped):
                raise DescribeError(_malformed(task, offset))
            rows = BlockRows(task.file, task.start, offset, lines, index, skipped)
            part = Summary(task.names, summarize_block(table, rows, skip), len(index))
            if skipped:
                first, width = skipped[0]
                part.wrong_width = len(skipped)
                part.first_wrong_width = rows.at_record(first, str(width))
            summary = summary.merged(part)
            skip = {n: set(c.failures) for n, c in zip(task.names, summary.columns, strict=True)}
            offset += len(block)
            lines += len(index.newlines)
            if report is not None:
                report(len(block), len(index))
    summary.chunk_lines = {(task.file, task.start): lines}
    return summary


def parse_block(block, task: ChunkTask, offset: int) -> tuple[pa.Table, list[tuple[int, int]]]:
    """A block of whole records as string columns, and the (record, field count) of every
    record whose field count is not the header's (those are skipped, as the processor
    rejects them)."""
    import pyarrow.csv as pacsv

    _check_utf8(block, task, offset)
    skipped: list[tuple[int, int]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        skipped.append((row.number - 1, row.actual_columns))
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.py_buffer(block),
            read_options=pacsv.ReadOptions(
                column_names=list(task.names),
                use_threads=False,
                block_size=_PARSER_BLOCK_BYTES,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=task.delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(task.names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                check_utf8=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise DescribeError(_malformed(task, offset) + f" ({exc})") from exc
    return table, skipped


def _check_utf8(block, task: ChunkTask, offset: int) -> None:
    """Arrow's vectorised UTF-8 check over the whole block; the offset of the first bad
    byte (found by Python's decoder, only then) in the error."""
    offsets = pa.py_buffer(np.array([0, len(block)], dtype=np.int64))
    one = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(block)])
    try:
        one.cast(pa.large_string())
    except pa.ArrowInvalid:
        try:
            bytes(block).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DescribeError(
                f"{task.path}: not UTF-8 text at byte offset {offset + exc.start} "
                f"({exc.reason}): re-export the file as UTF-8 (the pipeline rejects such "
                "records)"
            ) from exc
        raise


def _malformed(task: ChunkTask, offset: int) -> str:
    return (
        f"{task.path}: the CSV records after byte offset {offset} cannot be read the way the "
        "pipeline reads them (a stray quote or a bare carriage return inside a record): fix "
        "the quoting, or describe the file without those records"
    )
