"""What one GB of CSV costs to ingest, and how long a file takes, from the bench's own speeds.

A model, not a bill: it turns the processor's measured one-thread and all-cores speeds
(`processor_mb_s`, `processor_all_cores_mb_s`, measured in the same run) into Lambda
GB-seconds, Step Functions state transitions, S3 requests and DynamoDB writes per GB, at
each processor memory size worth offering, and into the wall-clock time of a 1 GB and a
10 GB file at a Map concurrency.

The rules it follows, each stated where it is applied:
- Lambda gives CPU in proportion to memory: one vCPU per `MB_PER_VCPU` MB, six at most
  (10,240 MB). Below one vCPU the one-thread speed scales down with the share.
- Speed at v vCPUs: the one-thread speed for the first vCPU, plus the measured gain of the
  second core per further vCPU. The machine that measures has 2 cores, so every speed past
  2 vCPUs is an EXTRAPOLATION (the row says so): a linear continuation of what the second
  core gave, which neither memory bandwidth nor S3 need honour.
- Duration per chunk: chunk MB / speed, plus the processor's init once per chunk (an upper
  bound: every Map child may start a fresh sandbox; warm ones skip it). The init is the
  processor's median from `bench.py --cold-start`'s `coldstart.json` (`processor_init`),
  passed explicitly and recorded with its source (`init_s`, `init_source`); without that file
  it is 0 and the block and the table say "not measured". S3 transfer is assumed hidden behind
  the processing (ReadAhead/S3Sink overlap them; `s3_model_*` in the bench shows the overlap).
- Fixed work per file (Split, Validate, Finalize) is priced at `FIXED_FUNCTION_SECONDS`
  each at the default memory: small next to the chunks for a GB, named so it can be checked.
- Prices: list prices in US East (N. Virginia), read on `PRICES_READ_ON` from the pages in
  `PRICE_SOURCES`. Free tiers are ignored.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

MB_PER_VCPU = 1769
MAX_VCPUS = 6
MAX_MEMORY_MB = 10_240
MEMORY_SIZES_MB = (1769, 3538, 5307, 7076, 8845, 10_240)

PRICES_READ_ON = "2026-12-06"
PRICE_SOURCES = {
    "lambda": "https://aws.amazon.com/lambda/pricing/",
    "step_functions": "https://aws.amazon.com/step-functions/pricing/",
    "s3": "https://aws.amazon.com/s3/pricing/",
    "dynamodb": "https://aws.amazon.com/dynamodb/pricing/on-demand/",
}
PRICES_USD = {
    "lambda_gb_second": {"x86_64": 0.0000166667, "arm64": 0.0000133334},
    "lambda_request": 0.20 / 1e6,
    "state_transition": 0.025 / 1e3,  # Standard workflows; Distributed Map children included
    "s3_get": 0.0004 / 1e3,
    "s3_put": 0.005 / 1e3,  # PUT, COPY, POST (multipart create/part/complete), LIST
    "dynamodb_write_unit": 0.625 / 1e6,  # on-demand; a transactional write costs 2 units
}

GB = 1e9  # the table is per GB of CSV (1e9 bytes), as MB/s is per 1e6 bytes
FIXED_FUNCTION_SECONDS = 2.0  # Split, Validate, Finalize: each at most a few ranged reads/copies
FIXED_FUNCTION_MEMORY_MB = 1769
TRANSITIONS_PER_FILE = 8  # Split, IsDuplicate, Validate, ProcessChunks, Finalize, Notify, ends
TRANSITIONS_PER_CHUNK = 3  # a child execution: its start, ProcessChunk, its end
READ_PART_BYTES = 4 * 1024 * 1024  # etl.s3io.READ_PART_BYTES (ranged GETs per chunk)
WRITE_PART_BYTES = 8 * 1024 * 1024  # etl.s3io.WRITE_PART_BYTES (multipart parts)
DYNAMODB_WRITE_UNITS_PER_CHUNK = 2 + 2 + 1  # start (transaction), finish (transaction), fail/read


@dataclass(frozen=True)
class Row:
    memory_mb: int
    vcpus: float
    mb_s: float
    extrapolated: bool
    chunk_seconds: float
    usd_per_gb: float
    usd_per_gb_lambda: float
    latency_1gb_s: float
    latency_10gb_s: float


@dataclass(frozen=True)
class Init:
    """The processor's init charged once per chunk, and where that number comes from."""

    seconds: float
    source: str


NOT_MEASURED = Init(0.0, "not measured")


