"""The bench's jobs: the table of what runs (parent side) and each job's body (child side).

Every job runs in its own fresh child process (`bench.py --worker JOB`, see harness.py);
its body imports what it measures lazily, so the parent process stays small. A job
returns a dict; `seconds` is its own wall time after its imports.
"""

from __future__ import annotations

import io
import json
import os
import re
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from layer import import_as_in_lambda
from settings import (
    MIB,
    PANDAS_CHUNKSIZE,
    PARSE_BLOCK_BYTES,
    SCHEMA,
    SPLIT_CHUNK_BYTES,
    SPLIT_MAX_RECORD_BYTES,
)


@dataclass(frozen=True)
class Job:
    """One row of the job table."""

    run: Callable[[Path, Path], dict]
    label: str  # what the table and the chart call it
    group: str  # ours | loop | peer | floor | reference | extra | check
    all_cores: bool = False  # False: the child is pinned to one thread
    sample: str = "main"  # main: the sample with invalid rows; clean: none invalid
    timed: bool = True  # reports MB/s
    repeat: bool = True  # runs --repeat times (best counts)
    in_lambda: bool = False  # imports only what the Lambda layer holds (bench/layer.py)


# --------------------------------------------------------------------------- child side
def _pin_one_thread() -> None:
    import pyarrow as pa

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)


def _cpu_seconds() -> float:
    """CPU seconds of this process (every thread) and of its ended children (the forked
    workers of validate and describe): what a job costs, whatever else the machine runs."""
    me, workers = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + workers.ru_utime + workers.ru_stime


def _threads(all_cores: bool) -> int:
    return (os.cpu_count() or 1) if all_cores else 1


def job_processor(csv: Path, out: Path, *, all_cores: bool = False) -> dict:
    """chunkfile.process_file on the whole file as one chunk; with all_cores, one block
    worker per core (what a multi-vCPU Lambda does)."""
    if not all_cores:
        _pin_one_thread()
    from chunkfile import process_file
    from etl.schema_check import load_schema

    out.mkdir(parents=True, exist_ok=True)
    threads = _threads(all_cores)
    started, cpu = time.perf_counter(), _cpu_seconds()
    result = process_file(
        csv, load_schema(SCHEMA), out / "valid.parquet", out / "rejected.parquet", threads=threads
    )
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "cpu_seconds": _cpu_seconds() - cpu,
        "threads": threads,
        "rows_valid": int(result.rows_valid),
        "rows_rejected": int(result.rows_rejected),
        "result": result.to_dict(),
        "pandas_loaded": "pandas" in sys.modules,  # never, as in Lambda (bench/layer.py)
        # Parquet bytes out per CSV byte in: the cost model's multipart PUTs (bench/cost.py)
        "output_bytes": sum(
            (out / name).stat().st_size
            for name in ("valid.parquet", "rejected.parquet")
            if (out / name).exists()
        ),
    }


def job_validate(csv: Path, out: Path, *, all_cores: bool = False) -> dict:
    """localrun.validate.validate_file: the file cut as the pipeline cuts it (the deployed
    chunk size), every chunk through the processor's core, the outputs published to `out`
    as the finalizer publishes them; in this process, or on one worker process per core."""
    if not all_cores:
        _pin_one_thread()
    import etl.transform  # noqa: F401 - imported before the clock, as the processor job's

    from localrun.validate import validate_file

    schema_bytes = SCHEMA.read_bytes()
    jobs = _threads(all_cores)
    started, cpu = time.perf_counter(), _cpu_seconds()
    result = validate_file(csv, schema_bytes, out=out, jobs=jobs)
    seconds = time.perf_counter() - started
    if not result.succeeded:
        raise RuntimeError(f"validate: the file would fail: {result.error}")
    return {
        "seconds": seconds,
        "cpu_seconds": _cpu_seconds() - cpu,
        "threads": jobs,
        "chunks": result.chunks,
        "rows_valid": int(result.rows_valid),
        "rows_rejected": int(result.rows_rejected),
    }


def job_describe(csv: Path, out: Path, *, all_cores: bool = False) -> dict:
    """localrun.describe on the file: every record read, in chunks summarised on one
    process or on one worker process per core; the inferred schema is part of the result
    (it must not depend on the chunking)."""
    if not all_cores:
        _pin_one_thread()
    import localrun.chunkread  # noqa: F401 - imported before the clock (forked workers)
    from localrun.describe import _parse_args, describe

    jobs = _threads(all_cores)
    err = io.StringIO()
    started, cpu = time.perf_counter(), _cpu_seconds()
    doc = describe(_parse_args([str(csv), "--jobs", str(jobs)]), err=err)
    seconds = time.perf_counter() - started
    records = re.match(r"([\d,]+) records", err.getvalue())
    return {
        "seconds": seconds,
        "cpu_seconds": _cpu_seconds() - cpu,
        "threads": jobs,
        "rows_described": int(records.group(1).replace(",", "")) if records else None,
        "schema": doc,
    }


