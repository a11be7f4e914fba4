"""The pandas baseline in bench/ rejects exactly the generator's invalid rows."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from localrun.sample import write_transactions

pytest.importorskip("pandas")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from etl.rules import rule_reason  # noqa: E402
from etl.schema_check import load_schema  # noqa: E402
from pandas_reference import process_file_pandas  # noqa: E402
from peer_rules import fields_reason  # noqa: E402


def test_pandas_reference_counts_match_the_generator(tmp_path):
    csv = tmp_path / "t.csv"
    stats = write_transactions(csv, rows=20_000, invalid_fraction=0.02, seed=9)
    schema = load_schema(ROOT / "schemas" / "transactions.json")
    result = process_file_pandas(
        csv, schema, tmp_path / "valid", tmp_path / "rejected", chunksize=7_000
    )
    assert (result.rows_valid, result.rows_rejected) == (stats.valid_rows, stats.invalid_rows)
    by_reason = result.rejected_by_reason
    assert by_reason[fields_reason(8, 9)] == stats.invalid_by_kind["too_many_fields"]
    assert (
        by_reason[rule_reason(schema.column("amount"), "type")]
        == stats.invalid_by_kind["bad_amount"]
    )
