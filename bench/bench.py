"""Throughput and memory benchmark: our processor vs pandas vs pyarrow parse-only.

    python bench/bench.py [--size-mb N] [--seed S] [--out bench/results.json] [--keep]
                          [--rss-check] [--repeat K]

Generates a synthetic transactions CSV of N MiB (default 256; ~0.5% invalid
rows of several kinds, see localrun/sample.py) into bench/data/, reads it once
to warm the page cache, then runs every job in its OWN fresh subprocess pinned
to one thread (pyarrow cpu/io pools = 1, OMP/ARROW/BLAS env = 1,
use_threads=False), measuring:

  processor   etl.transform.process_file on the whole file as one chunk
  pandas      bench/pandas_reference.py (chunked read_csv + validate + to_parquet)
  parse_only  pyarrow.csv.open_csv over the file, strings only, no checks, no write
  splitter    etl.chunking.plan_chunks with 64 MiB chunks: bytes read per boundary

Seconds are the job's own wall time (measured inside the child after its
imports); MB/s is file bytes / 1e6 / seconds; peak RSS is the child's
ru_maxrss from os.wait4 (exact per child; the parent stays small so it does not
leak into the child's high-water mark).  Sizes on the command line are MiB.

The parent imports only the standard library (plus matplotlib at the very end,
after all children have run).  Child mode: ``bench.py --worker JOB ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCHEMA = ROOT / "schemas" / "transactions.json"
MIB = 2**20
SPLIT_CHUNK_BYTES = 64 * MIB
SPLIT_MAX_RECORD_BYTES = 1 * MIB
PARSE_BLOCK_BYTES = 1 * MIB
PANDAS_CHUNKSIZE = 100_000
TARGETS = {
    "ratio_processor_to_parse_only": (">=", 0.5),
    "processor_peak_rss_mib": ("<=", 300.0),
    "splitter_bytes_per_boundary": ("<=", float(MIB)),
}
SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OMP_THREAD_LIMIT": "1",
    "ARROW_NUM_THREADS": "1",
    "ARROW_IO_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_MAX_THREADS": "1",
    "POLARS_MAX_THREADS": "1",
}


# --------------------------------------------------------------------------- child side
def _pin_one_thread() -> None:
    import pyarrow as pa

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)


def _job_processor(csv: Path, out: Path) -> dict:
    _pin_one_thread()
    from etl.schema import load_schema
    from etl.transform import process_file

    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    schema = load_schema(SCHEMA)
    result = process_file(csv, schema, out / "valid.parquet", out / "rejected.parquet")
    seconds = time.perf_counter() - started
    extra = {k: v for k, v in vars(result).items() if isinstance(v, (int, float, str))} \
        if hasattr(result, "__dict__") else {}
    return {"seconds": seconds, "rows_valid": int(result.rows_valid),
            "rows_rejected": int(result.rows_rejected), "result": extra}


def _job_processor_all_cores(csv: Path, out: Path) -> dict:
    """The same processor with one block worker per core (what a multi-vCPU Lambda does);
    an extra, not a target: the comparison jobs stay at one thread."""
    from etl.schema import load_schema
    from etl.transform import process_file

    out.mkdir(parents=True, exist_ok=True)
    threads = os.cpu_count() or 1
    started = time.perf_counter()
    result = process_file(csv, load_schema(SCHEMA), out / "valid.parquet",
                          out / "rejected.parquet", threads=threads)
    return {"seconds": time.perf_counter() - started, "threads": threads,
            "rows_valid": int(result.rows_valid), "rows_rejected": int(result.rows_rejected)}


# A model of S3 as one chunk's processor sees it (not a measurement of AWS): every request
# waits a first-byte latency, then moves bytes at a fixed per-connection bandwidth. Values in
# the range commonly reported for Lambda in-region; the point is the comparison.
S3_MODEL = {"first_byte_latency_s": 0.030, "stream_mb_s": 90.0}
OLD_UPLOAD_PART_BYTES = 16 * MIB  # what the processor's upload_file used: 16 MiB parts, 2 at once


def _modelled_transfer(nbytes: int) -> None:
    time.sleep(S3_MODEL["first_byte_latency_s"] + nbytes / 1e6 / S3_MODEL["stream_mb_s"])


class _ModelledStream:
    """One GET over the whole range, streamed: what a plain StreamingBody gives."""

    def __init__(self, f, end: int):
        self.f, self.left, self.first = f, end, True

    def read(self, n: int) -> bytes:
        if self.first:
            time.sleep(S3_MODEL["first_byte_latency_s"])
            self.first = False
        data = self.f.read(min(n, self.left))
        self.left -= len(data)
        time.sleep(len(data) / 1e6 / S3_MODEL["stream_mb_s"])
        return data


class _ModelledS3:
    """The S3 calls S3Sink makes, each costing one modelled transfer; bodies are kept so the
    job can check what arrived."""

    def __init__(self):
        self.objects: dict[str, int] = {}

    def put_object(self, Key: str, Body: bytes, **_):  # noqa: N803 (boto3's names)
        _modelled_transfer(len(Body))
        self.objects[Key] = len(Body)

    def create_multipart_upload(self, **_):
        time.sleep(S3_MODEL["first_byte_latency_s"])
        return {"UploadId": "u"}

    def upload_part(self, Key: str, PartNumber: int, Body: bytes, **_):  # noqa: N803
        _modelled_transfer(len(Body))
        self.objects[Key] = self.objects.get(Key, 0) + len(Body)
        return {"ETag": f"p{PartNumber}"}

    def complete_multipart_upload(self, **_):
        time.sleep(S3_MODEL["first_byte_latency_s"])


def _old_upload(path: Path) -> None:
    """upload_file of a finished local file: parts of 16 MiB, 2 in flight."""
    size = path.stat().st_size
    parts = max(1, -(-size // OLD_UPLOAD_PART_BYTES))
    waves = -(-parts // 2)
    for _ in range(waves):
        _modelled_transfer(min(size, OLD_UPLOAD_PART_BYTES))


def _job_source_model(csv: Path, out: Path, *, streamed: bool) -> dict:
    """One chunk's whole S3 path through the model, processor on all cores as in Lambda.
    streamed=False: one serial GET, Parquet to local files, then uploaded (the processor
    before ReadAhead/S3Sink); True: etl.s3io.ReadAhead in, etl.s3io.S3Sink out."""
    from etl.checks import parse_header
    from etl.chunking import header_text
    from etl.s3io import ReadAhead, S3Sink
    from etl.schema import load_schema
    from etl.transform import process_stream

    out.mkdir(parents=True, exist_ok=True)
    schema = load_schema(SCHEMA)
    size = csv.stat().st_size
    with open(csv, "rb") as f:
        raw_header = f.readline()
    columns = parse_header(header_text(raw_header), schema)
    fd = os.open(csv, os.O_RDONLY)

    def read_range(a: int, b: int) -> bytes:
        data = os.pread(fd, b - a, a)
        _modelled_transfer(len(data))
        return data

    kwargs = {"schema": schema, "columns": columns, "first_line": 2}
    s3 = _ModelledS3()
    started = time.perf_counter()
    if streamed:
        with (ReadAhead(read_range, len(raw_header), size) as body,
              S3Sink(s3, "bench", "valid") as valid, S3Sink(s3, "bench", "rejected") as rej):
            result = process_stream(body, valid_path=valid, rejected_path=rej, **kwargs)
            valid.complete()
            rej.complete()
    else:
        with open(csv, "rb") as f:
            f.seek(len(raw_header))
            result = process_stream(_ModelledStream(f, size - len(raw_header)),
                                    valid_path=out / "valid.parquet",
                                    rejected_path=out / "rejected.parquet", **kwargs)
        _old_upload(out / "valid.parquet")
        _old_upload(out / "rejected.parquet")
    seconds = time.perf_counter() - started
    os.close(fd)
    return {"seconds": seconds, "rows_valid": int(result.rows_valid),
            "rows_rejected": int(result.rows_rejected), "s3_model": S3_MODEL,
            "uploaded_bytes": sum(s3.objects.values()) if streamed else sum(
                (out / n).stat().st_size for n in ("valid.parquet", "rejected.parquet")),
            "threads": os.cpu_count() or 1}


def _job_pandas(csv: Path, out: Path) -> dict:
    _pin_one_thread()
    sys.path.insert(0, str(HERE))
    from pandas_reference import process_file_pandas

    schema_doc = json.loads(SCHEMA.read_text())
    started = time.perf_counter()
    result = process_file_pandas(csv, schema_doc, out / "valid", out / "rejected",
                                 chunksize=PANDAS_CHUNKSIZE)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows_valid": result.rows_valid,
            "rows_rejected": result.rows_rejected,
            "rejected_by_reason": result.rejected_by_reason}


def _job_parse_only(csv: Path, out: Path) -> dict:
    _pin_one_thread()
    import pyarrow as pa
    from pyarrow import csv as pacsv

    names = [c["name"] for c in json.loads(SCHEMA.read_text())["fields"]]
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
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                             strings_can_be_null=False),
    )
    rows = 0
    for batch in reader:
        rows += batch.num_rows
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows_parsed": rows, "rows_skipped_by_parser": skipped}


def _job_splitter(csv: Path, out: Path) -> dict:
    import inspect

    from etl.chunking import plan_chunks

    size = csv.stat().st_size
    fd = os.open(csv, os.O_RDONLY)
    reads = 0

    def read_range(start: int, end: int) -> bytes:
        nonlocal reads
        reads += 1
        return os.pread(fd, end - start, start)

    params = inspect.signature(plan_chunks).parameters
    kwargs = {}
    for name in ("chunk_bytes", "target_chunk_bytes", "target_bytes", "chunk_size"):
        if name in params:
            kwargs[name] = SPLIT_CHUNK_BYTES
            break
    if "max_record_bytes" in params:
        kwargs["max_record_bytes"] = SPLIT_MAX_RECORD_BYTES
    started = time.perf_counter()
    plan = plan_chunks(read_range, size, **kwargs)
    seconds = time.perf_counter() - started
    os.close(fd)
    chunks = list(getattr(plan, "chunks", []))
    boundaries = getattr(plan, "boundaries", max(len(chunks) - 1, 0))
    bytes_read = getattr(plan, "bytes_read", None)
    # every chunk start must be a record start: right after a newline, outside quotes
    # (RFC 4180: the quote state at an offset is the parity of quotes since a record start)
    starts_ok = _record_starts_ok(csv, [c.start for c in chunks])
    tiled = all(a.end == b.start for a, b in zip(chunks, chunks[1:], strict=False)) and (
        not chunks or chunks[-1].end == size)
    return {
        "seconds": seconds, "chunks": len(chunks), "boundaries": boundaries,
        "bytes_read": bytes_read, "reads": reads,
        "fallbacks": getattr(plan, "fallbacks", None),
        "bytes_per_boundary": (bytes_read / boundaries) if boundaries and bytes_read else 0.0,
        "starts_after_newline": starts_ok, "chunks_tile_the_file": tiled,
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


def _job_diff(csv: Path, out: Path) -> dict:
    """Which records do the processor and pandas disagree on? (diagnostics, not timed)."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    proc = ds.dataset(out / "processor" / "valid.parquet").to_table(columns=["transaction_id"])
    pand = ds.dataset(out / "pandas" / "valid").to_table(columns=["transaction_id"])
    a, b = proc.column(0).combine_chunks(), pand.column(0).combine_chunks()
    only_proc = a.filter(pc.invert(pc.is_in(a, value_set=b)))
    only_pandas = b.filter(pc.invert(pc.is_in(b, value_set=a)))
    data = csv.read_bytes()

    def raw(tx: str) -> str:
        at = data.find(b"\n" + tx.encode() + b",")
        if at < 0:
            return "?"
        end = data.find(b"\n", at + 1)
        return data[at + 1:end].decode("utf-8", "replace")

    # value-level check: same rows in the same order -> every column must be equal
    same_values = None
    if len(only_proc) == 0 and len(only_pandas) == 0 and len(a) == len(b):
        pt = ds.dataset(out / "processor" / "valid.parquet").to_table()
        qt = ds.dataset(out / "pandas" / "valid").to_table()
        same_values = {}
        for name in pt.column_names:
            x = pt.column(name).combine_chunks()
            y = qt.column(name).combine_chunks()
            same_values[name] = x.type == y.type and x.equals(y)
        del pt, qt
    examples_proc = only_proc.slice(0, 5).to_pylist()
    examples_pandas = only_pandas.slice(0, 5).to_pylist()
    return {
        "valid_columns_identical": same_values,
        "valid_only_in_processor": len(only_proc),
        "valid_only_in_pandas": len(only_pandas),
        "examples_valid_only_in_processor": {t: raw(t) for t in examples_proc},
        "examples_valid_only_in_pandas": {t: raw(t) for t in examples_pandas},
    }


