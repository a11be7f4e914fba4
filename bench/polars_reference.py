"""The polars peer: the processor's job written as idiomatic polars (lazy, vectorised).

One lazy query over two scans of the file, feeding both outputs in one pass
(``collect_all`` of a lazy ``sink_parquet`` and the rejects):
  * the CSV parsed as strings (``scan_csv``, schema from the header plus one spare column
    that catches a 9th field; ragged rows are padded, not dropped);
  * the same file read as whole lines (no quoting, NUL as the never-present separator),
    which gives each record's exact raw text and its field count: the line's delimiters
    less those inside the parsed values, plus one. polars' reader pads short rows without
    saying so, so this is how a polars user tells a missing trailing field from an empty one.
Then the schema's rules (``peer_rules.row_rules``: required, the type forms incl. the strict
decimal and calendar-exact timestamp forms, patterns, enums, lengths, the int64 range) as one
boolean per record (``any_horizontal``). Valid rows are cast to the schema's types
(``Decimal(p, s)``, ``Datetime("us", "UTC")`` ...) and sunk to Parquet (snappy); only the
(few) failing records get a reason, the processor's reason of the first failing rule (a
``coalesce`` of ``when`` expressions), and keep ``line`` and the raw line.

Known limits, documented rather than hidden: records holding a newline inside quotes
(the lines and the parsed rows then no longer pair up: refused with an error), and a
file that is not UTF-8 (polars refuses the whole file). Thread count: polars reads
``POLARS_MAX_THREADS`` when it is first imported (the bench sets it per job).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from etl.schema import Field, Schema
from peer_rules import (
    ENUM,
    INT64,
    MAX_LENGTH,
    MIN_LENGTH,
    PATTERN,
    REQUIRED,
    TIMESTAMP_FORMAT,
    PeerResult,
    Rule,
    fields_reason,
    file_columns,
    row_rules,
)

_EXTRA = "\x00extra"  # the spare column: holds a field past the schema's last one
_RAW = "\x00raw"
_LINE = "line"
_REASON = "reason"
_BAD = "\x00bad"


def _missing(field: Field) -> pl.Expr:
    """One of the field's missingValues (or no value at all: a padded short row)."""
    value = pl.col(field.name)
    if field.missing_values == ("",):
        return value.is_null() | (value.str.len_bytes() == 0)
    return value.is_null() | value.is_in(list(field.missing_values))


def _fails(rule: Rule) -> pl.Expr:
    value, missing = pl.col(rule.column), _missing(rule.field)
    if rule.kind == REQUIRED:
        return missing
    if rule.kind == PATTERN:
        bad = ~value.str.contains(rule.pattern)
    elif rule.kind == ENUM:
        bad = ~value.is_in(list(rule.values))
    elif rule.kind == MIN_LENGTH:
        bad = value.str.len_chars() < rule.limit
    elif rule.kind == MAX_LENGTH:
        bad = value.str.len_chars() > rule.limit
    elif rule.kind == INT64:
        bad = value.str.to_integer(strict=False).is_null()
    else:
        raise ValueError(f"unknown rule kind {rule.kind!r}")
    return ~missing & bad


def _typed(field: Field) -> pl.Expr:
    value = pl.col(field.name)
    if not field.required:
        value = pl.when(_missing(field)).then(None).otherwise(value)
    if field.type == "number":
        value = value.cast(pl.Decimal(field.precision, field.scale))
    elif field.type == "datetime":
        value = value.str.to_datetime(TIMESTAMP_FORMAT, time_unit="us", time_zone="UTC")
    elif field.type == "integer":
        value = value.str.to_integer()
    elif field.type == "date":
        value = value.str.to_date("%Y-%m-%d")
    elif field.type == "boolean":
        value = value.is_in(list(field.true_values))
    return value.alias(field.name)


def _field_count(delimiter: str, parsed: list[str]) -> pl.Expr:
    """Fields in the raw line: its delimiters, less those inside the parsed values (only a
    quoted value can hold one), plus one. Exact up to the spare column; beyond it (10+
    fields) it can only count more, never 8."""
    inside = [pl.col(n).str.count_matches(delimiter, literal=True) for n in parsed]
    return pl.col(_RAW).str.count_matches(delimiter, literal=True) + 1 - pl.sum_horizontal(inside)


def _scans(csv_path: str | Path, schema: Schema, header: list[str]) -> pl.LazyFrame:
    """The parsed records beside their raw lines, with each record's 1-based file line."""
    parsed = pl.scan_csv(
        csv_path,
        has_header=False,
        skip_rows=1,
        separator=schema.delimiter,
        quote_char='"',
        schema={**{n: pl.String for n in header}, _EXTRA: pl.String},
        missing_columns="insert",
        truncate_ragged_lines=True,
        empty_string_is_null=False,
    )
    lines = pl.scan_csv(
        csv_path,
        has_header=False,
        skip_rows=1,
        separator="\x00",
        quote_char=None,
        schema={_RAW: pl.String},
        empty_string_is_null=False,
    )
    return pl.concat([parsed, lines], how="horizontal").with_row_index(_LINE, offset=2)


def process_file_polars(
    csv_path: str | Path, schema: Schema, valid_path: str | Path, rejected_path: str | Path
) -> PeerResult:
    """Valid rows -> ``valid_path`` (typed Parquet), rejects -> ``rejected_path``.

    One scan feeds both outputs: a boolean per record says whether any rule fails; the
    valid rows are cast and sunk, and only the (few) failing rows get their reason, the
    first failing rule (a ``coalesce`` of ``when`` expressions)."""
    header = file_columns(csv_path, schema)
    expected = len(header)
    fields = _field_count(schema.delimiter, [*header, _EXTRA])
    rules = [(rule.reason, _fails(rule)) for rule in row_rules(schema)]
    frame = _scans(csv_path, schema, header).with_columns(
        pl.any_horizontal(fields != expected, *[fails for _, fails in rules]).alias(_BAD)
    )
    valid = frame.filter(~pl.col(_BAD)).select(_typed(f) for f in schema.fields)
    reason = pl.coalesce(
        pl.when(fields != expected).then(
            pl.format(fields_reason(expected, "{}"), fields.cast(pl.String))
        ),
        *[pl.when(fails).then(pl.lit(label)) for label, fails in rules],
    )
    rejects = frame.filter(pl.col(_BAD)).select(
        pl.col(_LINE).cast(pl.Int64), reason.alias(_REASON), pl.col(_RAW).alias("raw")
    )
    try:
        _, rejected = pl.collect_all(
            [valid.sink_parquet(valid_path, compression="snappy", lazy=True), rejects]
        )
    except pl.exceptions.ShapeError as exc:
        # one record spans two lines: rows and lines no longer pair up
        raise ValueError(
            f"{csv_path}: records and lines do not pair up (a quoted value holds a newline?): "
            "the polars reference reads raw text and field counts line by line; run it on a "
            "file without newlines inside quoted values"
        ) from exc
    rejected.write_parquet(rejected_path, compression="snappy")
    rows_valid = pl.scan_parquet(valid_path).select(pl.len()).collect().item()
    tally = rejected.group_by(_REASON).len()
    by_reason = dict(zip(tally[_REASON].to_list(), tally["len"].to_list(), strict=True))
    return PeerResult(rows_valid, rejected.height, by_reason)
