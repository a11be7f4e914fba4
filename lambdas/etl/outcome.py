"""What a chunk produced: its counts (`ChunkResult`) and its rejected rows (`Rejects`).

Rejected rows keep their 1-based file line, a reason and their exact raw text; the chunk
keeps its failures per (column, rule) and its first rejected lines for the summary.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .csvscan import RecordIndex
from .schema import REJECTS_SCHEMA

FIRST_REJECTS = 5  # rejected lines a chunk keeps for the summary
FIRST_REJECT_RAW_CHARS = 200  # ... each cut to this many characters
ARROW_SCHEMA = b"ARROW:schema"  # the key pyarrow stores its serialized schema under


@dataclass
class ChunkResult:
    rows_valid: int = 0
    rows_rejected: int = 0
    bytes: int = 0  # bytes of the range consumed
    lines: int = 0  # LF bytes in the range (to compute later chunks' line numbers)
    blank_lines: int = 0  # empty lines: not records, neither valid nor rejected
    records: int = 0  # records by quote parity on the raw bytes, independent of the parser
    # failures per (column, rule) (a row may fail several rules; record-level rules have no
    # column), and the first rejected lines (chunk-local line numbers)
    failure_counts: Counter = field(default_factory=Counter)
    first_rejects: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "rows_valid": self.rows_valid,
            "rows_rejected": self.rows_rejected,
            "records": self.records,
            "bytes": self.bytes,
            "lines": self.lines,
            "blank_lines": self.blank_lines,
        }

    def reject_details(self) -> dict:
        """What the chunk's status item records about its rejects (the finalizer sums it)."""
        return {
            "failure_counts": [
                {"column": column, "rule": rule, "count": n}
                for (column, rule), n in sorted(
                    self.failure_counts.items(), key=lambda kv: (-kv[1], str(kv[0]))
                )
            ],
            "first_rejects": self.first_rejects,
        }


@dataclass
class Rejects:
    lines: list[int]
    reasons: list[str]
    raws: list[str]
    failures: list[list[dict]]

    def add(self, line: int, reason: str, raw: str, failures: list[dict]) -> None:
        self.lines.append(line)
        self.reasons.append(reason)
        self.raws.append(raw)
        self.failures.append(failures)

    def extend(
        self, lines: list[int], reasons: list[str], raws: list[str], failures: list[list[dict]]
    ) -> None:
        self.lines.extend(lines)
        self.reasons.extend(reasons)
        self.raws.extend(raws)
        self.failures.extend(failures)

    def truncate(self, n: int) -> None:
        del self.lines[n:], self.reasons[n:], self.raws[n:], self.failures[n:]

    def table(self) -> pa.Table:
        order = sorted(range(len(self.lines)), key=self.lines.__getitem__)
        self.lines = [self.lines[i] for i in order]
        self.reasons = [self.reasons[i] for i in order]
        self.raws = [self.raws[i] for i in order]
        self.failures = [self.failures[i] for i in order]
        return pa.table(
            {
                "line": pa.array(self.lines, pa.int64()),
                "reason": pa.array(self.reasons, pa.string()),
                "raw": pa.array(self.raws, pa.string()),
                "failures": pa.array(self.failures, REJECTS_SCHEMA.field("failures").type),
            },
            schema=REJECTS_SCHEMA,
        )

    def failure_counts(self) -> Counter:
        """This block's failures per (column, rule)."""
        return Counter((f["column"], f["rule"]) for failures in self.failures for f in failures)

    def shift_lines(self, by: int) -> None:
        """Add `by` to every line number (block lines -> file lines)."""
        self.lines = [line + by for line in self.lines]

    def count_into(self, result: ChunkResult, failure_counts: Counter) -> None:
        """Add this block's `failure_counts` and its first lines to `result` (after
        `table()`, so lines are in order; blocks are committed in order)."""
        result.failure_counts.update(failure_counts)
        for i in range(min(len(self.lines), FIRST_REJECTS - len(result.first_rejects))):
            result.first_rejects.append(
                {
                    "line": self.lines[i],
                    "reason": self.reasons[i],
                    "raw": self.raws[i][:FIRST_REJECT_RAW_CHARS],
                }
            )


def failure(column: str | None, rule: str, value: str | None) -> dict:
    return {"column": column, "rule": rule, "value": value}


def empty_rejects() -> Rejects:
    return Rejects([], [], [], [])


class LineOf:
    """Line of records counted from their block's first line (0), computed only for the
    (rare) records that are rejected; `ChunkProcessor.commit` makes them file lines."""

    def __init__(self, index: RecordIndex):
        self.index = index

    def __getitem__(self, records: np.ndarray) -> np.ndarray:
        return self.index.line_of(records)


def lines_of(lines: np.ndarray | LineOf, records: np.ndarray) -> list[int]:
    return np.asarray(lines[records], dtype=np.int64).tolist() if len(records) else []


def raws(block: bytes | memoryview, index: RecordIndex, records: np.ndarray) -> list[str]:
    """The exact text of each record (invalid UTF-8 bytes shown as \\xNN escapes)."""
    spans = zip(index.starts[records].tolist(), index.ends[records].tolist(), strict=True)
    return [str(block[a:b], "utf-8", "backslashreplace") for a, b in spans]


def rejects_in_file_lines(source, first_line: int) -> pa.Table:
    """A chunk's rejects (`source`: a Parquet file or path) as the finalizer publishes them:
    chunk-local line numbers made file line numbers (`first_line`: the file line of the
    chunk's first record), the processor's key-value metadata kept."""
    parquet = pq.ParquetFile(source)
    # the processor's key-value metadata is not in the stored Arrow schema: carry it over
    metadata = {k: v for k, v in (parquet.metadata.metadata or {}).items() if k != ARROW_SCHEMA}
    table = parquet.read().replace_schema_metadata(metadata)
    return shifted_lines(table, first_line - 1)


def shifted_lines(rejects: pa.Table, by: int) -> pa.Table:
    """`rejects` with `by` added to every line number."""
    lines = pc.add(rejects.column("line"), pa.scalar(by, pa.int64()))
    return rejects.set_column(0, rejects.schema.field("line"), lines)
