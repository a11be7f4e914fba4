"""The bench's floor job and its verdicts: the floor writes what the processor writes on a
clean file; the ratios name the fastest peer; any count disagreement fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
from etl.schema_check import load_schema

from localrun.sample import write_transactions

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import harness  # noqa: E402
import report  # noqa: E402
from chunkfile import process_file  # noqa: E402
from floor import write_floor  # noqa: E402

SCHEMA = load_schema(ROOT / "schemas" / "transactions.json")


def test_floor_writes_what_the_processor_writes_on_a_clean_file(tmp_path):
    csv = tmp_path / "clean.csv"
    stats = write_transactions(csv, rows=30_000, invalid_fraction=0.0, seed=5)
    rows = write_floor(csv, SCHEMA, tmp_path / "floor.parquet")
    ours = process_file(csv, SCHEMA, tmp_path / "valid.parquet", tmp_path / "rejected.parquet")
    assert rows == ours.rows_valid == stats.rows
    floor, mine = (
        pq.read_table(tmp_path / "floor.parquet"),
        pq.read_table(tmp_path / "valid.parquet"),
    )
    assert floor.schema == mine.schema
    for name in mine.column_names:
        assert floor.column(name).combine_chunks().equals(mine.column(name).combine_chunks()), name
    # the same writer settings: the same encodings per column, statistics where ours has them
    a, b = pq.ParquetFile(tmp_path / "floor.parquet"), pq.ParquetFile(tmp_path / "valid.parquet")
    for i, name in enumerate(mine.column_names):
        fc, mc = a.metadata.row_group(0).column(i), b.metadata.row_group(0).column(i)
        assert (fc.compression, fc.encodings, fc.is_stats_set) == (
            mc.compression,
            mc.encodings,
            mc.is_stats_set,
        ), name


def _job(mb_s: float, valid: int = 990, rejected: int = 10, **extra) -> dict:
    return {
        "ok": True,
        "mb_s": mb_s,
        "seconds": 1.0,
        "rows_valid": valid,
        "rows_rejected": rejected,
        "peak_rss_mib": 100.0,
        **extra,
    }


def test_ratios_name_the_fastest_peer_at_each_thread_count():
    jobs = {
        "processor": _job(100.0),
        "processor_all_cores": _job(150.0),
        "polars": _job(50.0),
        "polars_all_cores": _job(200.0),
        "duckdb": _job(80.0),
        "duckdb_all_cores": _job(100.0),
        "floor": _job(200.0),
        "parse_only": _job(400.0),
    }
    results = {f"{name}_mb_s": j["mb_s"] for name, j in jobs.items()}
    r = report.ratios(results, jobs)
    assert r["ratio_processor_to_floor"] == 0.5
    assert (r["fastest_peer"], r["ratio_processor_to_fastest_peer"]) == ("duckdb", 1.25)
    assert (
        r["fastest_peer_all_cores"],
        r["ratio_processor_all_cores_to_fastest_peer_all_cores"],
    ) == ("polars", 0.75)
    assert r["ratio_processor_to_polars"] == 2.0
    assert r["ratio_ours_to_job"]["polars_all_cores"] == 0.75  # against ours on all cores
    assert r["ratio_ours_to_job"]["parse_only"] == 0.25


SAMPLE = {"rows": 1000, "invalid_rows": 10}


def test_counts_that_agree_pass():
    jobs = {"processor": _job(100.0), "polars": _job(50.0), "duckdb_all_cores": _job(90.0)}
    counts, problems = report.check_counts(jobs, SAMPLE, None, {})
    assert problems == []
    assert counts["duckdb_all_cores_valid"] == 990


def test_a_peer_that_disagrees_fails_the_run():
    jobs = {"processor": _job(100.0), "duckdb": _job(80.0, valid=991, rejected=9)}
    _, problems = report.check_counts(jobs, SAMPLE, None, {})
    assert problems == [
        "duckdb counts valid/rejected 991/9 differ from the generator's 990/10",
        "duckdb counts valid/rejected 991/9 differ from the processor's 990/10",
    ]


def test_different_values_or_a_failed_peer_fail_the_run():
    jobs = {
        "processor": _job(100.0),
        "polars": _job(50.0),
        "duckdb": {"ok": False, "available": True, "error": "IOException: boom"},
    }
    diffs = {
        "polars": {
            "ok": True,
            "peer": "polars",
            "valid_only_in_processor": 0,
            "valid_only_in_peer": 0,
            "valid_columns_identical": {"amount": False, "timestamp": True},
        },
    }
    _, problems = report.check_counts(jobs, SAMPLE, None, diffs)
    assert problems == [
        "processor and polars valid values differ in columns ['amount']",
        "duckdb failed: IOException: boom",
    ]


def test_the_floor_must_write_every_clean_row():
    jobs = {"floor": _job(200.0, valid=999, rejected=0)}
    _, problems = report.check_counts(jobs, SAMPLE, {"rows": 1000}, {})
    assert problems == ["floor wrote 999 rows of the clean sample's 1000"]


def _pyarrow_threads(env: dict[str, str]) -> int:
    probe = "import pyarrow as pa; print(pa.cpu_count())"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    return int(out.stdout)


def test_one_thread_jobs_are_pinned_and_all_cores_jobs_are_not(monkeypatch):
    """pyarrow sizes its pool from OMP_NUM_THREADS: the S3 model jobs, run 'on all cores',
    used to inherit the one-thread environment and ran their blocks on one thread."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # even when the caller's shell pins it
    for job in ("processor_all_cores", "polars_all_cores", "s3_model_streamed"):
        env = harness.child_env(job)
        assert "POLARS_MAX_THREADS" not in env
        assert _pyarrow_threads(env) == os.cpu_count(), job
    for job in ("processor", "polars", "duckdb", "floor"):
        env = harness.child_env(job)
        assert env["POLARS_MAX_THREADS"] == "1"
        assert _pyarrow_threads(env) == 1, job