def job_pandas(csv: Path, out: Path) -> dict:
    _pin_one_thread()
    from etl.schema_check import load_schema
    from pandas_reference import process_file_pandas

    schema = load_schema(SCHEMA)
    started = time.perf_counter()
    result = process_file_pandas(
        csv, schema, out / "valid", out / "rejected", chunksize=PANDAS_CHUNKSIZE
    )
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "threads": 1,
        "rows_valid": result.rows_valid,
        "rows_rejected": result.rows_rejected,
        "rejected_by_reason": result.rejected_by_reason,
    }


def job_polars(csv: Path, out: Path, *, all_cores: bool = False) -> dict:
    """bench/polars_reference.py; its thread count comes from POLARS_MAX_THREADS (set to 1
    for the one-thread job by the parent), read when polars is imported."""
    if not all_cores:
        _pin_one_thread()
    import polars as pl
    from etl.schema_check import load_schema
    from polars_reference import process_file_polars

    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = process_file_polars(
        csv, load_schema(SCHEMA), out / "valid.parquet", out / "rejected.parquet"
    )
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "threads": pl.thread_pool_size(),
        "rows_valid": result.rows_valid,
        "rows_rejected": result.rows_rejected,
        "rejected_by_reason": result.rejected_by_reason,
        "version": pl.__version__,
    }


def job_duckdb(csv: Path, out: Path, *, all_cores: bool = False) -> dict:
    if not all_cores:
        _pin_one_thread()
    import duckdb
    from duckdb_reference import process_file_duckdb
    from etl.schema_check import load_schema

    out.mkdir(parents=True, exist_ok=True)
    threads = _threads(all_cores)
    started = time.perf_counter()
    result = process_file_duckdb(
        csv,
        load_schema(SCHEMA),
        out / "valid.parquet",
        out / "rejected.parquet",
        threads=threads,
    )
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "threads": threads,
        "rows_valid": result.rows_valid,
        "rows_rejected": result.rows_rejected,
        "rejected_by_reason": result.rejected_by_reason,
        "version": duckdb.__version__,
    }


def job_floor(csv: Path, out: Path) -> dict:
    """bench/floor.py on the clean sample: typed parse + the processor's Parquet write."""
    _pin_one_thread()
    from etl.schema_check import load_schema
    from floor import write_floor

    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows = write_floor(csv, load_schema(SCHEMA), out / "valid.parquet")
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "threads": 1, "rows_valid": rows, "rows_rejected": 0}


def job_parse_only(csv: Path, out: Path) -> dict:
    """pyarrow.csv.open_csv over the file, strings only, no checks, no write."""
    _pin_one_thread()
    import pyarrow as pa
    from etl.schema_check import load_schema
    from pyarrow import csv as pacsv

    names = load_schema(SCHEMA).names
    skipped = 0

    def skip(_row) -> str:
        nonlocal skipped
        skipped += 1
        return "skip"

    started = time.perf_counter()
    reader = pacsv.open_csv(
        csv,
        read_options=pacsv.ReadOptions(use_threads=False, block_size=PARSE_BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(invalid_row_handler=skip),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, strings_can_be_null=False
        ),
    )
    rows = 0
    for batch in reader:
        rows += batch.num_rows
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "threads": 1,
        "rows_parsed": rows,
        "rows_skipped_by_parser": skipped,
    }


def job_splitter(csv: Path, out: Path) -> dict:
    """etl.chunking.plan_chunks with 64 MiB chunks: bytes read per chunk boundary."""
    from etl.chunking import plan_chunks

    size = csv.stat().st_size
    fd = os.open(csv, os.O_RDONLY)
    reads = 0

    def read_range(start: int, end: int) -> bytes:
        nonlocal reads
        reads += 1
        return os.pread(fd, end - start, start)

    started = time.perf_counter()
    plan = plan_chunks(
        read_range, size, chunk_bytes=SPLIT_CHUNK_BYTES, max_record_bytes=SPLIT_MAX_RECORD_BYTES
    )
    seconds = time.perf_counter() - started
    os.close(fd)
    chunks = plan.chunks
    tiled = all(a.end == b.start for a, b in zip(chunks, chunks[1:], strict=False)) and (
        not chunks or chunks[-1].end == size
    )
    return {
        "seconds": seconds,
        "chunks": len(chunks),
        "boundaries": plan.boundaries,
        "bytes_read": plan.bytes_read,
        "reads": reads,
        "fallbacks": plan.fallbacks,
        "bytes_per_boundary": plan.bytes_per_boundary,
        # every chunk start must be a record start: right after a newline, outside quotes
        "starts_after_newline": _record_starts_ok(csv, [c.start for c in chunks]),
        "chunks_tile_the_file": tiled,
    }


def _record_starts_ok(csv: Path, starts: list[int]) -> bool:
    """Each offset after the first is right after a newline with an even quote count since
    the first (exact for RFC 4180). Streams the file, so it adds no memory to the job."""
    quotes, pos = 0, starts[0] if starts else 0
    with open(csv, "rb") as f:
        for start in starts[1:]:
            f.seek(pos)
            while pos < start:
                block = f.read(min(8 * MIB, start - pos))
                if not block:
                    return False
                quotes += block.count(b'"')
                pos += len(block)
            if quotes % 2 or not block.endswith(b"\n"):
                return False
    return True


