"""The declared schema: a Frictionless Table Schema (+ CSV Dialect), loaded from JSON.

Validation, casts and the Parquet schema all come from here, so a user deploys another
schema by changing the JSON file, not the code. The vocabulary is Table Schema v2's
(https://datapackage.org/standard/table-schema/) with its names unchanged; what the
pipeline cannot honour is refused with a reason, and the few things Table Schema lacks are
documented extensions (`EXTENSIONS`). `check_schema_file` / `load_schema` report every
problem of a document at once, each with its JSON path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SchemaConfigError

if TYPE_CHECKING:
    import pyarrow as pa

# Table Schema types the pipeline stores, with their Parquet/Arrow type.
TYPES = ("string", "integer", "number", "boolean", "date", "datetime")
# Table Schema types refused, each with the reason.
UNSUPPORTED_TYPES = {
    "time": "a time of day has no exact Parquet type here; declare it a string with a pattern",
    "year": "declare it an integer with minimum/maximum",
    "yearmonth": "declare it a string with a pattern",
    "duration": "declare it a string with a pattern",
    "object": "JSON values are not stored; declare it a string",
    "array": "JSON values are not stored; declare it a string",
    "list": "lists are not stored; declare it a string",
    "geopoint": "declare it a string with a pattern",
    "geojson": "JSON values are not stored; declare it a string",
    "any": "every column needs one exact type (a string keeps any text)",
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
    "precision": "number fields: total decimal digits of the Parquet DECIMAL (1..38)",
    "scale": "number fields: fraction digits of the Parquet DECIMAL (0..precision)",
    "timezone": "datetime fields whose format has no %z: the zone of the values (only 'UTC')",
    "maxRejectedShare": "schema: the largest share of rejected rows a file may have (0..1)",
}
DEFAULT_MAX_REJECTED_SHARE = 0.10
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
    **{k: {"integer", "number", "date", "datetime"} for k in _RANGE},
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
        return "^(?:" + "|".join(branches) + ")$"

    def extract_pattern(self) -> str:
        """Pattern with one group per numeric component, in token order (for `extract`)."""
        parts = []
        for t in self.tokens:
            c = _DIRECTIVES.get(t)
            parts.append(_escape("%" if t == "%%" else t) if c is None else _EXTRACT[c])
        return "^" + "".join(parts) + "$"


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # a Table Schema type (TYPES)
    required: bool = False
    missing_values: tuple[str, ...] = ("",)
    format: DateFormat | None = None  # dates/datetimes in a declared (non-default) format
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
        }.get(self.type) or pa.decimal128(self.precision, self.scale)

    @property
    def type_pattern(self) -> str | None:
        """The anchored RE2 pattern a present (non-missing) value must match to be of the
        type; every match casts exactly. None for strings (no type form)."""
        if self.type == "number":
            int_digits = self.precision - self.scale
            whole = f"[0-9]{{1,{int_digits}}}" if int_digits else "0"
            if self.group_char:
                groups = -(-max(int_digits, 1) // 3)
                g = _escape(self.group_char)
                whole = f"(?:{whole}|[0-9]{{1,3}}(?:{g}[0-9]{{3}}){{1,{groups}}})"
            frac = f"(?:{_escape(self.decimal_char)}[0-9]{{1,{self.scale}}})?" if self.scale else ""
            return f"^[+-]?{whole}{frac}$"
        if self.type == "integer":
            if self.group_char:
                g = _escape(self.group_char)
                return f"^[+-]?(?:[0-9]{{1,19}}|[0-9]{{1,3}}(?:{g}[0-9]{{3}}){{1,6}})$"
            return _INT64
        if self.type == "boolean":
            words = sorted(self.true_values + self.false_values, key=lambda w: (-len(w), w))
            return "^(?:" + "|".join(_escape(w) for w in words) + ")$"
        if self.type in ("date", "datetime"):
            if self.format is not None:
                return self.format.calendar_pattern()
            return _DATE if self.type == "date" else _TIMESTAMP_UTC
        return None

    @property
    def anchored_pattern(self) -> str | None:
        """constraints.pattern with Table Schema's implicit anchoring (the whole value)."""
        if self.pattern is None:
            return None
        body = self.pattern
        if body.startswith("^"):
            body = body[1:]
        if body.endswith("$") and not body.endswith("\\$"):
            body = body[:-1]
        return f"^(?:{body})$"

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
        if self.format is not None:
            what = "a date" if self.type == "date" else "a date and time"
            return f"{what} in the format {''.join(self.format.tokens)}"
        if self.type == "date":
            return "a date YYYY-MM-DD"
        return "an ISO-8601 UTC timestamp like 2024-03-01T12:34:56Z"


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


