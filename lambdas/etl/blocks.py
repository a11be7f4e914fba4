"""Cutting a byte stream into blocks of whole records.

A block is cut at its last record end (quote-aware, see csvscan); the partial record after
it is carried into the next block. Blocks are views of the bytes read, not copies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from .csvscan import (
    RecordIndex,
    check_closed,
    index_complete_records,
    index_records,
    last_record_end,
)
from .errors import ChunkBoundaryError, RecordTooLarge

Block = bytes | memoryview  # whole records; a view of the bytes read, not a copy
# (bytes read, whether they are the stream's last record) -> None if no record ends in
# them, else (bytes of whole records, their LF count or None if not counted, what is
# yielded with the block)
Cutter = Callable[[bytes, bool], tuple[int, int | None, Any] | None]


def iter_blocks(
    stream: BinaryIO,
    *,
    block_bytes: int,
    max_record_bytes: int,
    is_last_chunk: bool,
    delimiter: str = ",",
) -> Iterator[tuple[Block, RecordIndex]]:
    """Yield (block of whole records, its record index) from `stream`, which starts at a
    record start: one scan of each block finds both the cut and the index."""
    return _blocks(stream, _indexed, block_bytes, max_record_bytes, is_last_chunk, delimiter)


def cut_blocks(
    stream: BinaryIO,
    *,
    block_bytes: int,
    max_record_bytes: int,
    is_last_chunk: bool,
    delimiter: str = ",",
    lines_before: Callable[[], int],
) -> Iterator[Block]:
    """Yield blocks of whole records from `stream`, which starts at a record start. Only
    the cut is found (a quote count and `rfind`: no index, no line count), so a parallel
    run's serial step is small; its workers index and count the blocks they parse.
    `lines_before()` is asked only to place an unclosed quote: the LF count of every block
    yielded so far (the caller knows it once their workers are done)."""
    blocks = _blocks(
        stream, _cut_only, block_bytes, max_record_bytes, is_last_chunk, delimiter, lines_before
    )
    return (block for block, _ in blocks)


def _indexed(buf: bytes, rest: bool) -> tuple[int, int, RecordIndex] | None:
    index = index_records(buf) if rest else index_complete_records(buf)
    return None if index is None else (index.length, len(index.newlines), index)


def _cut_only(buf: bytes, rest: bool) -> tuple[int, None, None] | None:
    cut = len(buf) if rest else last_record_end(buf)
    return None if cut is None else (cut, None, None)


def _blocks(
    stream: BinaryIO,
    cutter: Cutter,
    block_bytes: int,
    max_record_bytes: int,
    is_last_chunk: bool,
    delimiter: str,
    lines_before: Callable[[], int] | None = None,
) -> Iterator[tuple[Block, Any]]:
    """Blocks are views of what was read (no copy of the block itself). A quoted field
    that never closes is UnbalancedQuote (`check_closed`), not a bad plan; the line it
    opens on counts the LFs before `carry`: the cutter's counts, or `lines_before()` when
    the cutter counts none."""
    carry = b""
    done = [0, 0]  # bytes and lines before `carry`, to locate an unclosed quote

    def line() -> int:
        return 1 + (done[1] if lines_before is None else lines_before())

    while True:
        data = stream.read(block_bytes)
        if not data:
            if carry:
                check_closed(carry, delimiter=delimiter, offset=done[0], line=line())
                if not is_last_chunk:
                    raise ChunkBoundaryError(
                        f"the chunk ends inside a record ({len(carry)} bytes after the last "
                        "record end): the chunk plan is wrong; re-run the file"
                    )
                if len(carry) > max_record_bytes:
                    raise RecordTooLarge(too_large(max_record_bytes))
                yield carry, cutter(carry, True)[2]
            return
        buf = carry + data if carry else data
        found = cutter(buf, False)
        if found is None:
            if len(buf) > max_record_bytes:
                check_closed(
                    buf, delimiter=delimiter, offset=done[0], line=line(), contradicted=True
                )
                raise RecordTooLarge(too_large(max_record_bytes))
            carry = buf
            continue
        cut, lines, info = found
        done = [done[0] + cut, done[1] + (lines or 0)]
        carry = buf[cut:]
        yield memoryview(buf)[:cut], info


def too_large(limit: int) -> str:
    return (
        f"a record is longer than the maximum record size of {limit} bytes (no record end "
        "found): check the file (binary data? unbalanced quote?) or raise max_record_bytes"
    )
