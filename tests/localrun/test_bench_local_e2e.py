"""bench.py --local-e2e: how the local run's summary becomes local_e2e_* in results.json
(the run itself is `python -m localrun`, tested end to end in tests/e2e)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))  # bench.py imports its sibling modules
# by path: the name `bench` is also the repo's bench/ folder (a namespace package)
_spec = importlib.util.spec_from_file_location("bench_cli", ROOT / "bench" / "bench.py")
bench = sys.modules["bench_cli"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

PROCESSOR = {"ok": True, "seconds": 2.5, "rows_valid": 90, "rows_rejected": 10}


def _fake_localrun(monkeypatch, summary: dict | None, returncode: int = 0) -> list[list[str]]:
    calls = []

    def run(cmd, **kwargs):
        calls.append(cmd)
        out = Path(cmd[cmd.index("--out") + 1])
        if summary is not None:
            out.mkdir(parents=True)
            (out / "summary.json").write_text(json.dumps(summary))
        return subprocess.CompletedProcess(cmd, returncode, "", "line 1\nterraform failed\n")

    monkeypatch.setattr(bench.subprocess, "run", run)
    return calls


@pytest.fixture
def samples(tmp_path):
    csv = tmp_path / "sample.csv"
    csv.write_bytes(b"x")
    return bench.Samples(csv, {"bytes": 10_000_000})


def test_the_run_time_and_the_ratio_to_the_processor(monkeypatch, tmp_path, samples):
    summary = {"duration_s": 5.0, "chunks": 4, "rows_valid": 90, "rows_rejected": 10}
    calls = _fake_localrun(monkeypatch, summary)
    result, problems = bench.run_local_e2e({"processor": PROCESSOR}, samples, tmp_path)
    assert calls == [
        [sys.executable, "-m", "localrun", str(samples.main), "--out", str(tmp_path / "local_e2e")]
    ]
    assert result == {
        "local_e2e_seconds": 5.0,
        "local_e2e_chunks": 4,
        "local_e2e_mb_s": 2.0,
        "ratio_local_e2e_to_processor": 2.0,
    }
    assert problems == []


def test_counts_that_differ_from_the_processor_fail_the_run(monkeypatch, tmp_path, samples):
    summary = {"duration_s": 5.0, "chunks": 4, "rows_valid": 89, "rows_rejected": 11}
    _fake_localrun(monkeypatch, summary)
    _, problems = bench.run_local_e2e({"processor": PROCESSOR}, samples, tmp_path)
    assert problems == ["local_e2e valid/rejected (89, 11) != processor's (90, 10)"]


def test_a_failed_local_run_is_a_problem(monkeypatch, tmp_path, samples):
    _fake_localrun(monkeypatch, None, returncode=2)
    result, problems = bench.run_local_e2e({"processor": PROCESSOR}, samples, tmp_path)
    assert result == {}
    assert problems == ["local_e2e: python -m localrun exited 2: ['line 1', 'terraform failed']"]
