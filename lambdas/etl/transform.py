"""The processor core: one record-aligned byte range -> typed Parquet + a rejects dataset.

Streaming and bounded: the range is read in blocks of `block_bytes`, each block cut at its
last record end (quote-aware), parsed by pyarrow as strings, validated column by column
with vectorised Arrow kernels (strict lexical regexes first, so nothing is coerced), cast
to the schema's types and appended to a Parquet writer. Rejected rows keep their 1-based
line, a reason and their exact raw text. No per-row Python on the hot path: Python only
touches rejected rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .chunking import BOM, header_text
from .csvscan import RecordIndex, index_records, last_record_end
from .errors import ChunkBoundaryError, RecordTooLarge
from .schema import REJECTS_SCHEMA, Column, Schema

DEFAULT_BLOCK_BYTES = 8 * 1024 * 1024
PARQUET_COMPRESSION = "zstd"


@dataclass
class ChunkResult:
    rows_valid: int = 0
    rows_rejected: int = 0
    bytes: int = 0  # bytes of the range consumed
    lines: int = 0  # LF bytes in the range (to compute later chunks' line numbers)
    blank_lines: int = 0  # empty lines: not records, neither valid nor rejected
    records: int = 0  # records by quote parity on the raw bytes, independent of the parser

    def to_dict(self) -> dict:
        return {"rows_valid": self.rows_valid, "rows_rejected": self.rows_rejected,
                "records": self.records, "bytes": self.bytes, "lines": self.lines,
                "blank_lines": self.blank_lines}


# ---------------------------------------------------------------------------
# column checks
# ---------------------------------------------------------------------------

@dataclass
class _Check:
    column: str
    mask: pa.Array  # True where the row fails
    reason: str  # template; {value} is replaced by the offending value


def _as_array(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _calendar_invalid(values: pa.Array, candidates: pa.Array) -> pa.Array:
    """Rows whose date/time fields are out of range (month 13, Feb 30, 24:00) among candidates."""
    head = pc.utf8_slice_codeunits(values, 0, 19)
    fmt = "%Y-%m-%dT%H:%M:%S" if pa.types.is_string(values.type) else None
    if fmt is None:
        return pc.invert(candidates)
    if len(values) and pc.max(pc.utf8_length(head)).as_py() == 10:
        fmt = "%Y-%m-%d"
        head = pc.utf8_slice_codeunits(values, 0, 10)
    parsed = pc.strptime(head, format=fmt, unit="s", error_is_null=True)
    roundtrip = pc.strftime(parsed, format=fmt)
    same = pc.fill_null(pc.equal(roundtrip, head), False)
    return pc.and_(candidates, pc.invert(same))


def _cast_checked(values: pa.Array, ok: pa.Array, column: Column) -> tuple[pa.Array, pa.Array]:
    """Cast the values that passed the lexical checks; returns (typed, extra_invalid_mask)."""
    target = column.arrow_type
    masked = pc.if_else(ok, values, pa.scalar(None, pa.string()))
    try:
        return pc.cast(masked, target), None
    except pa.ArrowInvalid:
        pass
    # Lexically fine but not a real value (2024-02-30, 25:00, int64 overflow): find them.
    if column.type in ("timestamp", "date"):
        bad = _calendar_invalid(values, ok)
    else:  # int64 overflow: compare against the bounds as decimals
        as_dec = pc.cast(masked, pa.decimal128(38, 0))
        bad = pc.fill_null(pc.or_(pc.greater(as_dec, pa.scalar(2**63 - 1, pa.decimal128(38, 0))),
                                  pc.less(as_dec, pa.scalar(-(2**63), pa.decimal128(38, 0)))), False)
    ok2 = pc.and_(ok, pc.invert(bad))
    masked = pc.if_else(ok2, values, pa.scalar(None, pa.string()))
    return pc.cast(masked, target), bad


def _validate(table: pa.Table, schema: Schema) -> tuple[list[_Check], dict[str, pa.Array]]:
    """Run every rule of the schema; returns the failing-row masks and the typed columns."""
    checks: list[_Check] = []
    typed: dict[str, pa.Array] = {}
    for col in schema.columns:
        values = _as_array(table.column(col.name))
        empty = pc.equal(pc.binary_length(values), 0)
        any_empty = pc.any(empty).as_py()
        if col.required and any_empty:
            checks.append(_Check(col.name, empty, f"{col.name}: required value is empty"))
        nonempty = pc.invert(empty) if any_empty else None
        ok = nonempty  # None means "all rows" (saves kernels on the common path)
        pattern = col.lexical_pattern
        if pattern is not None:
            matches = pc.match_substring_regex(values, pattern)
            bad = pc.invert(matches) if nonempty is None else pc.and_(nonempty, pc.invert(matches))
            if pc.any(bad).as_py():
                checks.append(_Check(col.name, bad,
                                     f"{col.name}: {{value!r}} is not {col.describe()}"))
                ok = pc.invert(bad) if ok is None else pc.and_(ok, pc.invert(bad))
        if col.allowed is not None:
            member = pc.is_in(values, value_set=pa.array(col.allowed, pa.string()))
            bad = pc.invert(member) if nonempty is None else pc.and_(nonempty, pc.invert(member))
            if pc.any(bad).as_py():
                checks.append(_Check(col.name, bad,
                                     f"{col.name}: {{value!r}} is not one of the allowed values"))
                ok = pc.invert(bad) if ok is None else pc.and_(ok, pc.invert(bad))
        if col.type == "string":
            typed[col.name] = values if ok is None or not any_empty or col.required \
                else pc.if_else(empty, pa.scalar(None, pa.string()), values)
            continue
        if ok is None:
            try:
                typed[col.name] = pc.cast(values, col.arrow_type)
                continue
            except pa.ArrowInvalid:
                ok = pa.array(np.ones(len(values), dtype=bool))
        arr, extra_bad = _cast_checked(values, ok, col)
        if extra_bad is not None and pc.any(extra_bad).as_py():
            checks.append(_Check(col.name, extra_bad,
                                 f"{col.name}: {{value!r}} is not {col.describe()}"))
        typed[col.name] = arr
    return checks, typed


# ---------------------------------------------------------------------------
# block processing
# ---------------------------------------------------------------------------

@dataclass
class _Rejects:
    lines: list[int]
    reasons: list[str]
    raws: list[str]

    def add(self, line: int, reason: str, raw: str) -> None:
        self.lines.append(line)
        self.reasons.append(reason)
        self.raws.append(raw)

    def table(self) -> pa.Table:
        order = sorted(range(len(self.lines)), key=self.lines.__getitem__)
        self.lines = [self.lines[i] for i in order]
        self.reasons = [self.reasons[i] for i in order]
        self.raws = [self.raws[i] for i in order]
        return pa.table({"line": pa.array(self.lines, pa.int64()),
                         "reason": pa.array(self.reasons, pa.string()),
                         "raw": pa.array(self.raws, pa.string())}, schema=REJECTS_SCHEMA)


class ChunkProcessor:
    """Feeds record-aligned blocks through parse -> validate -> cast -> Parquet."""

    def __init__(self, *, schema: Schema, columns: Sequence[str], valid_path: str | Path,
                 rejected_path: str | Path):
        self.schema = schema
        self.columns = list(columns)
        self.result = ChunkResult()
        self._valid = pq.ParquetWriter(str(valid_path), schema.arrow_schema,
                                       compression=PARQUET_COMPRESSION,
                                       store_decimal_as_integer=True)
        self._rejected = pq.ParquetWriter(str(rejected_path), REJECTS_SCHEMA,
                                          compression=PARQUET_COMPRESSION)
        self._read_options = pacsv.ReadOptions(column_names=self.columns, use_threads=False,
                                               block_size=4 * 1024 * 1024)
        self._convert_options = pacsv.ConvertOptions(
            column_types={c: pa.string() for c in self.columns},
            strings_can_be_null=False, quoted_strings_can_be_null=False)

    def close(self) -> None:
        self._valid.close()
        self._rejected.close()

    # -- one block -------------------------------------------------------------------------
    def add_block(self, block: bytes, first_line: int) -> None:
        """`block` holds whole records; `first_line` is the file line of its first byte."""
        index = index_records(block)
        self.result.bytes += len(block)
        self.result.lines += len(index.newlines)
        self.result.records += len(index)
        self.result.blank_lines += index.blank_lines
        rejects = _Rejects([], [], [])
        try:
            lines = index.line_of(np.arange(len(index))) + first_line
            self._parse_and_emit(block, rejects, index, lines)
        except pa.ArrowInvalid:
            # Not UTF-8, or pyarrow saw records differently from the quote-parity rules
            # (stray quote, bare CR): sort record by record, then parse the clean ones.
            self._slow_path(block, index, first_line, rejects)
        if rejects.lines:
            self._rejected.write_table(rejects.table())
            self.result.rows_rejected += len(rejects.lines)

    def _parse(self, block: bytes) -> tuple[pa.Table, list[tuple[int, int]]]:
        skipped: list[tuple[int, int]] = []

        def on_invalid(row: pacsv.InvalidRow) -> str:
            skipped.append((row.number, row.actual_columns))
            return "skip"

        parse_options = pacsv.ParseOptions(delimiter=self.schema.delimiter,
                                           newlines_in_values=True,
                                           invalid_row_handler=on_invalid)
        table = pacsv.read_csv(pa.py_buffer(block), read_options=self._read_options,
                               parse_options=parse_options,
                               convert_options=self._convert_options)
        return table, skipped

    def _parse_and_emit(self, block: bytes, rejects: _Rejects, index: RecordIndex,
                        lines: np.ndarray) -> None:
        """Parse, validate and write one block; `lines[r]` is the file line of record r."""
        table, skipped = self._parse(block)
        n_rows = table.num_rows
        if len(index) != n_rows + len(skipped):
            raise pa.ArrowInvalid(
                f"record count mismatch: {len(index)} by quote parity, "
                f"{n_rows + len(skipped)} by the CSV parser")
        checks, typed = _validate(table, self.schema)
        # table row i -> record ordinal (0-based) once the skipped ordinals are removed
        skipped_ord = np.array([s[0] - 1 for s in skipped], dtype=np.int64)
        keep = np.ones(len(index), dtype=bool)
        keep[skipped_ord] = False
        row_to_record = np.flatnonzero(keep)
        expected = len(self.columns)
        for ordinal, actual in skipped:
            r = ordinal - 1
            rejects.add(int(lines[r]), f"expected {expected} fields, found {actual}",
                        _raw(block, index, r))
        bad_any = None
        if checks:
            masks = [c.mask for c in checks]
            bad_any = masks[0]
            for m in masks[1:]:
                bad_any = pc.or_(bad_any, m)
            bad_rows = np.flatnonzero(bad_any.to_numpy(zero_copy_only=False))
            np_masks = [c.mask.to_numpy(zero_copy_only=False)[bad_rows] for c in checks]
            columns = {c.column: _as_array(table.column(c.column)) for c in checks}
            for j, row in enumerate(bad_rows):
                reasons = []
                for c, m in zip(checks, np_masks, strict=True):
                    if m[j]:
                        value = columns[c.column][int(row)].as_py()
                        reasons.append(c.reason.replace("{value!r}", repr(value)))
                r = int(row_to_record[row])
                rejects.add(int(lines[r]), "; ".join(reasons), _raw(block, index, r))
        self._emit_valid(typed, bad_any, n_rows)

    def _emit_valid(self, typed: dict[str, pa.Array], bad_any: pa.Array | None,
                    n_rows: int) -> None:
        if n_rows == 0:
            return
        table = pa.Table.from_arrays([typed[c.name] for c in self.schema.columns],
                                     names=self.schema.names)
        if bad_any is not None:
            table = table.filter(pc.invert(bad_any))
        if table.num_rows:
            table = table.cast(self.schema.arrow_schema)
            self._valid.write_table(table)
            self.result.rows_valid += table.num_rows

    def _slow_path(self, block: bytes, index: RecordIndex, first_line: int,
                   rejects: _Rejects) -> None:
        lines = index.line_of(np.arange(len(index))) + first_line
        good: list[bytes] = []
        good_lines: list[int] = []
        for r in range(len(index)):
            rec = block[index.starts[r]:index.ends[r]]
            try:
                rec.decode("utf-8")
            except UnicodeDecodeError as exc:
                rejects.add(int(lines[r]), f"not valid UTF-8 text ({exc.reason} at byte "
                            f"{exc.start} of the record)", rec.decode("utf-8", "backslashreplace"))
                continue
            if b'"' in rec or b"\r" in rec:
                table, skipped = self._parse(rec + b"\n")
                if table.num_rows + len(skipped) != 1:
                    rejects.add(int(lines[r]), "malformed CSV record: a stray quote or a bare "
                                "carriage return splits it differently than RFC 4180 quoting",
                                rec.decode("utf-8"))
                    continue
            good.append(rec)
            good_lines.append(int(lines[r]))
        if good:
            rebuilt = b"\n".join(good) + b"\n"
            self._parse_and_emit(rebuilt, rejects, index_records(rebuilt),
                                 np.array(good_lines, dtype=np.int64))


def _raw(block: bytes, index: RecordIndex, r: int) -> str:
    return block[index.starts[r]:index.ends[r]].decode("utf-8", "backslashreplace")


# ---------------------------------------------------------------------------
# streaming driver
# ---------------------------------------------------------------------------

def iter_blocks(stream: BinaryIO, *, block_bytes: int, max_record_bytes: int,
                is_last_chunk: bool) -> Iterator[bytes]:
    """Yield blocks of whole records from `stream` (which starts at a record start)."""
    carry = b""
    while True:
        data = stream.read(block_bytes)
        if not data:
            if carry:
                if not is_last_chunk:
                    raise ChunkBoundaryError(
                        f"the chunk ends inside a record ({len(carry)} bytes after the last "
                        "record end): the chunk plan is wrong; re-run the file")
                if len(carry) > max_record_bytes:
                    raise RecordTooLarge(_too_large(max_record_bytes))
                yield carry
            return
        buf = carry + data if carry else data
        cut = last_record_end(buf)
        if cut == 0:
            if len(buf) > max_record_bytes:
                raise RecordTooLarge(_too_large(max_record_bytes))
            carry = buf
            continue
        carry = buf[cut:]
        yield buf[:cut] if cut < len(buf) else buf


def _too_large(limit: int) -> str:
    return (f"a record is longer than the maximum record size of {limit} bytes (no record end "
            "found): check the file (binary data? unbalanced quote?) or raise max_record_bytes")


def process_stream(stream: BinaryIO, *, schema: Schema, columns: Sequence[str],
                   valid_path: str | Path, rejected_path: str | Path, first_line: int = 1,
                   is_last_chunk: bool = True, block_bytes: int = DEFAULT_BLOCK_BYTES,
                   max_record_bytes: int = 1024 * 1024) -> ChunkResult:
    """Process a byte range that starts at a record start. `first_line` is its file line."""
    proc = ChunkProcessor(schema=schema, columns=columns, valid_path=valid_path,
                          rejected_path=rejected_path)
    line = first_line
    try:
        for block in iter_blocks(stream, block_bytes=block_bytes,
                                 max_record_bytes=max_record_bytes, is_last_chunk=is_last_chunk):
            proc.add_block(block, line)
            line = first_line + proc.result.lines
    finally:
        proc.close()
    return proc.result


def process_file(path: str | Path, schema: Schema, valid_path: str | Path,
                 rejected_path: str | Path, **kwargs) -> ChunkResult:
    """Whole local file as one chunk (header first): used by the benchmark and tests."""
    from .checks import parse_header

    with open(path, "rb") as f:
        head = f.read(1024 * 1024)
        start = len(BOM) if head.startswith(BOM) else 0
        nl = head.find(b"\n", start)
        raw_header = head[start:nl + 1] if nl >= 0 else head[start:]
        columns = parse_header(header_text(raw_header), schema)
        f.seek(start + len(raw_header))
        return process_stream(f, schema=schema, columns=columns, valid_path=valid_path,
                              rejected_path=rejected_path,
                              first_line=1 + raw_header.count(b"\n"), **kwargs)