def processor_init(coldstart_json: Path, root: Path) -> Init:
    """The processor's median init from `bench.py --cold-start`'s file (its path shown relative
    to `root`, with the commit and the runtime measured), or NOT_MEASURED when there is none."""
    if not coldstart_json.exists():
        return NOT_MEASURED
    data = json.loads(coldstart_json.read_text())
    try:
        seconds = float(data["handlers"]["processor"]["init_s_median"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"{coldstart_json} has no handlers.processor.init_s_median: rerun"
            " `python3 bench/bench.py --cold-start` or delete the file"
        ) from None
    shown = os.path.relpath(coldstart_json, root)
    commit = data.get("git", {}).get("commit", "commit not recorded")
    return Init(seconds, f"{shown} (processor median, {commit}, {data['runtime']})")


def vcpus(memory_mb: int) -> float:
    return min(memory_mb / MB_PER_VCPU, MAX_VCPUS)


def speed(one_thread_mb_s: float, two_cores_mb_s: float, cpus: float) -> float:
    """MB/s at `cpus` vCPUs: the first vCPU at the one-thread speed (a share of it below one),
    each further vCPU adding what the second core added in the measurement."""
    second_core_gain = max(two_cores_mb_s - one_thread_mb_s, 0.0)
    return one_thread_mb_s * min(cpus, 1.0) + second_core_gain * max(cpus - 1.0, 0.0)


def _requests_usd(chunk_bytes: int, output_ratio: float) -> float:
    """S3, DynamoDB and Step Functions per chunk (the per-file ones are added per file)."""
    gets = math.ceil(chunk_bytes / READ_PART_BYTES)
    out_parts = max(1, math.ceil(chunk_bytes * output_ratio / WRITE_PART_BYTES))
    puts = 2 * (2 + out_parts) + 2  # two multipart outputs (create + parts + complete), publish
    return (
        gets * PRICES_USD["s3_get"]
        + puts * PRICES_USD["s3_put"]
        + DYNAMODB_WRITE_UNITS_PER_CHUNK * PRICES_USD["dynamodb_write_unit"]
        + TRANSITIONS_PER_CHUNK * PRICES_USD["state_transition"]
        + PRICES_USD["lambda_request"]
    )


def _file_fixed_usd(arch: str) -> float:
    gb_s = 3 * FIXED_FUNCTION_SECONDS * FIXED_FUNCTION_MEMORY_MB / 1024
    return (
        gb_s * PRICES_USD["lambda_gb_second"][arch]
        + 3 * PRICES_USD["lambda_request"]
        + TRANSITIONS_PER_FILE * PRICES_USD["state_transition"]
    )


def latency_s(file_bytes: float, chunk_bytes: int, chunk_seconds: float, concurrency: int) -> float:
    """Wall clock of one file: the fixed functions, then the chunks in waves of `concurrency`."""
    chunks = max(1, math.ceil(file_bytes / chunk_bytes))
    return 3 * FIXED_FUNCTION_SECONDS + math.ceil(chunks / concurrency) * chunk_seconds


def cost_table(
    one_thread_mb_s: float,
    two_cores_mb_s: float,
    *,
    chunk_bytes: int,
    concurrency: int,
    arch: str = "arm64",
    init_s: float = 0.0,
    output_ratio: float = 0.5,
    memory_sizes: tuple[int, ...] = MEMORY_SIZES_MB,
) -> list[Row]:
    """One row per processor memory size: speed, cost per GB of CSV and two latencies."""
    if one_thread_mb_s <= 0 or two_cores_mb_s <= 0:
        raise ValueError("speeds must be positive MB/s measured by the bench")
    rows = []
    chunks_per_gb = GB / chunk_bytes
    for memory in memory_sizes:
        cpus = vcpus(memory)
        mb_s = speed(one_thread_mb_s, two_cores_mb_s, cpus)
        seconds = chunk_bytes / 1e6 / mb_s + init_s
        lambda_usd = chunks_per_gb * seconds * memory / 1024 * PRICES_USD["lambda_gb_second"][arch]
        total = (
            lambda_usd
            + chunks_per_gb * _requests_usd(chunk_bytes, output_ratio)
            + _file_fixed_usd(arch)
        )
        rows.append(
            Row(
                memory_mb=memory,
                vcpus=round(cpus, 2),
                mb_s=round(mb_s, 1),
                extrapolated=cpus > 2.0,
                chunk_seconds=round(seconds, 2),
                usd_per_gb=round(total, 6),
                usd_per_gb_lambda=round(lambda_usd, 6),
                latency_1gb_s=round(latency_s(GB, chunk_bytes, seconds, concurrency), 1),
                latency_10gb_s=round(latency_s(10 * GB, chunk_bytes, seconds, concurrency), 1),
            )
        )
    return rows


def from_results(results: dict, defaults: dict, *, init: Init) -> dict | None:
    """The `cost` block of results.json at the deployed defaults (`deployed_defaults`) with the
    processor's `init` per chunk (`processor_init`), or None when the run lacks either processor
    speed. The default memory gets a row of its own."""
    one, two = results.get("processor_mb_s"), results.get("processor_all_cores_mb_s")
    if not one or not two:
        return None
    job = results.get("jobs", {}).get("processor", {})
    ratio = (
        job["output_bytes"] / job["sample_bytes"]
        if job.get("output_bytes") and job.get("sample_bytes")
        else 0.5  # runs before output_bytes was recorded
    )
    sizes = tuple(sorted({*MEMORY_SIZES_MB, defaults["memory_mb"]}))
    rows = cost_table(
        one,
        two,
        chunk_bytes=defaults["chunk_bytes"],
        concurrency=defaults["concurrency"],
        arch=defaults["arch"],
        init_s=init.seconds,
        output_ratio=ratio,
        memory_sizes=sizes,
    )
    return {
        "defaults": defaults,
        "output_ratio": round(ratio, 4),
        "init_s": round(init.seconds, 3),
        "init_source": init.source,
        "prices_usd": PRICES_USD,
        "prices_read_on": PRICES_READ_ON,
        "price_sources": PRICE_SOURCES,
        "measured_cores": 2,
        "rows": [asdict(r) for r in rows],
        "cheapest_memory_mb": min(rows, key=lambda r: (r.usd_per_gb, r.memory_mb)).memory_mb,
    }


def markdown(cost: dict) -> str:
    """The table as bench/README.md shows it."""
    lines = [
        "| memory MB | vCPUs | MB/s | s per chunk | $ per GB (all) | $ per GB (Lambda) "
        "| 1 GB file s | 10 GB file s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in cost["rows"]:
        star = " (extrapolated)" if r["extrapolated"] else ""
        mark = " (default)" if r["memory_mb"] == cost["defaults"]["memory_mb"] else ""
        lines.append(
            f"| {r['memory_mb']:,}{mark} | {r['vcpus']} | {r['mb_s']}{star} | {r['chunk_seconds']} "
            f"| {r['usd_per_gb']:.5f} | {r['usd_per_gb_lambda']:.5f} "
            f"| {r['latency_1gb_s']} | {r['latency_10gb_s']} |"
        )
    lines.append("")
    lines.append(init_note(cost))
    return "\n".join(lines)


def init_note(cost: dict) -> str:
    """What the table's seconds per chunk hold of a cold start."""
    if cost["init_source"] == NOT_MEASURED.source:
        return (
            "s per chunk: processing only, cold start init not measured"
            " (`python3 bench/bench.py --cold-start` writes bench/coldstart.json)."
        )
    return (
        f"s per chunk: processing plus {cost['init_s']:.2f} s of cold start init per chunk"
        f" (an upper bound: warm sandboxes skip it), from {cost['init_source']}."
    )


# --------------------------------------------------------------------------- the deployed defaults
def _unquote(value):
    return value.strip('"') if isinstance(value, str) else value


def _variables(path) -> dict:
    import hcl2  # python-hcl2 (the test extra): read only when results are built

    with open(path) as fh:
        blocks = hcl2.load(fh)["variable"]
    return {_unquote(k): v for block in blocks for k, v in block.items()}


def deployed_defaults(root) -> dict:
    """What a deployment gets when it sets nothing: the Terraform variables' defaults and
    contract.json's chunk size, read from the files that define them."""
    import re
    from pathlib import Path

    root = Path(root)
    pipeline = _variables(root / "modules" / "pipeline" / "variables.tf")
    compute = _variables(root / "modules" / "compute" / "variables.tf")
    memory = re.search(r"memory_mb\s*=\s*optional\(number,\s*(\d+)\)", compute["functions"]["type"])
    if str(root / "lambdas") not in sys.path:  # the parent of the bench runs without it
        sys.path.append(str(root / "lambdas"))
    from etl.contract import DEFAULTS  # the one reader of contract.json

    return {
        "arch": _unquote(pipeline["architecture"]["default"]),
        "concurrency": int(pipeline["max_concurrency"]["default"]),
        "memory_mb": int(memory.group(1)),
        "chunk_bytes": int(DEFAULTS["chunk_bytes"]),
    }
