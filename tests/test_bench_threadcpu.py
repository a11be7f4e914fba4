"""bench/threadcpu.py: the processor's CPU split by thread, on a generated file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from localrun.sample import write_transactions

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("threads", [1, 2])
def test_the_split_adds_up_and_the_rows_are_the_processors(tmp_path, threads):
    csv = tmp_path / "t.csv"
    rows = 30_000 if threads == 1 else 260_000  # two threads: three 8 MiB blocks
    write_transactions(csv, rows=rows, seed=3, invalid_fraction=0.01)
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "threadcpu.py"), str(csv), "--threads", str(threads)],
        check=True,
        capture_output=True,
        text=True,
    )
    got = json.loads(out.stdout)
    assert got["threads"] == threads
    assert got["rows_valid"] + got["rows_rejected"] == rows and got["rows_rejected"] > 0
    assert got["cpu_calling"] + got["cpu_others"] == pytest.approx(got["cpu_total"], abs=0.002)
    assert 0 < got["calling_share"] <= 1
    if threads == 1:  # everything on the calling thread
        assert got["cpu_others"] < 0.1 * got["cpu_total"]
    else:  # the calling thread prepares the first block, the other thread the next one
        assert got["cpu_others"] > 0.02
