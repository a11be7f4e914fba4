"""bench --cold-start: the importtime parser, and one run on the python3.12 runtime."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from etl.contract import CONTRACT

from localrun.lambda_runtime import default_runtime

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import coldstart  # noqa: E402

IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       120 |        120 |   _io
import time:      5000 |      90000 |     numpy
import time:       300 |     150000 |   etl.transform
import time:      1000 |     160000 | processor
"""


def test_import_profile_keeps_the_largest_cumulative_entries():
    assert coldstart.import_profile(IMPORTTIME, top=2) == [
        {"module": "processor", "cumulative_us": 160000, "self_us": 1000},
        {"module": "etl.transform", "cumulative_us": 150000, "self_us": 300},
    ]


def test_one_cold_start_run_reports_every_handler_and_the_layer():
    runtime = default_runtime()
    if not runtime.lambda_like:
        pytest.skip(f"no python3.12 runtime here: {runtime.reason}")
    results = coldstart.measure(repeat=1)
    assert results["repeat"] == 1
    assert results["git"]["commit"] and set(results["loadavg_1m"]) == {"before", "after"}
    assert sorted(results["handlers"]) == sorted(CONTRACT.functions)
    assert all(t["init_s_min"] > 0 for t in results["handlers"].values())
    assert results["layer_unzipped_mib"] * 2**20 == runtime.layer_unzipped_bytes
    assert results["processor_imports"][0]["module"] == "processor"
