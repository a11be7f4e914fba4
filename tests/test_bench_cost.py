"""The bench's cost model (bench/cost.py): speeds per vCPU, cost per GB, latency, and the
deployed defaults chosen by it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import cost  # noqa: E402
import report  # noqa: E402

MIB = 2**20
DEFAULTS = {"arch": "arm64", "concurrency": 10, "memory_mb": 3538, "chunk_bytes": 64 * MIB}
SPEEDS = {"processor_mb_s": 100.0, "processor_all_cores_mb_s": 170.0}
RUNTIME = "python3.12 runtime: /opt/python3.12, the real layer layer-x86_64.zip"


def write_coldstart(path: Path, processor_median: float = 1.25) -> Path:
    """A coldstart.json as `bench.py --cold-start` writes it (the keys the cost table reads)."""
    path.write_text(
        json.dumps(
            {
                "runtime": RUNTIME,
                "git": {"commit": "abc1234", "lambdas_etl_dirty": False},
                "handlers": {
                    "processor": {"init_s_min": 1.0, "init_s_median": processor_median},
                    "splitter": {"init_s_min": 2.0, "init_s_median": 2.5},
                },
            }
        )
    )
    return path


def test_speed_scales_the_first_vcpu_by_its_share_and_adds_the_second_cores_gain_per_vcpu():
    assert cost.speed(100.0, 170.0, 0.5) == 50.0
    assert cost.speed(100.0, 170.0, 1.0) == 100.0
    assert cost.speed(100.0, 170.0, 2.0) == 170.0
    assert cost.speed(100.0, 170.0, 3.0) == 240.0  # extrapolated: +70 per vCPU
    assert cost.speed(100.0, 90.0, 4.0) == 100.0  # a slower second core adds nothing


def test_vcpus_follow_memory_and_stop_at_six():
    assert cost.vcpus(1769) == 1.0
    assert cost.vcpus(3538) == 2.0
    assert cost.vcpus(10_240) == pytest.approx(5.7885, abs=1e-4)
    assert cost.vcpus(20_000) == 6


def test_a_row_prices_lambda_seconds_from_the_measured_speed():
    (row,) = cost.cost_table(
        100.0, 170.0, chunk_bytes=64 * MIB, concurrency=10, arch="x86_64", memory_sizes=(1769,)
    )
    # 1 GB at 100 MB/s = 10 s of a 1769 MB function = 17.2754 GB-s at $0.0000166667
    assert row.usd_per_gb_lambda == pytest.approx(0.000288, abs=5e-7)
    assert (row.vcpus, row.mb_s, row.extrapolated, row.chunk_seconds) == (1.0, 100.0, False, 0.67)
    # 15 chunks (ceil(1e9 / 64 MiB)) in 2 waves of 10, after the three fixed functions
    assert row.latency_1gb_s == round(3 * cost.FIXED_FUNCTION_SECONDS + 2 * 0.67108864, 1)
    # 150 chunks -> 15 waves
    assert row.latency_10gb_s == round(3 * cost.FIXED_FUNCTION_SECONDS + 15 * 0.67108864, 1)


def test_rows_past_two_vcpus_say_they_are_extrapolated():
    rows = cost.cost_table(100.0, 170.0, chunk_bytes=64 * MIB, concurrency=10)
    assert [(r.memory_mb, r.extrapolated) for r in rows] == [
        (1769, False),
        (3538, False),
        (5307, True),
        (7076, True),
        (8845, True),
        (10_240, True),
    ]


def test_larger_chunks_cost_less_per_gb_because_requests_are_per_chunk():
    small, large = (
        cost.cost_table(100.0, 170.0, chunk_bytes=c, concurrency=10, memory_sizes=(1769,))[0]
        for c in (32 * MIB, 128 * MIB)
    )
    assert small.usd_per_gb > large.usd_per_gb
    assert small.usd_per_gb_lambda == large.usd_per_gb_lambda  # same seconds per GB


def test_speeds_must_be_measured():
    with pytest.raises(ValueError, match="speeds must be positive"):
        cost.cost_table(0.0, 170.0, chunk_bytes=64 * MIB, concurrency=10)


def test_results_without_an_all_cores_speed_have_no_cost_block():
    defaults = cost.deployed_defaults(ROOT)
    assert cost.from_results({"processor_mb_s": 100.0}, defaults, init=cost.NOT_MEASURED) is None


def test_the_markdown_table_marks_the_default_and_the_extrapolated_rows():
    block = cost.from_results(SPEEDS, DEFAULTS, init=cost.NOT_MEASURED)
    lines = cost.markdown(block).splitlines()
    assert lines[3].startswith("| 3,538 (default) | 2.0 | 170.0 | ")
    assert lines[4].startswith("| 5,307 | 3.0 | 240.0 (extrapolated) | ")


def processing_seconds(row: dict) -> float:
    return 64 * MIB / 1e6 / row["mb_s"]


def test_the_bench_charges_the_processors_median_init_from_coldstart_json_to_every_chunk(tmp_path):
    """report.cost_block reads bench.py --cold-start's file: each chunk's seconds (and so the
    Lambda cost and the latencies) include the processor's median init, and the block and the
    table say where it came from."""
    coldstart = write_coldstart(tmp_path / "coldstart.json", processor_median=1.25)
    block = report.cost_block(SPEEDS, {}, coldstart_json=coldstart)
    assert block["init_s"] == 1.25
    expected_source = f"{os.path.relpath(coldstart, ROOT)} (processor median, abc1234, {RUNTIME})"
    assert block["init_source"] == expected_source
    for row in block["rows"]:
        assert row["chunk_seconds"] == round(processing_seconds(row) + 1.25, 2)
    assert cost.markdown(block).splitlines()[-1] == (
        "s per chunk: processing plus 1.25 s of cold start init per chunk"
        f" (an upper bound: warm sandboxes skip it), from {expected_source}."
    )


def test_without_coldstart_json_the_table_says_the_init_is_not_measured(tmp_path):
    block = report.cost_block(SPEEDS, {}, coldstart_json=tmp_path / "coldstart.json")
    assert (block["init_s"], block["init_source"]) == (0.0, "not measured")
    for row in block["rows"]:
        assert row["chunk_seconds"] == round(processing_seconds(row), 2)
    assert cost.markdown(block).splitlines()[-1] == (
        "s per chunk: processing only, cold start init not measured"
        " (`python3 bench/bench.py --cold-start` writes bench/coldstart.json)."
    )


def test_the_init_raises_the_lambda_cost_by_its_share_of_each_chunk(tmp_path):
    cold = cost.processor_init(write_coldstart(tmp_path / "c.json", 0.5), tmp_path)
    assert cold == cost.Init(0.5, f"c.json (processor median, abc1234, {RUNTIME})")
    warm_row, cold_row = (
        cost.from_results(SPEEDS, DEFAULTS, init=init)["rows"][0]
        for init in (cost.NOT_MEASURED, cold)
    )
    chunks_per_gb, processing = 1e9 / (64 * MIB), 64 * MIB / 1e8  # 64 MiB at 100 MB/s

    def lambda_usd(seconds: float) -> float:
        gb_seconds = chunks_per_gb * seconds * 1769 / 1024
        return round(gb_seconds * cost.PRICES_USD["lambda_gb_second"]["arm64"], 6)

    assert warm_row["usd_per_gb_lambda"] == lambda_usd(processing)
    assert cold_row["usd_per_gb_lambda"] == lambda_usd(processing + 0.5)


def test_a_coldstart_json_without_the_processors_init_is_named_with_the_command_to_rerun(tmp_path):
    broken = tmp_path / "coldstart.json"
    broken.write_text(json.dumps({"runtime": RUNTIME, "handlers": {"splitter": {}}}))
    with pytest.raises(ValueError, match=r"no handlers.processor.init_s_median: rerun"):
        cost.processor_init(broken, tmp_path)


def test_deployed_defaults_are_read_from_terraform_and_the_contract():
    from etl.contract import DEFAULTS

    defaults = cost.deployed_defaults(ROOT)
    assert defaults["chunk_bytes"] == DEFAULTS["chunk_bytes"] == 64 * MIB
    assert defaults["arch"] in ("arm64", "x86_64")


def test_the_default_memory_is_the_cheapest_row_of_the_committed_bench_results():
    """docs/decisions.md ('What a gigabyte costs'): the default memory is the cheapest per GB
    in the committed bench/results.json; rerun the bench and this test says if it moved."""
    results = json.loads((ROOT / "bench" / "results.json").read_text())
    defaults = cost.deployed_defaults(ROOT)
    init = cost.processor_init(ROOT / "bench" / "coldstart.json", ROOT)
    block = cost.from_results(results, defaults, init=init)
    assert block is not None
    assert defaults["memory_mb"] == block["cheapest_memory_mb"]
