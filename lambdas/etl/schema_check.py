"""Checking a schema document (etl.schema's loader): every problem, with its JSON path.

`parse_schema`, `load_schema` and `check_schema_file` are the entry points; `etl.schema`
holds the types they build (and never imports this module). One small function per keyword
group, so the document rules can be read (and extended) one concern at a time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .errors import SchemaConfigError
from .schema import (
    _APPLIES,
    _CONSTRAINTS,
    _DIALECT_KEYS,
    _DOCUMENTARY,
    _FIELD_KEYS,
    _RANGE,
    _SCHEMA_KEYS,
    DEFAULT_MAX_REJECTED_SHARE,
    DEFAULT_NUMBER_PRECISION,
    DEFAULT_NUMBER_SCALE,
    STRING_FORMATS,
    TYPES,
    UNSUPPORTED,
    UNSUPPORTED_TYPES,
    DateFormat,
    Field,
    Schema,
    _parse_format,
)
from .xsdregex import NotTranslatable, to_re2

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


@dataclass(frozen=True)
class _FieldDoc:
    """One field's document while it is checked: where it is, its type, the problems."""

    doc: dict
    path: str
    typ: str
    problems: _Problems

    def add(self, key: str, message: str) -> None:
        self.problems.add(f"{self.path}.{key}", message)

    def only_for(self, key: str, types: set[str]) -> bool:
        """Whether the field sets `key`, which must be one for `types` (else a problem)."""
        if key in self.doc and self.typ not in types:
            self.add(key, f"'{key}' applies to {sorted(types)} fields, not {self.typ}")
            return False
        return key in self.doc


def _field(doc: Any, path: str, schema_missing: tuple[str, ...], problems: _Problems):
    """A Field from its document (None if it has problems; each is added to `problems`)."""
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
    problems.unknown_keys(constraints, f"{path}.constraints", _CONSTRAINTS, "constraints")
    typ = _field_type(doc, path, problems)
    if typ is None:
        return None
    f = _FieldDoc(doc, path, typ, problems)
    kw: dict[str, Any] = {
        **_missing_values(f, schema_missing),
        **_date_format(f),
        **_number(f),
    }
    kw.update(_number_marks(f, kw))
    kw.update(_booleans(f))
    _timezone(f, kw.get("format"))
    kw.update(_constraints(f, constraints))
    if name is None:
        return None
    field = Field(name, typ, **{k: v for k, v in kw.items() if v is not None})
    return _constraint_values(field, constraints, f"{path}.constraints", problems)


def _field_type(doc: dict, path: str, problems: _Problems) -> str | None:
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
    return typ


def _missing_values(f: _FieldDoc, schema_missing: tuple[str, ...]) -> dict[str, Any]:
    missing = f.doc.get("missingValues", None)
    if missing is None:
        return {"missing_values": schema_missing}
    if not _strings(missing):
        f.add("missingValues", 'must be a list of strings (e.g. ["", "NA"])')
        return {}
    return {"missing_values": tuple(missing)}


def _date_format(f: _FieldDoc) -> dict[str, Any]:
    fmt = f.doc.get("format", "default")
    if fmt in ("default", None):
        return {}
    if f.typ == "string":
        if fmt not in STRING_FORMATS:
            f.add(
                "format",
                f"format {fmt!r} is not supported for string fields; use 'default' or one of "
                f"{sorted(STRING_FORMATS)} (or a constraints.pattern)",
            )
            return {}
        return {"string_format": fmt}
    dated = f.typ in ("date", "datetime", "time")
    if not (dated and isinstance(fmt, str)):
        f.add(
            "format",
            f"format {fmt!r} is not supported for {f.typ} fields (only 'default'"
            + (", or a strptime pattern like %d.%m.%Y)" if dated else ")"),
        )
        return {}
    if fmt == "any":
        f.add("format", "format 'any' would guess the date form; declare a pattern like %d/%m/%Y")
        return {}
    return {
        "format": _parse_format(fmt.removeprefix("fmt:"), f.typ, f"{f.path}.format", f.problems)
    }


def _number(f: _FieldDoc) -> dict[str, Any]:
    """precision and scale: a number's, both or neither (then DECIMAL(38, 18)); refused
    elsewhere."""
    if f.typ != "number":
        f.only_for("precision", {"number"})
        f.only_for("scale", {"number"})
        return {}
    if "precision" not in f.doc and "scale" not in f.doc:
        return {"precision": DEFAULT_NUMBER_PRECISION, "scale": DEFAULT_NUMBER_SCALE}
    precision, scale = f.doc.get("precision"), f.doc.get("scale")
    if not (
        isinstance(precision, int)
        and isinstance(scale, int)
        and not isinstance(precision, bool)
        and 1 <= precision <= 38
        and 0 <= scale <= precision
    ):
        f.problems.add(
            f.path,
            "a number field needs the extensions 'precision' (1..38) and 'scale' "
            f"(0..precision) for its exact Parquet DECIMAL, got precision={precision!r} "
            f"scale={scale!r} (leave both out for DECIMAL({DEFAULT_NUMBER_PRECISION}, "
            f"{DEFAULT_NUMBER_SCALE}))",
        )
        return {}
    return {"precision": precision, "scale": scale}


