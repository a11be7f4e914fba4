"""Quote-aware record boundaries on raw CSV bytes (RFC 4180 dialect, `"` quotes, `""` escapes).

A newline ends a record when the number of quote characters since the last known record
start is even. Everything here works on bytes that start at a known record start, except
`first_record_start()`, which decides the quote state of an arbitrary offset from a window
of bytes without reading the file from the beginning (used by the splitter).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import numpy as np

from .errors import UnbalancedQuote

QUOTE = 0x22
LF = 0x0A
CR = 0x0D


@dataclass(frozen=True)
class RecordIndex:
    """Spans of the non-blank records in a block that starts at a record start."""

    starts: np.ndarray  # int64 offsets of each record's first byte
    ends: np.ndarray  # int64 offsets just past each record's text (terminator excluded)
    newlines: np.ndarray  # offsets of every LF in the block (for line numbers)
    blank_lines: int  # empty lines (only a terminator): not records
    length: int  # bytes spanned by the records and their terminators

    def __len__(self) -> int:
        return len(self.starts)

    def line_of(self, record: np.ndarray | int) -> np.ndarray:
        """0-based physical line (within the block) where each record starts."""
        return np.searchsorted(self.newlines, self.starts[record], side="left")


_SCAN_STEP = 1024 * 1024  # bytes compared at a time: bounds the boolean temporaries
_scratch = threading.local()


def _masks(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two boolean arrays of `n` (<= `_SCAN_STEP`) for this thread's byte comparisons.
    Fresh temporaries of a scan step are freed and trimmed by the C allocator and cost a
    page fault per 4 KiB when allocated again, on every step of every block."""
    masks = getattr(_scratch, "masks", None)
    if masks is None:
        masks = _scratch.masks = (np.empty(_SCAN_STEP, bool), np.empty(_SCAN_STEP, bool))
    return masks[0][:n], masks[1][:n]


def _equal(segment: np.ndarray, byte: int) -> np.ndarray:
    """`segment == byte`, into this thread's first scratch mask."""
    return np.equal(segment, byte, out=_masks(len(segment))[0])


def count_byte(buf: bytes | memoryview, byte: int, start: int = 0, end: int | None = None) -> int:
    """How often `byte` occurs in `buf[start:end]` (numpy, in steps: faster than `bytes.count`)."""
    arr, step = np.frombuffer(buf, dtype=np.uint8)[start:end], _SCAN_STEP
    return sum(
        int(np.count_nonzero(_equal(arr[i : i + step], byte))) for i in range(0, len(arr), step)
    )


def holds_byte(buf: bytes | memoryview, byte: int) -> bool:
    """Whether `byte` occurs in `buf` (scanned in steps, like `_record_ends`)."""
    arr, step = np.frombuffer(buf, dtype=np.uint8), _SCAN_STEP
    return any(_equal(arr[i : i + step], byte).any() for i in range(0, len(arr), step))


def _special(segment: np.ndarray) -> np.ndarray:
    """Offsets of the LFs and quotes in `segment`."""
    lf, quote = _masks(len(segment))
    np.equal(segment, LF, out=lf)
    np.equal(segment, QUOTE, out=quote)
    return np.flatnonzero(np.bitwise_or(lf, quote, out=lf))