JOBS = {"processor": _job_processor, "processor_all_cores": _job_processor_all_cores,
        "s3_model_serial": lambda c, o: _job_source_model(c, o, streamed=False),
        "s3_model_streamed": lambda c, o: _job_source_model(c, o, streamed=True),
        "pandas": _job_pandas, "parse_only": _job_parse_only,
        "splitter": _job_splitter, "diff": _job_diff}


def _worker(job: str, csv: Path, out: Path) -> None:
    import pyarrow as pa

    try:
        payload = {"ok": True, **JOBS[job](csv, out)}
    except ModuleNotFoundError as exc:
        payload = {"ok": False, "available": False, "error": f"not available: {exc}"}
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which decides
        payload = {"ok": False, "available": True, "error": f"{type(exc).__name__}: {exc}"}
    payload["pyarrow_version"] = pa.__version__
    print("BENCH-RESULT " + json.dumps(payload, default=str), flush=True)


# --------------------------------------------------------------------------- parent side
def run_child(job: str, csv: Path, out: Path, lambdas: Path = ROOT / "lambdas") -> dict:
    """Run one job in a fresh single-threaded subprocess; add its exact peak RSS.
    `lambdas` is where the child imports `etl` from (another revision for --baseline)."""
    env = {**os.environ, **SINGLE_THREAD_ENV}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(lambdas), str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", job,
           "--csv", str(csv), "--workdir", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    # os.wait4 gives this child's own rusage (RUSAGE_CHILDREN would be a max over all).
    stdout_chunks, stderr_chunks = [], []
    import threading

    def drain(stream, sink):
        for chunk in iter(lambda: stream.read(65536), b""):
            sink.append(chunk)

    threads = [threading.Thread(target=drain, args=(proc.stdout, stdout_chunks)),
               threading.Thread(target=drain, args=(proc.stderr, stderr_chunks))]
    for t in threads:
        t.start()
    _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in threads:
        t.join()
    stdout = b"".join(stdout_chunks).decode("utf-8", "replace")
    stderr = b"".join(stderr_chunks).decode("utf-8", "replace")
    lines = [ln for ln in stdout.splitlines() if ln.startswith("BENCH-RESULT ")]
    if lines:
        payload = json.loads(lines[-1][len("BENCH-RESULT "):])
    else:
        payload = {"ok": False, "available": True,
                   "error": f"exit {proc.returncode}: {stderr.strip()[-2000:]}"}
    payload["peak_rss_mib"] = rusage.ru_maxrss / 1024  # Linux: KiB
    payload["exit_code"] = proc.returncode
    if stderr.strip() and payload.get("ok"):
        payload["stderr_tail"] = stderr.strip()[-500:]
    return payload


