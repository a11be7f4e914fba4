"""The pandas baseline: the seed's approach, done honestly and vectorised.

``pd.read_csv(dtype=str, chunksize=...)`` -> the checks the schema declares, as
column-wise pandas operations (no per-row Python) -> ``DataFrame.to_parquet``
(pyarrow engine) of the valid rows with the schema's types, and of the rejects.
One Parquet part per chunk under ``valid_dir`` and ``rejected_dir``.

The Table Schema is read through ``etl.schema`` and its rules come from
``peer_rules.row_rules`` (the same rules, order and reasons as the polars and DuckDB
peers and the processor): missing values, required, the type's strict lexical form or the
string pattern (``Series.str.fullmatch``; the calendar-exact forms make every match cast),
string enums and lengths, the int64 range; the first failing rule names the reject.

What pandas cannot do, and is left as the baseline's known weakness:
  * rows with too many fields are dropped by the C parser
    (``on_bad_lines="warn"``); they are counted as rejects from the parser's
    warnings (line number only, no raw text);
  * rows with too few fields are silently padded; they are rejected only because a
    required column ends up missing;
  * ``raw`` of a reject is the fields re-joined with the delimiter, not the
    original bytes (quoting is lost).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from etl.schema import Field, Schema
from peer_rules import (
    ENUM,
    INT64,
    MAX_LENGTH,
    MIN_LENGTH,
    PATTERN,
    REQUIRED,
    Rule,
    fields_reason,
    row_rules,
)

_SKIP = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@dataclass
class PandasResult:
    rows_valid: int = 0
    rows_rejected: int = 0
    rejected_by_reason: dict = field(default_factory=dict)


def _missing(s: pd.Series, f: Field) -> np.ndarray:
    return (s.isna() | s.isin(list(f.missing_values))).to_numpy(dtype=bool)


def _fails(s: pd.Series, rule: Rule, missing: np.ndarray) -> np.ndarray:
    if rule.kind == REQUIRED:
        return missing
    if rule.kind == PATTERN:
        bad = ~s.str.fullmatch(rule.pattern).fillna(False).to_numpy(dtype=bool)
    elif rule.kind == ENUM:
        bad = ~s.isin(list(rule.values)).to_numpy(dtype=bool)
    elif rule.kind == MIN_LENGTH:
        bad = (s.str.len() < rule.limit).to_numpy(dtype=bool)
    elif rule.kind == MAX_LENGTH:
        bad = (s.str.len() > rule.limit).to_numpy(dtype=bool)
    elif rule.kind == INT64:
        # exact: as a 38-digit decimal (a float would round 19-digit values)
        ok = pd.Series(s.str.fullmatch(rule.field.screen_pattern).fillna(False)).to_numpy(bool)
        text = pa.array(s.where(ok & ~missing, None), pa.string())
        big = pc.cast(text, pa.decimal128(38, 0))
        bad = pc.fill_null(
            pc.or_(
                pc.greater(big, pa.scalar(_INT64_MAX, big.type)),
                pc.less(big, pa.scalar(_INT64_MIN, big.type)),
            ),
            False,
        ).to_numpy(zero_copy_only=False)
    else:
        raise ValueError(f"unknown rule kind {rule.kind!r}")
    return bad & ~missing


def _typed(s: pd.Series, f: Field, missing: np.ndarray) -> pd.Series:
    clean = s.where(~missing, None)
    if f.type == "datetime":
        return pd.to_datetime(clean, format="ISO8601", utc=True)
    if f.type == "boolean":
        return clean.isin(list(f.true_values)).astype(object).where(~missing, None)
    if f.type == "string":
        return clean
    return clean.astype(pd.ArrowDtype(f.arrow_type))  # decimal, int64, date32: Arrow's cast


def _check_chunk(df: pd.DataFrame, schema: Schema, rules: list[Rule]) -> tuple[np.ndarray, dict]:
    """Per-row reason ('' when valid, else the first failing rule's) and typed columns."""
    n = len(df)
    reason = np.full(n, "", dtype=object)
    bad = np.zeros(n, dtype=bool)
    missing = {f.name: _missing(df[f.name], f) for f in schema.fields}
    for rule in rules:
        mask = _fails(df[rule.column], rule, missing[rule.column]) & ~bad
        if mask.any():
            reason[mask] = rule.reason
            bad |= mask
    typed = {
        f.name: _typed(df[f.name].where(~bad, None), f, missing[f.name] | bad)
        for f in schema.fields
    }
    return reason, typed


def process_file_pandas(
    csv_path: str | Path,
    schema: Schema,
    valid_dir: str | Path,
    rejected_dir: str | Path,
    *,
    chunksize: int = 100_000,
) -> PandasResult:
    names = schema.names
    rules = row_rules(schema)
    arrow_valid = pa.schema([pa.field(f.name, f.arrow_type) for f in schema.fields])
    arrow_rejects = pa.schema(
        [("record", pa.int64()), ("reason", pa.string()), ("raw", pa.string())]
    )
    valid_dir, rejected_dir = Path(valid_dir), Path(rejected_dir)
    valid_dir.mkdir(parents=True, exist_ok=True)
    rejected_dir.mkdir(parents=True, exist_ok=True)
    result = PandasResult()
    delimiter = schema.delimiter

    def count(reasons) -> None:
        for r, k in pd.Series(reasons).value_counts().items():
            result.rejected_by_reason[r] = result.rejected_by_reason.get(r, 0) + int(k)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        reader = pd.read_csv(
            csv_path,
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            chunksize=chunksize,
            on_bad_lines="warn",
            encoding="utf-8",
            engine="c",
        )
        for part, df in enumerate(reader):
            if part == 0 and list(df.columns) != names:
                raise ValueError(f"header {list(df.columns)} does not match schema {names}")
            reason, typed = _check_chunk(df, schema, rules)
            ok = reason == ""
            valid = pd.DataFrame({n: typed[n][ok] for n in names})
            valid.to_parquet(
                valid_dir / f"part-{part:05d}.parquet",
                engine="pyarrow",
                schema=arrow_valid,
                index=False,
            )
            if (~ok).any():
                bad = df[~ok]
                rejects = pd.DataFrame(
                    {
                        "record": bad.index.to_numpy(dtype=np.int64),
                        "reason": reason[~ok],
                        "raw": bad[names[0]].str.cat([bad[n] for n in names[1:]], sep=delimiter),
                    }
                )
                rejects.to_parquet(
                    rejected_dir / f"part-{part:05d}.parquet",
                    engine="pyarrow",
                    schema=arrow_rejects,
                    index=False,
                )
                count(reason[~ok])
            result.rows_valid += int(ok.sum())
            result.rows_rejected += int((~ok).sum())

    skipped = [m for w in caught for m in _SKIP.finditer(str(w.message))]
    if skipped:
        lines = [int(m.group(1)) for m in skipped]
        reasons = [fields_reason(len(names), int(m.group(3))) for m in skipped]
        pd.DataFrame(
            {
                "record": np.asarray(lines, dtype=np.int64),
                "reason": reasons,
                "raw": [""] * len(lines),
            }
        ).to_parquet(
            rejected_dir / "part-parser.parquet",
            engine="pyarrow",
            schema=arrow_rejects,
            index=False,
        )
        result.rows_rejected += len(skipped)
        for r in reasons:
            result.rejected_by_reason[r] = result.rejected_by_reason.get(r, 0) + 1
    return result
