"""A whole local CSV file as one chunk (header first): the processor job's entry point.

What the processor Lambda does per chunk, minus S3: the header is read and checked as the
validator does (`etl.checks.parse_header`), then the rest of the file is one chunk given to
`etl.transform.process_stream`. Used by the bench's jobs and by the tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from etl.checks import parse_header
from etl.chunking import BOM, header_text
from etl.transform import process_stream

if TYPE_CHECKING:  # only names the types: --baseline runs this file with older lambdas/
    from etl.outcome import ChunkResult
    from etl.schema import Schema


def process_file(
    path: str | Path, schema: Schema, valid_path: str | Path, rejected_path: str | Path, **kwargs
) -> ChunkResult:
    """`path` as one chunk (header first); `kwargs` go to `process_stream` (e.g. `threads`)."""
    with open(path, "rb") as f:
        head = f.read(1024 * 1024)
        start = len(BOM) if head.startswith(BOM) else 0
        nl = head.find(b"\n", start)
        raw_header = head[start : nl + 1] if nl >= 0 else head[start:]
        columns = parse_header(header_text(raw_header), schema)
        f.seek(start + len(raw_header))
        return process_stream(
            f,
            schema=schema,
            columns=columns,
            valid_path=valid_path,
            rejected_path=rejected_path,
            first_line=1 + raw_header.count(b"\n"),
            **kwargs,
        )
