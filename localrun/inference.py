"""Inferring a Table Schema from CSV values: per-block summaries, a merge that only widens.

A summary records, per column, what the values rule out. Each candidate type is a `Probe`:
the pipeline's own lexical pattern for that type and format (taken from `etl.schema`, so a
value a probe accepts is a value the processor accepts). For every probe the summary keeps
the first value that does not fit it (by position in the file), and besides the counts of
missing-value candidates (`""`, `NA`, `null`, ...), the digits a number needs and the
boolean words seen. Two summaries merge by the earlier failure, the sum of counts, the
larger digit counts and the union of words: commutative and associative, so the result
does not depend on how the file was cut or in which order the pieces were read.

`summarize_block` is vectorised (Arrow kernels over a block's string columns): one
membership test per column for the missing candidates, and per surviving probe one regex
match. A probe is first tried on the block's first rows in Python (its compiled pattern
cached), where nearly every probe that fails fails: Arrow compiles a pattern on every call,
which for the calendar-exact date patterns costs more than matching a block's first rows.
Reading a chunk into blocks: `localrun.chunkread`; the decision: `localrun.describe`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Texts that stand for "no value" in published files. One found in a column that is
# otherwise typed becomes a missing value of the schema (`missingValues`).
MISSING_CANDIDATES = ("", "NA", "N/A", "n/a", "na", "NaN", "nan", "null", "NULL", "None", "-")
# Boolean word pairs, in the order they are declared. "1"/"0" are integers here.
BOOLEAN_WORDS = (
    ("true", "false"),
    ("True", "False"),
    ("TRUE", "FALSE"),
    ("yes", "no"),
    ("Yes", "No"),
    ("YES", "NO"),
    ("Y", "N"),
    ("y", "n"),
)
# Date and datetime forms tried, in order of preference where several fit (`%d/%m/%Y`
# before `%m/%d/%Y`: a file whose days never pass 12 is ambiguous, and the summary says so).
DATE_FORMATS = ("default", "%Y/%m/%d", "%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y")
DATETIME_FORMATS = (
    "default",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
)
# Number forms tried, plain ones first: (decimal mark, digit-group mark or None). A value
# both readings admit (`1,234`: 1.234 or 1234) takes the plain one; a column decides by
# what every one of its values admits (`1,234,567` or `1,5` rule out the other reading).
NUMBER_FORMS = ((".", None), (",", None), (".", ","), (",", "."))
GROUPED_INTEGERS = (",", ".")  # the digit-group marks tried for integers
HEAD_ROWS = 64  # a probe is tried on a block's first rows (in Python) before all of them
_BOOLEAN_SET = frozenset(w for pair in BOOLEAN_WORDS for w in pair)
_CANDIDATE_SET = frozenset(MISSING_CANDIDATES)
_INT64_MAX = pa.scalar(2**63 - 1, pa.decimal128(38, 0))
_INT64_MIN = pa.scalar(-(2**63), pa.decimal128(38, 0))


@dataclass(frozen=True)
class Probe:
    """A candidate type: the field keywords it stands for and the pattern a value must match."""

    name: str  # how the summary names it: "integer", "number", "date %d/%m/%Y", ...
    doc: dict  # the Table Schema keywords of a field of this type ({"type": "date", ...})
    pattern: str | None  # anchored RE2 pattern; None: membership in BOOLEAN_WORDS

    @property
    def type(self) -> str:
        return self.doc["type"]

    def fits(self, value: str) -> bool:
        """Whether one value fits (Python's `re` reads these patterns as RE2 does: classes,
        groups and counted repeats only), for a block's first rows."""
        if self.pattern is None:
            return value in _BOOLEAN_SET
        if not _compiled(self.pattern).fullmatch(value):
            return False
        if self.type != "integer":
            return True
        return -(2**63) <= int(value.replace(self.group or "", "")) < 2**63

    @property
    def group(self) -> str | None:
        """The digit-group mark of a number or integer form (None: plain digits)."""
        return self.doc.get("groupChar")

    @property
    def mark(self) -> str:
        """The decimal mark of a number form."""
        return self.doc.get("decimalChar", ".")


