"""CPU time of the processor's threads on one CSV file: what the calling thread runs alone.

    python bench/threadcpu.py FILE [--threads N] [--out DIR]

Prints one JSON line: wall seconds, the process's CPU seconds (`cpu_total`), the calling
thread's (`cpu_calling`: cutting and writing, run in block order) and the rest
(`cpu_others`: the block workers), with the calling thread's share. CPU time does not
depend on what else the machine runs, so the share can be compared across runs on a busy
machine where wall-clock ratios cannot (docs/decisions.md, "Scaling inside a chunk").
With one thread, pyarrow is pinned to one thread as the bench's one-thread job is.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "lambdas"), str(HERE)]


def measure(csv: Path, threads: int, out: Path) -> dict:
    import pyarrow as pa
    from chunkfile import process_file
    from etl.schema_check import load_schema
    from jobs import SCHEMA

    if threads == 1:
        pa.set_cpu_count(1)
        pa.set_io_thread_count(1)
    schema = load_schema(SCHEMA)
    before = resource.getrusage(resource.RUSAGE_SELF)
    wall, cpu, mine = time.perf_counter(), time.process_time(), time.thread_time()
    result = process_file(
        csv, schema, out / "valid.parquet", out / "rejected.parquet", threads=threads
    )
    mine, cpu = time.thread_time() - mine, time.process_time() - cpu
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "threads": threads,
        "wall": round(wall, 3),
        "cpu_total": round(cpu, 3),
        "cpu_calling": round(mine, 3),
        "cpu_others": round(cpu - mine, 3),
        "calling_share": round(mine / cpu, 3) if cpu else None,
        "sys": round(after.ru_stime - before.ru_stime, 3),
        "page_faults": after.ru_minflt - before.ru_minflt,
        "peak_rss_mib": after.ru_maxrss // 1024,
        "rows_valid": int(result.rows_valid),
        "rows_rejected": int(result.rows_rejected),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("csv", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, help="where the outputs go (default: a temporary dir)")
    args = ap.parse_args(argv)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        print(json.dumps(measure(args.csv, args.threads, args.out)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(measure(args.csv, args.threads, Path(tmp))))


if __name__ == "__main__":
    main()
