"""Schema versions and the compatibility check (like `buf breaking`, for Table Schemas).

A dataset's published Parquet is read through one Glue table per major version, whose
columns come from the newest schema of that major; old files stay as they were written. So
a change is compatible when every file written under the released schema still reads
through the candidate's columns with the same values and types (Athena reads Parquet
columns by name, and on a table without partitions it does not coerce a file's type into
another column type, except a decimal's precision). Each rule is decided by that reader:

- FIELD_NO_DELETE: a released field stays (a rename is a removal: queries that select the
  old name fail and its published values become unreachable through the table).
- FIELD_SAME_TYPE: a field keeps its column type (string, bigint, boolean, date, timestamp,
  decimal). A date or datetime `format` may change: the column type is the same.
- FIELD_SAME_SCALE: a decimal keeps its scale (a lower one would round published values; a
  higher one needs each reader to rescale older files' decimals, which none has to do).
- FIELD_NO_NARROWING: a decimal's precision does not go down (published values may not
  fit); it may go up at the same scale (the reader widens older files' decimals).
- FIELD_NO_NEW_REQUIRED: an added field is optional (files written before lack it: the
  reader sees nulls in a column declared non-null).
- FIELD_NOT_MADE_REQUIRED: an optional field stays optional (published rows hold nulls).
- VERSION_GOES_UP: a changed schema has a higher version than the released one (the version
  is what every output says it was typed by).
- MAJOR_NO_DECREASE: a dataset's schema does not go back to an older major.
- VERSION_FORMAT: `version` is an integer N or a string "N", "N.M" or "N.M.P" (N >= 1).

Everything else passes: added optional fields, field order, constraints added, relaxed or
removed, missing values, true/false values, number marks, date formats, timezone, the
dialect, maxRejectedShare, names and descriptions. They decide which rows of a new file are
valid; the type a reader sees is unchanged.

A schema whose major is above every released one is a new major: its own table and prefix,
no check against older majors. Baselines (the lock) are verbatim copies of the last released
schema of each major: `<dir of the schema file>/released/<dataset>/v<major>.json`, where the
dataset is the key of Terraform's `datasets` map (modules/storage/catalog_columns.tf reads the
older majors there); by default the file's name without `.json`, as for the default
`schemas/<dataset>.json`. Pure: no AWS, no pyarrow (build.py imports it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SchemaConfigError
from .schema import Field, Schema
from .schema_check import parse_schema
from .schema_version import Version, parse_version

RELEASED_DIR = "released"
_BASELINE = re.compile(r"v([1-9][0-9]*)\.json")

# rule id -> the property it protects (docs/schema-versions.md has the table with reasons)
RULES = {
    "FIELD_NO_DELETE": "a released field is not removed or renamed",
    "FIELD_SAME_TYPE": "a field keeps its column type",
    "FIELD_SAME_SCALE": "a decimal keeps its scale",
    "FIELD_NO_NARROWING": "a decimal's precision does not go down",
    "FIELD_NO_NEW_REQUIRED": "an added field is optional",
    "FIELD_NOT_MADE_REQUIRED": "an optional field is not made required",
    "VERSION_GOES_UP": "a changed schema has a higher version than the released one",
    "MAJOR_NO_DECREASE": "a dataset's schema does not go back to an older major",
    "VERSION_FORMAT": 'version is N or "N", "N.M", "N.M.P" with N >= 1',
    "SCHEMA_RELEASED": "a schema deployed to prod is its released baseline (buildtools.schemas)",
}
NEW_MAJOR_HELP = 'or declare a new major version ("version": "{next}")'


@dataclass(frozen=True)
class Finding:
    """One refused change: the field (or `$.version`), the rule it breaks, why, in one line."""

    field: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}: {self.message}"


def column_type(field: Field) -> str:
    """The field's column type as the Glue table and Athena name it: the Parquet type the
    processor writes (`Field.arrow_type`, which tests compare with this)."""
    if field.type == "number":
        return f"decimal({field.precision},{field.scale})"
    return {
        "string": "string",
        "integer": "bigint",
        "boolean": "boolean",
        "date": "date",
        "datetime": "timestamp",
        # Hive has no time of day: TIME(MICROS) is declared as its INT64 microseconds
        "time": "bigint",
        "year": "int",
        "yearmonth": "string",
        "any": "string",
    }[field.type]


# ---------------------------------------------------------------------------
# comparing two schemas
# ---------------------------------------------------------------------------


def compare(baseline: Schema, candidate: Schema, next_major: int | None = None) -> list[Finding]:
    """Every incompatible change from `baseline` to `candidate`, one finding per field and
    rule, in the baseline's field order then the candidate's for added fields."""
    new_major = NEW_MAJOR_HELP.format(next=next_major or "N+1")
    by_name = {f.name: f for f in candidate.fields}
    released = {f.name for f in baseline.fields}
    added = [f for f in candidate.fields if f.name not in released]
    findings: list[Finding] = []
    for old in baseline.fields:
        new = by_name.get(old.name)
        if new is None:
            findings.append(_removed(old, added, new_major))
        else:
            findings += _changed(old, new, new_major)
    findings += [
        Finding(
            f.name,
            "FIELD_NO_NEW_REQUIRED",
            f"added as required: files written before have no '{f.name}', so the table "
            f"shows nulls in a required column; add it with required false, {new_major}",
        )
        for f in added
        if f.required
    ]
    return findings


def _removed(old: Field, added: list[Field], new_major: str) -> Finding:
    same_type = [f.name for f in added if column_type(f) == column_type(old)]
    hint = f" (renamed to '{same_type[0]}'? a rename is a removal)" if len(same_type) == 1 else ""
    return Finding(
        old.name,
        "FIELD_NO_DELETE",
        f"removed{hint}: queries that select it fail and its published values become "
        f"unreachable through the table; keep it (make it optional), {new_major}",
    )


def _changed(old: Field, new: Field, new_major: str) -> list[Finding]:
    was, now = column_type(old), column_type(new)
    if old.type != new.type:
        how = (
            "(the column type follows the type, whatever the format) "
            if {old.type, new.type} == {"date", "datetime"}
            else ""
        )
        return [
            Finding(
                new.name,
                "FIELD_SAME_TYPE",
                f"{old.type} ({was}) -> {new.type} ({now}): {how}files written before hold "
                f"{was} values that a {now} column cannot read; keep {old.type}, {new_major}",
            )
        ]
    findings = []
    if old.type == "number" and old.scale != new.scale:
        findings.append(
            Finding(
                new.name,
                "FIELD_SAME_SCALE",
                f"{was} -> {now}: the scale is part of every published value (a lower one "
                "rounds them; a higher one needs each reader to rescale older files, which a "
                f"Parquet reader need not do); keep scale {old.scale}, {new_major}",
            )
        )
    elif old.type == "number" and new.precision < old.precision:
        findings.append(
            Finding(
                new.name,
                "FIELD_NO_NARROWING",
                f"{was} -> {now}: published values with more than "
                f"{new.precision - new.scale} integer digits do not fit; keep precision "
                f"{old.precision} or more, {new_major}",
            )
        )
    if new.required and not old.required:
        findings.append(
            Finding(
                new.name,
                "FIELD_NOT_MADE_REQUIRED",
                f"optional -> required: published rows may hold nulls in '{new.name}'; "
                f"keep it optional, {new_major}",
            )
        )
    return findings


# ---------------------------------------------------------------------------
# a schema file against its released baselines
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """A schema file checked against the released baseline of its major.

    `status`: "unchanged" (equal to its baseline), "compatible" (may be released over it),
    "new major" (above every released major, or the first release), "refused"."""

    path: Path
    dataset: str
    version: Version | None
    baseline: Path  # released/<dataset>/v<major>.json, existing or not (yet)
    status: str
    findings: tuple[Finding, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.findings


def released_dir(schema_file: Path, dataset: str | None = None) -> Path:
    """Where a dataset's baselines live: `<dir of its schema file>/released/<dataset>/`, the
    folder Terraform reads (the dataset is its `datasets` key; None: the file's stem)."""
    return schema_file.parent / RELEASED_DIR / (dataset or schema_file.stem)


def released_majors(schema_file: Path, dataset: str | None = None) -> list[int]:
    """The majors released for the dataset (from `released/<dataset>/v<N>.json`)."""
    folder = released_dir(schema_file, dataset)
    found = (_BASELINE.fullmatch(p.name) for p in folder.glob("v*.json"))
    return sorted(int(m.group(1)) for m in found if m)


def baseline_path(schema_file: Path, major: int, dataset: str | None = None) -> Path:
    return released_dir(schema_file, dataset) / f"v{major}.json"


def _document(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except OSError as exc:
        raise SchemaConfigError(f"{path}: cannot read the schema file: {exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise SchemaConfigError(f"{path}: not valid JSON: {exc}") from exc


def check_file(schema_file: str | Path, dataset: str | None = None) -> Check:
    """Check a dataset's schema file (every document problem first: SchemaConfigError)
    against the released baseline of its major: the findings that refuse it, or none. The
    baselines are the dataset's (None: the file's stem names the dataset)."""
    path = Path(schema_file)
    doc = _document(path)
    candidate = parse_schema(doc, str(path))
    dataset = dataset or path.stem
    try:
        version = parse_version(candidate.version)
    except SchemaConfigError as exc:
        finding = Finding("$.version", "VERSION_FORMAT", str(exc))
        return Check(path, dataset, None, released_dir(path, dataset), "refused", (finding,))
    majors = released_majors(path, dataset)
    baseline = baseline_path(path, version.major, dataset)
    if not majors or version.major > majors[-1]:
        return Check(path, dataset, version, baseline, "new major")
    if version.major < majors[-1]:
        finding = Finding(
            "$.version",
            "MAJOR_NO_DECREASE",
            f"{candidate.version!r} has major {version.major} but major {majors[-1]} is "
            f"released ({baseline_path(path, majors[-1], dataset)}): a dataset's schema does not "
            "go back to an older major; start from the released one and raise its version",
        )
        return Check(path, dataset, version, baseline, "refused", (finding,))
    base_doc = _document(baseline)
    if base_doc == doc:
        return Check(path, dataset, version, baseline, "unchanged")
    released = _released_schema(base_doc, baseline, version.major)
    findings = _version_findings(released, candidate.version, version, baseline)
    findings += compare(released, candidate, version.major + 1)
    status = "refused" if findings else "compatible"
    return Check(path, dataset, version, baseline, status, tuple(findings))


def _released_schema(doc: Any, baseline: Path, major: int) -> Schema:
    """The baseline's schema; SchemaConfigError if it is not a schema of that major (the
    lock was edited by hand)."""
    schema = parse_schema(doc, str(baseline))
    if parse_version(schema.version).major != major:
        raise SchemaConfigError(
            f"{baseline}: declares version {schema.version!r}, not major {major}: a baseline "
            "is the verbatim copy `release` wrote; restore it from git"
        )
    return schema


def _version_findings(
    released: Schema, declared: Any, version: Version, baseline: Path
) -> list[Finding]:
    last = parse_version(released.version)
    if version > last:
        return []
    return [
        Finding(
            "$.version",
            "VERSION_GOES_UP",
            f"{declared!r} is not above the released {released.version!r} ({baseline}) but "
            f'the schema changed: raise it (e.g. "{last.major}.{last.minor + 1}"), since '
            "every output names the version that typed it",
        )
    ]
