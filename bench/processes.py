"""The host's own two-core scaling for the processor's work: the `processor_processes` job.

The sample is cut into one record-aligned range per core (`etl.chunking.plan_chunks`, as
the splitter cuts a file), and one process per core runs the processor's one-thread path
on its range (`process_stream`, pinned to one thread, as the `processor` job). The
processes import first and then start together (a barrier); the job's seconds run from
that start until the last range is written.

Nothing is shared between these processes (no GIL, no writer, no blocks handed between
threads), so what they reach over the one-thread job is what this machine gives the
processor's work on every core: the ceiling for `processor_all_cores`, which runs the
same work as threads of one process. Their ratio separates the threads' own overhead
from the machine's (memory bandwidth, shared caches, the hypervisor's cores).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

from layer import import_as_in_lambda
from settings import SCHEMA, SPLIT_MAX_RECORD_BYTES

BARRIER_SECONDS = 120  # every process has imported by then, or the job fails


def _ranges(csv: Path, parts: int) -> tuple[bytes, list[tuple[int, int, bool]]]:
    """The header line and `parts` record-aligned (start, end, is_last) data ranges."""
    from etl.chunking import plan_chunks

    size = csv.stat().st_size
    with open(csv, "rb") as f:

        def read(start: int, end: int) -> bytes:
            f.seek(start)
            return f.read(end - start)

        # about size/parts per range; the plan rounds each boundary to a record start
        plan = plan_chunks(
            read, size, chunk_bytes=-(-size // parts), max_record_bytes=SPLIT_MAX_RECORD_BYTES
        )
    return plan.header, [(c.start, c.end, c.last) for c in plan.chunks]


class _Window:
    """`read()` over bytes [start, end) of an open file."""

    def __init__(self, f, start: int, end: int):
        f.seek(start)
        self._f, self._left = f, end - start

    def readinto(self, view: memoryview) -> int:
        n = self._f.readinto(view[: self._left]) if self._left > 0 else 0
        self._left -= n
        return n


def _worker(csv: str, header: bytes, part: tuple, out: str, barrier, results) -> None:
    try:
        results.put(_run_range(csv, header, part, out, barrier))
    except BaseException as exc:  # noqa: BLE001 - reported to the job, which raises
        barrier.abort()  # the others stop waiting
        results.put(f"{type(exc).__name__}: {exc}")


def _run_range(csv: str, header: bytes, part: tuple, out: str, barrier) -> tuple:
    import_as_in_lambda()  # as the processor jobs (a spawned process starts afresh)
    import pyarrow as pa

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    from etl.checks import parse_header
    from etl.schema_check import load_schema
    from etl.transform import process_stream

    schema = load_schema(SCHEMA)
    columns = parse_header(header, schema)
    start, end, is_last = part
    barrier.wait(timeout=BARRIER_SECONDS)
    began = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
    with open(csv, "rb") as f:
        result = process_stream(
            _Window(f, start, end),
            schema=schema,
            columns=columns,
            valid_path=Path(out) / f"valid-{start}.parquet",
            rejected_path=Path(out) / f"rejected-{start}.parquet",
            is_last_chunk=is_last,
            threads=1,
        )
    return began, time.perf_counter(), result.rows_valid, result.rows_rejected


def job_processor_processes(csv: Path, out: Path) -> dict:
    """One process per core, each on its own range of the sample, started together."""
    parts = os.cpu_count() or 1
    header, ranges = _ranges(csv, parts)
    out.mkdir(parents=True, exist_ok=True)
    spawn = multiprocessing.get_context("spawn")  # fresh interpreters, as the other jobs
    barrier, results = spawn.Barrier(len(ranges)), spawn.Queue()
    procs = [
        spawn.Process(target=_worker, args=(str(csv), header, r, str(out), barrier, results))
        for r in ranges
    ]
    for p in procs:
        p.start()
    done = [results.get(timeout=BARRIER_SECONDS + 600) for _ in procs]
    for p in procs:
        p.join()
    failed = [d for d in done if isinstance(d, str)]
    if failed:
        raise RuntimeError(f"processor_processes: a range failed: {failed[0]}")
    return _summary(done)


def _summary(done: list[tuple[float, float, int, int]]) -> dict:
    """The job's result from each range's (began, ended, rows_valid, rows_rejected): its
    seconds run from the first range's start to the last range's end, so they are never
    fewer than any one range's seconds. Nothing here is rounded: a range's seconds rounded
    up would exceed the job's when that range spans the job."""
    return {
        "seconds": max(d[1] for d in done) - min(d[0] for d in done),
        "threads": len(done),
        "processes": len(done),
        "range_seconds": sorted(d[1] - d[0] for d in done),
        "rows_valid": sum(d[2] for d in done),
        "rows_rejected": sum(d[3] for d in done),
    }