BASELINE_JOBS = ("processor", "processor_all_cores")


def _checkout_lambdas(rev: str, data: Path) -> Path:
    """lambdas/ of git revision `rev` in a scratch directory (for --baseline)."""
    target = data / "baseline"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "lambdas"],
                             capture_output=True, check=False)
    if archive.returncode:
        raise SystemExit(f"--baseline {rev}: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "lambdas"


def _baseline_summary(rev: str, runs: dict[str, list[dict]], jobs: dict, size: int) -> dict:
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev],
                            capture_output=True, text=True, check=False).stdout.strip()
    out = {"rev": rev, "commit": commit, "jobs": {}}
    for job, job_runs in runs.items():
        ok = [r for r in job_runs if r.get("ok")]
        if not ok or not jobs.get(job, {}).get("ok"):
            continue
        best = min(r["seconds"] for r in ok)
        out["jobs"][job] = {"seconds": best, "mb_s": size / 1e6 / best,
                            "runs_seconds": [r["seconds"] for r in ok],
                            "peak_rss_mib": max(r["peak_rss_mib"] for r in ok),
                            "speedup": best / jobs[job]["seconds"]}
    return out


def ensure_sample(path: Path, size_bytes: int, seed: int, quoted_newlines: bool = False) -> dict:
    """Generate (in a child, so the parent stays small) or reuse a cached sample."""
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        info = json.loads(meta.read_text())
        if info.get("target_bytes") == size_bytes and info.get("seed") == seed \
                and info.get("quoted_newlines") == quoted_newlines \
                and path.stat().st_size == info.get("bytes"):
            info["cached"] = True
            return info
    path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "localrun.sample", str(path),
           "--size-mb", repr(size_bytes / MIB), "--seed", str(seed)]
    if quoted_newlines:
        cmd.append("--quoted-newlines")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=ROOT)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    info.update(target_bytes=size_bytes, seed=seed, quoted_newlines=quoted_newlines, cached=False)
    meta.write_text(json.dumps(info, indent=2))
    return info


