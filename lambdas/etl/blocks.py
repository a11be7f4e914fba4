"""Cutting a byte stream into blocks of whole records.

A block is cut at its last record end (quote-aware, see csvscan); the partial record after
it is carried into the next block. Blocks are views of the buffer they were read into, not
copies, and buffers are used again (`BlockBuffers`).
"""

from __future__ import annotations

import queue
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

Block = bytes | memoryview  # whole records; a view of the buffer they were read into
# (buffer, how many of its first bytes were read, whether they are the stream's last
# record) -> None if no record ends in them, else (bytes of whole records, their LF count
# or None if not counted, what is yielded with the block)
Cutter = Callable[[bytes | bytearray, int, bool], tuple[int, int | None, Any] | None]


class BlockBuffers:
    """Memory for blocks, used again once a block is given back (`give_back`).

    Read into fresh memory, every block would cost a page fault per 4 KiB (the kernel
    zeroes each new page) and a copy of the whole block behind the partial record carried
    into it, both while holding the GIL that a parallel run's workers wait for. A buffer
    holds a block and the longest record carried into it (`size`); thread-safe."""

    def __init__(self, size: int):
        self.size = size
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()

    def take(self, at_least: int) -> bytearray:
        if at_least > self.size:  # after a partial record longer than the maximum: doomed
            return bytearray(at_least)  # to be RecordTooLarge, but found as before
        try:
            return self._free.get_nowait()
        except queue.Empty:
            return bytearray(self.size)

    def give_back(self, block: Block | bytearray) -> None:
        """`block` (a view of a buffer from `take`, or the buffer) is no longer used by
        anyone: its buffer may be overwritten. A block that is not a view of one is
        ignored. Give each block back once."""
        owner = block.obj if isinstance(block, memoryview) else block
        if isinstance(owner, bytearray) and len(owner) == self.size:
            self._free.put(owner)


def iter_blocks(
    stream: BinaryIO,
    *,
    block_bytes: int,
    max_record_bytes: int,
    is_last_chunk: bool,
    delimiter: str = ",",
) -> Iterator[tuple[Block, RecordIndex]]:
    """Yield (block of whole records, its record index) from `stream`, which starts at a
    record start: one scan of each block finds both the cut and the index. A block is
    valid until the next one is asked for (its buffer is then read into again)."""
    return _blocks(stream, _indexed, block_bytes, max_record_bytes, is_last_chunk, delimiter)


def cut_blocks(
    stream: BinaryIO,
    *,
    block_bytes: int,
    max_record_bytes: int,
    is_last_chunk: bool,
    delimiter: str = ",",
    buffers: BlockBuffers,
    lines_before: Callable[[], int],
) -> Iterator[Block]:
    """Yield blocks of whole records from `stream`, which starts at a record start, each
    read into a buffer from `buffers` (size: `buffer_bytes()`) that the caller gives back
    when done with the block. Only the cut is found (a quote count and `rfind`: no index,
    no line count), so a parallel run's serial step is small; its workers index and count
    the blocks they parse. `lines_before()` is asked only to place an unclosed quote: the
    LF count of every block yielded so far (the caller knows it once its workers are done)."""
    blocks = _blocks(
        stream,
        _cut_only,
        block_bytes,
        max_record_bytes,
        is_last_chunk,
        delimiter,
        buffers=buffers,
        lines_before=lines_before,
    )
    return (block for block, _ in blocks)


def buffer_bytes(block_bytes: int, max_record_bytes: int) -> int:
    """A block buffer's size: a block read after the partial record carried into it."""
    return block_bytes + max_record_bytes


def _indexed(buf: bytes | bytearray, n: int, rest: bool) -> tuple[int, int, RecordIndex] | None:
    view = memoryview(buf)[:n]
    index = index_records(view) if rest else index_complete_records(view)
    return None if index is None else (index.length, len(index.newlines), index)


def _cut_only(buf: bytes | bytearray, n: int, rest: bool) -> tuple[int, None, None] | None:
    cut = n if rest else last_record_end(buf, n)
    return None if cut is None else (cut, None, None)


def _read_into(stream: BinaryIO, view: memoryview) -> int:
    """Fill `view` from `stream` as far as it goes: the bytes read (fewer only at its end)."""
    readinto = getattr(stream, "readinto", None)
    got = 0
    while got < len(view):
        if readinto is not None:
            n = readinto(view[got:])
        else:
            data = stream.read(len(view) - got)
            n = len(data)
            view[got : got + n] = data
        if not n:
            break
        got += n
    return got


def _blocks(
    stream: BinaryIO,
    cutter: Cutter,
    block_bytes: int,
    max_record_bytes: int,
    is_last_chunk: bool,
    delimiter: str,
    *,
    buffers: BlockBuffers | None = None,
    lines_before: Callable[[], int] | None = None,
) -> Iterator[tuple[Block, Any]]:
    """Blocks are views of the buffer they were read into, after the partial record the
    previous block left (`carry`, copied). With `buffers` the consumer gives each block
    back; without, a block's buffer is read into again when the next block is asked for.
    A quoted field that never closes is UnbalancedQuote (`check_closed`), not a bad plan;
    the line it opens on counts the LFs before `carry`: the cutter's counts, or
    `lines_before()` when the cutter counts none."""
    reuse = buffers is None
    if buffers is None:
        buffers = BlockBuffers(buffer_bytes(block_bytes, max_record_bytes))
    carry = b""
    done = [0, 0]  # bytes and lines before `carry`, to locate an unclosed quote

    def line() -> int:
        return 1 + (done[1] if lines_before is None else lines_before())

    while True:
        buf = buffers.take(len(carry) + block_bytes)
        n = len(carry)
        buf[:n] = carry
        got = _read_into(stream, memoryview(buf)[n : n + block_bytes])
        if not got:
            buffers.give_back(buf)
            if carry:
                check_closed(carry, delimiter=delimiter, offset=done[0], line=line())
                if not is_last_chunk:
                    raise ChunkBoundaryError(
                        f"the chunk ends inside a record ({len(carry)} bytes after the last "
                        "record end): the chunk plan is wrong; re-run the file"
                    )
                if len(carry) > max_record_bytes:
                    raise RecordTooLarge(too_large(max_record_bytes))
                yield carry, cutter(carry, len(carry), True)[2]
            return
        n += got
        found = cutter(buf, n, False)
        if found is None:
            if n > max_record_bytes:
                check_closed(
                    memoryview(buf)[:n],
                    delimiter=delimiter,
                    offset=done[0],
                    line=line(),
                    contradicted=True,
                )
                raise RecordTooLarge(too_large(max_record_bytes))
            carry = bytes(memoryview(buf)[:n])
            buffers.give_back(buf)
            continue
        cut, lines, info = found
        done = [done[0] + cut, done[1] + (lines or 0)]
        carry = bytes(memoryview(buf)[cut:n])
        yield memoryview(buf)[:cut], info
        if reuse:
            buffers.give_back(buf)


def too_large(limit: int) -> str:
    return (
        f"a record is longer than the maximum record size of {limit} bytes (no record end "
        "found): check the file (binary data? unbalanced quote?) or raise max_record_bytes"
    )
