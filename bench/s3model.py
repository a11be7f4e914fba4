"""A chunk's whole S3 path through a model of S3 (the `s3_model_*` extra jobs).

Not a measurement of AWS: every request waits a first-byte latency, then moves bytes at a
fixed per-connection bandwidth (`time.sleep`). It compares the processor's serial GET +
upload-after path with `etl.s3io.ReadAhead` + `etl.s3io.S3Sink`; compare the two, not the
numbers. Runs in a bench child (imports pyarrow and etl lazily).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from settings import MIB, SCHEMA

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


def job_s3_model(csv: Path, out: Path, *, streamed: bool) -> dict:
    """One chunk's whole S3 path through the model, processor on all cores as in Lambda.
    streamed=False: one serial GET, Parquet to local files, then uploaded (the processor
    before ReadAhead/S3Sink); True: etl.s3io.ReadAhead in, etl.s3io.S3Sink out."""
    from etl.checks import parse_header
    from etl.chunking import header_text
    from etl.s3io import ReadAhead, S3Sink
    from etl.schema_check import load_schema
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

    threads = os.cpu_count() or 1
    kwargs = {"schema": schema, "columns": columns, "first_line": 2, "threads": threads}
    s3 = _ModelledS3()
    started = time.perf_counter()
    if streamed:
        with (
            ReadAhead(read_range, len(raw_header), size) as body,
            S3Sink(s3, "bench", "valid") as valid,
            S3Sink(s3, "bench", "rejected") as rej,
        ):
            result = process_stream(body, valid_path=valid, rejected_path=rej, **kwargs)
            valid.complete()
            rej.complete()
    else:
        with open(csv, "rb") as f:
            f.seek(len(raw_header))
            result = process_stream(
                _ModelledStream(f, size - len(raw_header)),
                valid_path=out / "valid.parquet",
                rejected_path=out / "rejected.parquet",
                **kwargs,
            )
        _old_upload(out / "valid.parquet")
        _old_upload(out / "rejected.parquet")
    seconds = time.perf_counter() - started
    os.close(fd)
    return {
        "seconds": seconds,
        "rows_valid": int(result.rows_valid),
        "rows_rejected": int(result.rows_rejected),
        "s3_model": S3_MODEL,
        "uploaded_bytes": sum(s3.objects.values())
        if streamed
        else sum((out / n).stat().st_size for n in ("valid.parquet", "rejected.parquet")),
        "threads": threads,
    }
