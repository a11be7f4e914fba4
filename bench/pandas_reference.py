"""The pandas baseline: the seed's approach, done honestly and vectorised.

``pd.read_csv(dtype=str, chunksize=...)`` -> the checks the schema declares, as
column-wise pandas operations (no per-row Python) -> ``DataFrame.to_parquet``
(pyarrow engine) of the valid rows with the schema's types, and of the rejects.
One Parquet part per chunk under ``valid_dir`` and ``rejected_dir``.

The schema is the Table Schema of ``schemas/transactions.json`` (only what it uses: string,
number with the precision/scale extension, datetime in the default format, constraints
required/pattern/enum, missing values ``""``).
Checks, in schema field order, first failure wins:
  required field empty -> ``missing:<col>``; ``pattern`` (anchored) -> ``pattern:<col>``;
  ``enum`` -> ``not_allowed:<col>``; number(p,s) by the strict lexical form
  ``[+-]?\\d{1,p-s}(\\.\\d{1,s})?`` then an exact cast to ``decimal128(p,s)``;
  timestamp by the ISO-8601 UTC form ``...T..:..:..(.ffffff)?(Z|+00:00)`` and
  ``pd.to_datetime(format="ISO8601", utc=True, errors="coerce")`` (catches
  month 13, Feb 30).

What pandas cannot do, and is left as the baseline's known weakness:
  * rows with too many fields are dropped by the C parser
    (``on_bad_lines="warn"``); they are counted as rejects from the parser's
    warnings (line number only, no raw text);
  * rows with too few fields are silently padded with empty strings; they are
    rejected only because a required column ends up empty (``missing:<col>``);
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

TIMESTAMP_UTC = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|\+00:00)$"
_SKIP = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")


@dataclass
class PandasResult:
    rows_valid: int = 0
    rows_rejected: int = 0
    rejected_by_reason: dict = field(default_factory=dict)


def _arrow_type(col: dict) -> pa.DataType:
    if col.get("type") == "number":
        return pa.decimal128(col["precision"], col["scale"])
    if col.get("type") == "datetime":
        return pa.timestamp("us", tz="UTC")
    return pa.string()


def _check_chunk(df: pd.DataFrame, columns: list[dict]) -> tuple[np.ndarray, dict]:
    """Per-row reason ('' when valid) and the typed columns of the chunk."""
    n = len(df)
    reason = np.full(n, "", dtype=object)
    bad = np.zeros(n, dtype=bool)
    typed: dict[str, pd.Series] = {}

    def fail(mask, label: str) -> None:
        mask = np.asarray(mask, dtype=bool) & ~bad
        if mask.any():
            reason[mask] = label
            bad[mask] = True

    for col in columns:
        name = col["name"]
        s = df[name]
        empty = (s == "").to_numpy(dtype=bool)
        constraints = col.get("constraints", {})
        if constraints.get("required", False):
            fail(empty, f"missing:{name}")
        typ = col.get("type", "string")
        if typ == "number":
            p, sc = col["precision"], col["scale"]
            frac = rf"(\.\d{{1,{sc}}})?" if sc else ""
            ok = s.str.fullmatch(rf"[+-]?\d{{1,{p - sc}}}{frac}").to_numpy(dtype=bool)
            fail(~ok & ~empty, f"decimal:{name}")
            clean = s.where(~bad & ~empty, None)
            typed[name] = clean.astype(pd.ArrowDtype(_arrow_type(col)))
        elif typ == "datetime":
            ok = s.str.fullmatch(TIMESTAMP_UTC).to_numpy(dtype=bool)
            fail(~ok & ~empty, f"timestamp:{name}")
            ts = pd.to_datetime(
                s.where(~bad & ~empty, None), format="ISO8601", utc=True, errors="coerce"
            )
            fail(ts.isna().to_numpy() & ~empty, f"timestamp:{name}")
            typed[name] = ts
        else:
            if constraints.get("pattern"):
                ok = s.str.fullmatch(constraints["pattern"]).to_numpy(dtype=bool)
                fail(~ok & ~empty, f"pattern:{name}")
            if constraints.get("enum"):
                fail(~s.isin(constraints["enum"]).to_numpy() & ~empty, f"not_allowed:{name}")
            typed[name] = s.where(~empty, None)
    return reason, typed


def process_file_pandas(
    csv_path: str | Path,
    schema_doc: dict,
    valid_dir: str | Path,
    rejected_dir: str | Path,
    *,
    chunksize: int = 100_000,
) -> PandasResult:
    columns = schema_doc["fields"]
    names = [c["name"] for c in columns]
    arrow_valid = pa.schema([pa.field(c["name"], _arrow_type(c)) for c in columns])
    arrow_rejects = pa.schema(
        [("record", pa.int64()), ("reason", pa.string()), ("raw", pa.string())]
    )
    valid_dir, rejected_dir = Path(valid_dir), Path(rejected_dir)
    valid_dir.mkdir(parents=True, exist_ok=True)
    rejected_dir.mkdir(parents=True, exist_ok=True)
    result = PandasResult()
    delimiter = schema_doc.get("dialect", {}).get("delimiter", ",")

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
            reason, typed = _check_chunk(df, columns)
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
        fields = [int(m.group(3)) for m in skipped]
        pd.DataFrame(
            {
                "record": np.asarray(lines, dtype=np.int64),
                "reason": [f"too_many_fields:{f}" for f in fields],
                "raw": [""] * len(lines),
            }
        ).to_parquet(
            rejected_dir / "part-parser.parquet",
            engine="pyarrow",
            schema=arrow_rejects,
            index=False,
        )
        result.rows_rejected += len(skipped)
        result.rejected_by_reason["too_many_fields"] = len(skipped)
    return result