def _s3_model(streamed: bool) -> Callable[[Path, Path], dict]:
    def run(csv: Path, out: Path) -> dict:
        from s3model import job_s3_model

        return job_s3_model(csv, out, streamed=streamed)

    return run


# --------------------------------------------------------------------------- the job table
def _processes(csv: Path, out: Path) -> dict:
    from processes import job_processor_processes

    return job_processor_processes(csv, out)


def _diff(peer: str) -> Callable[[Path, Path], dict]:
    def run(csv: Path, out: Path) -> dict:
        from diffs import job_diff

        return job_diff(csv, out, peer=peer, rejects=peer in SAME_OUTPUTS)

    return run


JOBS: dict[str, Job] = {
    "processor": Job(job_processor, "processor", "ours", in_lambda=True),
    "processor_all_cores": Job(
        lambda c, o: job_processor(c, o, all_cores=True),
        "processor, all cores",
        "ours",
        all_cores=True,
        in_lambda=True,
    ),
    "processor_processes": Job(
        _processes, "processor, one process per core", "ours", all_cores=True, in_lambda=True
    ),
    "validate": Job(job_validate, "validate", "loop"),
    "validate_all_cores": Job(
        lambda c, o: job_validate(c, o, all_cores=True),
        "validate, all cores",
        "loop",
        all_cores=True,
    ),
    "describe": Job(job_describe, "describe", "loop"),
    "describe_all_cores": Job(
        lambda c, o: job_describe(c, o, all_cores=True),
        "describe, all cores",
        "loop",
        all_cores=True,
    ),
    "polars": Job(job_polars, "polars", "peer"),
    "polars_all_cores": Job(
        lambda c, o: job_polars(c, o, all_cores=True), "polars, all cores", "peer", all_cores=True
    ),
    "duckdb": Job(job_duckdb, "DuckDB", "peer"),
    "duckdb_all_cores": Job(
        lambda c, o: job_duckdb(c, o, all_cores=True), "DuckDB, all cores", "peer", all_cores=True
    ),
    "pandas": Job(job_pandas, "pandas", "reference"),
    "floor": Job(job_floor, "floor: typed parse + write", "floor", sample="clean"),
    "parse_only": Job(job_parse_only, "pyarrow parse only", "floor"),
    "s3_model_serial": Job(
        _s3_model(False), "S3 model: serial GET, upload after", "extra", all_cores=True
    ),
    "s3_model_streamed": Job(
        _s3_model(True), "S3 model: ReadAhead + S3Sink", "extra", all_cores=True
    ),
    "splitter": Job(job_splitter, "splitter", "check", timed=False, repeat=False),
    **{
        f"diff_{peer}": Job(_diff(peer), f"diff vs {peer}", "check", timed=False, repeat=False)
        for peer in ("pandas", "polars", "duckdb", "validate", "validate_all_cores")
    },
}
DEFAULT_JOBS = (
    "processor",
    "polars",
    "duckdb",
    "pandas",
    "floor",
    "parse_only",
    "splitter",
    "processor_all_cores",
    "processor_processes",
    "polars_all_cores",
    "duckdb_all_cores",
    "s3_model_serial",
    "s3_model_streamed",
    "validate",
    "validate_all_cores",
    "describe",
    "describe_all_cores",
)
# the jobs that process the main sample and whose counts must agree with the generator's
COUNTED = (
    "processor",
    "processor_all_cores",
    "processor_processes",
    "polars",
    "polars_all_cores",
    "duckdb",
    "duckdb_all_cores",
    "pandas",
    "s3_model_serial",
    "s3_model_streamed",
    "validate",
    "validate_all_cores",
)
DESCRIBED = ("describe", "describe_all_cores")  # every record read, the same schema inferred
PEERS = ("polars", "duckdb")  # same job as ours, run at one thread and at all cores
# valid outputs compared with the processor's value by value; SAME_OUTPUTS: the rejects too
VALUE_CHECKED = ("pandas", "polars", "duckdb", "validate", "validate_all_cores")
SAME_OUTPUTS = ("validate", "validate_all_cores")


def worker(job: str, csv: Path, out: Path) -> None:
    """Child side: run one job and print its payload as the last stdout line."""
    if JOBS[job].in_lambda:
        import_as_in_lambda()
    import pyarrow as pa

    try:
        payload = {"ok": True, **JOBS[job].run(csv, out)}
    except ModuleNotFoundError as exc:
        payload = {"ok": False, "available": False, "error": f"not available: {exc}"}
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which decides
        payload = {"ok": False, "available": True, "error": f"{type(exc).__name__}: {exc}"}
    payload["pyarrow_version"] = pa.__version__
    print("BENCH-RESULT " + json.dumps(payload, default=str), flush=True)
