"""The schema's rules on one parsed block: vectorised Arrow checks on the string columns.

Strict lexical checks first (the type's form, calendar-exact for dates and timestamps, or
the field's pattern), so nothing is coerced; then the checks that need typed values
(ranges, non-string enums); `cast_passed()` casts only rows that passed every check, so
a cast cannot fail. Also the reject reasons' wording, shared with the bench's peers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .schema import Column, Schema, _escape


@dataclass
class Check:
    column: str
    mask: pa.Array  # True where the row fails
    rule: str  # the Table Schema constraint or cause: type, required, enum, pattern, ...
    reason: str  # group-able: never holds the value (the value goes in the failure)


Failure = tuple[pa.Array, str, str]  # (failing mask, rule, reason)


def as_array(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One contiguous array (zero-copy when the parser produced a single chunk)."""
    if isinstance(col, pa.ChunkedArray):
        return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
    return col


_INT64_MAX = pa.scalar(2**63 - 1, pa.decimal128(38, 0))
_INT64_MIN = pa.scalar(-(2**63), pa.decimal128(38, 0))


def _int64_overflow(
    values: pa.Array, missing: pa.Array, failures: list[Failure]
) -> pa.Array | None:
    """The lexically valid int64 values that overflow 64 bits (None if there are none).
    Every other type's pattern admits only values that cast exactly: dates and timestamps
    are calendar-exact in the pattern (schema.py), decimals bounded in digits."""
    if (pc.max(pc.binary_length(values)).as_py() or 0) < 19:
        return None  # fewer than 19 digits always fit in 64 bits
    ok = pc.invert(missing)
    for mask, _, _ in failures:
        ok = pc.and_(ok, pc.invert(mask))
    as_dec = pc.cast(pc.if_else(ok, values, pa.scalar(None, pa.string())), pa.decimal128(38, 0))
    bad = pc.fill_null(pc.or_(pc.greater(as_dec, _INT64_MAX), pc.less(as_dec, _INT64_MIN)), False)
    return bad if pc.any(bad).as_py() else None


def _missing(values: pa.Array, col: Column) -> pa.Array:
    """True where the value is one of the field's missing values (Table Schema
    `missingValues`, default [""]): null if the field is optional, a reject if required."""
    if col.missing_values == ("",):
        return pc.equal(pc.binary_length(values), 0)
    if not col.missing_values:
        return pa.array(np.zeros(len(values), dtype=bool))
    return pc.is_in(values, value_set=pa.array(col.missing_values, pa.string()))


def rule_reason(col: Column, rule: str, value: str | None = None) -> str:
    """The reject reason of `rule` failing on `col` (never holds the data value): the one
    wording, used by the processor and by the bench's peers. `value` is the constraint's
    lexical value for the range rules."""
    if rule == "required":
        return f"{col.name}: a value is required"
    if rule == "pattern":
        return f"{col.name}: does not match the pattern {col.pattern}"
    if rule == "type":
        return f"{col.name}: not {col.describe()}"
    if rule == "enum":
        return f"{col.name}: not one of the enum values"
    if rule == "minLength":
        return f"{col.name}: shorter than {col.min_length} characters"
    if rule == "maxLength":
        return f"{col.name}: longer than {col.max_length} characters"
    return f"{col.name}: {_RANGE_RULES[rule][1]} {value}"


def fields_reason(expected: int) -> str:
    """The reject reason of a record with the wrong number of fields (the count found is
    the failure's value)."""
    return f"wrong number of fields: expected {expected}"


def _pattern_rule(col: Column) -> tuple[str, str]:
    rule = "pattern" if col.type == "string" else "type"
    return rule, rule_reason(col, rule)


