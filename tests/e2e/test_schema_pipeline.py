"""End to end through `python -m localrun` with a user's Table Schema: the rejects shown in the
summary, and a file that is entirely rejected ending FAILED with TooManyRejects (SNS, exit 1,
nothing published)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e

SCHEMA = {
    "name": "weather",
    "missingValues": ["", "NA"],
    "fields": [
        {"name": "date", "type": "date", "format": "%Y/%m/%d", "constraints": {"required": True}},
        {"name": "station", "type": "string", "constraints": {"required": True}},
        {
            "name": "temp_max",
            "type": "number",
            "precision": 4,
            "scale": 1,
            "constraints": {"minimum": -90, "maximum": 60},
        },
        {"name": "rain", "type": "boolean", "trueValues": ["Yes"], "falseValues": ["No"]},
    ],
}


def _file(path: Path, rows: int, date_form: str = "{y}/{m:02d}/{d:02d}") -> None:
    lines = ["date,station,temp_max,rain"]
    for i in range(rows):
        y, m, d = 2012 + i // 336, 1 + (i // 28) % 12, 1 + i % 28
        temp = "NA" if i % 50 == 7 else ("99.0" if i % 100 == 42 else f"{i % 30}.{i % 10}")
        lines.append(f"{date_form.format(y=y, m=m, d=d)},SEA,{temp},{'Yes' if i % 3 else 'No'}")
    path.write_text("\n".join(lines) + "\n")


def _run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MOTO_PORT"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "localrun", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        # a hang guard, not a speed check: each run deploys envs/dev, which takes minutes
        # when other jobs share the cores (the deploy's timings: docs/decisions.md)
        timeout=600,
        check=False,
    )


def test_rejects_per_rule_and_first_lines_in_the_summary_then_too_many_rejects(tmp_path):
    schema = tmp_path / "weather.json"
    schema.write_text(json.dumps(SCHEMA))
    good = tmp_path / "weather.csv"
    _file(good, 1000)

    proc = _run_cli(str(good), "--schema", str(schema), "--out", str(tmp_path / "ok"), cwd=tmp_path)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "  rejects        10  temp_max  maximum\n" in proc.stdout
    assert (
        "  rejected line  44: temp_max: greater than the maximum 60  | 2012/02/15,SEA,99.0,No\n"
        in proc.stdout
    )
    rejected = pq.read_table(tmp_path / "ok" / "rejected").to_pylist()
    assert len(rejected) == 10
    assert {(f["column"], f["rule"], f["value"]) for r in rejected for f in r["failures"]} == {
        ("temp_max", "maximum", "99.0")
    }
    valid = pq.read_table(tmp_path / "ok" / "valid")
    assert valid.num_rows == 990 and valid.column("temp_max").null_count == 20  # the NAs

    # The same data with ISO dates: every row rejected -> FAILED, SNS says why, no outputs.
    wrong = tmp_path / "iso.csv"
    _file(wrong, 1000, date_form="{y}-{m:02d}-{d:02d}")
    proc = _run_cli(
        str(wrong), "--schema", str(schema), "--out", str(tmp_path / "bad"), cwd=tmp_path
    )

    assert proc.returncode == 1, proc.stdout + proc.stderr
    summary = json.loads((tmp_path / "bad" / "summary.json").read_text())
    assert summary["status"] == "FAILED"
    assert summary["error"].startswith(
        "TooManyRejects: 1,000 of 1,000 rows rejected (100.0%), more than the schema's "
        "maxRejectedShare 10.0%; top rules: date type 1,000; temp_max maximum 10."
    )
    assert "SNS: CSV ETL failed: TooManyRejects" in proc.stdout
    assert not list((tmp_path / "bad").glob("valid/*.parquet"))
    assert not list((tmp_path / "bad").glob("rejected/*.parquet"))