def warm(path: Path) -> float:
    """Flush dirty pages (a just-generated sample is still being written back, which would
    compete with the first jobs) and read the file once so every job sees a warm cache."""
    os.sync()
    started = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(16 * MIB)
        while f.readinto(buf):
            pass
    return time.perf_counter() - started


def git_state() -> dict:
    """The commit measured, and whether the processor's sources had uncommitted edits."""
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    try:
        return {"commit": git("rev-parse", "--short", "HEAD"),
                "lambdas_etl_dirty": bool(git("status", "--porcelain", "--", "lambdas/etl"))}
    except OSError:
        return {}


def _fmt(v, spec: str = ".1f") -> str:
    return "n/a" if v is None else format(v, spec)


def _check(value, op: str, limit: float) -> str:
    if value is None:
        return "n/a"
    ok = value >= limit if op == ">=" else value <= limit
    return "PASS" if ok else "FAIL"


def machine() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().split()
        info["mem_gib"] = round(int(mem[1]) / 2**20, 1)
    except OSError:
        pass
    return info


def chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    jobs = ["processor", "pandas", "parse_only"]
    speeds = [results.get(f"{j}_mb_s") or 0.0 for j in jobs]
    rss = [results.get(f"{j}_peak_rss_mib") or 0.0 for j in jobs]
    def label(job: str) -> str:
        j = results["jobs"].get(job, {})
        if j.get("ok"):
            return job
        return job + ("\n(not available)" if j.get("available") is False else "\n(failed)")

    labels = [label(j) for j in jobs]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.2))
    bars = ax1.bar(labels, speeds, color=["#1f77b4", "#ff7f0e", "#7f7f7f"])
    ax1.bar_label(bars, fmt="%.1f")
    if results.get("parse_only_mb_s"):
        ax1.axhline(0.5 * results["parse_only_mb_s"], ls="--", color="k", lw=1,
                    label="target: 0.5 x parse-only")
        ax1.legend(loc="upper left", fontsize=8)
    ax1.set_ylabel("MB/s (1 MB = 1e6 bytes), 1 thread")
    ax1.set_title(f"Throughput on {results['size_mb']} MiB")
    bars = ax2.bar(labels, rss, color=["#1f77b4", "#ff7f0e", "#7f7f7f"])
    ax2.bar_label(bars, fmt="%.0f")
    ax2.axhline(300, ls="--", color="k", lw=1, label="processor target: 300 MiB")
    ax2.legend(loc="upper left", fontsize=8)
    ax2.set_ylabel("peak RSS (MiB)")
    ax2.set_title("Peak memory per job")
    fig.suptitle(f"pyarrow {results.get('pyarrow_version')} - {results['machine'].get('cpu', '')}",
                 fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=int, default=256, help="sample size in MiB (default 256)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=HERE / "results.json")
    ap.add_argument("--keep", action="store_true",
                    help="keep the generated CSVs and job outputs in bench/data/")
    ap.add_argument("--rss-check", action="store_true",
                    help="also run the processor on a 1 GiB file and report its peak RSS")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per timed job; the fastest run counts (RSS: the largest)")
    ap.add_argument("--jobs", default="processor,pandas,parse_only,splitter,processor_all_cores,"
                                      "s3_model_serial,s3_model_streamed",
                    help="comma-separated subset of jobs to run")
    ap.add_argument("--quoted-newlines", action="store_true",
                    help="main sample with newlines inside quoted merchants (the splitter always "
                         "also runs on such a sample)")
    ap.add_argument("--baseline", metavar="REV",
                    help="also run the processor jobs on the lambdas/ of git revision REV, "
                         "interleaved with this tree's runs, and report the speed-up")
    ap.add_argument("--worker", choices=sorted(JOBS), help=argparse.SUPPRESS)
    ap.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.csv, args.workdir)
        return 0

    data = HERE / "data"
    size_bytes = args.size_mb * MIB
    qnl = "_qnl" if args.quoted_newlines else ""
    csv = data / f"transactions_{args.size_mb}mib_seed{args.seed}{qnl}.csv"
    work = data / "out"
    load_before = os.getloadavg()
    print(f"generating {csv.relative_to(ROOT)} ({args.size_mb} MiB) ...", flush=True)
    sample = ensure_sample(csv, size_bytes, args.seed, args.quoted_newlines)
    if not sample.get("cached"):
        print(f"  generator: {sample['bytes'] / 1e6:.0f} MB in {sample['seconds']:.2f} s "
              f"({sample['mb_per_s']:.0f} MB/s)")
    size = sample["bytes"]
    print(f"  {sample['rows']:,} rows, {sample['invalid_rows']:,} invalid "
          f"({sample['invalid_by_kind']})")
    print(f"warming page cache: {warm(csv):.2f} s")

    wanted = [j.strip() for j in args.jobs.split(",") if j.strip()]
    baseline_dir = _checkout_lambdas(args.baseline, data) if args.baseline else None
    jobs: dict[str, dict] = {}
    baseline_runs: dict[str, list[dict]] = {}
    for job in wanted:
        runs = []
        for i in range(max(1, args.repeat if job != "splitter" else 1)):
            how = "all cores" if job.startswith(("processor_all", "s3_model")) else "1 thread"
            print(f"running {job} ({how}, fresh process{f', run {i + 1}' if i else ''}) ...",
                  flush=True)
            shutil.rmtree(work / job, ignore_errors=True)  # no stale parts from older runs
            runs.append(run_child(job, csv, work / job))
            if baseline_dir and job in BASELINE_JOBS:  # interleaved: the same machine state
                print(f"running {job} at {args.baseline} ...", flush=True)
                shutil.rmtree(work / f"baseline_{job}", ignore_errors=True)
                baseline_runs.setdefault(job, []).append(
                    run_child(job, csv, work / f"baseline_{job}", lambdas=baseline_dir))
            if not runs[-1].get("ok"):
                break
        best = min(runs, key=lambda r: r.get("seconds", float("inf")))
        best["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
        best["runs_seconds"] = [r.get("seconds") for r in runs]
        jobs[job] = best
        if best.get("ok"):
            if "seconds" in best and job != "splitter":
                best["mb_s"] = size / 1e6 / best["seconds"]
            if job == "splitter":
                print(f"  {job}: {best['seconds'] * 1e3:.1f} ms, "
                      f"{best['bytes_per_boundary']:,.0f} bytes read per boundary")
            else:
                print(f"  {job}: {best.get('seconds', 0):.2f} s, "
                      f"{best.get('mb_s', 0):.1f} MB/s, peak RSS {best['peak_rss_mib']:.0f} MiB")
        else:
            print(f"  {job}: {best.get('error')}")

    # the splitter's hard case: quoted fields holding newlines (ambiguous quote state)
    if "splitter" in wanted:
        if args.quoted_newlines:
            jobs["splitter_quoted_newlines"] = jobs["splitter"]
        else:
            qcsv = data / f"transactions_{args.size_mb}mib_seed{args.seed}_qnl.csv"
            print("generating a quoted-newlines sample for the splitter ...", flush=True)
            ensure_sample(qcsv, size_bytes, args.seed, quoted_newlines=True)
            jobs["splitter_quoted_newlines"] = run_child("splitter", qcsv, work / "splitter_qnl")
            if not args.keep:
                qcsv.unlink(missing_ok=True)
                qcsv.with_suffix(".json").unlink(missing_ok=True)
    load_after = os.getloadavg()

    def metric(job: str, key: str):
        j = jobs.get(job, {})
        return j.get(key) if j.get("ok") else None

    proc_ok = bool(jobs.get("processor", {}).get("ok"))
    baseline = _baseline_summary(args.baseline, baseline_runs, jobs, size) if baseline_dir else None
    if baseline_dir:
        shutil.rmtree(baseline_dir, ignore_errors=True)
    results = {
        "size_mb": args.size_mb,
        "processor_mb_s": metric("processor", "mb_s"),
        "pandas_mb_s": metric("pandas", "mb_s"),
        "parse_only_mb_s": metric("parse_only", "mb_s"),
        "processor_peak_rss_mib": metric("processor", "peak_rss_mib"),
        "splitter_bytes_per_boundary": metric("splitter", "bytes_per_boundary"),
        "pandas_peak_rss_mib": metric("pandas", "peak_rss_mib"),
        "parse_only_peak_rss_mib": metric("parse_only", "peak_rss_mib"),
        "splitter_quoted_newlines_bytes_per_boundary": metric("splitter_quoted_newlines",
                                                              "bytes_per_boundary"),
        "processor_all_cores_mb_s": metric("processor_all_cores", "mb_s"),
        "processor_all_cores_peak_rss_mib": metric("processor_all_cores", "peak_rss_mib"),
        "processor_all_cores_threads": metric("processor_all_cores", "threads"),
        "s3_model": S3_MODEL,
        "s3_model_serial_mb_s": metric("s3_model_serial", "mb_s"),
        "s3_model_streamed_mb_s": metric("s3_model_streamed", "mb_s"),
        "s3_model_streamed_peak_rss_mib": metric("s3_model_streamed", "peak_rss_mib"),
        "rows": sample["rows"],
        "quoted_newlines": args.quoted_newlines,
        "loadavg_1m": {"before": load_before[0], "after": load_after[0]},
        "size_bytes": size,
        "units": {"size_mb": "MiB (2**20 bytes)", "*_mb_s": "MB/s, 1 MB = 1e6 bytes",
                  "*_rss_mib": "MiB (ru_maxrss of the job's own process)",
                  "splitter_bytes_per_boundary": "bytes"},
        "machine": machine(),
        "git": git_state(),
        "pyarrow_version": next((j.get("pyarrow_version") for j in jobs.values()
                                 if j.get("pyarrow_version")), None),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "threads": 1,
        "generator": {k: sample[k] for k in ("rows", "bytes", "invalid_rows", "invalid_by_kind",
                                             "seconds", "mb_per_s") if k in sample},
        "jobs": jobs,
    }
    if baseline:
        results["baseline"] = baseline
    pm, po, pd_ = results["processor_mb_s"], results["parse_only_mb_s"], results["pandas_mb_s"]
    results["ratio_processor_to_parse_only"] = pm / po if pm and po else None
    results["ratio_processor_to_pandas"] = pm / pd_ if pm and pd_ else None
    if "processor" not in jobs:
        results["processor"] = "not run"
    elif not proc_ok:
        results["processor"] = "not available" if jobs["processor"].get(
            "available") is False else "failed"

    # counts: generator truth vs pandas vs processor
    expected_valid = sample["rows"] - sample["invalid_rows"]
    counts = {"expected_valid": expected_valid, "expected_rejected": sample["invalid_rows"]}
    warnings_ = []
    for job in ("processor", "pandas"):
        if metric(job, "rows_valid") is not None:
            counts[f"{job}_valid"] = jobs[job]["rows_valid"]
            counts[f"{job}_rejected"] = jobs[job]["rows_rejected"]
            if (jobs[job]["rows_valid"], jobs[job]["rows_rejected"]) != (
                    expected_valid, sample["invalid_rows"]):
                warnings_.append(f"{job} counts valid/rejected {jobs[job]['rows_valid']}/"
                                 f"{jobs[job]['rows_rejected']} differ from the generator's "
                                 f"{expected_valid}/{sample['invalid_rows']}")
    if proc_ok and metric("pandas", "rows_valid") is not None:
        # untimed: which records differ, and are the valid values identical column by column?
        print("comparing processor and pandas outputs (untimed) ...", flush=True)
        diff = run_child("diff", csv, work)
        counts["diff"] = {k: v for k, v in diff.items() if k not in ("peak_rss_mib", "exit_code")}
        if (counts["processor_valid"], counts["processor_rejected"]) != (
                counts["pandas_valid"], counts["pandas_rejected"]):
            warnings_.append("processor and pandas disagree on counts")
        cols = diff.get("valid_columns_identical")
        if cols and not all(cols.values()):
            warnings_.append(f"processor and pandas valid values differ in columns "
                             f"{sorted(k for k, v in cols.items() if not v)}")
    results["counts"] = counts
    results["warnings"] = warnings_

    # the 1 GiB chunk: RSS target is for chunks up to 1 GiB
    if proc_ok and (args.rss_check or args.size_mb >= 1024):
        if args.size_mb == 1024:
            big = jobs["processor"]
        else:
            big_csv = data / f"transactions_1024mib_seed{args.seed}.csv"
            print("generating the 1 GiB chunk for the RSS check ...", flush=True)
            ensure_sample(big_csv, 1024 * MIB, args.seed)
            warm(big_csv)
            print("running processor on 1 GiB ...", flush=True)
            shutil.rmtree(work / "processor_1gib", ignore_errors=True)
            big = run_child("processor", big_csv, work / "processor_1gib")
            if big.get("ok"):
                big["mb_s"] = big_csv.stat().st_size / 1e6 / big["seconds"]
            if not args.keep:
                big_csv.unlink(missing_ok=True)
                big_csv.with_suffix(".json").unlink(missing_ok=True)
        results["processor_1gib_peak_rss_mib"] = big.get("peak_rss_mib")
        results["processor_1gib_mb_s"] = big.get("mb_s")

    # table
    rows = [("job", "seconds", "MB/s", "peak RSS MiB", "valid", "rejected")]
    for job in ("processor", "pandas", "parse_only"):
        j = jobs.get(job)
        if j is None:
            continue
        if not j.get("ok"):
            rows.append((job, j.get("error", "failed")[:60], "", "", "", ""))
            continue
        rows.append((job, _fmt(j["seconds"], ".2f"), _fmt(j.get("mb_s")),
                     _fmt(j["peak_rss_mib"], ".0f"),
                     f"{j.get('rows_valid', j.get('rows_parsed', '')):,}"
                     if isinstance(j.get("rows_valid", j.get("rows_parsed")), int) else "",
                     f"{j['rows_rejected']:,}" if "rows_rejected" in j else
                     f"{j.get('rows_skipped_by_parser', 0):,} skipped"))
    widths = [max(len(str(r[i])) for r in rows) for i in range(6)]
    print()
    print(f"{args.size_mb} MiB ({size / 1e6:.0f} MB), {sample['rows']:,} rows, 1 thread, "
          f"warm cache; MB = 1e6 bytes")
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
    allc = jobs.get("processor_all_cores", {})
    if allc.get("ok"):
        print(f"processor on all {allc['threads']} cores (extra, not a target): "
              f"{allc['mb_s']:.1f} MB/s, peak RSS {allc['peak_rss_mib']:.0f} MiB")
    serial, ahead = jobs.get("s3_model_serial", {}), jobs.get("s3_model_streamed", {})
    if serial.get("ok") and ahead.get("ok"):
        print(f"a chunk's S3 path on all cores through an S3 model ({S3_MODEL['stream_mb_s']:g} "
              f"MB/s per connection, {S3_MODEL['first_byte_latency_s'] * 1e3:g} ms per request;"
              f" a model, not AWS): serial GET + upload after {serial['mb_s']:.1f} MB/s, "
              f"ReadAhead + S3Sink {ahead['mb_s']:.1f} MB/s "
              f"({ahead['mb_s'] / serial['mb_s']:.2f}x), peak RSS {ahead['peak_rss_mib']:.0f} MiB")
    for name in ("splitter", "splitter_quoted_newlines"):
        s = jobs.get(name, {})
        if s.get("ok"):
            print(f"{name} (64 MiB chunks): {s['chunks']} chunks, {s['boundaries']} boundaries, "
                  f"{s['bytes_read']:,} bytes read in {s['reads']} reads = "
                  f"{s['bytes_per_boundary']:,.0f} bytes/boundary, {s['fallbacks']} fallbacks, "
                  f"{s['seconds'] * 1e3:.1f} ms")
            if not (s["starts_after_newline"] and s["chunks_tile_the_file"]):
                warnings_.append(f"{name}: plan is not record-aligned or does not tile the file")
        elif s:
            print(f"{name}: {s.get('error')}")
    if max(load_before[0], load_after[0]) > 0.5:
        warnings_.append(f"machine was busy (1-min load {load_before[0]:.2f} -> "
                         f"{load_after[0]:.2f}): timings are noisy; use --repeat")
    if "processor_1gib_peak_rss_mib" in results:
        big_rss = _fmt(results["processor_1gib_peak_rss_mib"], ".0f")
        print(f"processor on a 1 GiB chunk: peak RSS {big_rss} MiB, "
              f"{_fmt(results['processor_1gib_mb_s'])} MB/s")
    if baseline:
        for job, b in baseline["jobs"].items():
            print(f"{job} vs {baseline['rev']} ({baseline['commit']}), interleaved in this run: "
                  f"{b['mb_s']:.1f} MB/s then, now {b['speedup']:.2f}x")
    print("\ntargets:")
    for key, (op, limit) in TARGETS.items():
        print(f"  {key} {op} {limit:g}: {_fmt(results.get(key), '.2f')}  "
              f"{_check(results.get(key), op, limit)}")
    if "processor_1gib_peak_rss_mib" in results:
        v = results["processor_1gib_peak_rss_mib"]
        print(f"  processor_1gib_peak_rss_mib <= 300: {_fmt(v, '.0f')}  {_check(v, '<=', 300)}")
    if results["ratio_processor_to_pandas"]:
        print(f"  (processor is {results['ratio_processor_to_pandas']:.2f}x pandas)")
    if "processor" in jobs and not proc_ok:
        print(f"processor: {results['processor']} ({jobs['processor'].get('error')})")
    print(f"counts: {json.dumps({k: v for k, v in counts.items() if k != 'diff'})}")
    for w in warnings_:
        print(f"WARNING: {w}")
    if "diff" in counts:
        d = counts["diff"]
        if d.get("valid_only_in_processor") or d.get("valid_only_in_pandas") or not d.get("ok"):
            print(json.dumps(d, indent=2))
        elif d.get("valid_columns_identical"):
            print("processor and pandas valid outputs: identical values in every column "
                  f"({', '.join(d['valid_columns_identical'])})")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    png = args.out.with_suffix(".png")
    chart(results, png)
    print(f"\nwrote {args.out} and {png}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
        csv.unlink(missing_ok=True)
        csv.with_suffix(".json").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
