"""The parallel chunk driver: blocks prepared by worker threads, written in block order.

The calling thread cuts the blocks (`blocks.cut_blocks`: a quote count and `rfind`, no
index) and writes them in order (`ChunkProcessor.commit`); each worker indexes, parses,
checks, casts and encodes a block (`ChunkProcessor.prepare`), so the output is the
one-thread output.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO, Protocol

from .blocks import Block, BlockBuffers, buffer_bytes, cut_blocks
from .csvscan import RecordIndex, index_records
from .outcome import ChunkResult


class ChunkProcessor(Protocol):
    """What the driver needs of `transform.ChunkProcessor`."""

    result: ChunkResult

    def fix_encodings_from(self, block: Block, index: RecordIndex) -> bool: ...
    def add_block(self, block: Block, index: RecordIndex) -> None: ...
    def prepare(self, block: Block, index: RecordIndex | None = None) -> Any: ...
    def commit(self, prepared: Any) -> None: ...


def process_in_parallel(
    proc: ChunkProcessor, stream: BinaryIO, cutting: Mapping[str, Any], threads: int
) -> None:
    """Prepare up to `threads` blocks of `stream` concurrently (cut by `cutting`, the
    arguments of `cut_blocks`), commit them in order (bounded memory: at most threads + 1
    prepared blocks exist at a time, and a block's buffer is read into again once it is
    prepared). The calling thread only cuts and writes; the workers do the rest. The
    first block too, unless the encodings cannot be fixed from its first rows."""
    pending: deque[Future] = deque()
    buffers = BlockBuffers(buffer_bytes(cutting["block_bytes"], cutting["max_record_bytes"]))

    def lines_before() -> int:
        """Every block cut so far, committed: their LF count (to place an unclosed quote)."""
        while pending:
            proc.commit(pending.popleft().result())
        return proc.result.lines

    def prepare(block: Block, index: RecordIndex | None = None) -> Any:
        try:
            return proc.prepare(block, index)
        finally:
            buffers.give_back(block)  # nothing prepared refers to the block's bytes

    blocks = cut_blocks(stream, **cutting, buffers=buffers, lines_before=lines_before)
    first = next(blocks, None)
    if first is None:
        return
    index = index_records(first)
    sampled = proc.fix_encodings_from(first, index)
    if not sampled:
        proc.add_block(first, index)  # fixes every later block's encodings
        buffers.give_back(first)
    pool = ThreadPoolExecutor(threads, thread_name_prefix="block")
    try:
        if sampled:  # its index is built: the worker need not build it again
            pending.append(pool.submit(prepare, first, index))
        for block in blocks:
            pending.append(pool.submit(prepare, block))
            if len(pending) > threads:
                proc.commit(pending.popleft().result())
        while pending:
            proc.commit(pending.popleft().result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
