"""The processor's bench jobs import only what the Lambda layer holds (bench/layer.py):
pyarrow would import pandas, installed here for the pandas reference job, at its first
conversion of a Python list, adding memory the processor never has in Lambda."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from localrun.sample import write_transactions

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import harness  # noqa: E402
from jobs import JOBS  # noqa: E402


def test_pyarrow_imports_pandas_here_unless_the_layers_imports_are_kept():
    code = (
        "import sys\n"
        "if sys.argv[1] == 'layer':\n"
        "    from layer import import_as_in_lambda; import_as_in_lambda()\n"
        "import pyarrow as pa\n"
        "pa.array([1, 2])\n"
        "print('pandas' in sys.modules)\n"
    )
    seen = {
        mode: subprocess.run(
            [sys.executable, "-c", code, mode],
            cwd=ROOT / "bench",
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for mode in ("installed", "layer")
    }
    assert seen == {"installed": "True", "layer": "False"}


def test_the_processor_jobs_run_without_pandas(tmp_path):
    csv = tmp_path / "sample.csv"
    write_transactions(csv, rows=3_000, seed=2)
    assert [name for name, job in JOBS.items() if job.in_lambda] == [
        "processor",
        "processor_all_cores",
        "processor_processes",
    ]
    for job in ("processor", "processor_all_cores"):
        got = harness.run_child(job, csv, tmp_path / job)
        assert got["ok"] and got["pandas_loaded"] is False, got