@cache
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def _field_pattern(doc: dict) -> str:
    from etl.schema_check import parse_schema

    return parse_schema({"fields": [{"name": "x", **doc}]}).fields[0].type_pattern


def _dated(typ: str, fmt: str) -> Probe:
    doc = {"type": typ}
    if fmt != "default":
        doc["format"] = fmt
        if typ == "datetime" and "%z" not in fmt:
            doc["timezone"] = "UTC"
    return Probe(f"{typ} {fmt}" if fmt != "default" else typ, doc, _field_pattern(doc))


def _number(mark: str, group: str | None) -> Probe:
    """A number form: digits, optionally in groups of three after the first one to three
    (`1,234,567`), optionally a fraction after `mark`."""
    doc: dict = {"type": "number"}
    if mark != ".":
        doc["decimalChar"] = mark
    name = "number"
    if group is not None:
        doc["groupChar"] = group
        name += f" (digit groups {group!r}"
        name += ")" if mark == "." else f", decimal mark {mark!r})"
    elif mark != ".":
        name += f" (decimal mark {mark!r})"
    whole = "[0-9]+"
    if group is not None:
        whole = rf"(?:[0-9]+|[0-9]{{1,3}}(?:\{group}[0-9]{{3}})+)"
    return Probe(name, doc, rf"^[+-]?{whole}(?:\{mark}[0-9]+)?$")


@cache
def probes() -> tuple[Probe, ...]:
    """Every candidate type, narrowest first: the decision takes the first none ruled out."""
    found = [
        Probe("boolean", {"type": "boolean"}, None),
        Probe("integer", {"type": "integer"}, _field_pattern({"type": "integer"})),
    ]
    found += [_number(mark, group) for mark, group in NUMBER_FORMS if group is None]
    for group in GROUPED_INTEGERS:
        doc = {"type": "integer", "groupChar": group}
        found.append(Probe(f"integer (digit groups {group!r})", doc, _field_pattern(doc)))
    found += [_number(mark, group) for mark, group in NUMBER_FORMS if group is not None]
    found += [_dated("date", f) for f in DATE_FORMATS]
    found += [_dated("datetime", f) for f in DATETIME_FORMATS]
    found.append(Probe("time", {"type": "time"}, _field_pattern({"type": "time"})))
    found.append(Probe("yearmonth", {"type": "yearmonth"}, _field_pattern({"type": "yearmonth"})))
    return tuple(found)


@dataclass(frozen=True)
class Where:
    """A value at a place in the input; ordered by the place (file, then byte offset)."""

    file: int  # index of the file among those described
    offset: int  # byte offset of the record in its file
    chunk: int  # byte offset of the chunk that read it (its line count is in the summary)
    line: int  # 0-based line of the record within that chunk
    value: str | None  # the value as in the file (None for a record-level finding)

    @property
    def key(self) -> tuple[int, int]:
        return (self.file, self.offset)


def _earlier(a: Where | None, b: Where | None) -> Where | None:
    if a is None or b is None:
        return a or b
    return a if a.key <= b.key else b


@dataclass
class ColumnSummary:
    """What one column's values rule out; merge with `merged`."""

    present: int = 0  # values that are not a missing-value candidate
    missing: dict[str, int] = field(default_factory=dict)  # candidate text -> count
    failures: dict[str, Where] = field(default_factory=dict)  # probe -> first misfit
    int_digits: dict[str, int] = field(default_factory=dict)  # number probe -> digits needed
    scale: dict[str, int] = field(default_factory=dict)  # number probe -> fraction digits
    words: frozenset[str] = frozenset()  # boolean words seen

    def merged(self, other: ColumnSummary) -> ColumnSummary:
        failures = dict(self.failures)
        for name, where in other.failures.items():
            failures[name] = _earlier(failures.get(name), where)
        return ColumnSummary(
            present=self.present + other.present,
            missing=_sum(self.missing, other.missing),
            failures=dict(sorted(failures.items())),
            int_digits=_max(self.int_digits, other.int_digits),
            scale=_max(self.scale, other.scale),
            words=self.words | other.words,
        )


