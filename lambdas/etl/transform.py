"""The processor core: one record-aligned byte range -> typed Parquet + a rejects dataset.

Streaming and bounded: the range is read in blocks of `block_bytes`, each block cut at its
last record end (quote-aware), parsed by pyarrow as strings, validated column by column
with vectorised Arrow kernels (strict lexical regexes first, so nothing is coerced), cast
to the schema's types and appended to a Parquet writer. Rejected rows keep their 1-based
line, a reason and their exact raw text. No per-row Python on the hot path: Python only
touches rejected rows.

This module is the chunk driver; the pieces it drives: `blocks` (cutting the stream into
blocks of whole records), `rules` (the schema's checks and casts on a parsed block),
`outcome` (the chunk's counts and rejected rows), `inorder` (the worker threads).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from . import outcome
from .blocks import Block, iter_blocks, too_large
from .csvscan import RecordIndex, holds_byte, index_records
from .errors import RecordTooLarge
from .inorder import process_in_parallel
from .outcome import ChunkResult, Rejects, count_into, failure
from .rules import SEP, as_array, cast_passed, fields_reason, validate
from .schema import REJECTS_SCHEMA, Schema

DEFAULT_BLOCK_BYTES = 8 * 1024 * 1024
PARSER_BLOCK_BYTES = 64 * 1024 * 1024  # > any block we hand the parser (block + one record)
DICTIONARY_MAX_RATIO = 0.05  # parse a string column as a dictionary below this distinct ratio
DICTIONARY_SAMPLE_ROWS = 20_000  # ... measured on the first rows of the first block
_DICT = pa.dictionary(pa.int32(), pa.string())
# rejects are few per block: gather them into row groups of up to this many rows (or this
# many bytes, so a file of nothing but rejects still streams) instead of one tiny group each
REJECTS_ROW_GROUP_ROWS = 65_536
REJECTS_ROW_GROUP_BYTES = 16 * 1024 * 1024
PARQUET_COMPRESSION = "snappy"  # the Parquet ecosystem default; zstd writes slower (decisions.md)


@dataclass
class _Prepared:
    """One block, parsed and validated, waiting to be written in order."""

    counts: ChunkResult
    rejects: Rejects  # lines counted from the block's first line (0)
    valid: list[pa.Table]
    rejects_table: pa.Table | None = None  # the rejects in line order, built by `prepare()`
    # (block lines: `commit()` makes them file lines)
    failure_counts: Counter = field(default_factory=Counter)  # per (column, rule)


class ChunkProcessor:
    """Feeds record-aligned blocks through parse -> validate -> cast -> Parquet."""

    def __init__(
        self,
        *,
        schema: Schema,
        columns: Sequence[str],
        valid_path: str | Path | BinaryIO,
        rejected_path: str | Path | BinaryIO,
        max_record_bytes: int = 1024 * 1024,
        metadata: Mapping[str, str] | None = None,
        first_line: int = 1,
    ):
        """`first_line`: the file line of the first block's first byte; a block's lines
        follow from the LF counts of the blocks committed before it."""
        self.schema = schema
        self.first_line = first_line
        self.metadata = dict(metadata or {})
        self.max_record_bytes = max_record_bytes
        self.columns = list(columns)
        self.result = ChunkResult()
        self._valid_path = _where(valid_path)
        self._valid: pq.ParquetWriter | None = None  # opened once the column encodings are known
        self._dict_columns: frozenset[str] | None = None
        self._rejected = pq.ParquetWriter(
            _where(rejected_path), REJECTS_SCHEMA, compression=PARQUET_COMPRESSION
        )
        if self.metadata:
            self._rejected.add_key_value_metadata(self.metadata)
        self._rejects_pending: list[pa.Table] = []
        self._pending_rows = self._pending_bytes = 0
        self._read_options = pacsv.ReadOptions(
            # one parser block per our block: columns come out as single chunks (no copies)
            column_names=self.columns,
            use_threads=False,
            block_size=PARSER_BLOCK_BYTES,
        )
        self._convert_options = self._make_convert_options(frozenset())

    def _make_convert_options(self, dict_columns: frozenset[str]) -> pacsv.ConvertOptions:
        return pacsv.ConvertOptions(
            column_types={c: _DICT if c in dict_columns else pa.string() for c in self.columns},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            # `_parse` validates the whole block at once, far cheaper than the parser's
            # per-value check (a block split at ASCII bytes keeps valid UTF-8 valid)
            check_utf8=False,
        )

    def _choose_dictionary_columns(self, table: pa.Table) -> None:
        """Decide, once from the first block (so every row group has one schema), which
        string columns repeat: those get Parquet dictionary pages, and those that also have
        a pattern are parsed as dictionaries so the pattern runs once per distinct value.
        Other columns are parsed as plain strings: building a dictionary in the parser
        costs more than checking an allowed-values set per row (docs/decisions.md, "Numbers
        out of the code")."""
        repeating = set()
        for col in self.schema.columns:
            if col.type != "string":
                continue
            if col.enum is not None:
                repeating.add(col.name)
            elif table.num_rows >= 1000:
                sample = table.column(col.name).slice(0, DICTIONARY_SAMPLE_ROWS)
                if pc.count_distinct(sample).as_py() <= len(sample) * DICTIONARY_MAX_RATIO:
                    repeating.add(col.name)
        parsed = {
            c.name for c in self.schema.columns if c.name in repeating and c.pattern is not None
        }
        self._dict_columns = frozenset(parsed)
        self._convert_options = self._make_convert_options(self._dict_columns)
        fields = [
            pa.field(f.name, _DICT, f.nullable) if f.name in parsed else f
            for f in self.schema.arrow_schema
        ]
        self._out_schema = pa.schema(fields, metadata=self.schema.arrow_schema.metadata)
        # Statistics on string columns cost much of the write and rarely prune: keep them on
        # the typed columns (timestamps, amounts) that queries filter on. Dictionary pages
        # only where values repeat; near-unique identifiers skip the wasted hashing.
        stats = [c.name for c in self.schema.columns if c.type != "string"]
        self._valid = pq.ParquetWriter(
            self._valid_path,
            self._out_schema,
            compression=PARQUET_COMPRESSION,
            store_decimal_as_integer=True,
            write_statistics=stats or False,
            use_dictionary=sorted(repeating) or False,
            store_schema=False,
        )
        # store_schema=False writes no schema metadata at all: the file's key-value
        # metadata (which schema typed it, which file and chunk) is added explicitly
        if self.metadata:
            self._valid.add_key_value_metadata(self.metadata)

    def fix_encodings_from(self, block: Block, index: RecordIndex) -> bool:
        """Fix the column encodings from the first `DICTIONARY_SAMPLE_ROWS` records of the
        chunk's first `block` alone, so that block need not be prepared before any other.
        The choice is the one `prepare()` makes on the whole block: the sample's rows are
        the first rows of the block's table. When the sample cannot show that (not UTF-8,
        the parser and the quote parity disagree, too many rows skipped for their field
        count) nothing is fixed and False says the whole block must be prepared first."""
        if self._valid is not None:
            return True
        n = min(len(index), DICTIONARY_SAMPLE_ROWS + DICTIONARY_SAMPLE_ROWS // 4)
        sample = block if n == len(index) else block[: int(index.starts[n])]
        try:
            table, skipped = self._parse(sample)
        except pa.ArrowInvalid:
            return False
        if table.num_rows + len(skipped) != n:
            return False
        if n < len(index) and table.num_rows < DICTIONARY_SAMPLE_ROWS:
            return False
        self._choose_dictionary_columns(table)
        return True

    def close(self) -> None:
        if self._valid is None:
            self._choose_dictionary_columns(pa.table({}))
        self._valid.close()
        self._flush_rejects()
        self._rejected.close()

    def _flush_rejects(self) -> None:
        if self._rejects_pending:
            self._rejected.write_table(pa.concat_tables(self._rejects_pending))
            self._rejects_pending.clear()
            self._pending_rows = self._pending_bytes = 0

    # -- one block -------------------------------------------------------------------------
    def add_block(self, block: Block, index: RecordIndex | None = None) -> None:
        """`block` holds whole records, the next ones of the chunk; `index` its records if
        already known (`iter_blocks` finds them while cutting)."""
        self.commit(self.prepare(block, index))

    def prepare(self, block: Block, index: RecordIndex | None = None) -> _Prepared:
        """Parse, validate and cast one block without writing anything. Its rejects are
        placed by lines counted from the block's start; `commit()` makes them file lines.

        Safe to run for several blocks at once on worker threads once the column encodings
        are fixed (`fix_encodings_from()`); `commit()` must then be called in block order."""
        if index is None:
            index = index_records(block)
        if len(index) and int((index.ends - index.starts).max()) > self.max_record_bytes:
            # the splitter's plan relies on this bound, so it is enforced for every record
            raise RecordTooLarge(too_large(self.max_record_bytes))
        out = _Prepared(
            ChunkResult(
                bytes=len(block),
                lines=len(index.newlines),
                records=len(index),
                blank_lines=index.blank_lines,
            ),
            Rejects(),
            [],
        )
        try:
            self._evaluate(block, out, index, index)
        except pa.ArrowInvalid:
            # Not UTF-8, or pyarrow saw records differently from the quote-parity rules
            # (stray quote, bare CR): sort record by record, then parse the clean ones.
            out.rejects = Rejects()
            out.valid = []
            self._slow_path(block, index, out)
        if self._valid is not None:  # encodings fixed: match the writer's schema here
            out.valid = [self._conform(table) for table in out.valid]
        if len(out.rejects):
            out.rejects_table = out.rejects.table()
            out.failure_counts = out.rejects.failure_counts()
        return out

    def _conform(self, table: pa.Table) -> pa.Table:
        return pa.Table.from_arrays(
            [_encode(table.column(f.name), f.type) for f in self._out_schema],
            schema=self._out_schema,
        )

    def commit(self, prepared: _Prepared) -> None:
        """Write one prepared block and count it (in block order, on one thread)."""
        self.fix_encodings()
        for table in prepared.valid:
            if table.schema != self._out_schema:
                table = self._conform(table)
            self._valid.write_table(table)
            self.result.rows_valid += table.num_rows
        if prepared.rejects_table is not None:
            shift = self.first_line + self.result.lines  # the block's first file line
            rejects = outcome.shifted_lines(prepared.rejects_table, shift)
            self._rejects_pending.append(rejects)
            self._pending_rows += rejects.num_rows
            self._pending_bytes += rejects.nbytes
            count_into(self.result, rejects, prepared.failure_counts)
            self.result.rows_rejected += rejects.num_rows
            if (
                self._pending_rows >= REJECTS_ROW_GROUP_ROWS
                or self._pending_bytes >= REJECTS_ROW_GROUP_BYTES
            ):
                self._flush_rejects()
        counts = prepared.counts
        self.result.bytes += counts.bytes
        self.result.lines += counts.lines
        self.result.records += counts.records
        self.result.blank_lines += counts.blank_lines

    def fix_encodings(self) -> None:
        """Fix the column encodings if no block has (e.g. every record so far was rejected)."""
        if self._valid is None:
            self._choose_dictionary_columns(pa.table({}))

    def _parse(self, block: Block) -> tuple[pa.Table, list[tuple[int, int]]]:
        _check_utf8(block)
        skipped: list[tuple[int, int]] = []

        def on_invalid(row: pacsv.InvalidRow) -> str:
            skipped.append((row.number, row.actual_columns))
            return "skip"

        parse_options = pacsv.ParseOptions(
            delimiter=self.schema.delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
        )
        table = pacsv.read_csv(
            pa.py_buffer(block),
            read_options=self._read_options,
            parse_options=parse_options,
            convert_options=self._convert_options,
        )
        return table, skipped

    def _evaluate(
        self, block: Block, out: _Prepared, index: RecordIndex, lines: np.ndarray | RecordIndex
    ) -> None:
        """Parse and validate one block into `out`; `lines[r]` is the line of record r (or
        `lines` is the block's index: lines counted from the block's start)."""
        rejects = out.rejects
        table, skipped = self._parse(block)
        if self._valid is None:
            self._choose_dictionary_columns(table)
        n_rows = table.num_rows
        if len(index) != n_rows + len(skipped):
            raise pa.ArrowInvalid(
                f"record count mismatch: {len(index)} by quote parity, "
                f"{n_rows + len(skipped)} by the CSV parser"
            )
        separator = holds_byte(block, ord(SEP))
        checks, kept = validate(table, self.schema, may_hold_separator=separator)
        # table row i -> record ordinal (0-based) once the skipped ordinals are removed
        skipped_ord = np.array([s[0] - 1 for s in skipped], dtype=np.int64)
        keep = np.ones(len(index), dtype=bool)
        keep[skipped_ord] = False
        row_to_record = np.flatnonzero(keep)
        if skipped:
            found = pa.array([actual for _, actual in skipped], pa.int64()).cast(pa.string())
            reason = fields_reason(len(self.columns))
            whole = np.arange(len(skipped))
            rejects.add_failed(
                block, index, lines, skipped_ord, [(whole, None, "fields", reason, found)]
            )
        bad_rows = None
        if checks:
            bad_any = checks[0].mask
            for c in checks[1:]:
                bad_any = pc.or_(bad_any, c.mask)
            # positions and the per-check bits of the (few) bad rows only: converting every
            # full-size mask to numpy cost more than the rest of the reject handling
            bad_at = pc.indices_nonzero(bad_any)
            bad_rows = bad_at.to_numpy().astype(np.int64)
            # per check: which rejected rows it failed and their values (fetched once per
            # check), gathered into each row's failures in check order by Arrow
            entries = []
            for c in checks:
                hit = np.flatnonzero(c.mask.take(bad_at).to_numpy(zero_copy_only=False))
                values = as_array(table.column(c.column)).take(pa.array(bad_rows[hit]))
                entries.append((hit, c.column, c.rule, c.reason, values))
            rejects.add_failed(block, index, lines, row_to_record[bad_rows], entries)
        valid = self._valid_rows(kept, bad_rows, n_rows)
        if valid is not None:
            out.valid.append(valid)

    def _valid_rows(
        self, kept: dict[str, pa.Array], bad_rows: np.ndarray | None, n_rows: int
    ) -> pa.Table | None:
        if n_rows == 0:
            return None
        batch = pa.RecordBatch.from_arrays(
            [kept[c.name] for c in self.schema.columns], names=self.schema.names
        )
        if bad_rows is not None and len(bad_rows):
            # rejects are rare: zero-copy slices between them beat copying every string
            # (a batch's slice costs half a table's: this loop holds the GIL)
            edges = np.concatenate(([-1], bad_rows, [n_rows]))
            pieces = [
                batch.slice(a + 1, b - a - 1)
                for a, b in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True)
                if b - a > 1
            ]
            table = pa.Table.from_batches(pieces, schema=batch.schema)
        else:
            table = pa.Table.from_batches([batch])
        return cast_passed(table, self.schema) if table.num_rows else None

    def _slow_path(self, block: Block, index: RecordIndex, out: _Prepared) -> None:
        """Sort out what the fast path could not parse, record by record, losing nothing.

        1. records that are not UTF-8 are rejected; the rest is parsed again in one go;
        2. only if the parser still disagrees with the quote-parity record count (a stray
           quote, a bare CR), records holding a quote or CR are parsed one by one and those
           the parser would split differently are rejected as malformed.
        """
        rejects = out.rejects
        block = bytes(block)  # rare path: plain bytes are simpler than views here
        lines = index.line_of(np.arange(len(index)))
        records = [block[index.starts[r] : index.ends[r]] for r in range(len(index))]
        keep: list[int] = []
        for r, rec in enumerate(records):
            try:
                rec.decode("utf-8")
                keep.append(r)
            except UnicodeDecodeError as exc:
                rejects.add(
                    int(lines[r]),
                    "not valid UTF-8 text",
                    rec.decode("utf-8", "backslashreplace"),
                    [failure(None, "encoding", f"{exc.reason} at byte {exc.start}")],
                )
        mark = rejects.mark()
        try:
            self._emit_records(records, keep, lines, out)
            return
        except pa.ArrowInvalid:
            rejects.truncate(mark)
            out.valid.clear()
        clean = []
        for r in keep:
            rec = records[r]
            if b'"' in rec or b"\r" in rec:
                table, skipped = self._parse(rec + b"\n")
                if table.num_rows + len(skipped) != 1:
                    rejects.add(
                        int(lines[r]),
                        "malformed CSV record: a stray quote or a bare carriage return splits "
                        "it differently than RFC 4180 quoting",
                        rec.decode("utf-8"),
                        [failure(None, "malformed", None)],
                    )
                    continue
            clean.append(r)
        self._emit_records(records, clean, lines, out)

    def _emit_records(
        self, records: list[bytes], keep: list[int], lines: np.ndarray, out: _Prepared
    ) -> None:
        if not keep:
            return
        rebuilt = b"\n".join(records[r] for r in keep) + b"\n"
        self._evaluate(rebuilt, out, index_records(rebuilt), lines[keep])


def _where(target: str | Path | BinaryIO) -> str | BinaryIO:
    """A Parquet writer's destination: a local path, or a writable file object (S3Sink)."""
    return str(target) if isinstance(target, (str, Path)) else target


def _encode(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """Match the writer's schema: dictionary-encode the first block's plain strings."""
    if column.type == target:
        return column
    if pa.types.is_dictionary(target) and not pa.types.is_dictionary(column.type):
        return pc.dictionary_encode(column).cast(target)
    return column.cast(target)


# ---------------------------------------------------------------------------
# streaming driver
# ---------------------------------------------------------------------------


def process_stream(
    stream: BinaryIO,
    *,
    schema: Schema,
    columns: Sequence[str],
    valid_path: str | Path | BinaryIO,
    rejected_path: str | Path | BinaryIO,
    first_line: int = 1,
    is_last_chunk: bool = True,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    max_record_bytes: int = 1024 * 1024,
    threads: int | None = None,
    metadata: Mapping[str, str] | None = None,
) -> ChunkResult:
    """Process a byte range that starts at a record start. `first_line` is its file line.
    `metadata` becomes the key-value metadata of both Parquet outputs.

    `threads` (default: pyarrow's CPU count, i.e. the function's vCPUs) blocks of
    `block_bytes` are cut, parsed, validated and written at once (`inorder`); they are
    always written in order, so the output does not depend on it. At most threads + 1
    blocks are in flight: memory grows with the vCPUs, which Lambda sells with memory (the
    peak RSS per thread count: `nox -s bench -- --rss-check`; why not smaller blocks per
    thread: docs/decisions.md, "Scaling inside a chunk"). With one thread everything runs on
    the calling thread.
    """
    threads = max(1, threads or pa.cpu_count())
    proc = ChunkProcessor(
        schema=schema,
        columns=columns,
        valid_path=valid_path,
        rejected_path=rejected_path,
        max_record_bytes=max_record_bytes,
        metadata=metadata,
        first_line=first_line,
    )
    cutting = dict(
        block_bytes=block_bytes,
        max_record_bytes=max_record_bytes,
        is_last_chunk=is_last_chunk,
        delimiter=schema.delimiter,
    )
    try:
        if threads == 1:
            for block, index in iter_blocks(stream, **cutting):
                proc.add_block(block, index)
        else:
            process_in_parallel(proc, stream, cutting, threads)
    finally:
        proc.close()
    return proc.result


def _check_utf8(block: Block) -> None:
    """Raise ArrowInvalid unless `block` is valid UTF-8 (Arrow's vectorised validator over
    a zero-copy one-value binary array; its cost: docs/decisions.md, "Processor speed")."""
    offsets = pa.py_buffer(np.array([0, len(block)], dtype=np.int64))
    one = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(block)])
    one.cast(pa.large_string())
