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
from .schema import FAILURE_TYPE, REJECTS_SCHEMA

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


class Rejects:
    """One block's rejected rows, with their failures per (column, rule).

    Rows come in batches built with Arrow (`add_failed`: the fast path's rejects, no Python
    per row, so the GIL that other blocks' threads wait for is held briefly) or one at a
    time (`add`: the slow path's). `table()` gives them in line order."""

    def __init__(self) -> None:
        self._batches: list[pa.Table] = []
        self._rows: list[tuple[int, str, str, list[dict]]] = []
        self._count_log: list[Counter] = []  # per batch or row, so `truncate` undoes them

    def __len__(self) -> int:
        return sum(t.num_rows for t in self._batches) + len(self._rows)

    def add(self, line: int, reason: str, raw: str, failures: list[dict]) -> None:
        self._rows.append((line, reason, raw, failures))
        self._count_log.append(Counter((f["column"], f["rule"]) for f in failures))

    def add_failed(
        self,
        block: bytes | memoryview,
        index: RecordIndex,
        lines: np.ndarray | RecordIndex,
        records: np.ndarray,
        entries: list[tuple[np.ndarray, str | None, str, str, pa.Array]],
    ) -> None:
        """Rows for `records` (ascending ordinals of `index`'s records in `block`, which is
        valid UTF-8; lines as `lines_of`) from each check's `entries` in check order: (the
        rows among `records` it failed, column, rule, reason, their values)."""
        failures, reasons = failures_of(len(records), entries)
        self._batches.append(
            pa.Table.from_arrays(
                [
                    pa.array(lines_of(lines, records), pa.int64()),
                    reasons,
                    raws(block, index, records),
                    failures,
                ],
                schema=REJECTS_SCHEMA,
            )
        )
        counts: Counter = Counter()
        for hit, column, rule, _, _ in entries:
            counts[(column, rule)] += len(hit)
        self._count_log.append(counts)

    def mark(self) -> tuple[int, int, int]:
        """Where `truncate` goes back to."""
        return len(self._batches), len(self._rows), len(self._count_log)

    def truncate(self, mark: tuple[int, int, int]) -> None:
        batches, rows, logged = mark
        del self._batches[batches:], self._rows[rows:], self._count_log[logged:]

    def failure_counts(self) -> Counter:
        total: Counter = Counter()
        for counts in self._count_log:
            total.update(counts)
        return total

    def table(self) -> pa.Table:
        """Every row, in line order."""
        tables = list(self._batches)
        if self._rows:
            lines, reasons, raws_, failures = zip(*self._rows, strict=True)
            tables.append(
                pa.table(
                    {
                        "line": pa.array(lines, pa.int64()),
                        "reason": pa.array(reasons, pa.string()),
                        "raw": pa.array(raws_, pa.string()),
                        "failures": pa.array(failures, REJECTS_SCHEMA.field("failures").type),
                    },
                    schema=REJECTS_SCHEMA,
                )
            )
        table = pa.concat_tables(tables) if tables else REJECTS_SCHEMA.empty_table()
        return table.take(pc.sort_indices(table.column("line")))


def count_into(result: ChunkResult, rejects: pa.Table, failure_counts: Counter) -> None:
    """Add a block's `failure_counts` and its first rejected lines (`rejects`: in line
    order, file lines; blocks are committed in order) to `result`."""
    result.failure_counts.update(failure_counts)
    wanted = FIRST_REJECTS - len(result.first_rejects)
    if wanted > 0:
        for row in rejects.slice(0, wanted).select(["line", "reason", "raw"]).to_pylist():
            row["raw"] = row["raw"][:FIRST_REJECT_RAW_CHARS]
            result.first_rejects.append(row)


def failure(column: str | None, rule: str, value: str | None) -> dict:
    return {"column": column, "rule": rule, "value": value}


def failures_of(
    rows: int, entries: list[tuple[np.ndarray, str | None, str, str, pa.Array]]
) -> tuple[pa.Array, pa.Array]:
    """(failures, reasons) of `rows` rejected rows from each check's entries `(row of each
    failing value, column, rule, reason, the values)`, given in check order: a row's
    failures are in check order and its reason joins theirs with "; "."""
    at = np.concatenate([e[0] for e in entries])
    of = np.concatenate([np.full(len(e[0]), i, dtype=np.int32) for i, e in enumerate(entries)])
    order = np.argsort(at, kind="stable")  # by row, then check order
    which = pa.array(of[order])
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(np.bincount(at, minlength=rows), out=offsets[1:])
    offsets = pa.array(offsets)
    values = pa.concat_arrays([_plain_strings(e[4]) for e in entries]).take(pa.array(order))
    structs = pa.StructArray.from_arrays(
        [
            pa.array([e[1] for e in entries], pa.string()).take(which),
            pa.array([e[2] for e in entries], pa.string()).take(which),
            values,
        ],
        fields=list(FAILURE_TYPE),
    )
    failures = pa.ListArray.from_arrays(offsets, structs, type=pa.list_(FAILURE_TYPE))
    reasons = pa.ListArray.from_arrays(offsets, pa.array([e[3] for e in entries]).take(which))
    return failures, pc.binary_join(reasons, "; ")


def _plain_strings(values: pa.Array) -> pa.Array:
    return values.dictionary_decode() if isinstance(values, pa.DictionaryArray) else values


def lines_of(lines: np.ndarray | RecordIndex, records: np.ndarray) -> np.ndarray:
    """Lines of `records`: `lines[records]`, or their lines in the block of `lines`'s index."""
    if isinstance(lines, RecordIndex):
        return lines.line_of(records)
    return np.asarray(lines, dtype=np.int64)[records]


def raws(block: bytes | memoryview, index: RecordIndex, records: np.ndarray) -> pa.Array:
    """The exact text of each record (`records` ascending; `block` valid UTF-8), copied out
    of `block` by Arrow: an array over the whole block whose values alternate between the
    records and the bytes between them, of which every other value is taken."""
    if not len(records):
        return pa.array([], pa.string())
    offsets = np.empty(2 * len(records), dtype=np.int64)
    offsets[0::2] = index.starts[records]
    offsets[1::2] = index.ends[records]
    spans = pa.Array.from_buffers(
        pa.large_string(), len(offsets) - 1, [None, pa.py_buffer(offsets), pa.py_buffer(block)]
    )
    return spans.take(pa.array(np.arange(0, len(offsets), 2))).cast(pa.string())


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