def _string_rules(
    values: pa.Array, col: Column, *, with_pattern: bool = True
) -> tuple[pa.Array, list[Failure]]:
    """(missing mask, [(failing mask, rule, reason)]) for one string-valued array: every
    rule that needs no typed value (required, the type's lexical form or the pattern,
    and for strings enum, minLength, maxLength)."""
    missing = _missing(values, col)
    any_missing = pc.any(missing).as_py()
    failures: list[Failure] = []
    if col.required and any_missing:
        failures.append((missing, "required", rule_reason(col, "required")))
    present = pc.invert(missing) if any_missing else None

    def add(bad: pa.Array, rule: str, reason: str) -> None:
        bad = bad if present is None else pc.and_(present, bad)
        if pc.any(bad).as_py():
            failures.append((bad, rule, reason))

    if with_pattern and col.screen_pattern is not None:
        add(pc.invert(pc.match_substring_regex(values, col.screen_pattern)), *_pattern_rule(col))
    if col.type == "string" and col.string_format:  # after the pattern, as on the screened path
        bad = pc.invert(pc.match_substring_regex(values, col.type_pattern))
        add(bad, "type", rule_reason(col, "type"))
    if col.type == "string":
        if col.enum is not None:
            bad = pc.invert(pc.is_in(values, value_set=pa.array(col.enum, pa.string())))
            add(bad, "enum", rule_reason(col, "enum"))
        if col.min_length is not None or col.max_length is not None:
            length = pc.utf8_length(values)
            if col.min_length is not None:
                add(
                    pc.less(length, col.min_length),
                    "minLength",
                    rule_reason(col, "minLength"),
                )
            if col.max_length is not None:
                add(
                    pc.greater(length, col.max_length),
                    "maxLength",
                    rule_reason(col, "maxLength"),
                )
    return missing, failures


def _normalise(values: pa.Array, col: Column) -> pa.Array:
    """The field's text in the form Arrow casts exactly (digit groups removed, '.' as the
    decimal mark, dates rebuilt as ISO 8601); only called for declared non-default forms."""
    if col.type in ("integer", "number"):
        if col.group_char:
            values = pc.replace_substring(values, col.group_char, "")
        if col.type == "number" and col.decimal_char != ".":
            values = pc.replace_substring(values, col.decimal_char, ".")
        return values
    parts = pc.extract_regex(values, col.format.extract_pattern())
    comps = col.format.components

    def part(name: str, width: int = 2) -> pa.Array:
        return pc.utf8_lpad(pc.struct_field(parts, name), width=width, padding="0")

    def clock() -> list:
        pieces = [part("H"), ":", part("M"), ":", part("S") if "S" in comps else "00"]
        return pieces + ([".", pc.struct_field(parts, "f")] if "f" in comps else [])

    if col.type == "time":
        return pc.binary_join_element_wise(*clock(), "")
    pieces = [pc.struct_field(parts, "Y"), "-", part("m"), "-", part("d")]
    if col.type == "datetime":
        pieces += ["T", *clock(), "Z"]
    return pc.binary_join_element_wise(*pieces, "")


def _needs_normalising(col: Column) -> bool:
    return (
        col.format is not None
        or (col.type in ("integer", "number") and col.group_char is not None)
        or (col.type == "number" and col.decimal_char != ".")
    )


def _cast(values: pa.Array | pa.ChunkedArray, col: Column) -> pa.Array | pa.ChunkedArray:
    """Cast checked text to the field's type (booleans by the declared true words)."""
    if col.type == "boolean":
        is_true = pc.is_in(values, value_set=pa.array(col.true_values, pa.string()))
        return pc.if_else(pc.is_null(values), pa.scalar(None, pa.bool_()), is_true)
    if col.type == "time":  # Arrow casts no text to a time: the time of a timestamp
        at_epoch = pc.binary_join_element_wise("1970-01-01T", values, "")
        return pc.cast(pc.cast(at_epoch, pa.timestamp("us")), col.arrow_type)
    return pc.cast(values, col.arrow_type)


_RANGE_RULES = {
    "minimum": (pc.less, "less than the minimum"),
    "maximum": (pc.greater, "greater than the maximum"),
    "exclusiveMinimum": (pc.less_equal, "not greater than the exclusive minimum"),
    "exclusiveMaximum": (pc.greater_equal, "not less than the exclusive maximum"),
}


def _typed_value(text: str, col: Column) -> pa.Scalar:
    one = pa.array([text], pa.string())
    return _cast(_normalise(one, col) if _needs_normalising(col) else one, col)[0]


