"""The bench's `processor_processes` job (bench/processes.py): the processor's one-thread
work in one process per core, each on its own record-aligned range of the sample, started
together; the machine's own scaling, against which the threads of `processor_all_cores`
are judged. It must do exactly the processor's work: every record once."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pyarrow.parquet as pq

from localrun.sample import write_transactions

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import harness  # noqa: E402
import processes  # noqa: E402


def test_the_ranges_are_record_aligned_and_cover_the_data(tmp_path):
    csv = tmp_path / "sample.csv"
    write_transactions(csv, rows=20_000, seed=11)
    header, ranges = processes._ranges(csv, 3)
    data = csv.read_bytes()
    assert data.startswith(header + b"\n")
    assert ranges[0][0] == len(header) + 1 and ranges[-1][1] == len(data)
    assert [r[2] for r in ranges] == [False, False, True]
    for (_, end, _), (start, _, _) in zip(ranges, ranges[1:], strict=False):
        assert end == start and data[start - 1 : start] == b"\n"


def test_a_range_that_spans_the_job_takes_exactly_the_jobs_seconds():
    """A range that starts first and ends last takes as long as the whole job, never longer,
    whatever its duration's digits (0.14996 s once read as 0.15 s, over the job's 0.14996)."""
    spanning, inner = (10.0, 10.14996, 7, 1), (10.01, 10.12, 5, 0)
    got = processes._summary([inner, spanning])
    assert got["seconds"] == max(got["range_seconds"]) == spanning[1] - spanning[0]
    assert got["range_seconds"] == [inner[1] - inner[0], spanning[1] - spanning[0]]
    assert (got["processes"], got["threads"], got["rows_valid"], got["rows_rejected"]) == (
        2,
        2,
        12,
        1,
    )


def test_the_job_processes_every_record_once_in_one_process_per_core(tmp_path):
    csv = tmp_path / "sample.csv"
    stats = write_transactions(csv, rows=30_000, seed=5)
    got = harness.run_child("processor_processes", csv, tmp_path / "out")
    assert got["ok"], got
    assert got["processes"] == got["threads"] == os.cpu_count()
    assert (got["rows_valid"], got["rows_rejected"]) == (
        stats.rows - stats.invalid_rows,
        stats.invalid_rows,
    )
    assert len(got["range_seconds"]) == got["processes"]
    assert got["seconds"] >= max(got["range_seconds"])
    written = sorted((tmp_path / "out").glob("valid-*.parquet"))
    assert len(written) == got["processes"]
    assert sum(pq.read_metadata(p).num_rows for p in written) == got["rows_valid"]


def test_every_job_starts_after_the_writes_of_the_one_before_are_flushed(tmp_path, monkeypatch):
    """A job's outputs (hundreds of MB of Parquet) are written back while the next job
    runs unless flushed first, outside every clock."""
    calls = []
    monkeypatch.setattr(harness.os, "sync", lambda: calls.append("sync"))
    real_popen = harness.subprocess.Popen

    def popen(*args, **kwargs):
        calls.append("child")
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(harness.subprocess, "Popen", popen)
    csv = tmp_path / "sample.csv"
    write_transactions(csv, rows=2_000, seed=1)
    for job in ("processor", "processor"):
        assert harness.run_child(job, csv, tmp_path / "out")["ok"]
    assert calls == ["sync", "child", "sync", "child"]
