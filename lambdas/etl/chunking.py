"""The splitter's plan: record-aligned byte ranges from the object size and a few ranged reads.

Cost is O(chunks): for each target offset it reads one small probe window (64 KiB), and
only when the quote state at that offset is still ambiguous does it extend the window up
to the maximum record size. If even that cannot decide (possible only with quoted fields
that hold long runs of newlines), it falls back to a sequential scan from the previous
known boundary, which is always correct and costs the bytes in between.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .csvscan import first_record_start
from .errors import EmptyFile, LineEndingError, RecordTooLarge, TooManyChunks
from .events import ChunkRange

BOM = b"\xef\xbb\xbf"
PROBE_BYTES = 64 * 1024
SCAN_BLOCK = 8 * 1024 * 1024

ReadRange = Callable[[int, int], bytes]  # (start, end_exclusive) -> bytes
CR_ONLY_REASON = (
    "the lines end in a bare carriage return (CR, classic Mac OS line endings), not LF or "
    "CRLF: re-export the file with Unix (LF) or Windows (CRLF) line endings"
)


@dataclass
class ChunkPlan:
    size: int
    header_start: int  # 3 when the file starts with a UTF-8 BOM
    header_end: int  # offset of the first data byte
    header: bytes  # the header line without its terminator
    header_newlines: (
        int  # LF bytes from offset 0 to header_end (the header may hold quoted newlines)
    )
    chunks: list[ChunkRange] = field(default_factory=list)
    bytes_read: int = 0
    boundaries: int = 0  # chunk boundaries that had to be located (targets inside the data)
    fallbacks: int = 0  # boundaries found by sequential scan

    @property
    def bytes_per_boundary(self) -> float:
        return self.bytes_read / self.boundaries if self.boundaries else 0.0


class _CountingReader:
    def __init__(self, read_range: ReadRange, size: int):
        self._read = read_range
        self.size = size
        self.bytes_read = 0

    def __call__(self, start: int, end: int) -> bytes:
        end = min(end, self.size)
        if end <= start:
            return b""
        data = self._read(start, end)
        self.bytes_read += len(data)
        return data


def _first_boundary_from_known_start(
    read: _CountingReader, start: int, limit: int, at_or_after: int = 0
) -> int | None:
    """First record end after `start` (a known record start) that is >= `at_or_after`.

    One sequential pass tracking quote parity. Returns the offset just past the
    terminating newline, or None if none lies before `limit`.
    """
    pos = start
    quotes = 0
    while pos < limit:
        block = read(pos, min(pos + SCAN_BLOCK, limit))
        if not block:
            break
        search = 0
        while True:
            nl = block.find(b"\n", search)
            if nl < 0:
                quotes += block.count(b'"', search)
                break
            quotes += block.count(b'"', search, nl)
            if quotes % 2 == 0 and pos + nl + 1 >= at_or_after:
                return pos + nl + 1
            search = nl + 1
        pos += len(block)
    return None


def _scan_to_target(read: _CountingReader, known_start: int, target: int) -> int | None:
    """Sequential fallback: walk records from `known_start` to the first start >= target."""
    return _first_boundary_from_known_start(read, known_start, read.size, at_or_after=target)


def locate_boundary(
    read: _CountingReader,
    target: int,
    known_start: int,
    *,
    delimiter: str,
    max_record_bytes: int,
    probe_bytes: int = PROBE_BYTES,
) -> tuple[int | None, bool]:
    """First record start at or after `target`. Returns (offset or None at EOF, used_fallback)."""
    window = read(target, target + probe_bytes)
    at_eof = target + len(window) >= read.size
    found = first_record_start(
        window, delimiter=delimiter, at_eof=at_eof, max_record_bytes=max_record_bytes
    )
    if found is None and not at_eof and len(window) < max_record_bytes:
        window += read(target + len(window), target + max_record_bytes)
        at_eof = target + len(window) >= read.size
        found = first_record_start(
            window, delimiter=delimiter, at_eof=at_eof, max_record_bytes=max_record_bytes
        )
    if found is not None:
        off = target + found
        return (off if off < read.size else None), False
    off = _scan_to_target(read, known_start, target)
    return off, True


def read_header(read: _CountingReader, max_record_bytes: int) -> tuple[int, int, bytes]:
    """(header_start, header_end, raw header bytes); header_end is the first data byte."""
    head = read(0, min(PROBE_BYTES, read.size))
    header_start = len(BOM) if head.startswith(BOM) else 0
    if read.size <= header_start:
        raise EmptyFile("the file is empty: upload a CSV with a header line and data rows")
    end = _first_boundary_from_known_start(
        read, header_start, min(read.size, header_start + max_record_bytes)
    )
    if end is None:
        if b"\r" in head:
            raise LineEndingError(CR_ONLY_REASON)
        if read.size - header_start > max_record_bytes:
            raise RecordTooLarge(
                f"the header line is longer than the maximum record size of {max_record_bytes} "
                "bytes (no line end found): is this a CSV file? Raise max_record_bytes if it is"
            )
        end = read.size  # header only, without a trailing newline
    return header_start, end, read(header_start, end)


def header_text(raw_header: bytes) -> bytes:
    """The header line without its line terminator."""
    if raw_header.endswith(b"\n"):
        raw_header = raw_header[:-1]
    return raw_header[:-1] if raw_header.endswith(b"\r") else raw_header


def _check_chunk_count(
    chunks: int, max_chunks: int | None, chunk_bytes: int, data_bytes: int
) -> None:
    if max_chunks is not None and chunks > max_chunks:
        raise TooManyChunks(
            f"the file's {data_bytes} data bytes would be split into more than {max_chunks} "
            f"chunks of about {chunk_bytes} bytes (the max_chunks limit): raise chunk_bytes "
            "for fewer, larger chunks, raise max_chunks, or split the file into smaller uploads"
        )


def plan_chunks(
    read_range: ReadRange,
    size: int,
    *,
    chunk_bytes: int,
    max_record_bytes: int,
    delimiter: str = ",",
    probe_bytes: int = PROBE_BYTES,
    max_chunks: int | None = None,
) -> ChunkPlan:
    """Plan record-aligned chunks of about `chunk_bytes` over the data after the header.
    Raises TooManyChunks as soon as the plan would exceed `max_chunks`."""
    if chunk_bytes < 1:
        raise ValueError("chunk_bytes must be positive")
    read = _CountingReader(read_range, size)
    if size == 0:
        raise EmptyFile(
            "the file is empty (0 bytes): upload a CSV with a header line and data rows"
        )
    header_start, header_end, raw_header = read_header(read, max_record_bytes)
    plan = ChunkPlan(
        size, header_start, header_end, header_text(raw_header), raw_header.count(b"\n")
    )
    header_bytes_read = read.bytes_read
    starts = [header_end]
    target = header_end + chunk_bytes
    while starts[-1] < size and target < size:
        plan.boundaries += 1
        off, fallback = locate_boundary(
            read,
            target,
            starts[-1],
            delimiter=delimiter,
            max_record_bytes=max_record_bytes,
            probe_bytes=probe_bytes,
        )
        plan.fallbacks += fallback
        if off is None or off >= size:
            break
        if off > starts[-1]:
            starts.append(off)
            _check_chunk_count(len(starts), max_chunks, chunk_bytes, size - header_end)
        target = max(off, target) + chunk_bytes
    plan.bytes_read = read.bytes_read - header_bytes_read
    if header_end < size:
        bounds = starts + [size]
        plan.chunks = [
            ChunkRange(i, bounds[i], bounds[i + 1], i == len(starts) - 1)
            for i in range(len(starts))
        ]
    return plan