def _sum(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in sorted(a.keys() | b.keys())}


def _max(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: max(a.get(k, 0), b.get(k, 0)) for k in sorted(a.keys() | b.keys())}


@dataclass
class Summary:
    """What the records of some chunks rule out, per column in header order."""

    names: tuple[str, ...]
    columns: list[ColumnSummary]
    records: int = 0
    wrong_width: int = 0  # records with another number of fields than the header
    first_wrong_width: Where | None = None
    # (file, chunk start) -> newlines in that chunk, and file -> newlines up to its data:
    # enough to turn a Where into a line of its file
    chunk_lines: dict[tuple[int, int], int] = field(default_factory=dict)
    header_lines: dict[int, int] = field(default_factory=dict)

    @classmethod
    def empty(cls, names: tuple[str, ...]) -> Summary:
        return cls(names, [ColumnSummary() for _ in names])

    def merged(self, other: Summary) -> Summary:
        if self.names != other.names:
            raise ValueError(f"different columns: {self.names} and {other.names}")
        return Summary(
            self.names,
            [a.merged(b) for a, b in zip(self.columns, other.columns, strict=True)],
            self.records + other.records,
            self.wrong_width + other.wrong_width,
            _earlier(self.first_wrong_width, other.first_wrong_width),
            dict(sorted({**self.chunk_lines, **other.chunk_lines}.items())),
            dict(sorted({**self.header_lines, **other.header_lines}.items())),
        )

    def select(self, names: tuple[str, ...]) -> Summary:
        """The same summary with its columns in the order of `names` (the same names)."""
        if names == self.names:
            return self
        by_name = dict(zip(self.names, self.columns, strict=True))
        return replace(self, names=names, columns=[by_name[n] for n in names])

    def line_of(self, where: Where) -> int:
        """The 1-based line of its file where the record of `where` starts."""
        chunks = self.chunk_lines.items()
        before = sum(n for (f, at), n in chunks if f == where.file and at < where.chunk)
        return self.header_lines.get(where.file, 0) + before + where.line + 1


# ---------------------------------------------------------------------------
# one block
# ---------------------------------------------------------------------------


class BlockRows:
    """Where a block's parsed rows are: the records of `index` less the `skipped` ones (the
    records' places are only worked out for the few rows a summary names)."""

    def __init__(self, file: int, chunk: int, offset: int, line: int, index, skipped=()):
        self.file, self.chunk = file, chunk
        self.offset, self.line = offset, line  # of the block: in the file, in the chunk
        self.index = index
        self.skipped = [s for s, _ in skipped]
        self._records: np.ndarray | None = None

    def record(self, row: int) -> int:
        if not self.skipped:
            return row
        if self._records is None:
            keep = np.ones(len(self.index), dtype=bool)
            keep[self.skipped] = False
            self._records = np.flatnonzero(keep)
        return int(self._records[row])

    def at(self, row: int, value: str | None) -> Where:
        """The place of parsed row `row`."""
        return self.at_record(self.record(row), value)

    def at_record(self, record: int, value: str | None) -> Where:
        """The place of record `record` of the block (skipped or not)."""
        return Where(
            self.file,
            self.offset + int(self.index.starts[record]),
            self.chunk,
            self.line + int(self.index.line_of(record)),
            value,
        )


def summarize_block(
    table: pa.Table, rows: BlockRows, skip: dict[str, set[str]] | None = None
) -> list[ColumnSummary]:
    """A summary per column of one parsed block (every column a string array).

    `skip` (column -> probe names) lists probes already ruled out earlier in the same
    chunk: their first failure is known, so they are not run again."""
    skip = skip or {}
    return [
        _summarize_column(_one_array(table.column(i)), rows, skip.get(name, set()))
        for i, name in enumerate(table.column_names)
    ]


def _one_array(col: pa.ChunkedArray) -> pa.Array:
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()


@cache
def _candidates() -> pa.Array:
    return pa.array(MISSING_CANDIDATES, pa.string())


