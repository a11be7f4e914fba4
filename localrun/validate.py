"""python -m localrun.validate FILE [--schema S] [--out DIR] [--chunk-bytes N] [--jobs N]

Checks a file against a schema in this process, with the pipeline's own core and in the
pipeline's order, so rows valid, rows rejected, the reasons, the rejects per rule and the
outputs are the ones the deployed pipeline produces for that file (no emulator, no Terraform):

1. the splitter: a ``.gz`` file is inflated within the same limits (``stage_gzip``'s
   bounded reader), then ``etl.chunking.plan_chunks`` plans the chunks with the deployed
   default chunk size (contract.json ``defaults``);
2. the validator's file-level checks (``etl.checks``) on the same sample;
3. the processor: ``etl.transform.process_stream`` per chunk, every chunk on its own core
   (a process pool of ``--jobs`` workers, all cores by default);
4. the finalizer: the conservation check, the rejects summary and the reject threshold
   (``etl.finalize``), then the outputs as the finalizer publishes them: ``valid/`` as
   written, ``rejected/`` with chunk lines made file lines.

The summary and the exit codes are the local run's (``python -m localrun``): 0 when the file
would SUCCEED, 1 when it would FAIL (the same named error and reason), 2 when the schema or
the arguments are wrong, 130 on Ctrl-C. ``--out DIR`` writes what ``python -m localrun
--out DIR`` writes: summary.json, valid/*.parquet and rejected/*.parquet. On a terminal a
progress line (bytes, rows, rate) updates on stderr; piped, stderr stays quiet.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import zlib
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from etl.checks import check_has_data, check_quotes, check_text, parse_header
from etl.chunking import ChunkPlan, header_text, plan_chunks
from etl.contract import CONTRACT, DEFAULTS
from etl.errors import EncodingError, EtlError, SchemaConfigError, UnbalancedQuote, from_name
from etl.events import ChunkRange, SchemaIdentity
from etl.finalize import check_conservation, check_reject_threshold, reject_summary
from etl.s3io import _BoundedInflate
from etl.schema import Schema
from etl.schema_check import load_schema
from etl.status import DONE

from localrun.deployment import DEFAULT_SCHEMA
from localrun.results import RunResult, summary_table

SAMPLE_BYTES = 1024 * 1024  # the validator's sample (lambdas/validator.py)
INFLATE_BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """The deployed settings that change a result: contract.json's defaults unless given."""

    chunk_bytes: int = DEFAULTS["chunk_bytes"]
    max_record_bytes: int = DEFAULTS["max_record_bytes"]
    max_chunks: int = DEFAULTS["max_chunks"]
    max_decompressed_bytes: int = DEFAULTS["max_decompressed_bytes"]
    max_gzip_ratio: float = DEFAULTS["max_gzip_ratio"]


@dataclass
class _Checked:
    """The file after the splitter's and validator's steps."""

    data: Path  # the plain CSV (the file itself, or its inflated copy)
    size: int
    plan: ChunkPlan
    columns: list[str]


@dataclass
class _Chunk:
    """One chunk for a worker: where to read it and how to process it."""

    data: str
    range: ChunkRange
    schema_bytes: bytes
    columns: list[str]
    scratch: str
    max_record_bytes: int
    threads: int
    metadata: dict[str, str]  # the Parquet outputs' key-value metadata (schema_metadata)


@dataclass
class Counters:
    """What progress shows; ``bytes_done`` is shared with the worker processes."""

    total_bytes: int
    bytes_done: multiprocessing.sharedctypes.Synchronized = field(
        default_factory=lambda: multiprocessing.get_context("fork").Value("q", 0)
    )
    rows_done: int = 0
    began: float = field(default_factory=time.monotonic)


# ---------------------------------------------------------------------------------------
# the pipeline's steps, in its order
# ---------------------------------------------------------------------------------------


def _inflate(path: Path, scratch: Path, limits: Limits) -> Path:
    """The splitter's gzip staging, on a local file (same limits, same named errors)."""
    staged = scratch / path.name.removesuffix(".gz").removesuffix(".gzip")
    try:
        with gzip.open(path, "rb") as plain, open(staged, "wb") as out:
            bounded = _BoundedInflate(
                plain,
                compressed=path.stat().st_size,
                max_bytes=limits.max_decompressed_bytes,
                max_ratio=limits.max_gzip_ratio,
            )
            while block := bounded.read(INFLATE_BLOCK):
                out.write(block)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise EncodingError(
            f"the object ends in .gz but is not valid gzip ({exc}): "
            "upload a gzip-compressed CSV or drop the .gz suffix"
        ) from exc
    return staged