# ---------------------------------------------------------------------------
# checking a document: every problem, with its JSON path
# ---------------------------------------------------------------------------


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))

    def unknown_keys(self, doc: dict, path: str, allowed: set[str], what: str) -> None:
        for key in doc:
            if key in allowed:
                continue
            reason = UNSUPPORTED.get(key)
            if reason:
                self.add(f"{path}.{key}", f"'{key}' is not supported: {reason}")
            else:
                known = sorted(allowed - _DOCUMENTARY)
                self.add(f"{path}.{key}", f"unknown keyword '{key}' in {what}; use one of {known}")


# Perl constructs RE2 refuses, for where Arrow's RE2 is not importable (build.py's interpreter)
_NOT_RE2 = re.compile(r"\(\?(?:[=!]|<[=!]|>|P=|\()|\\[1-9]|\\[gk][<{'0-9]")


def check_re2(pattern: str) -> str | None:
    """Why `pattern` is not a valid RE2 expression (None if it is). Compiled by the engine
    that runs it (Arrow's RE2), so lookarounds are refused and `\\p{L}` is accepted; where
    pyarrow is not installed, the Perl-only constructs RE2 refuses are looked for instead."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:
        found = _NOT_RE2.search(pattern)
        return f"RE2 has no {found.group()!r} (lookarounds, backreferences)" if found else None
    try:
        pc.match_substring_regex(pa.array([""], pa.string()), pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        return str(exc).removeprefix("Invalid regular expression: ")
    return None


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _char(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 1


def _parse_format(fmt: str, typ: str, path: str, problems: _Problems) -> DateFormat | None:
    tokens = tuple(_FORMAT_TOKEN.findall(fmt))
    bad = [t for t in tokens if t.startswith("%") and t != "%%" and t not in _DIRECTIVES]
    if bad:
        problems.add(
            path,
            f"format {fmt!r}: directives {bad} are not supported; use %Y %m %d"
            + (" %H %M %S %f %z" if typ == "datetime" else "")
            + " (a two-digit year or a month name would be a guess)",
        )
        return None
    out = DateFormat(tokens)
    comps = out.components
    need = ["Y", "m", "d"] + (["H", "M"] if typ == "datetime" else [])
    allowed = set(need) | ({"S", "f", "z"} if typ == "datetime" else set())
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


def _field(doc: Any, path: str, schema_missing: tuple[str, ...], problems: _Problems):  # noqa: C901 (issue 13: to split per type)
    if not isinstance(doc, dict):
        problems.add(path, "a field must be an object with at least a 'name'")
        return None
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        problems.add(f"{path}.name", "every field needs a non-empty string 'name'")
        name = None
    problems.unknown_keys(doc, path, _FIELD_KEYS, "a field")
    constraints = doc.get("constraints", {})
    if not isinstance(constraints, dict):
        problems.add(f"{path}.constraints", "must be an object")
        constraints = {}
    cpath = f"{path}.constraints"
    problems.unknown_keys(constraints, cpath, _CONSTRAINTS, "constraints")
    typ = doc.get("type", "string")
    if not isinstance(typ, str):
        problems.add(f"{path}.type", f"must be a string; use one of {list(TYPES)}")
        return None
    if typ in UNSUPPORTED_TYPES:
        problems.add(f"{path}.type", f"type '{typ}' is not supported: {UNSUPPORTED_TYPES[typ]}")
        return None
    if typ not in TYPES:
        problems.add(f"{path}.type", f"unknown type {typ!r}; use one of {list(TYPES)}")
        return None
    kw: dict[str, Any] = {}

    def only_for(key: str, types: set[str]) -> bool:
        if key in doc and typ not in types:
            problems.add(f"{path}.{key}", f"'{key}' applies to {sorted(types)} fields, not {typ}")
            return False
        return key in doc

    missing = doc.get("missingValues", None)
    if missing is None:
        kw["missing_values"] = schema_missing
    elif not _strings(missing):
        problems.add(f"{path}.missingValues", 'must be a list of strings (e.g. ["", "NA"])')
    else:
        kw["missing_values"] = tuple(missing)

    fmt = doc.get("format", "default")
    if fmt not in ("default", None):
        if typ in ("date", "datetime") and isinstance(fmt, str):
            if fmt == "any":
                problems.add(
                    f"{path}.format",
                    "format 'any' would guess the date form; declare a pattern like %d/%m/%Y",
                )
            else:
                kw["format"] = _parse_format(
                    fmt.removeprefix("fmt:"), typ, f"{path}.format", problems
                )
        else:
            problems.add(
                f"{path}.format",
                f"format {fmt!r} is not supported for {typ} fields (only 'default'"
                + (
                    ", or a strptime pattern like %d.%m.%Y)" if typ in ("date", "datetime") else ")"
                ),
            )

    if typ == "number":
        precision, scale = doc.get("precision"), doc.get("scale")
        if not (
            isinstance(precision, int)
            and isinstance(scale, int)
            and not isinstance(precision, bool)
            and 1 <= precision <= 38
            and 0 <= scale <= precision
        ):
            problems.add(
                path,
                "a number field needs the extensions 'precision' (1..38) and 'scale' "
                f"(0..precision) for its exact Parquet DECIMAL, got precision={precision!r} "
                f"scale={scale!r}",
            )
        else:
            kw["precision"], kw["scale"] = precision, scale
    else:
        only_for("precision", {"number"})
        only_for("scale", {"number"})

    if only_for("decimalChar", {"number"}):
        if not _char(doc["decimalChar"]) or doc["decimalChar"].isdigit():
            problems.add(f"{path}.decimalChar", "must be one character other than a digit")
        else:
            kw["decimal_char"] = doc["decimalChar"]
    if only_for("groupChar", {"number", "integer"}):
        if not _char(doc["groupChar"]) or doc["groupChar"].isdigit():
            problems.add(f"{path}.groupChar", "must be one character other than a digit")
        else:
            kw["group_char"] = doc["groupChar"]
    group, decimal = kw.get("group_char"), kw.get("decimal_char", ".")
    if typ == "number" and group is not None and group == decimal:
        problems.add(f"{path}.groupChar", "must differ from the decimal character")
    if only_for("bareNumber", {"number", "integer"}) and doc["bareNumber"] is not True:
        problems.add(
            f"{path}.bareNumber",
            "only true is supported: stripping '€' or '%' around numbers would change their "
            "meaning; remove them at the source",
        )

    for key in ("trueValues", "falseValues"):
        if only_for(key, {"boolean"}):
            if not _strings(doc[key]) or not doc[key]:
                problems.add(f"{path}.{key}", "must be a non-empty list of strings")
            else:
                kw["true_values" if key == "trueValues" else "false_values"] = tuple(doc[key])
    both = set(kw.get("true_values", ())) & set(kw.get("false_values", ()))
    if both:
        problems.add(f"{path}.trueValues", f"{sorted(both)} are both true and false values")

    if only_for("timezone", {"datetime"}) and doc["timezone"] != "UTC":
        problems.add(f"{path}.timezone", "only 'UTC' is supported (values are stored in UTC)")
    dt_format = kw.get("format")
    if typ == "datetime" and dt_format is not None:
        has_zone = "z" in dt_format.components
        if not has_zone and doc.get("timezone") != "UTC":
            problems.add(
                f"{path}.format",
                'this datetime format has no zone (%z): add the extension "timezone": "UTC" '
                "to state that the values are UTC",
            )
        if has_zone and "timezone" in doc:
            problems.add(f"{path}.timezone", "the format has %z: the values carry their zone")

    required = constraints.get("required", False)
    if not isinstance(required, bool):
        problems.add(f"{cpath}.required", "must be true or false")
    kw["required"] = required is True
    for key in ("minLength", "maxLength"):
        if key in constraints and _APPLIES[key] >= {typ}:
            v = constraints[key]
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                problems.add(f"{cpath}.{key}", "must be a non-negative integer")
            else:
                kw["min_length" if key == "minLength" else "max_length"] = v
    pattern = constraints.get("pattern")
    if pattern is not None and typ == "string":
        if not isinstance(pattern, str):
            problems.add(f"{cpath}.pattern", "must be a string (an RE2 regular expression)")
        else:
            why = check_re2(pattern)
            if why:
                problems.add(
                    f"{cpath}.pattern",
                    f"{pattern!r} is not a valid RE2 regular expression ({why}); patterns run on "
                    "RE2: no lookarounds or backreferences",
                )
            else:
                kw["pattern"] = pattern
    for key in constraints:
        if key in _APPLIES and typ not in _APPLIES[key]:
            problems.add(
                f"{cpath}.{key}", f"'{key}' applies to {sorted(_APPLIES[key])} fields, not {typ}"
            )
    if name is None:
        return None
    field = Field(name, typ, **{k: v for k, v in kw.items() if v is not None})
    # enum and range values: in the field's own lexical form, checked like data
    enum = constraints.get("enum")
    if enum is not None:
        if not isinstance(enum, list) or not enum:
            problems.add(f"{cpath}.enum", "must be a non-empty list of values")
        else:
            lexical = [
                _lexical(v, field, f"{cpath}.enum[{i}]", problems) for i, v in enumerate(enum)
            ]
            if all(v is not None for v in lexical):
                field = replace(field, enum=tuple(lexical))
    ranges = []
    for key in _RANGE:
        if key in constraints and typ in _APPLIES[key]:
            v = _lexical(constraints[key], field, f"{cpath}.{key}", problems)
            if v is not None:
                ranges.append((key, v))
    if ranges:
        field = replace(field, ranges=tuple(ranges))
    return field


def _lexical(value: Any, field: Field, path: str, problems: _Problems) -> str | None:
    """A constraint value as the text a CSV value would have, checked like data."""
    if isinstance(value, bool) and field.type == "boolean":
        value = field.true_values[0] if value else field.false_values[0]
    elif (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and field.type
        in (
            "integer",
            "number",
        )
    ):
        value = str(value)
        if field.type == "number" and field.decimal_char != ".":
            value = value.replace(".", field.decimal_char)
    if not isinstance(value, str):
        problems.add(path, f"must be a value of the field's type ({field.describe()})")
        return None
    pattern = field.type_pattern
    if pattern is not None and not re.fullmatch(pattern, value):  # same meaning in RE2
        problems.add(path, f"{value!r} is not {field.describe()}")
        return None
    return value


def parse_schema(doc: Any, where: str = "schema") -> Schema:
    """A Schema from a parsed JSON document; SchemaConfigError lists every problem."""
    problems = _Problems()
    schema = _parse(doc, problems)
    if problems.items:
        lines = "\n".join(f"  {path}: {message}" for path, message in problems.items)
        n = len(problems.items)
        err = SchemaConfigError(
            f"{where}: {n} problem{'s' if n > 1 else ''} in the schema (Frictionless Table "
            f"Schema; see the README's 'The schema'):\n{lines}"
        )
        err.problems = [{"path": p, "message": m, "file": where} for p, m in problems.items]
        raise err
    return schema


def _parse(doc: Any, problems: _Problems) -> Schema | None:
    if not isinstance(doc, dict):
        problems.add("$", "the schema must be a JSON object with a 'fields' list")
        return None
    if "columns" in doc and "fields" not in doc:
        problems.add(
            "$.columns",
            "this is the pre-Table Schema format: rename 'columns' to 'fields', 'allowed' to "
            "constraints.enum, 'required' into constraints, int64 -> integer, decimal -> "
            "number, timestamp -> datetime (see schemas/transactions.json)",
        )
        return None
    problems.unknown_keys(doc, "$", _SCHEMA_KEYS, "the schema")
    missing = doc.get("missingValues", [""])
    if not _strings(missing):
        problems.add("$.missingValues", 'must be a list of strings (e.g. ["", "NA"])')
        missing = [""]
    match = doc.get("fieldsMatch", "equal")
    if match != "equal":
        problems.add(
            "$.fieldsMatch",
            f"{match!r} is not supported: the header must name exactly the schema's fields, "
            "in any order ('equal')",
        )
    share = doc.get("maxRejectedShare", DEFAULT_MAX_REJECTED_SHARE)
    if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 <= share <= 1:
        problems.add("$.maxRejectedShare", "must be a number from 0 to 1 (e.g. 0.1 for 10%)")
        share = DEFAULT_MAX_REJECTED_SHARE
    delimiter = _dialect(doc.get("dialect", {}), problems)
    fields_doc = doc.get("fields")
    if not isinstance(fields_doc, list) or not fields_doc:
        problems.add("$.fields", "needs a non-empty list of fields")
        return None
    fields = [
        _field(f, f"$.fields[{i}]", tuple(missing), problems) for i, f in enumerate(fields_doc)
    ]
    names = [f.name for f in fields if f is not None]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.add("$.fields", f"duplicate field names {dupes}")
    version = doc.get("version", 1)
    if not isinstance(version, (int, str)) or isinstance(version, bool):
        problems.add("$.version", "must be a string or an integer")
    name = doc.get("name", "dataset")
    if not isinstance(name, str) or not name:
        problems.add("$.name", "must be a non-empty string")
    if problems.items:
        return None
    return Schema(name, version, delimiter, tuple(fields), float(share))


def _dialect(doc: Any, problems: _Problems) -> str:
    path = "$.dialect"
    if not isinstance(doc, dict):
        problems.add(path, "must be an object (CSV Dialect: delimiter, quoteChar, header, ...)")
        return ","
    problems.unknown_keys(doc, path, _DIALECT_KEYS, "the dialect")
    delimiter = doc.get("delimiter", ",")
    if not _char(delimiter) or delimiter in '"\r\n':
        problems.add(
            f"{path}.delimiter",
            f"must be one character other than a quote or newline, got {delimiter!r}",
        )
        delimiter = ","
    fixed = {
        "quoteChar": ('"', "only '\"' is parsed (RFC 4180)"),
        "doubleQuote": (True, "only doubled quotes are parsed (RFC 4180)"),
        "header": (True, "the first line must be the header naming the fields"),
        "skipInitialSpace": (False, "spaces are part of the value; a value is never trimmed"),
        "caseSensitiveHeader": (True, "header names are matched exactly"),
    }
    for key, (value, reason) in fixed.items():
        if key in doc and doc[key] != value:
            problems.add(f"{path}.{key}", f"{doc[key]!r} is not supported: {reason}")
    if "lineTerminator" in doc and doc["lineTerminator"] not in ("\n", "\r\n"):
        problems.add(
            f"{path}.lineTerminator", "records end with LF or CRLF (both are read either way)"
        )
    return delimiter


def load_schema(source: str | Path | bytes) -> Schema:
    """Load a schema from a path or from the JSON bytes of the document."""
    where = "schema"
    if isinstance(source, (str, Path)):
        where = str(source)
        try:
            source = Path(source).read_bytes()
        except OSError as exc:
            raise SchemaConfigError(f"{where}: cannot read the schema file: {exc}") from exc
    try:
        doc = json.loads(source)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SchemaConfigError(f"{where}: not valid JSON: {exc}") from exc
    return parse_schema(doc, where)


def check_schema_file(path: str | Path) -> Schema:
    """Check a schema file completely before anything runs (the local run before the
    emulator starts, `build.py` at package time): SchemaConfigError lists every problem
    with its JSON path and the file's name."""
    return load_schema(Path(path))
