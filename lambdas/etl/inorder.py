"""The parallel chunk driver: every thread cuts, prepares and writes blocks, in block order.

Each of `threads` threads (the calling thread is one) loops: cut the next block off the
stream (`blocks.cut_blocks`: a quote count and `rfind`, one thread at a time), prepare it
(index, parse, check, cast, encode: `ChunkProcessor.prepare`), then hand it to the writer.
Whichever thread finds the writer free writes every prepared block that is next in block
order (`ChunkProcessor.commit`), so a block is usually written by the thread that prepared
it, while its bytes are still in that core's cache, and no thread only waits. The output is
the one-thread output; the error raised is the one of the earliest block that has one, as
on one thread.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
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


class _Stopped(Exception):
    """An earlier block failed: the run stops (that block's error is the one raised)."""


def process_in_parallel(
    proc: ChunkProcessor, stream: BinaryIO, cutting: Mapping[str, Any], threads: int
) -> None:
    """Cut, prepare and write the blocks of `stream` (cut by `cutting`, the arguments of
    `cut_blocks`) on `threads` threads, written in block order. Memory is bounded: at most
    threads + 1 blocks are cut and not yet written. The first block's encodings are fixed
    from its first rows before any other block is prepared; if they cannot be, the first
    block is prepared and written whole first."""
    buffers = BlockBuffers(buffer_bytes(cutting["block_bytes"], cutting["max_record_bytes"]))
    run = _OrderedRun(proc, buffers, in_flight=threads + 1)
    run.blocks = cut_blocks(stream, **cutting, buffers=buffers, lines_before=run.lines_before)
    first = next(run.blocks, None)
    if first is None:
        return
    index = index_records(first)
    mine = None  # what the calling thread prepares first: only it may take it
    if proc.fix_encodings_from(first, index):
        mine = (run.number_next(), first, index)  # its index is built: not built again
    else:
        proc.add_block(first, index)  # fixes every later block's encodings
        buffers.give_back(first)
    others = [
        threading.Thread(target=run.work, name=f"block-{i}", daemon=True) for i in range(1, threads)
    ]
    for thread in others:
        thread.start()
    try:
        run.work(mine)
    finally:
        for thread in others:
            thread.join()
    run.raise_failure()


class _OrderedRun:
    """The shared state of one parallel run: the stream's next cut, the blocks prepared and
    not yet written, whether a thread is writing, and the first failure in block order."""

    def __init__(self, proc: ChunkProcessor, buffers: BlockBuffers, in_flight: int):
        self.proc = proc
        self.buffers = buffers
        self.in_flight = in_flight
        self.blocks: Any = iter(())
        self._cutting = threading.Lock()  # one thread cuts at a time (the stream is read in order)
        self._state = threading.Condition()  # guards everything below
        self._cut = 0  # blocks numbered so far
        self._written = 0  # blocks written (the next to write is block `_written`)
        self._ready: dict[int, tuple[Any, BaseException | None]] = {}
        self._writing = False
        self._failure: BaseException | None = None

    def number_next(self) -> int:
        with self._state:
            self._cut += 1
            return self._cut - 1

    def work(self, item: tuple[int, Block, RecordIndex | None] | None = None) -> None:
        """One thread's loop: prepare `item` if given, then cut a block, prepare it, hand it
        to the writer; until the stream ends or a block fails."""
        try:
            while item is not None or (item := self._next_block()) is not None:
                number, block, index = item
                item = None
                try:
                    done: tuple[Any, BaseException | None] = (self.proc.prepare(block, index), None)
                except BaseException as exc:  # noqa: BLE001 - raised in block order
                    done = (None, exc)
                finally:
                    self.buffers.give_back(block)  # nothing prepared refers to its bytes
                self._write_in_order(number, done)
        except BaseException as exc:  # noqa: BLE001 - a fault of the driver itself
            with self._state:
                self._failure = self._failure or exc
                self._state.notify_all()

    def _next_block(self) -> tuple[int, Block, None] | None:
        """The next block and its number; None once the stream ends or a block failed."""
        with self._cutting:
            with self._state:
                self._state.wait_for(
                    lambda: self._failure is not None or self._cut - self._written < self.in_flight
                )
                if self._failure is not None:
                    return None
            try:
                block = next(self.blocks, None)
            except BaseException as exc:  # noqa: BLE001 - the stream's own error, in order
                self._write_in_order(self.number_next(), (None, exc))
                return None
            return None if block is None else (self.number_next(), block, None)

    def _write_in_order(self, number: int, done: tuple[Any, BaseException | None]) -> None:
        """Hand over block `number`; write it, and every prepared block after it in order,
        unless another thread is writing (it will)."""
        with self._state:
            self._ready[number] = done
            if self._writing:
                return
            self._writing = True
            try:
                while self._failure is None and self._written in self._ready:
                    prepared, error = self._ready.pop(self._written)
                    if error is not None:
                        self._failure = error
                        break
                    self._state.release()
                    try:
                        self.proc.commit(prepared)
                    finally:
                        self._state.acquire()
                    self._written += 1
                    self._state.notify_all()
            except BaseException as exc:  # noqa: BLE001 - a write failed: the run stops
                self._failure = self._failure or exc
            finally:
                self._writing = False
                if self._failure is not None:
                    self._ready.clear()  # nothing after a failed block is written
                self._state.notify_all()

    def lines_before(self) -> int:
        """The LF count of every block cut so far, once all are written (to place an
        unclosed quote; asked by the thread that is cutting)."""
        with self._state:
            self._state.wait_for(lambda: self._failure is not None or self._written == self._cut)
            if self._failure is not None:
                raise _Stopped
            return self.proc.result.lines

    def raise_failure(self) -> None:
        with self._state:
            if self._failure is not None:
                raise self._failure
            if self._written != self._cut:  # every thread has returned: all were written
                raise RuntimeError(f"{self._cut - self._written} blocks cut but not written")