def _summarize_column(values: pa.Array, rows: BlockRows, skip: set[str]) -> ColumnSummary:
    out = ColumnSummary()
    candidate = pc.is_in(values, value_set=_candidates())
    n_candidates = pc.sum(candidate).as_py() or 0
    out.present = len(values) - n_candidates
    if n_candidates:
        counts = pc.value_counts(values.filter(candidate))
        out.missing = dict(
            sorted(zip(counts.field(0).to_pylist(), counts.field(1).to_pylist(), strict=True))
        )
    if not out.present:
        return out
    head = values.slice(0, HEAD_ROWS).to_pylist()
    for probe in probes():
        if probe.name in skip:
            continue
        bad = next(
            (i for i, v in enumerate(head) if v not in _CANDIDATE_SET and not probe.fits(v)),
            None,
        )
        if bad is None and len(values) > len(head):
            bad = _first_misfit(values, candidate, probe)
        if bad is not None:
            out.failures[probe.name] = rows.at(bad, values[bad].as_py())
    if "boolean" not in out.failures and "boolean" not in skip:
        out.words = frozenset(pc.unique(values).to_pylist()) - set(MISSING_CANDIDATES)
    for probe in probes():
        if probe.type == "number" and probe.name not in out.failures and probe.name not in skip:
            digits = _digits(values, candidate, probe.mark, probe.group)
            out.int_digits[probe.name], out.scale[probe.name] = digits
    return out


def _fits(values: pa.Array, candidate: pa.Array, probe: Probe) -> pa.Array:
    """True where the value fits the probe or is a missing-value candidate."""
    if probe.pattern is None:
        words = pa.array([w for pair in BOOLEAN_WORDS for w in pair], pa.string())
        return pc.or_(pc.is_in(values, value_set=words), candidate)
    return pc.or_(pc.match_substring_regex(values, probe.pattern), candidate)


def _first_misfit(values: pa.Array, candidate: pa.Array, probe: Probe) -> int | None:
    """The first row whose value does not fit `probe` (None if every value fits)."""
    fits = _fits(values, candidate, probe)
    if probe.type == "integer":
        plain = pc.replace_substring(values, probe.group, "") if probe.group else values
        fits = pc.and_(fits, pc.invert(_int64_overflow(plain, fits)))
    at = pc.index(fits, False).as_py()
    return at if at >= 0 else None


def _int64_overflow(values: pa.Array, fits: pa.Array) -> pa.Array:
    """True where a value of the integer form does not fit 64 bits (as the processor checks)."""
    if (pc.max(pc.binary_length(values)).as_py() or 0) < 19:
        return pa.array(np.zeros(len(values), dtype=bool))
    long_fit = pc.and_(fits, pc.greater_equal(pc.binary_length(values), 19))
    digits = pc.if_else(long_fit, values, pa.scalar(None, pa.string()))  # digits or null
    as_dec = pc.cast(digits, pa.decimal128(38, 0))
    big = pc.or_(pc.greater(as_dec, _INT64_MAX), pc.less(as_dec, _INT64_MIN))
    return pc.fill_null(big, False)


def _digits(values: pa.Array, candidate: pa.Array, mark: str, group: str | None) -> tuple[int, int]:
    """(integer digits, fraction digits) a decimal needs to hold every value, all of which
    fit the number form with `mark` and `group` (digit-group marks are not digits). A whole
    part of "0" needs no integer digit (the processor's DECIMAL(s, s) form takes "0.25")."""
    text = pc.if_else(candidate, "", values)
    if group is not None:
        text = pc.replace_substring(text, group, "")
    unsigned = pc.utf8_ltrim(text, characters="+-")
    length = pc.binary_length(unsigned)
    at = pc.find_substring(unsigned, mark)
    has_mark = pc.greater_equal(at, 0)
    whole = pc.if_else(has_mark, at, length)
    fraction = pc.if_else(has_mark, pc.subtract(pc.subtract(length, at), 1), 0)
    zero_whole = pc.and_(pc.equal(whole, 1), pc.starts_with(unsigned, "0"))
    whole = pc.if_else(zero_whole, 0, whole)
    return int(pc.max(whole).as_py() or 0), int(pc.max(fraction).as_py() or 0)
