"""The pandas baseline in bench/ rejects exactly the generator's invalid rows."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from localrun.sample import write_transactions

pytest.importorskip("pandas")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from pandas_reference import process_file_pandas  # noqa: E402


def test_pandas_reference_counts_match_the_generator(tmp_path):
    csv = tmp_path / "t.csv"
    stats = write_transactions(csv, rows=20_000, invalid_fraction=0.02, seed=9)
    schema = json.loads((ROOT / "schemas" / "transactions.json").read_text())
    result = process_file_pandas(csv, schema, tmp_path / "valid", tmp_path / "rejected",
                                 chunksize=7_000)
    assert (result.rows_valid, result.rows_rejected) == (stats.valid_rows, stats.invalid_rows)
    assert result.rejected_by_reason["too_many_fields"] == stats.invalid_by_kind["too_many_fields"]
    assert result.rejected_by_reason["decimal:amount"] == stats.invalid_by_kind["bad_amount"]
