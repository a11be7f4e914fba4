"""The schema's row rules as the peers (polars, DuckDB) apply them: one source for both.

The schema is read through ``etl.schema`` (the processor's own loader), so a peer checks
exactly what the processor checks: ``required`` (empty value), the lexical pattern a value
must match before it is cast (``Column.lexical_pattern``: the declared ``pattern`` of a
string column, and for typed columns the strict forms, e.g. decimal(p,s) digit bounds and
calendar-exact ISO-8601 UTC timestamps), ``allowed`` values, and the int64 range.

Each peer turns ``row_rules(schema)`` into its own vectorised expressions; the first rule
that fails names the reject (``<kind>:<column>``), in the processor's check order (schema
column order; within a column: required, pattern, allowed, range). A record with the wrong
number of fields is rejected before any value rule, as ``expected N fields, found M``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from etl.checks import parse_header
from etl.chunking import header_text
from etl.schema import Schema

# the kinds of row rule, in the order the processor checks them within a column
MISSING, PATTERN, NOT_ALLOWED, RANGE = "missing", "pattern", "not_allowed", "range"
FIELDS = "fields"  # the record's field count; checked before every value rule


@dataclass(frozen=True)
class Rule:
    column: str
    kind: str  # MISSING | PATTERN | NOT_ALLOWED | RANGE
    pattern: str | None = None
    allowed: tuple[str, ...] | None = None
    label: str | None = None  # names the reject; the kind when None

    @property
    def reason(self) -> str:
        """``missing:amount``, ``pattern:transaction_id``, ``decimal:amount`` ..."""
        return f"{self.label or self.kind}:{self.column}"


def row_rules(schema: Schema) -> list[Rule]:
    """Every value rule of the schema, in the processor's check order."""
    rules: list[Rule] = []
    for col in schema.columns:
        if col.required:
            rules.append(Rule(col.name, MISSING))
        if col.lexical_pattern is not None:
            label = "pattern" if col.type == "string" else col.type  # decimal:, timestamp:
            rules.append(Rule(col.name, PATTERN, pattern=col.lexical_pattern, label=label))
        if col.allowed is not None:
            rules.append(Rule(col.name, NOT_ALLOWED, allowed=col.allowed))
        if col.type == "int64":
            rules.append(Rule(col.name, RANGE))  # 19-digit values past 2**63 - 1
    return rules


def fields_reason(expected: int, found: int | str) -> str:
    return f"expected {expected} fields, found {found}"


def file_columns(csv_path: str | Path, schema: Schema) -> list[str]:
    """The file's header, checked against the schema as the validator does (any order)."""
    with open(csv_path, "rb") as f:
        head = f.readline()
    return parse_header(header_text(head), schema)


@dataclass
class PeerResult:
    rows_valid: int = 0
    rows_rejected: int = 0
    rejected_by_reason: dict[str, int] | None = None
