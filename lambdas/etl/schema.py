"""The declared schema: columns, Arrow types and rules, loaded from a JSON document.

Validation, casts and the Parquet schema all come from here, so a user deploys another
schema by changing the JSON file, not the code.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from .errors import SchemaConfigError

TYPES = ("string", "int64", "decimal", "timestamp", "date", "boolean")

# Strict lexical forms. A value that does not match is rejected, never coerced:
# pyarrow would otherwise accept "1e5" as a decimal or convert "+02:00" offsets silently.
# ([0-9] rather than \d: same meaning in RE2, measurably faster on Arrow's regex kernel)
_INT64 = r"^[+-]?[0-9]{1,19}$"
# Dates are calendar-exact in the pattern itself (months 01-12, 30/31-day months, Feb 29 in
# leap years only, years 0001-9999), so a match always casts: RE2 runs a DFA, and the longer
# pattern costs nothing measurable, whereas a separate calendar pass cost ~5% of a chunk.
_YEAR = "(?:[0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)"
_LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_MONTH_DAY = (
    "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_CALENDAR_DATE = f"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_DATE = f"^{_CALENDAR_DATE}$"
_TIMESTAMP_UTC = (
    f"^{_CALENDAR_DATE}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{{1,6}})?"
    r"(?:Z|\+00:00)$"
)
_BOOLEAN = r"^(true|false)$"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = True
    precision: int | None = None
    scale: int | None = None
    allowed: tuple[str, ...] | None = None
    pattern: str | None = None

    @property
    def arrow_type(self) -> pa.DataType:
        if self.type == "string":
            return pa.string()
        if self.type == "int64":
            return pa.int64()
        if self.type == "decimal":
            return pa.decimal128(self.precision, self.scale)
        if self.type == "timestamp":
            return pa.timestamp("us", tz="UTC")
        if self.type == "date":
            return pa.date32()
        return pa.bool_()

    @property
    def lexical_pattern(self) -> str | None:
        """The regular expression a non-empty value must match to be cast exactly."""
        if self.type == "decimal":
            int_digits = self.precision - self.scale
            frac = rf"(\.[0-9]{{1,{self.scale}}})?" if self.scale else ""
            return rf"^-?[0-9]{{1,{int_digits}}}{frac}$"
        return {
            "int64": _INT64,
            "date": _DATE,
            "timestamp": _TIMESTAMP_UTC,
            "boolean": _BOOLEAN,
        }.get(self.type, self.pattern)

    def describe(self) -> str:
        """Human wording of the expected form, used in reject reasons."""
        if self.type == "decimal":
            return (
                f"a decimal({self.precision},{self.scale}) "
                f"(at most {self.precision - self.scale} integer and {self.scale} fraction digits)"
            )
        return {
            "int64": "a 64-bit integer",
            "date": "a date YYYY-MM-DD",
            "timestamp": "an ISO-8601 UTC timestamp like 2024-03-01T12:34:56Z",
            "boolean": "true or false",
            "string": f"a string matching {self.pattern}" if self.pattern else "a string",
        }[self.type]


@dataclass(frozen=True)
class Schema:
    name: str
    version: int
    delimiter: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(c.name, c.arrow_type, nullable=not c.required) for c in self.columns],
            metadata={"schema_name": self.name, "schema_version": str(self.version)},
        )

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


REJECTS_SCHEMA = pa.schema(
    [
        pa.field("line", pa.int64(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.string(), nullable=False),
    ]
)


def _column(doc: dict, where: str) -> Column:
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str) or not doc["name"]:
        raise SchemaConfigError(f"{where}: every column needs a non-empty string 'name'")
    name = doc["name"]
    unknown = set(doc) - {
        "name",
        "type",
        "required",
        "precision",
        "scale",
        "allowed",
        "pattern",
        "description",
    }
    if unknown:
        raise SchemaConfigError(f"{where}: column {name!r} has unknown keys {sorted(unknown)}")
    typ = doc.get("type", "string")
    if typ not in TYPES:
        raise SchemaConfigError(f"{where}: column {name!r} has type {typ!r}; use one of {TYPES}")
    precision = scale = None
    if typ == "decimal":
        precision, scale = doc.get("precision"), doc.get("scale")
        if not (
            isinstance(precision, int)
            and isinstance(scale, int)
            and 1 <= precision <= 38
            and 0 <= scale <= precision
        ):
            raise SchemaConfigError(
                f"{where}: decimal column {name!r} needs integer precision 1..38 and scale "
                f"0..precision, got precision={precision!r} scale={scale!r}"
            )
    allowed = doc.get("allowed")
    if allowed is not None:
        if (
            typ != "string"
            or not isinstance(allowed, list)
            or not all(isinstance(v, str) for v in allowed)
        ):
            raise SchemaConfigError(
                f"{where}: 'allowed' on {name!r} must be a list of strings on a string column"
            )
        allowed = tuple(allowed)
    pattern = doc.get("pattern")
    if pattern is not None:
        if typ != "string":
            raise SchemaConfigError(f"{where}: 'pattern' is only for string columns ({name!r})")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise SchemaConfigError(f"{where}: pattern of {name!r} is invalid: {exc}") from exc
    required = doc.get("required", True)
    if not isinstance(required, bool):
        raise SchemaConfigError(f"{where}: 'required' of {name!r} must be true or false")
    return Column(name, typ, required, precision, scale, allowed, pattern)


def parse_schema(doc: dict, where: str = "schema") -> Schema:
    if not isinstance(doc, dict) or not isinstance(doc.get("columns"), list) or not doc["columns"]:
        raise SchemaConfigError(f"{where}: needs a non-empty 'columns' list")
    columns = tuple(_column(c, where) for c in doc["columns"])
    names = [c.name for c in columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SchemaConfigError(f"{where}: duplicate column names {dupes}")
    delimiter = doc.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n':
        raise SchemaConfigError(
            f"{where}: 'delimiter' must be one character other than a quote "
            f"or newline, got {delimiter!r}"
        )
    return Schema(str(doc.get("name", "dataset")), int(doc.get("version", 1)), delimiter, columns)


def load_schema(source: str | Path | bytes) -> Schema:
    """Load a schema from a path or from the JSON bytes of the document."""
    where = "schema"
    if isinstance(source, (str, Path)):
        where = str(source)
        source = Path(source).read_bytes()
    try:
        doc = json.loads(source)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SchemaConfigError(f"{where}: not valid JSON: {exc}") from exc
    return parse_schema(doc, where)
