"""The schema's row rules as the peers (polars, DuckDB, pandas) apply them: one source for all.

The Table Schema is read through ``etl.schema`` (the processor's own loader, no second
parser), and the rules come from its ``Field``s exactly as the processor derives them
(``etl.rules``): a value is *missing* when it is one of the field's ``missingValues``
(a reject if ``required``, null otherwise); a present value must match the field's one
anchored pattern (``Field.screen_pattern``: the declared ``constraints.pattern`` of a
string, the strict lexical form of every other type, e.g. decimal(p,s) digit bounds and
calendar-exact ISO-8601 UTC timestamps), a string ``enum``, ``minLength``/``maxLength``,
and an integer must fit 64 bits. The reasons are the processor's own words
(``etl.rules.rule_reason``).

Each peer turns ``row_rules(schema)`` into its own vectorised expressions; the first rule
that fails names the reject, in the processor's check order (schema field order; within a
field: required, pattern or type, enum, minLength, maxLength, the int64 range). A record
with the wrong number of fields is rejected before any value rule (``fields_reason``: the
processor's reason plus the count found, which the processor keeps in ``failures``).

What the peers do not implement is refused with ``PeerUnsupported`` rather than checked
differently: declared date formats, digit groups and decimal marks (the processor
rewrites those values before the cast), range constraints and enums of typed fields
(compared on typed values), string formats (email, uri, uuid, binary).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from etl.checks import parse_header
from etl.chunking import header_text
from etl.rules import fields_reason as _processor_fields_reason
from etl.rules import rule_reason
from etl.schema import Field, Schema

# the kinds of row rule
REQUIRED, PATTERN, ENUM, MIN_LENGTH, MAX_LENGTH, INT64 = (
    "required",
    "pattern",
    "enum",
    "minLength",
    "maxLength",
    "int64",
)
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%#z"  # the default datetime form ('Z' or '+00:00')


class PeerUnsupported(ValueError):
    """The schema uses something the peers do not implement: run the bench with a schema
    without it (the processor supports it; only the comparison cannot run)."""


@dataclass(frozen=True)
class Rule:
    field: Field
    kind: str  # REQUIRED | PATTERN | ENUM | MIN_LENGTH | MAX_LENGTH | INT64
    pattern: str | None = None  # PATTERN: the anchored RE2 pattern a present value matches
    values: tuple[str, ...] | None = None  # ENUM
    limit: int | None = None  # MIN_LENGTH / MAX_LENGTH

    @property
    def column(self) -> str:
        return self.field.name

    @property
    def rule(self) -> str:
        """The Table Schema rule, as the processor's ``failures`` name it."""
        if self.kind == PATTERN:
            return "pattern" if self.field.type == "string" else "type"
        return "type" if self.kind == INT64 else self.kind

    @property
    def reason(self) -> str:
        """The processor's reason for this rule, e.g. ``amount: not a decimal(18,2) ...``."""
        return rule_reason(self.field, self.rule)


def _refuse(field: Field, what: str) -> None:
    raise PeerUnsupported(
        f"field {field.name!r}: {what} is not implemented by the bench's peers; bench a "
        "schema without it"
    )


def check_supported(schema: Schema) -> None:
    """Raise PeerUnsupported for what the peers do not implement (see the module doc)."""
    for f in schema.fields:
        if f.format is not None:
            _refuse(f, "a declared date/datetime format")
        if f.string_format is not None:
            _refuse(f, f"the string format {f.string_format!r}")
        if f.group_char is not None or f.decimal_char != ".":
            _refuse(f, "a digit group or decimal mark")
        if f.ranges:
            _refuse(f, "a range constraint")
        if f.enum is not None and f.type != "string":
            _refuse(f, f"an enum on a {f.type} field")


def row_rules(schema: Schema) -> list[Rule]:
    """Every value rule of the schema, in the processor's check order. Every rule but
    REQUIRED applies to present (non-missing) values only."""
    check_supported(schema)
    rules: list[Rule] = []
    for f in schema.fields:
        if f.required:
            rules.append(Rule(f, REQUIRED))
        if f.screen_pattern is not None:
            rules.append(Rule(f, PATTERN, pattern=f.screen_pattern))
        if f.type == "string":
            if f.enum is not None:
                rules.append(Rule(f, ENUM, values=f.enum))
            if f.min_length is not None:
                rules.append(Rule(f, MIN_LENGTH, limit=f.min_length))
            if f.max_length is not None:
                rules.append(Rule(f, MAX_LENGTH, limit=f.max_length))
        if f.type == "integer":
            rules.append(Rule(f, INT64))  # 19-digit values past the 64-bit range
    return rules


def fields_reason(expected: int, found: int | str) -> str:
    """``wrong number of fields: expected 8, found 7``."""
    return f"{_processor_fields_reason(expected)}, found {found}"


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
