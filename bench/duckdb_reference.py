"""The DuckDB peer: the processor's job written as idiomatic DuckDB SQL.

``read_csv`` with every column as VARCHAR and ``store_rejects=true``: DuckDB's reader
itself rejects records with too few or too many fields (and anything else it cannot
parse), keeping their line and raw text in its ``reject_errors`` table. The schema's
rules (``peer_rules.row_rules``: required, the type forms incl. the strict decimal and
calendar-exact timestamp forms and the patterns via RE2 ``regexp_full_match``, enums via
``IN``, lengths, the int64 range) become one ``CASE`` whose first failing branch names the
reject with the processor's reason; the
checked rows are materialised once, then two ``COPY ... TO (FORMAT parquet)`` write
the valid rows cast to the schema's types (``DECIMAL(p,s)``, ``TIMESTAMPTZ`` ...) and
the rejects (snappy, DuckDB's default).

Known limits: DuckDB's reader does not number the records it accepts, so a row rejected
by a value rule has no ``line`` (null) and its ``raw`` is the fields re-joined with the
delimiter (quoting lost); records rejected by the reader keep both. DuckDB's reader
ignores trailing delimiters with nothing after them (by design, even in strict mode), so
``...,POSTED,`` is read as 8 fields and kept where the processor rejects it (9 fields).
Empty values, quoted or not, read as NULL (DuckDB's default), which is what the missing
value "" means here (a schema whose missingValues leave out "" is refused).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
from etl.schema import Field, Schema
from peer_rules import (
    ENUM,
    INT64,
    MAX_LENGTH,
    MIN_LENGTH,
    PATTERN,
    REQUIRED,
    PeerResult,
    PeerUnsupported,
    Rule,
    fields_reason,
    file_columns,
    row_rules,
)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _missing(field: Field) -> str:
    """An empty value reads as NULL; other declared missingValues are compared."""
    if "" not in field.missing_values:
        raise PeerUnsupported(
            f"field {field.name!r}: DuckDB reads an empty value as NULL, so missingValues "
            'without "" cannot be honoured; bench a schema that declares "" missing'
        )
    c, others = _ident(field.name), [v for v in field.missing_values if v != ""]
    if not others:
        return f"{c} IS NULL"
    return f"({c} IS NULL OR {c} IN ({', '.join(_literal(v) for v in others)}))"


def _fails(rule: Rule) -> str:
    """SQL that is true where the rule fails (every rule but REQUIRED on present values)."""
    c, missing = _ident(rule.column), _missing(rule.field)
    if rule.kind == REQUIRED:
        return missing
    if rule.kind == PATTERN:
        bad = f"NOT regexp_full_match({c}, {_literal(rule.pattern)})"
    elif rule.kind == ENUM:
        bad = f"{c} NOT IN ({', '.join(_literal(v) for v in rule.values)})"
    elif rule.kind == MIN_LENGTH:
        bad = f"length({c}) < {rule.limit}"
    elif rule.kind == MAX_LENGTH:
        bad = f"length({c}) > {rule.limit}"
    elif rule.kind == INT64:
        bad = f"TRY_CAST({c} AS BIGINT) IS NULL"
    else:
        raise ValueError(f"unknown rule kind {rule.kind!r}")
    return f"NOT {missing} AND {bad}"


def _typed(field: Field) -> str:
    c = _ident(field.name)
    value = c
    sql_type = {
        "number": f"DECIMAL({field.precision}, {field.scale})",
        "datetime": "TIMESTAMPTZ",  # the pattern admits only 'Z' / '+00:00': stored as UTC
        "integer": "BIGINT",
        "date": "DATE",
    }.get(field.type)
    if sql_type:
        value = f"CAST({c} AS {sql_type})"
    elif field.type == "boolean":
        value = f"({c} IN ({', '.join(_literal(v) for v in field.true_values)}))"
    if not field.required and field.missing_values != ("",):
        value = f"CASE WHEN {_missing(field)} THEN NULL ELSE {value} END"
    return f"{value} AS {c}"


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
        # the first failing rule names the reject (every rule but `required` is guarded
        # by "not missing" in _fails)
        branches = "\n".join(
            f"    WHEN {_fails(rule)} THEN {_literal(rule.reason)}" for rule in row_rules(schema)
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
        valid_cols = ", ".join(_typed(f) for f in schema.fields)
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
