"""`describe` against the processor on one file, in one process, alternately (issue 20).

    PYTHONPATH=lambdas:. python bench/describe_speed.py [--size-mb 64] [--repeat 3]

Writes a sample (`localrun.sample`, seed 3) unless --file is given, then times the processor
on the whole file (`bench/chunkfile.process_file`, one thread and every core) and
`describe` (one process and every core), each --repeat times in turn; prints the best
wall-clock seconds of each. The bench proper (`nox -s bench`) is where targets are judged.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--file")
    parser.add_argument("--size-mb", type=float, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from chunkfile import process_file
    from etl.schema import load_schema

    from localrun.describe import _parse_args, describe
    from localrun.sample import SCHEMA_PATH, write_transactions

    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        path = args.file or f"{tmp}/sample.csv"
        if not args.file:
            write_transactions(path, size_bytes=int(args.size_mb * 2**20), seed=3)
        schema = load_schema(SCHEMA_PATH)
        jobs = {
            "processor, 1 thread": lambda: process_file(
                path, schema, f"{tmp}/v.parquet", f"{tmp}/r.parquet", threads=1
            ),
            f"processor, {cores} threads": lambda: process_file(
                path, schema, f"{tmp}/v.parquet", f"{tmp}/r.parquet", threads=cores
            ),
            "describe, 1 process": lambda: describe(
                _parse_args([path, "--jobs", "1"]), err=io.StringIO()
            ),
            f"describe, {cores} processes": lambda: describe(
                _parse_args([path, "--jobs", str(cores)]), err=io.StringIO()
            ),
        }
        best = dict.fromkeys(jobs, float("inf"))
        for _ in range(args.repeat):
            for name, job in jobs.items():
                started = time.perf_counter()
                job()
                best[name] = min(best[name], time.perf_counter() - started)
    size = os.path.getsize(path) if args.file else int(args.size_mb * 2**20)
    for name, seconds in best.items():
        print(f"{name:24} {seconds:6.2f} s  {size / 2**20 / seconds:6.1f} MiB/s")


if __name__ == "__main__":
    main()
