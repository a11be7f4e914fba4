"""Planning `describe` (localrun.describe): a file's dialect, its header and its
record-aligned chunks, cut as the splitter cuts them (`etl.chunking`)."""

from __future__ import annotations

import csv
import io
import os

from localrun.chunkread import ChunkTask, DescribeError

DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 64 * 1024
MAX_RECORD_BYTES = 1024 * 1024
MIN_CHUNK_BYTES = 1024 * 1024
MAX_CHUNK_BYTES = 64 * 1024 * 1024


def sniff_delimiter(head: bytes) -> str:
    """The delimiter that splits the first lines into the same number of fields, the most
    fields winning (`,` `;` tab `|`, in that order on a tie); `,` for a single column."""
    text = head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")
    best, best_width = ",", 1
    for delimiter in DELIMITERS:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        if len(head) >= SNIFF_BYTES:
            rows = rows[:-1]  # the last line may be cut
        rows = [r for r in rows if r][:100]
        width = len(rows[0]) if rows else 0
        if width > best_width and all(len(r) == width for r in rows):
            best, best_width = delimiter, width
    return best


def header_names(raw: bytes, delimiter: str, path: str) -> tuple[str, ...]:
    """The header's field names (stripped, as the pipeline reads them), unique and non-empty."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DescribeError(f"{path}: the header is not UTF-8: re-export the file") from exc
    names = tuple(n.strip() for n in next(csv.reader([text], delimiter=delimiter)))
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes or "" in names:
        problem = f"duplicate names {dupes}" if dupes else "an empty name"
        raise DescribeError(f"{path}: the header has {problem}: every field needs its own name")
    return names


def plan_file(path: str, index: int, jobs: int, chunk_bytes: int | None, delimiter: str | None):
    """(delimiter, header names, header lines, chunk tasks) of one file."""
    from etl.chunking import plan_chunks

    size = os.path.getsize(path)
    with open(path, "rb") as f:

        def read_range(start: int, end: int) -> bytes:
            f.seek(start)
            return f.read(end - start)

        if read_range(0, 2) == b"\x1f\x8b":
            raise DescribeError(
                f"{path}: gzip-compressed: describe the decompressed file (gunzip -k {path})"
            )
        delimiter = delimiter or sniff_delimiter(read_range(0, SNIFF_BYTES))
        if chunk_bytes is None:
            chunk_bytes = min(MAX_CHUNK_BYTES, max(MIN_CHUNK_BYTES, size // (4 * jobs) + 1))
        plan = plan_chunks(
            read_range,
            size,
            chunk_bytes=chunk_bytes,
            max_record_bytes=MAX_RECORD_BYTES,
            delimiter=delimiter,
        )
    names = header_names(plan.header, delimiter, path)
    if not plan.chunks:
        raise DescribeError(f"{path}: the file has a header but no records: nothing to describe")
    tasks = [
        ChunkTask(path, index, c.start, c.end, c.last, names, delimiter, MAX_RECORD_BYTES)
        for c in plan.chunks
    ]
    return delimiter, names, plan.header_newlines, tasks