def _file_reader(path: Path):
    def read(start: int, end: int) -> bytes:
        with open(path, "rb") as f:
            f.seek(start)
            return f.read(end - start)

    return read


def plan_file(path: Path, schema: Schema, scratch: Path, limits: Limits) -> _Checked:
    """The splitter's step (lambdas/splitter.py): inflate a gzip file, plan the chunks."""
    data = _inflate(path, scratch, limits) if path.name.lower().endswith((".gz", ".gzip")) else path
    size = data.stat().st_size
    plan = plan_chunks(
        _file_reader(data),
        size,
        chunk_bytes=limits.chunk_bytes,
        max_record_bytes=limits.max_record_bytes,
        delimiter=schema.delimiter,
        max_chunks=limits.max_chunks,
    )
    return _Checked(data, size, plan, [])


def check_file(planned: _Checked, schema: Schema, limits: Limits) -> None:
    """The validator's file-level checks (lambdas/validator.py) on the same sample; sets
    the file's columns in file order."""
    size, h0, h1 = planned.size, planned.plan.header_start, planned.plan.header_end
    sample_end = min(size, h1 + SAMPLE_BYTES)
    sample = _file_reader(planned.data)(h0, sample_end) if sample_end > h0 else b""
    check_text(sample, complete=sample_end == size, offset=h0)
    planned.columns = parse_header(header_text(sample[: h1 - h0]), schema)
    check_has_data(sample[h1 - h0 :], data_bytes=size - h1)
    check_quotes(
        sample[h1 - h0 :],
        complete=sample_end == size,
        delimiter=schema.delimiter,
        offset=h1,
        first_line=planned.plan.header_newlines + 1,
        max_record_bytes=limits.max_record_bytes,
    )


class _ChunkStream:
    """A chunk's bytes of the local file, counted into the shared progress counter."""

    def __init__(self, f, start: int, end: int) -> None:
        f.seek(start)
        self._f, self._left = f, end - start

    def read(self, size: int = -1) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        data = self._f.read(size)
        self._left -= len(data)
        if _BYTES_DONE is not None:
            with _BYTES_DONE.get_lock():
                _BYTES_DONE.value += len(data)
        return data


_BYTES_DONE = None  # the shared counter, in each worker process
_SCHEMAS: dict[bytes, Schema] = {}


def _init_worker(counter) -> None:
    global _BYTES_DONE
    _BYTES_DONE = counter


def process_chunk(chunk: _Chunk) -> dict:
    """The processor (lambdas/processor.py) on one chunk, to local files: the chunk item
    the processor records (counts, failure counts, first rejects), or the chunk's error."""
    from etl.transform import process_stream  # pyarrow: in the workers only

    schema = _SCHEMAS.get(chunk.schema_bytes) or _SCHEMAS.setdefault(
        chunk.schema_bytes, load_schema(chunk.schema_bytes)
    )
    index = chunk.range.index
    outputs = Path(chunk.scratch)
    try:
        with open(chunk.data, "rb") as f:
            result = process_stream(
                _ChunkStream(f, chunk.range.start, chunk.range.end),
                schema=schema,
                columns=chunk.columns,
                valid_path=outputs / "valid" / f"chunk-{index:06d}.parquet",
                rejected_path=outputs / "work-rejected" / f"chunk-{index:06d}.parquet",
                first_line=1,
                is_last_chunk=chunk.range.last,
                max_record_bytes=chunk.max_record_bytes,
                threads=chunk.threads,
                metadata=chunk.metadata,
            )
    except UnbalancedQuote as exc:  # located in the file, as the processor says it
        at = chunk.range.start + (exc.offset or 0)
        where = f"line {exc.line} of the chunk (byte offset {at} of the file)"
        located = UnbalancedQuote.at(where, offset=at, line=exc.line)
        return {"index": index, "error": located.name, "reason": str(located)}
    except EtlError as exc:
        return {"index": index, "error": exc.name, "reason": str(exc)}
    return {
        CONTRACT.table.sort_key: CONTRACT.table.chunk_id(index),
        "status": DONE,
        **result.to_dict(),
        **result.reject_details(),
    }


