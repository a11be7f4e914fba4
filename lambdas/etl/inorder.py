"""The parallel chunk driver: blocks prepared by worker threads, written in block order.

The calling thread cuts the blocks (`blocks.cut_blocks`: byte counts, no index) and writes
them in order (`ChunkProcessor.commit`); each worker indexes, parses, checks and casts a
block (`ChunkProcessor.prepare`), so the output is the one-thread output.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from .blocks import Block
from .csvscan import RecordIndex, index_records


class ChunkProcessor(Protocol):
    """What the driver needs of `transform.ChunkProcessor`."""

    def fix_encodings_from(self, block: Block, index: RecordIndex) -> bool: ...
    def add_block(self, block: Block, first_line: int, index: RecordIndex) -> None: ...
    def prepare(self, block: Block, first_line: int) -> Any: ...
    def commit(self, prepared: Any) -> None: ...


def process_in_parallel(
    proc: ChunkProcessor,
    blocks: Iterator[tuple[Block, int]],
    first_line: int,
    threads: int,
) -> None:
    """Prepare up to `threads` blocks concurrently, commit them in order (bounded memory:
    at most threads + 1 prepared blocks exist at a time). The calling thread only cuts
    (`cut_blocks`: byte counts, no index) and writes; the workers index, parse, check and
    cast. The first block too, unless the encodings cannot be fixed from its first rows."""
    first = next(blocks, None)
    if first is None:
        return
    line, index = first_line, index_records(first[0])
    if proc.fix_encodings_from(first[0], index):
        blocks = itertools.chain([first], blocks)
    else:
        proc.add_block(first[0], first_line, index)  # fixes every later block's encodings
        line += first[1]
    pool = ThreadPoolExecutor(threads, thread_name_prefix="block")
    pending: deque[Future] = deque()
    try:
        for block, lines in blocks:
            pending.append(pool.submit(proc.prepare, block, line))
            line += lines
            if len(pending) > threads:
                proc.commit(pending.popleft().result())
        while pending:
            proc.commit(pending.popleft().result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
