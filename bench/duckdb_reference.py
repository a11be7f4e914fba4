"""The DuckDB peer: the processor's job written as idiomatic DuckDB SQL.

``read_csv`` with every column as VARCHAR and ``store_rejects=true``: DuckDB's reader
itself rejects records with too few or too many fields (and anything else it cannot
parse), keeping their line and raw text in its ``reject_errors`` table. The schema's
rules (``peer_rules.row_rules``: required, patterns incl. the strict decimal and
calendar-exact timestamp forms via RE2 ``regexp_full_match``, allowed values via ``IN``,
the int64 range) become one ``CASE`` whose first failing branch names the reject; the
checked rows are materialised once, then two ``COPY ... TO (FORMAT parquet)`` write
the valid rows cast to the schema's types (``DECIMAL(p,s)``, ``TIMESTAMPTZ`` ...) and
the rejects (snappy, DuckDB's default).

Known limits: DuckDB's reader does not number the records it accepts, so a row rejected
by a value rule has no ``line`` (null) and its ``raw`` is the fields re-joined with the
delimiter (quoting lost); records rejected by the reader keep both. DuckDB's reader
ignores trailing delimiters with nothing after them (by design, even in strict mode), so
``...,POSTED,`` is read as 8 fields and kept where the processor rejects it (9 fields).
Empty values, quoted or not, read as NULL (DuckDB's default), which is what "empty" means
here.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from etl.schema import Column, Schema
from peer_rules import (
    MISSING,
    NOT_ALLOWED,
    PATTERN,
    RANGE,
    PeerResult,
    Rule,
    fields_reason,
    file_columns,
    row_rules,
)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _fails(rule: Rule) -> str:
    c = _ident(rule.column)
    if rule.kind == MISSING:
        return f"{c} IS NULL"
    if rule.kind == PATTERN:
        return f"NOT regexp_full_match({c}, {_literal(rule.pattern)})"
    if rule.kind == NOT_ALLOWED:
        return f"{c} NOT IN ({', '.join(_literal(v) for v in rule.allowed)})"
    if rule.kind == RANGE:
        return f"TRY_CAST({c} AS BIGINT) IS NULL"
    raise ValueError(f"unknown rule kind {rule.kind!r}")


def _typed(col: Column) -> str:
    c = _ident(col.name)
    sql_type = {
        "decimal": f"DECIMAL({col.precision}, {col.scale})",
        "timestamp": "TIMESTAMPTZ",  # the pattern admits only 'Z' / '+00:00': stored as UTC
        "int64": "BIGINT",
        "date": "DATE",
    }.get(col.type)
    if sql_type:
        return f"CAST({c} AS {sql_type}) AS {c}"
    if col.type == "boolean":
        return f"({c} = 'true') AS {c}"
    return c


def process_file_duckdb(
    csv_path: str | Path,
    schema: Schema,
    valid_path: str | Path,
    rejected_path: str | Path,
    *,
    threads: int = 1,
) -> PeerResult:
    """Valid rows -> ``valid_path`` (typed Parquet), rejects -> ``rejected_path``."""
    header = file_columns(csv_path, schema)
    con = duckdb.connect(config={"threads": threads, "preserve_insertion_order": True})
    try:
        columns = "{" + ", ".join(f"{_literal(n)}: 'VARCHAR'" for n in header) + "}"
        # a value passes when it is empty (NULL: checked by `missing` where required) or
        # passes the rule; every rule but `missing` is guarded by IS NOT NULL
        branches = "\n".join(
            f"    WHEN {cond} THEN {_literal(rule.reason)}"
            for rule in row_rules(schema)
            for cond in [
                _fails(rule)
                if rule.kind == MISSING
                else f"{_ident(rule.column)} IS NOT NULL AND {_fails(rule)}"
            ]
        )
        con.execute(
            f"""
            CREATE TEMP TABLE checked AS
            SELECT *, CASE
            {branches}
                END AS reason
            FROM read_csv({_literal(str(csv_path))}, header = true, auto_detect = false,
                          delim = {_literal(schema.delimiter)}, quote = '"', escape = '"',
                          columns = {columns}, store_rejects = true)
            """
        )
        valid_cols = ", ".join(_typed(c) for c in schema.columns)
        con.execute(
            f"COPY (SELECT {valid_cols} FROM checked WHERE reason IS NULL) "
            f"TO {_literal(str(valid_path))} (FORMAT parquet, COMPRESSION snappy)"
        )
        # NULL (empty) fields as '': concat_ws would otherwise drop them
        fields_text = ", ".join(f"coalesce({_ident(n)}, '')" for n in header)
        raw = f"concat_ws({_literal(schema.delimiter)}, {fields_text})"
        found = "regexp_extract(error_message, 'Found: ([0-9]+)', 1)"
        con.execute(
            f"""
            CREATE TEMP VIEW rejects AS
            SELECT NULL::BIGINT AS line, reason, {raw} AS raw
            FROM checked WHERE reason IS NOT NULL
            UNION ALL
            SELECT line::BIGINT,
                   CASE WHEN error_type IN ('MISSING COLUMNS', 'TOO MANY COLUMNS')
                        THEN {_literal(fields_reason(len(header), ""))} || {found}
                        ELSE lower(error_type::VARCHAR) END,
                   csv_line
            FROM reject_errors
            """
        )
        con.execute(
            f"COPY rejects TO {_literal(str(rejected_path))} (FORMAT parquet, COMPRESSION snappy)"
        )
        rows_valid = con.execute("SELECT count(*) FROM checked WHERE reason IS NULL").fetchone()[0]
        by_reason = dict(
            con.execute("SELECT reason, count(*) FROM rejects GROUP BY reason").fetchall()
        )
    finally:
        con.close()
    return PeerResult(rows_valid, sum(by_reason.values()), by_reason)