def _typed_rules(
    values: pa.Array, col: Column, bad_so_far: pa.Array | None
) -> tuple[pa.Array, list[Failure]]:
    """Range and (non-string) enum constraints, compared on the typed values of the rows
    that passed every other rule; returns the typed column (the cast is not repeated)."""
    ok_values = (
        values
        if bad_so_far is None
        else pc.if_else(bad_so_far, pa.scalar(None, values.type), values)
    )
    typed = _cast(ok_values, col)
    failures: list[Failure] = []
    for key, text in col.ranges:
        compare = _RANGE_RULES[key][0]
        bad = pc.fill_null(compare(typed, _typed_value(text, col)), False)
        if pc.any(bad).as_py():
            failures.append((bad, key, rule_reason(col, key, text)))
    if col.enum is not None:
        allowed = pa.array([_typed_value(v, col).as_py() for v in col.enum], col.arrow_type)
        bad = pc.and_(pc.is_valid(typed), pc.invert(pc.is_in(typed, value_set=allowed)))
        if pc.any(bad).as_py():
            failures.append((bad, "enum", rule_reason(col, "enum")))
    return typed, failures


SEP = "\x1f"  # unit separator: ends each value in the grouped screen, joins a row's values
# in the per-row one


# escapes that can never match the separator (RE2: \d [0-9], \w [0-9A-Za-z_], \s [\t\n\f\r ],
# the tab, LF, CR and FF escapes, assertions, and escaped punctuation)
_SAFE_ESCAPES = frozenset("dwsbBAz" + "tnrf" + "\\.+*?()[]{}|^$-/")
# Unicode general categories that hold no control character (the separator is Cc): what
# etl.xsdregex writes for XML Schema's \d and \w
_SAFE_CATEGORIES = frozenset(
    ("L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No")
    + ("P", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So")
    + ("Z", "Zs", "Zl", "Zp")
)


def _safe_category_end(pattern: str, i: int) -> int | None:
    """The index after `\\p{Cat}` / `\\pX` at `pattern[i]` if the category is in
    _SAFE_CATEGORIES, else None (`\\P`, `\\p{C}`, scripts: they may hold control characters)."""
    if pattern.startswith("\\p{", i):
        end = pattern.find("}", i)
        return end + 1 if end > 0 and pattern[i + 3 : end] in _SAFE_CATEGORIES else None
    if pattern.startswith("\\p", i) and pattern[i + 2 : i + 3] in _SAFE_CATEGORIES:
        return i + 3
    return None


@functools.lru_cache(maxsize=1024)
def separator_safe(pattern: str) -> bool:
    """True only if no string matched by `pattern` can hold the separator (conservative:
    anything it cannot read syntactically is unsafe). The grouped screen relies on it: a
    value's pattern that could match the separator could swallow the next value too.
    Cached: it depends on the schema's pattern only, and every block asks again."""
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch < " ":
            return False
        if ch == "\\":
            category_end = _safe_category_end(pattern, i)
            if category_end is not None:
                i = category_end
                continue
            if i + 1 >= len(pattern) or pattern[i + 1] not in _SAFE_ESCAPES:
                return False  # \x1f, \S, \W, \D, \pC, \P{Nd}, \C, octal, ...
            i += 2
            continue
        if in_class:
            if pattern.startswith("[:", i):
                return False  # [[:cntrl:]] and the like
            in_class = ch != "]"
        elif ch == "[":
            if pattern.startswith("[^", i):
                return False
            in_class = True
            if pattern.startswith("[]", i):
                i += 1  # a leading ] is a literal in the class
        elif ch == ".":
            return False
        i += 1
    return True


def _screenable(col: Column, table: pa.Table) -> bool:
    p = col.screen_pattern
    return (
        p is not None
        and p.startswith("^")
        and p.endswith("$")
        and "^" not in p[1:-1]
        and "$" not in p[1:-1]
        and not pa.types.is_dictionary(table.schema.field(col.name).type)
    )


def _screen(
    table: pa.Table, schema: Schema, *, may_hold_separator: bool = True
) -> dict[str, np.ndarray]:
    """The rows each screened column's pattern must still look at (its suspects); columns
    not in the result get every rule on every row. A row that passes a screen matches the
    pattern; suspects (rare) are matched by the pattern itself, so reasons stay exact.

    RE2's cost is mostly per call, so values are matched `SCREEN_GROUP_ROWS` at a time:
    each screened column (plain strings with an anchored lexical pattern) gets the
    separator appended to every value and its groups are matched at once. Only if the block
    may hold the separator byte itself are the columns joined per row instead (one regex per
    row, and a row whose values hold the separator is never trusted)."""
    cols = [c for c in schema.columns if _screenable(c, table)]
    if not cols or table.num_rows == 0:
        return {}
    parts = []
    for c in cols:
        body = f"(?:{c.screen_pattern[1:-1]})"
        if not c.required and c.missing_values:
            # a missing value passes the screen of an optional field (it becomes null)
            body = "(?:" + "|".join([body, *(_escape(m) for m in c.missing_values)]) + ")"
        parts.append(body)
    arrays = [as_array(table.column(c.name)) for c in cols]
    if not may_hold_separator:
        # one column at a time: appending a separator costs less than joining the columns
        # (measured in docs/decisions.md), and each column's suspects are its own failures
        return {
            c.name: _grouped_failures(_terminated(a), p + SEP)
            for c, a, p in zip(cols, arrays, parts, strict=True)
            if separator_safe(p)
        }
    if len(cols) < 2:
        return {}
    joined = pc.binary_join_element_wise(*arrays, SEP)
    ok = pc.match_substring_regex(joined, "^" + SEP.join(parts) + "$")
    # a value holding the separator itself could shift the field boundaries: never trust it
    # (only checked when the raw block holds the byte at all, which is rare)
    ok = pc.and_(ok, pc.equal(pc.count_substring(joined, SEP), len(cols) - 1))
    failed = np.flatnonzero(~ok.to_numpy(zero_copy_only=False))
    return {c.name: failed for c in cols}


def _terminated(values: pa.Array) -> pa.Array:
    """`values` with the separator appended to each (the values then lie back to back,
    each ending with it, in one buffer)."""
    end = 1 << 62  # past any value's end: the slice to replace is empty, at the end
    return pc.binary_replace_slice(values, start=end, stop=end, replacement=SEP)


# rows per regex call of the grouped screen; the optimum is flat (docs/decisions.md)
SCREEN_GROUP_ROWS = 64


def _grouped_failures(joined: pa.Array, row: str) -> np.ndarray:
    """The rows of `joined` that do not match `row` (which ends with the separator; no value
    holds it, and `row` cannot match it before its end: `separator_safe`). RE2's cost is
    mostly per call: one match over each group of rows (a zero-copy view of
    `SCREEN_GROUP_ROWS` consecutive values: `^(?:row)*$` matches exactly when every row
    does, since the separators can only align with the rows' own), then one per row of the
    groups that failed (each group with a reject)."""
    n = len(joined)
    if joined.null_count:
        return np.flatnonzero(
            ~pc.fill_null(pc.match_substring_regex(joined, f"^{row}$"), False).to_numpy(
                zero_copy_only=False
            )
        )
    width = np.int64 if pa.types.is_large_string(joined.type) else np.int32
    offsets = np.frombuffer(
        joined.buffers()[1], dtype=width, count=n + 1, offset=joined.offset * width().itemsize
    )
    starts = np.ascontiguousarray(offsets[::SCREEN_GROUP_ROWS])
    bounds = np.append(starts, offsets[-1]) if (n % SCREEN_GROUP_ROWS) else starts
    groups = pa.Array.from_buffers(
        joined.type, len(bounds) - 1, [None, pa.py_buffer(bounds), joined.buffers()[2]]
    )
    ok = pc.match_substring_regex(groups, f"^(?:{row})*$").to_numpy(zero_copy_only=False)
    failed = np.flatnonzero(~ok)
    if not len(failed):
        return failed
    rows = (failed[:, None] * SCREEN_GROUP_ROWS + np.arange(SCREEN_GROUP_ROWS)).ravel()
    rows = rows[rows < n]
    ok_rows = pc.match_substring_regex(joined.take(pa.array(rows)), f"^{row}$")
    return rows[~ok_rows.to_numpy(zero_copy_only=False)]


def _rules_on_suspects(
    values: pa.Array, col: Column, suspects: np.ndarray
) -> tuple[pa.Array, list[Failure]]:
    """`_string_rules` with the pattern evaluated on the screened-out rows only (scattered
    back to full size); the other rules are cheap and checked on every row."""
    missing, failures = _string_rules(values, col, with_pattern=False)
    if len(suspects):
        sub = values.take(pa.array(suspects))
        bad = pc.and_(
            pc.invert(_missing(sub, col)),
            pc.invert(pc.match_substring_regex(sub, col.screen_pattern)),
        )
        if pc.any(bad).as_py():
            full = np.zeros(len(values), dtype=bool)
            full[suspects] = bad.to_numpy(zero_copy_only=False)
            at = 1 if failures and failures[0][1] == "required" else 0
            failures.insert(at, (pa.array(full), *_pattern_rule(col)))
    return missing, failures


def _dictionary_column(values: pa.DictionaryArray, col: Column) -> tuple[pa.Array, list[Failure]]:
    """A dictionary-encoded (repeating) string column: the rules run once per distinct
    value and the masks are gathered through the indices; optional missing values -> null."""
    missing_d, failures_d = _string_rules(values.dictionary, col)
    indices = values.indices
    failures = [(pc.take(mask, indices), rule, reason) for mask, rule, reason in failures_d]
    if not col.required and pc.any(missing_d).as_py():
        missing = pc.take(missing_d, indices)
        values = pa.DictionaryArray.from_arrays(
            pc.if_else(missing, pa.scalar(None, indices.type), indices), values.dictionary
        )
    return values, failures


def _grouped_number_rule(
    values: pa.Array, col: Column, missing: pa.Array, failures: list[Failure]
) -> Failure | None:
    """Digit groups may hide too many integer digits: the plain (normalised) form decides."""
    plain = Column(col.name, "number", precision=col.precision, scale=col.scale)
    bad = pc.invert(pc.match_substring_regex(values, plain.type_pattern))
    bad = pc.and_(pc.invert(missing), pc.fill_null(bad, False))
    for mask, _, _ in failures:
        bad = pc.and_(bad, pc.invert(mask))
    return (bad, "type", rule_reason(col, "type")) if pc.any(bad).as_py() else None


def _plain_column(
    values: pa.Array, col: Column, suspects: dict[str, np.ndarray]
) -> tuple[pa.Array, list[Failure]]:
    """A plain string column: every rule, in check order; returns the column to keep."""
    if col.name in suspects:
        missing, failures = _rules_on_suspects(values, col, suspects[col.name])
    else:
        missing, failures = _string_rules(values, col)
    any_missing = pc.any(missing).as_py()
    if _needs_normalising(col):
        values = _normalise(values, col)
        if col.type == "number" and col.group_char:
            grouped = _grouped_number_rule(values, col, missing, failures)
            if grouped is not None:
                failures.append(grouped)
    if col.type == "integer":
        bad = _int64_overflow(values, missing, failures)
        if bad is not None:
            failures.append((bad, "type", rule_reason(col, "type")))
    if not col.required and any_missing:
        values = pc.if_else(missing, pa.scalar(None, pa.string()), values)
    if col.ranges or (col.enum is not None and col.type != "string"):
        bad_so_far = missing if any_missing else None
        for mask, _, _ in failures:
            bad_so_far = mask if bad_so_far is None else pc.or_(bad_so_far, mask)
        values, typed_failures = _typed_rules(values, col, bad_so_far)
        failures.extend(typed_failures)
    return values, failures


def validate(
    table: pa.Table, schema: Schema, *, may_hold_separator: bool = True
) -> tuple[list[Check], dict[str, pa.Array]]:
    """Run every rule of the schema on the string values; returns the failing-row masks and
    the columns to keep (optional missing values already null): still as text in a form
    that casts exactly, or already typed where a range/enum rule needed the typed values.

    Every way a value can fail its cast is a check here (the lexical form, which for dates
    and timestamps is calendar-exact, and the int64 range), so `cast_passed()` casts only
    rows that passed all of them and cannot fail.
    Dictionary-encoded columns (repeating values) are checked once per distinct value and
    the per-row masks are gathered through the indices.
    """
    checks: list[Check] = []
    kept: dict[str, pa.Array] = {}
    suspects = _screen(table, schema, may_hold_separator=may_hold_separator)
    for col in schema.columns:
        values = as_array(table.column(col.name))
        if pa.types.is_dictionary(values.type):  # string fields only
            values, failures = _dictionary_column(values, col)
        else:
            values, failures = _plain_column(values, col, suspects)
        checks.extend(Check(col.name, mask, rule, reason) for mask, rule, reason in failures)
        kept[col.name] = values
    return checks, kept


def cast_passed(table: pa.Table, schema: Schema) -> pa.Table:
    """Cast the string columns of rows that passed every check to the schema's types."""
    for i, col in enumerate(schema.columns):
        if col.type != "string" and table.schema.field(i).type != col.arrow_type:
            table = table.set_column(i, col.name, _cast(table.column(i), col))
    return table