def _record_ends(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(offsets of every LF, offsets of the LFs that end a record: even quote parity).

    One scan finds LFs and quotes together (in steps, so temporaries stay small); the
    number of quotes before each LF is then a cumulative sum over that short list."""
    step = _SCAN_STEP
    found = [_special(arr[i : i + step]) + i for i in range(0, len(arr), step)]
    special = np.concatenate(found) if found else np.empty(0, dtype=np.int64)
    is_lf = arr[special] == LF
    newlines = special[is_lf]
    if len(newlines) == len(special):  # no quotes at all
        return newlines, newlines
    odd_before = np.logical_xor.accumulate(~is_lf)[is_lf]  # an odd number of quotes so far
    return newlines, newlines[~odd_before]


def _index(arr: np.ndarray, newlines: np.ndarray, ends_nl: np.ndarray, length: int) -> RecordIndex:
    starts = np.empty(len(ends_nl) + 1, dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends_nl + 1
    ends = np.empty(len(ends_nl) + 1, dtype=np.int64)
    ends[:-1] = ends_nl
    ends[-1] = length
    if starts[-1] >= length:  # the bytes end with a newline: no trailing partial record
        starts, ends = starts[:-1], ends[:-1]
    # strip the CR of CRLF terminators
    if len(ends):
        has_cr = np.zeros(len(ends), dtype=bool)
        nonempty = ends > starts
        has_cr[nonempty] = arr[ends[nonempty] - 1] == CR
        ends = ends - has_cr
    keep = ends > starts
    blank = int(len(ends_nl) - np.count_nonzero(keep[: len(ends_nl)]))
    return RecordIndex(starts[keep], ends[keep], newlines, blank, length)


def index_records(block: bytes | memoryview) -> RecordIndex:
    """Find every record of `block` with numpy: newlines with even quote parity end records;
    the bytes after the last one (if any) are the final record.

    Blank lines (empty, or a lone CR before LF) are not records, as in pyarrow's reader.
    """
    arr = np.frombuffer(block, dtype=np.uint8)
    newlines, ends_nl = _record_ends(arr)
    return _index(arr, newlines, ends_nl, len(block))


def index_complete_records(buf: bytes | memoryview) -> RecordIndex | None:
    """Index of the whole records at the start of `buf`, which ends anywhere (None if no
    record ends in it). The records span `buf[:index.length]`; the rest is a partial record.
    One pass finds both the cut and the index, so a streamed block is scanned once."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    newlines, ends_nl = _record_ends(arr)
    if not len(ends_nl):
        return None
    cut = int(ends_nl[-1]) + 1
    return _index(arr, newlines[: np.searchsorted(newlines, cut)], ends_nl, cut)


_RFIND_TRIES = 64  # newlines tried from the end before indexing the whole buffer instead


def last_record_end(buf: bytes | bytearray, end: int | None = None) -> int | None:
    """The offset just past the last record terminator in `buf[:end]` (which starts at a
    record start and ends anywhere), or None if no record ends in it: the last LF with an
    even number of quotes before it. Byte scans only (a quote count and `rfind`), no index:
    the cheap serial step of a parallel run; the block's index is built where it is parsed.
    Many newlines inside a trailing quoted field fall back to `index_complete_records`."""
    end = len(buf) if end is None else end
    quotes = count_byte(buf, QUOTE, 0, end)
    for _ in range(_RFIND_TRIES):
        nl = buf.rfind(b"\n", 0, end)
        if nl < 0:
            return None
        quotes -= count_byte(buf, QUOTE, nl, end)
        if quotes % 2 == 0:
            return nl + 1
        end = nl
    index = index_complete_records(memoryview(buf)[:end])
    return None if index is None else index.length


# ---------------------------------------------------------------------------
# Deciding the quote state at an arbitrary offset (speculative boundary finding)
# ---------------------------------------------------------------------------

_SPECIAL = re.compile(rb'["\n]')


@dataclass(frozen=True)
class Hypothesis:
    """Outcome of assuming the window starts outside (False) or inside (True) quotes."""

    inside: bool
    first_boundary: int | None  # offset in the window of the first record start, if any
    valid: bool
    why: str = ""


def _simulate(  # noqa: C901 (one loop over RFC 4180 states; the branches are the states)
    window: bytes, inside: bool, delimiter: int, at_eof: bool, max_record_bytes: int
) -> Hypothesis:
    """Walk quotes and newlines under one hypothesis, checking RFC 4180 structure.

    An opening quote must start a field; a closing quote must be followed by a delimiter,
    a line end or the end of the file. A record may not exceed `max_record_bytes` (the
    processor enforces the same limit), so a hypothesis that sees no boundary within that
    many bytes is impossible.
    """
    n = len(window)
    first: int | None = None
    inq = inside
    i = 0
    for m in _SPECIAL.finditer(window):
        p = m.start()
        if p < i:
            continue  # second quote of an escaped pair
        ch = window[p]
        if ch == LF:
            if not inq and first is None:
                first = p + 1
            continue
        # a quote
        if inq:
            nxt = window[p + 1] if p + 1 < n else None
            if nxt == QUOTE:
                i = p + 2  # escaped quote, still inside
                continue
            if nxt is None:
                if not at_eof:
                    break  # cannot see the next byte; stop checking here
            elif nxt not in (delimiter, LF, CR):
                return Hypothesis(
                    inside, first, False, f"closing quote at {p} followed by {chr(nxt)!r}"
                )
            inq = False
        else:
            prev = window[p - 1] if p > 0 else None
            if prev is not None and prev not in (delimiter, LF):
                return Hypothesis(inside, first, False, f"quote at {p} opens mid-field")
            inq = True
    if at_eof and inq:
        return Hypothesis(inside, first, False, "a quoted field never closes before the end")
    if first is None and n >= max_record_bytes:
        return Hypothesis(inside, None, False, "no record end within the maximum record size")
    return Hypothesis(inside, first, True)


def first_record_start(
    window: bytes, *, delimiter: str = ",", at_eof: bool = False, max_record_bytes: int
) -> int | None:
    """Offset in `window` of the first record start, or None when the window cannot decide.

    `window` holds the bytes from some offset t of the file (t not known to be a record
    start). Both quote states at t are simulated; a state is impossible if it breaks the
    CSV structure or implies a record longer than `max_record_bytes`. When exactly one
    survives, its first boundary is the answer. If it has none (e.g. t is in the last
    record) the result is len(window) when at_eof, else None.
    """
    d = ord(delimiter)
    outside = _simulate(window, False, d, at_eof, max_record_bytes)
    inside = _simulate(window, True, d, at_eof, max_record_bytes)
    survivors = [h for h in (outside, inside) if h.valid]
    if len(survivors) != 1:
        return None
    h = survivors[0]
    if h.first_boundary is not None:
        return h.first_boundary
    return len(window) if at_eof else None


# ---------------------------------------------------------------------------
# A quoted field that never closes (an unbalanced quote: the file's fault)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenQuote:
    """The quote that opens a field still open at the end of some bytes."""

    offset: int  # of the opening quote, in the bytes examined
    line: int  # 1-based line of the opening quote, in the bytes examined
    contradicted: bool  # a later quote cannot close it (followed by text, not a delimiter)


def unclosed_quote(data: bytes | memoryview, *, delimiter: str = ",") -> OpenQuote | None:
    """The field left open at the end of `data` (which starts at a record start), if any.

    Quote parity says whether a field is open at the end; the RFC 4180 structure of the
    last record says where it opened: a quote outside quotes opens a field (at a field
    start, or stray in the middle of one); inside, `""` is an escaped quote and any other
    quote closes the field, which must then be followed by the delimiter or a line end. A
    "closing" quote followed by text contradicts the open field, so the field that was
    open there is the one that never closed (a later pair of quotes cannot rescue it).
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    if not np.count_nonzero(arr == QUOTE) & 1:
        return None
    _, ends = _record_ends(arr)
    start = int(ends[-1]) + 1 if len(ends) else 0
    raw = bytes(data[start:])
    d, n = ord(delimiter), len(raw)
    open_at, skip = -1, 0
    for m in re.finditer(rb'"', raw):
        p = m.start()
        if p < skip:
            continue  # second quote of an escaped pair
        if open_at < 0:
            open_at = p
            continue
        nxt = raw[p + 1] if p + 1 < n else None
        if nxt == QUOTE:
            skip = p + 2
        elif nxt is None or nxt in (d, LF, CR):
            open_at = -1
        else:
            return _open_quote(data, start + open_at, contradicted=True)
    return _open_quote(data, start + open_at, contradicted=False)


def _open_quote(data: bytes | memoryview, offset: int, *, contradicted: bool) -> OpenQuote:
    line = 1 + int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8, count=offset) == LF))
    return OpenQuote(offset, line, contradicted)


def check_closed(
    data: bytes | memoryview,
    *,
    delimiter: str,
    offset: int,
    line: int,
    contradicted: bool = False,
) -> None:
    """Raise UnbalancedQuote if a quoted field is open at the end of `data` (which starts
    at a record start, `offset` bytes and `line` lines into a chunk). With `contradicted`,
    only when a later quote shows the field was never closed (a long quoted field that is
    merely longer than the maximum record size stays RecordTooLarge)."""
    found = unclosed_quote(data, delimiter=delimiter)
    if found is None or (contradicted and not found.contradicted):
        return
    at, ln = offset + found.offset, line + found.line - 1
    raise UnbalancedQuote.at(f"line {ln} of the chunk (byte {at} of the chunk)", offset=at, line=ln)
