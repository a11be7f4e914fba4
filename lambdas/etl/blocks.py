"""Cutting a byte stream into blocks of whole records, each with its record index.

A block is cut at its last record end (quote-aware, see csvscan); the partial record after
it is carried into the next block. Blocks are views of the bytes read, not copies.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from .csvscan import RecordIndex, check_closed, index_complete_records, index_records
from .errors import ChunkBoundaryError, RecordTooLarge

Block = bytes | memoryview  # whole records; a view of the bytes read, not a copy


def iter_blocks(
    stream: BinaryIO,
    *,
    block_bytes: int,
    max_record_bytes: int,
    is_last_chunk: bool,
    delimiter: str = ",",
) -> Iterator[tuple[Block, RecordIndex]]:
    """Yield (block of whole records, its record index) from `stream`, which starts at a
    record start. Blocks are views of what was read (no copy of the block itself).
    A quoted field that never closes is UnbalancedQuote (`check_closed`), not a bad plan."""
    carry = b""
    done = [0, 0]  # bytes and lines before `carry`, to locate an unclosed quote
    while True:
        data = stream.read(block_bytes)
        if not data:
            if carry:
                check_closed(carry, delimiter=delimiter, offset=done[0], line=done[1] + 1)
                if not is_last_chunk:
                    raise ChunkBoundaryError(
                        f"the chunk ends inside a record ({len(carry)} bytes after the last "
                        "record end): the chunk plan is wrong; re-run the file"
                    )
                if len(carry) > max_record_bytes:
                    raise RecordTooLarge(too_large(max_record_bytes))
                yield carry, index_records(carry)
            return
        buf = carry + data if carry else data
        index = index_complete_records(buf)
        if index is None:
            if len(buf) > max_record_bytes:
                check_closed(
                    buf, delimiter=delimiter, offset=done[0], line=done[1] + 1, contradicted=True
                )
                raise RecordTooLarge(too_large(max_record_bytes))
            carry = buf
            continue
        cut = index.length
        done = [done[0] + cut, done[1] + len(index.newlines)]
        carry = buf[cut:]
        yield memoryview(buf)[:cut], index


def too_large(limit: int) -> str:
    return (
        f"a record is longer than the maximum record size of {limit} bytes (no record end "
        "found): check the file (binary data? unbalanced quote?) or raise max_record_bytes"
    )