def process_chunks(checked: _Checked, chunk: _Chunk, jobs: int, counters: Counters, progress):
    """Every chunk of the plan, ``jobs`` at a time (in this process when one is enough);
    the chunk items in chunk order. The first failed chunk's error is raised."""
    ranges = checked.plan.chunks
    pool_size = min(jobs, len(ranges))
    threads = max(1, jobs // max(pool_size, 1))
    tasks = [
        _Chunk(**{**chunk.__dict__, "range": r, "threads": threads, "data": str(checked.data)})
        for r in ranges
    ]
    if pool_size <= 1:
        _init_worker(counters.bytes_done)
        items = []
        for task in tasks:
            items.append(process_chunk(task))
            counters.rows_done += items[-1].get("records", 0)
            progress(counters)
    else:
        items = _in_pool(tasks, pool_size, counters, progress)
    failed = sorted((i for i in items if "error" in i), key=lambda i: i["index"])
    if failed:  # what MarkFailed records: the failed chunk's own named error
        raise from_name(failed[0]["error"], failed[0]["reason"])
    return items


def _in_pool(tasks: list[_Chunk], pool_size: int, counters: Counters, progress) -> list[dict]:
    context = multiprocessing.get_context("fork")  # the workers inherit the imported core
    with ProcessPoolExecutor(
        pool_size, mp_context=context, initializer=_init_worker, initargs=(counters.bytes_done,)
    ) as pool:
        pending: set[Future] = {pool.submit(process_chunk, t) for t in tasks}
        items = []
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                items.append(future.result())
                counters.rows_done += items[-1].get("records", 0)
            progress(counters)
    return items


def publish(
    items: list[dict], first_lines: dict[int, int], scratch: Path, out: Path
) -> tuple[list[str], list[str]]:
    """The finalizer's publishing, to ``out``: valid outputs as written, rejects with file
    line numbers; a chunk without valid (or rejected) rows publishes no such file. Returns
    the (valid, rejected) file names."""
    import pyarrow.parquet as pq
    from etl.outcome import rejects_in_file_lines
    from etl.transform import PARQUET_COMPRESSION

    for name in ("valid", "rejected"):
        shutil.rmtree(out / name, ignore_errors=True)  # a reused --out DIR holds only this run
        (out / name).mkdir(parents=True)
    published: tuple[list[str], list[str]] = ([], [])
    for item in items:
        index = CONTRACT.table.chunk_index(item[CONTRACT.table.sort_key])
        base = f"chunk-{index:06d}.parquet"
        if int(item["rows_valid"]) > 0:
            shutil.move(scratch / "valid" / base, out / "valid" / base)
            published[0].append(base)
        if int(item["rows_rejected"]) > 0:
            table = rejects_in_file_lines(scratch / "work-rejected" / base, first_lines[index])
            pq.write_table(table, out / "rejected" / base, compression=PARQUET_COMPRESSION)
            published[1].append(base)
    return published


# ---------------------------------------------------------------------------------------
# the whole file
# ---------------------------------------------------------------------------------------


def schema_metadata(schema: Schema, schema_bytes: bytes) -> dict[str, str]:
    """The schema part of the `etl.*` Parquet metadata, as the processor writes it for the
    same schema file deployed by the local run: the dataset is the schema's `name` (the
    local run's dataset), the sha256 that of the file's bytes (Terraform uploads the file as
    it is). A local file has no S3 object or version: the keys naming them (`etl.file_id`,
    `etl.object_version_id`) and the chunk of that object (`etl.chunk`) are left out.
    SchemaConfigError for a version the pipeline refuses to pin."""
    identity = SchemaIdentity.pinned(
        schema.name, schema.name, schema.version, schema_bytes, object_version_id="null"
    )
    return identity.parquet_metadata()


def validate_file(
    path: Path,
    schema_bytes: bytes,
    *,
    out: Path | None = None,
    limits: Limits = Limits(),
    jobs: int | None = None,
    progress=lambda counters: None,
) -> RunResult:
    """The pipeline's result for ``path`` (a RunResult as the local run reports it)."""
    schema = load_schema(schema_bytes)  # SchemaConfigError: the caller's exit 2
    metadata = schema_metadata(schema, schema_bytes)
    began = time.monotonic()
    result = RunResult("FAILED", "", "FAILED", str(path), None, 0.0)
    with tempfile.TemporaryDirectory(prefix="localrun-validate-") as scratch_dir:
        scratch = Path(scratch_dir)
        for name in ("valid", "work-rejected"):
            (scratch / name).mkdir()
        try:
            checked = plan_file(path, schema, scratch, limits)
            result.chunks = len(checked.plan.chunks)
            check_file(checked, schema, limits)
            template = _Chunk(
                "", checked.plan.chunks[0], schema_bytes, checked.columns, scratch_dir,
                limits.max_record_bytes, 1, metadata,
            )  # fmt: skip
            counters = Counters(total_bytes=checked.size)
            counters.bytes_done.value = checked.plan.header_end  # the header is read
            items = process_chunks(
                checked, template, jobs or os.cpu_count() or 1, counters, progress
            )
            data_bytes = checked.size - checked.plan.header_end
            totals = check_conservation(
                items,
                chunk_count=len(items),
                data_bytes=data_bytes,
                header_newlines=checked.plan.header_newlines,
            )
            rejects = reject_summary(items, totals.first_lines)
            check_reject_threshold(totals, rejects, schema.max_rejected_share)
        except EtlError as exc:
            result.error = f"{exc.name}: {exc}"
        else:
            result.status = result.execution_status = "SUCCEEDED"
            result.rows_total, result.rows_valid = totals.rows_total, totals.rows_valid
            result.rows_rejected = totals.rows_rejected
            # as the pipeline keeps them: raw text on the file item, never in the message
            result.file_item = {"first_rejects": rejects["first_rejects"]}
            first = [{"line": r["line"], "reason": r["reason"]} for r in rejects["first_rejects"]]
            result.success_message = {
                "rows_rejected": totals.rows_rejected,
                **rejects,
                "first_rejects": first,
            }
            if out is not None:
                result.valid_keys, result.rejected_keys = publish(
                    items, totals.first_lines, scratch, out
                )
        result.duration_s = time.monotonic() - began
        if out is not None:
            _write_summary(result, out)
    return result


def _write_summary(result: RunResult, out: Path) -> None:
    """summary.json as the local run writes it (and empty valid/, rejected/ on failure)."""
    for name in ("valid", "rejected"):
        if result.status != "SUCCEEDED":
            shutil.rmtree(out / name, ignore_errors=True)
        (out / name).mkdir(parents=True, exist_ok=True)
    summary = {**result.summary(), "execution_arn": None}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


# ---------------------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------------------


class ProgressLine:
    """Bytes, rows and rate on one updating line of a terminal; nothing when piped."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._width = 0

    def __call__(self, counters: Counters) -> None:
        if not self.tty:
            return
        elapsed = time.monotonic() - counters.began
        done = counters.bytes_done.value
        rate = done / elapsed / 1e6 if elapsed > 0 else 0.0
        line = (
            f"validating {done / 1e6:,.1f}/{counters.total_bytes / 1e6:,.1f} MB"
            f"  rows {counters.rows_done:,}  {rate:,.1f} MB/s  {elapsed:5.1f} s"
        )
        self.stream.write("\r" + line.ljust(self._width))
        self._width = len(line)
        self.stream.flush()

    def done(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m localrun.validate",
        description="Check a CSV file against a schema in-process, as the pipeline would.",
    )
    parser.add_argument("input", type=Path, help="CSV file (.csv, .txt or .gz)")
    parser.add_argument(
        "--schema", type=Path, default=DEFAULT_SCHEMA, help="schema JSON (default: %(default)s)"
    )
    parser.add_argument(
        "--out", type=Path, help="write summary.json, valid/*.parquet and rejected/*.parquet here"
    )
    parser.add_argument(
        "--chunk-bytes",
        type=int,
        default=DEFAULTS["chunk_bytes"],
        help="the deployment's chunk size (default: contract.json's %(default)s)",
    )
    parser.add_argument(
        "--max-record-bytes",
        type=int,
        default=DEFAULTS["max_record_bytes"],
        help="the deployment's maximum record size (default: contract.json's %(default)s)",
    )
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="cores to use (default: all)"
    )
    args = parser.parse_args(argv)
    if not args.input.is_file():
        parser.error(f"input file not found: {args.input} (relative to {Path.cwd()})")
    if not args.schema.is_file():
        parser.error(f"schema file not found: {args.schema} (relative to {Path.cwd()})")
    if args.chunk_bytes < 1024 or args.max_record_bytes < 1 or args.jobs < 1:
        parser.error("--chunk-bytes must be at least 1024; --max-record-bytes, --jobs positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    limits = Limits(chunk_bytes=args.chunk_bytes, max_record_bytes=args.max_record_bytes)
    progress = ProgressLine()
    try:
        result = validate_file(
            args.input,
            args.schema.read_bytes(),
            out=args.out,
            limits=limits,
            jobs=args.jobs,
            progress=progress,
        )
    except SchemaConfigError as exc:
        print(f"error: SchemaConfigError: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        progress.done()
        print("\ninterrupted", file=sys.stderr)
        return 130
    progress.done()
    print(summary_table(result, args.input, args.out))
    if not result.succeeded:
        print(f"FAILED: {result.error}", file=sys.stderr)
    return 0 if result.succeeded else 1


if __name__ == "__main__":
    from localrun.exits import exit_now

    exit_now(main())  # no interpreter teardown: localrun/exits.py says why