def _mark(f: _FieldDoc, key: str, types: set[str]) -> str | None:
    """A decimal or group mark: one character other than a digit."""
    if not f.only_for(key, types):
        return None
    value = f.doc[key]
    if not _char(value) or value.isdigit():
        f.add(key, "must be one character other than a digit")
        return None
    return value


def _number_marks(f: _FieldDoc, kw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    decimal = _mark(f, "decimalChar", {"number"})
    if decimal is not None:
        out["decimal_char"] = decimal
    group = _mark(f, "groupChar", {"number", "integer"})
    if group is not None:
        out["group_char"] = group
    if f.typ == "number" and group is not None and group == out.get("decimal_char", "."):
        f.add("groupChar", "must differ from the decimal character")
    if f.only_for("bareNumber", {"number", "integer"}) and f.doc["bareNumber"] is not True:
        f.add(
            "bareNumber",
            "only true is supported: stripping '€' or '%' around numbers would change their "
            "meaning; remove them at the source",
        )
    return out


def _booleans(f: _FieldDoc) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("trueValues", "falseValues"):
        if f.only_for(key, {"boolean"}):
            if not _strings(f.doc[key]) or not f.doc[key]:
                f.add(key, "must be a non-empty list of strings")
            else:
                out["true_values" if key == "trueValues" else "false_values"] = tuple(f.doc[key])
    both = set(out.get("true_values", ())) & set(out.get("false_values", ()))
    if both:
        f.add("trueValues", f"{sorted(both)} are both true and false values")
    return out


def _timezone(f: _FieldDoc, dt_format: DateFormat | None) -> None:
    if f.only_for("timezone", {"datetime"}) and f.doc["timezone"] != "UTC":
        f.add("timezone", "only 'UTC' is supported (values are stored in UTC)")
    if f.typ != "datetime" or dt_format is None:
        return
    has_zone = "z" in dt_format.components
    if not has_zone and f.doc.get("timezone") != "UTC":
        f.add(
            "format",
            'this datetime format has no zone (%z): add the extension "timezone": "UTC" '
            "to state that the values are UTC",
        )
    if has_zone and "timezone" in f.doc:
        f.add("timezone", "the format has %z: the values carry their zone")


def _constraints(f: _FieldDoc, constraints: dict) -> dict[str, Any]:
    """required, minLength/maxLength and pattern; then every constraint that does not
    apply to the field's type."""
    cpath = f"{f.path}.constraints"
    required = constraints.get("required", False)
    if not isinstance(required, bool):
        f.problems.add(f"{cpath}.required", "must be true or false")
    out: dict[str, Any] = {"required": required is True}
    for key in ("minLength", "maxLength"):
        if key in constraints and _APPLIES[key] >= {f.typ}:
            v = constraints[key]
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                f.problems.add(f"{cpath}.{key}", "must be a non-negative integer")
            else:
                out["min_length" if key == "minLength" else "max_length"] = v
    pattern = constraints.get("pattern")
    if pattern is not None and f.typ == "string":
        out["pattern"] = _pattern(pattern, f"{cpath}.pattern", f.problems)
    for key in constraints:
        if key in _APPLIES and f.typ not in _APPLIES[key]:
            f.problems.add(
                f"{cpath}.{key}", f"'{key}' applies to {sorted(_APPLIES[key])} fields, not {f.typ}"
            )
    return out


def _pattern(pattern: Any, path: str, problems: _Problems) -> str | None:
    """The declared pattern, if its RE2 form (etl.xsdregex: XML Schema's class escapes
    with their Unicode meaning) compiles; else None and the problem."""
    if not isinstance(pattern, str):
        problems.add(path, "must be a string (an RE2 regular expression)")
        return None
    try:
        why = check_re2(to_re2(pattern))
    except NotTranslatable as exc:
        why = str(exc)
    if why:
        problems.add(
            path,
            f"{pattern!r} is not a valid RE2 regular expression ({why}); patterns run on "
            "RE2: no lookarounds or backreferences",
        )
        return None
    return pattern


def _constraint_values(field: Field, constraints: dict, cpath: str, problems: _Problems) -> Field:
    """enum and range values: in the field's own lexical form, checked like data."""
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
        if key in constraints and field.type in _APPLIES[key]:
            v = _lexical(constraints[key], field, f"{cpath}.{key}", problems)
            if v is not None:
                ranges.append((key, v))
    if ranges:
        field = replace(field, ranges=tuple(ranges))
    return field


def _lexical(value: Any, field: Field, path: str, problems: _Problems) -> str | None:
    """A constraint value as the text a CSV value would have, checked like data."""
    if field.type == "number" and field.precision is None:
        return None  # its precision is invalid (reported): no form to check the value against
    if isinstance(value, bool) and field.type == "boolean":
        value = field.true_values[0] if value else field.false_values[0]
    elif (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and field.type in ("integer", "number", "year")
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
            f"Schema; see docs/schema.md):\n{lines}"
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
