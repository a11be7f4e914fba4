"""The declared schema: a Frictionless Table Schema (+ CSV Dialect), loaded from JSON.

Validation, casts and the Parquet schema all come from here, so a user deploys another
schema by changing the JSON file, not the code. The vocabulary is Table Schema v2's
(https://datapackage.org/standard/table-schema/) with its names unchanged; what the
pipeline cannot honour is refused with a reason, and the few things Table Schema lacks are
documented extensions (`EXTENSIONS`). `check_schema_file` / `load_schema` report every
problem of a document at once, each with its JSON path; those checks live in
`etl.schema_check` (re-exported here), this module holds the types they build.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .xsdregex import to_re2

if TYPE_CHECKING:
    import pyarrow as pa

# Table Schema types the pipeline stores, with their Parquet/Arrow type (`Field.arrow_type`).
TYPES = (
    "string",
    "integer",
    "number",
    "boolean",
    "date",
    "datetime",
    "time",
    "year",
    "yearmonth",
    "any",
)
# Table Schema types refused, each with the reason.
UNSUPPORTED_TYPES = {
    "duration": "declare it a string with a pattern",
    "object": "JSON values are not stored; declare it a string",
    "array": "JSON values are not stored; declare it a string",
    "list": "lists are not stored; declare it a string",
    "geopoint": "declare it a string with a pattern",
    "geojson": "JSON values are not stored; declare it a string",
}
# Keywords we refuse, with the reason (everything else unknown is refused as unknown).
UNSUPPORTED = {
    "primaryKey": "uniqueness across a file is not checked: chunks are processed in parallel",
    "uniqueKeys": "uniqueness across a file is not checked: chunks are processed in parallel",
    "foreignKeys": "references to other tables are not checked",
    "unique": "uniqueness across a file is not checked: chunks are processed in parallel",
    "jsonSchema": "JSON values are not stored",
    "categories": "use constraints.enum for the allowed values",
    "categoriesOrdered": "use constraints.enum for the allowed values",
    "escapeChar": "only RFC 4180 quoting (doubled quotes) is parsed",
    "nullSequence": "declare missing values with missingValues",
    "commentChar": "comment lines are not skipped; remove them before upload",
    "commentRows": "comment lines are not skipped; remove them before upload",
    "headerRows": "the header is the first line",
    "headerJoin": "the header is the first line",
    "itemType": "lists are not stored",
    "itemEnum": "lists are not stored",
    "delimiter": 'the CSV delimiter belongs in the dialect: {"dialect": {"delimiter": ";"}}',
}
# Documented extensions: what Table Schema lacks (README "The schema").
EXTENSIONS = {
    "precision": "number fields: total decimal digits of the Parquet DECIMAL (1..38; default 38)",
    "scale": "number fields: fraction digits of the Parquet DECIMAL (0..precision; default 18)",
    "timezone": "datetime fields whose format has no %z: the zone of the values (only 'UTC')",
    "maxRejectedShare": "schema: the largest share of rejected rows a file may have (0..1)",
}
# Table Schema's string formats: (what a value must be, the RE2 pattern it matches whole).
# The values stay strings; a value that does not match is a reject (rule `type`).
STRING_FORMATS = {
    # WHATWG HTML's "valid e-mail address", the form browsers check (a dot-atom local part,
    # DNS labels of at most 63 characters); no quoted local parts, no IP literals
    "email": (
        "an email address (local@domain, as HTML's email input accepts)",
        r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$",
    ),
    # RFC 3986 absolute URI: a scheme, ':', then only URI characters and %XX escapes
    "uri": (
        "an absolute URI (scheme:..., RFC 3986 characters and %XX escapes only)",
        r"^[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=-]|%[0-9A-Fa-f]{2})*$",
    ),
    # RFC 9562's textual form, either case
    "uuid": (
        "a UUID (8-4-4-4-12 hex digits)",
        r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$",
    ),
    # RFC 4648 base64: the standard alphabet, padded to a multiple of 4 characters
    "binary": (
        "base64 (RFC 4648: A-Z a-z 0-9 + /, padded with = to a multiple of 4)",
        r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
    ),
}
DEFAULT_MAX_REJECTED_SHARE = 0.10
# A number that declares neither precision nor scale (Table Schema has no such keywords) is a
# DECIMAL(38, 18): every value with at most 20 integer and 18 fraction digits kept exactly,
# any other a reject (docs/decisions.md, "A number without precision").
DEFAULT_NUMBER_PRECISION = 38
DEFAULT_NUMBER_SCALE = 18
DEFAULT_TRUE_VALUES = ("true", "True", "TRUE", "1")
DEFAULT_FALSE_VALUES = ("false", "False", "FALSE", "0")

_DOCUMENTARY = {
    "title",
    "description",
    "example",
    "rdfType",
    "$schema",
    "homepage",
    "created",
    "keywords",
    "contributors",
    "profile",
}
_SCHEMA_KEYS = {
    "fields",
    "missingValues",
    "fieldsMatch",
    "name",
    "version",
    "dialect",
    "maxRejectedShare",
} | _DOCUMENTARY
_FIELD_KEYS = {
    "name",
    "type",
    "format",
    "constraints",
    "missingValues",
    "trueValues",
    "falseValues",
    "decimalChar",
    "groupChar",
    "bareNumber",
    "precision",
    "scale",
    "timezone",
} | _DOCUMENTARY
_CONSTRAINTS = {
    "required",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "enum",
}
_DIALECT_KEYS = {
    "delimiter",
    "quoteChar",
    "doubleQuote",
    "header",
    "lineTerminator",
    "skipInitialSpace",
    "caseSensitiveHeader",
    "csvddfVersion",
    "$schema",
    "title",
    "description",
}
_RANGE = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
# which constraint applies to which type
_APPLIES = {
    "minLength": {"string"},
    "maxLength": {"string"},
    "pattern": {"string"},
    "enum": set(TYPES),
    **{k: {"integer", "number", "date", "datetime", "time", "year", "yearmonth"} for k in _RANGE},
}

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
_TIME = r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?$"
_YEAR_ONLY = "^[0-9]{4}$"
_YEAR_MONTH = "^[0-9]{4}-(?:0[1-9]|1[0-2])$"
_TIMESTAMP_UTC = (
    f"^{_CALENDAR_DATE}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{{1,6}})?"
    r"(?:Z|\+00:00)$"
)

# strptime-style formats (Python's meaning: %d, %m, %H, %M, %S take one or two digits).
# (calendar-exact piece per (month kind), extraction piece)
_DIRECTIVES = {
    "%Y": "Y",
    "%m": "m",
    "%d": "d",
    "%H": "H",
    "%M": "M",
    "%S": "S",
    "%f": "f",
    "%z": "z",
}
_FIXED = {
    "H": "(?:[01]?[0-9]|2[0-3])",
    "M": "[0-5]?[0-9]",
    "S": "[0-5]?[0-9]",
    "f": "[0-9]{1,6}",
    "z": r"(?:Z|\+00:?00)",
}
_EXTRACT = {
    "Y": "(?P<Y>[0-9]{4})",
    "m": "(?P<m>[0-9]{1,2})",
    "d": "(?P<d>[0-9]{1,2})",
    "H": "(?P<H>[0-9]{1,2})",
    "M": "(?P<M>[0-9]{1,2})",
    "S": "(?P<S>[0-9]{1,2})",
    "f": "(?P<f>[0-9]{1,6})",
    "z": _FIXED["z"],
}
# (year, month, day) alternatives that make a calendar-exact date in any component order
_CALENDAR_BRANCHES = (
    (_YEAR, "(?:0?[13578]|1[02])", "(?:0?[1-9]|[12][0-9]|3[01])"),
    (_YEAR, "(?:0?[469]|11)", "(?:0?[1-9]|[12][0-9]|30)"),
    (_YEAR, "0?2", "(?:0?[1-9]|1[0-9]|2[0-8])"),
    (_LEAP_YEAR, "0?2", "29"),
)
_FORMAT_TOKEN = re.compile(r"%.|[^%]+|%$", re.S)
_RE2_META = set("\\.^$|?*+()[]{}")


def _escape(text: str) -> str:
    """A literal for RE2 and Python alike: backslash before metacharacters only."""
    return "".join("\\" + ch if ch in _RE2_META else ch for ch in text)


@dataclass(frozen=True)
class DateFormat:
    """A declared strptime-style date/datetime format, as RE2 patterns."""

    tokens: tuple[str, ...]  # directives ("%Y") and literal text

    @property
    def components(self) -> list[str]:
        return [_DIRECTIVES[t] for t in self.tokens if t in _DIRECTIVES]

    def calendar_pattern(self) -> str:
        """Anchored pattern that a value matches only if it is a real calendar date/time."""
        branches = []
        for year, month, day in _CALENDAR_BRANCHES:
            parts = []
            for t in self.tokens:
                c = _DIRECTIVES.get(t)
                if c is None:
                    parts.append(_escape("%" if t == "%%" else t))
                else:
                    parts.append({"Y": year, "m": month, "d": day}.get(c) or _FIXED[c])
            branches.append("".join(parts))
        return "^(?:" + "|".join(dict.fromkeys(branches)) + ")$"  # a time: one branch

    def extract_pattern(self) -> str:
        """Pattern with one group per numeric component, in token order (for `extract`)."""
        parts = []
        for t in self.tokens:
            c = _DIRECTIVES.get(t)
            parts.append(_escape("%" if t == "%%" else t) if c is None else _EXTRACT[c])
        return "^" + "".join(parts) + "$"


def _parse_format(fmt: str, typ: str, path: str, problems: Any) -> DateFormat | None:
    """A date/datetime `format` pattern, or None after adding why it is refused to
    `problems` (schema_check's collector)."""
    tokens = tuple(_FORMAT_TOKEN.findall(fmt))
    bad = [t for t in tokens if t.startswith("%") and t != "%%" and t not in _DIRECTIVES]
    if bad:
        usable = {"date": "%Y %m %d", "datetime": "%Y %m %d %H %M %S %f %z", "time": "%H %M %S %f"}
        problems.add(
            path,
            f"format {fmt!r}: directives {bad} are not supported; use {usable[typ]}"
            + " (a two-digit year or a month name would be a guess)",
        )
        return None
    out = DateFormat(tokens)
    comps = out.components
    need = {"date": ["Y", "m", "d"], "datetime": ["Y", "m", "d", "H", "M"], "time": ["H", "M"]}[typ]
    allowed = set(need) | {"datetime": {"S", "f", "z"}, "time": {"S", "f"}}.get(typ, set())
    missing = [f"%{c}" for c in need if c not in comps]
    twice = sorted({f"%{c}" for c in comps if comps.count(c) > 1})
    extra = sorted({f"%{c}" for c in comps if c not in allowed})
    if missing or twice or extra:
        problems.add(
            path,
            f"format {fmt!r} of a {typ} needs each of {['%' + c for c in need]} once"
            + (f"; missing {missing}" if missing else "")
            + (f"; repeated {twice}" if twice else "")
            + (f"; {extra} do not belong in a {typ}" if extra else ""),
        )
        return None
    if "f" in comps and "S" not in comps:
        problems.add(path, f"format {fmt!r}: %f (fraction of a second) needs %S")
        return None
    return out


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # a Table Schema type (TYPES)
    required: bool = False
    missing_values: tuple[str, ...] = ("",)
    format: DateFormat | None = None  # dates/datetimes in a declared (non-default) format
    string_format: str | None = None  # strings: a key of STRING_FORMATS
    precision: int | None = None
    scale: int | None = None
    true_values: tuple[str, ...] = DEFAULT_TRUE_VALUES
    false_values: tuple[str, ...] = DEFAULT_FALSE_VALUES
    decimal_char: str = "."
    group_char: str | None = None
    pattern: str | None = None  # constraints.pattern as declared (implicitly anchored)
    enum: tuple[str, ...] | None = None  # lexical values
    min_length: int | None = None
    max_length: int | None = None
    # range constraints: (keyword, lexical value), compared on the typed values
    ranges: tuple[tuple[str, str], ...] = ()

    @property
    def arrow_type(self) -> pa.DataType:
        import pyarrow as pa

        return {
            "string": pa.string(),
            "integer": pa.int64(),
            "boolean": pa.bool_(),
            "date": pa.date32(),
            "datetime": pa.timestamp("us", tz="UTC"),
            "time": pa.time64("us"),
            "year": pa.int32(),
            "yearmonth": pa.string(),  # Parquet has no month type; YYYY-MM sorts as time does
            "any": pa.string(),  # kept as the text
        }.get(self.type) or pa.decimal128(self.precision, self.scale)

    @property
    def type_pattern(self) -> str | None:
        """The anchored RE2 pattern a present (non-missing) value must match to be of the
        type; every match casts exactly. For strings the declared `format`'s (None for the
        default: any text)."""
        if self.type == "number":
            int_digits = self.precision - self.scale
            whole = f"[0-9]{{1,{int_digits}}}" if int_digits else "0"
            if self.group_char:
                groups = -(-max(int_digits, 1) // 3)
                g = _escape(self.group_char)
                whole = f"(?:{whole}|[0-9]{{1,3}}(?:{g}[0-9]{{3}}){{1,{groups}}})"
            # XML Schema's decimal form: the digits on one side of the mark may be left out
            # (`.5`, `5.`), not on both; the value is exact either way
            mark = _escape(self.decimal_char)
            if not self.scale:
                return f"^[+-]?{whole}{mark}?$"
            fraction = f"[0-9]{{1,{self.scale}}}"
            return f"^[+-]?(?:{whole}(?:{mark}(?:{fraction})?)?|{mark}{fraction})$"
        if self.type == "integer":
            if self.group_char:
                g = _escape(self.group_char)
                return f"^[+-]?(?:[0-9]{{1,19}}|[0-9]{{1,3}}(?:{g}[0-9]{{3}}){{1,6}})$"
            return _INT64
        if self.type == "boolean":
            words = sorted(self.true_values + self.false_values, key=lambda w: (-len(w), w))
            return "^(?:" + "|".join(_escape(w) for w in words) + ")$"
        if self.type in ("date", "datetime", "time"):
            if self.format is not None:
                return self.format.calendar_pattern()
            return {"date": _DATE, "datetime": _TIMESTAMP_UTC, "time": _TIME}[self.type]
        if self.string_format:
            return STRING_FORMATS[self.string_format][1]
        return {"year": _YEAR_ONLY, "yearmonth": _YEAR_MONTH}.get(self.type)

    @property
    def anchored_pattern(self) -> str | None:
        """constraints.pattern with Table Schema's implicit anchoring (the whole value), in
        RE2 form with XML Schema's meaning of `\\d \\w \\s`, their negations and `.`
        (etl.xsdregex)."""
        if self.pattern is None:
            return None
        body = self.pattern
        if body.startswith("^"):
            body = body[1:]
        if body.endswith("$") and not body.endswith("\\$"):
            body = body[:-1]
        return f"^(?:{to_re2(body)})$"

    @property
    def screen_pattern(self) -> str | None:
        """The one anchored pattern a present value must match (type form or constraints
        pattern), for the combined per-row screen."""
        return self.type_pattern if self.type != "string" else self.anchored_pattern

    def describe(self) -> str:
        """Human wording of the expected form, used in reject reasons (never the value)."""
        if self.type == "number":
            marks = ""
            if self.decimal_char != "." or self.group_char:
                marks = f", decimal mark {self.decimal_char!r}" + (
                    f", digit groups by {self.group_char!r}" if self.group_char else ""
                )
            return (
                f"a decimal({self.precision},{self.scale}) (at most "
                f"{self.precision - self.scale} integer and {self.scale} fraction digits{marks})"
            )
        if self.type == "integer":
            return "a 64-bit integer"
        if self.type == "boolean":
            return f"one of {list(self.true_values)} or {list(self.false_values)}"
        if self.type == "string":
            return STRING_FORMATS[self.string_format][0] if self.string_format else "a string"
        if self.format is not None:
            what = {"date": "a date", "datetime": "a date and time", "time": "a time of day"}
            return f"{what[self.type]} in the format {''.join(self.format.tokens)}"
        return {
            "date": "a date YYYY-MM-DD",
            "time": "a time of day HH:MM:SS (up to 6 fraction digits)",
            "year": "a year YYYY",
            "yearmonth": "a year and month YYYY-MM",
        }.get(self.type, "an ISO-8601 UTC timestamp like 2024-03-01T12:34:56Z")


# Kept as the name the rest of the core uses for a schema's field.
Column = Field


@dataclass(frozen=True)
class Schema:
    name: str
    version: int | str
    delimiter: str
    columns: tuple[Field, ...]
    max_rejected_share: float = DEFAULT_MAX_REJECTED_SHARE

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def fields(self) -> tuple[Field, ...]:
        return self.columns

    @property
    def arrow_schema(self) -> pa.Schema:
        import pyarrow as pa

        return pa.schema(
            [pa.field(c.name, c.arrow_type, nullable=not c.required) for c in self.columns],
            metadata={"schema_name": self.name, "schema_version": str(self.version)},
        )

    def column(self, name: str) -> Field:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def __getattr__(name: str):
    """The rejects' Arrow schema, built on first use: this module imports without pyarrow
    so that `build.py` can check a schema in the interpreter that packages."""
    if name not in ("FAILURE_TYPE", "REJECTS_SCHEMA"):
        raise AttributeError(name)
    import pyarrow as pa

    failure = pa.struct(
        [
            pa.field("column", pa.string()),  # null for record-level rules (fields, encoding)
            pa.field("rule", pa.string(), nullable=False),
            pa.field("value", pa.string()),  # the offending value as it was in the file
        ]
    )
    rejects = pa.schema(
        [
            pa.field("line", pa.int64(), nullable=False),
            pa.field("reason", pa.string(), nullable=False),
            pa.field("raw", pa.string(), nullable=False),
            pa.field("failures", pa.list_(failure), nullable=False),
        ]
    )
    globals().update(FAILURE_TYPE=failure, REJECTS_SCHEMA=rejects)
    return globals()[name]


# The document checks live in a sibling module (one concern per file): imported last, as
# they build the classes above; re-exported, so `etl.schema` stays the one entry point.
from .schema_check import check_re2 as check_re2  # noqa: E402
from .schema_check import check_schema_file as check_schema_file  # noqa: E402
from .schema_check import load_schema as load_schema  # noqa: E402
from .schema_check import parse_schema as parse_schema  # noqa: E402
