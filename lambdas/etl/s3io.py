"""S3 I/O shared by the handlers: ranged reads, a parallel read-ahead stream over a byte range
(the processor's input), a streaming multipart sink (its outputs), gzip staging, prefix
deletion. Decisions and measurements: docs/decisions.md."""

from __future__ import annotations

import gzip
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import HTTPClientError, IncompleteReadError

from .errors import DecompressedTooLarge, DeleteIncomplete

# upload_file / upload_fileobj (gzip staging): 2 parts of 16 MiB in flight at most.
TRANSFER = TransferConfig(
    multipart_threshold=16 * 1024 * 1024, multipart_chunksize=16 * 1024 * 1024, max_concurrency=2
)


def range_reader(s3: Any, bucket: str, key: str, version_id: str | None):
    """A `read_range(start, end_exclusive) -> bytes` over one object version."""

    def read(start: int, end: int) -> bytes:
        kwargs = {"Bucket": bucket, "Key": key, "Range": f"bytes={start}-{end - 1}"}
        if version_id:
            kwargs["VersionId"] = version_id
        return s3.get_object(**kwargs)["Body"].read()

    return read


# AWS suggests 8-16 MB ranges; on the bench's S3 model 4 MiB x 4 in flight was as fast as
# 8 MiB x 3 with ~25 MiB less peak RSS (docs/decisions.md)
READ_PART_BYTES = 4 * 1024 * 1024
READ_AHEAD_PARTS = 4
READ_ATTEMPTS = 3
# the connection dropped or stalled while the body streamed: botocore retries the request,
# not the body, so a part is fetched again (throttling and 5xx are botocore's to retry)
_TRANSIENT = (HTTPClientError, IncompleteReadError)


class ShortRead(Exception):
    """A ranged GET returned fewer bytes than asked for (the connection ended early)."""


class ReadAhead:
    """A file-like `read()` over bytes [start, end) of an object, fetched as ranged reads of
    `part_bytes`, up to `parts_in_flight` at once on worker threads, returned in order.

    One S3 stream delivers far less than the processor consumes per vCPU, so a serial
    stream would make the network the bottleneck; parallel ranged GETs are AWS's advice
    for throughput. The download of the next parts overlaps the processing of this one.
    Memory: at most `parts_in_flight + 1` parts. A part whose body fails mid-stream is
    fetched again (`attempts` in all) instead of failing the whole chunk.
    """

    def __init__(
        self,
        read_range: Callable[[int, int], bytes],
        start: int,
        end: int,
        *,
        part_bytes: int = READ_PART_BYTES,
        parts_in_flight: int = READ_AHEAD_PARTS,
        attempts: int = READ_ATTEMPTS,
    ):
        if part_bytes < 1 or parts_in_flight < 1 or attempts < 1:
            raise ValueError("part_bytes, parts_in_flight and attempts must be >= 1")
        self._read_range, self._end = read_range, end
        self._part, self._in_flight, self._attempts = part_bytes, parts_in_flight, attempts
        self._next = start  # next offset to request
        self._pending: deque[Future] = deque()
        self._current, self._pos = b"", 0
        self._pool = ThreadPoolExecutor(parts_in_flight, thread_name_prefix="read-ahead")
        self._lock = threading.Lock()
        self.retries = 0  # parts fetched again after a transient failure
        self._request()

    def _request(self) -> None:
        while len(self._pending) < self._in_flight and self._next < self._end:
            a, b = self._next, min(self._next + self._part, self._end)
            self._pending.append(self._pool.submit(self._fetch, a, b))
            self._next = b

    def _fetch(self, a: int, b: int) -> bytes:
        for attempt in range(1, self._attempts + 1):
            try:
                data = self._read_range(a, b)
                if len(data) != b - a:
                    raise ShortRead(f"bytes {a}-{b - 1}: got {len(data)} of {b - a} bytes")
                return data
            except (*_TRANSIENT, ShortRead):
                if attempt == self._attempts:
                    raise
                with self._lock:
                    self.retries += 1
                time.sleep(0.1 * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (a whole part without copying when it fits); b"" at the end."""
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(self._part), b""))
        if self._pos >= len(self._current):
            if not self._pending:
                return b""
            self._current, self._pos = self._pending.popleft().result(), 0
            self._request()
        if self._pos == 0 and size >= len(self._current):
            out, self._current = self._current, b""
            return out
        out = self._current[self._pos : self._pos + size]
        self._pos += len(out)
        return out

    def close(self) -> None:
        for f in self._pending:
            f.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


WRITE_PART_BYTES = 8 * 1024 * 1024  # S3 multipart parts must be >= 5 MiB (but the last)
# As boto3's own transfer manager does since 1.36: declare the checksum botocore computes for
# every part when the upload is created, and hand the parts' checksums back at completion
# (S3 refuses parts whose checksum type the upload did not declare)
CHECKSUM_ALGORITHM = "CRC32"
WRITE_PARTS_IN_FLIGHT = 2


class S3Sink:
    """A write-only file for a Parquet writer that streams into one S3 object while it is
    written: full parts go up as multipart parts on worker threads, so the upload overlaps
    the processing instead of following it, and nothing is staged on local disk.

    Nothing is visible under `key` until `complete()`; `abort()` (or leaving the `with`
    block by an exception) discards the parts. An object smaller than one part is sent
    with a single PutObject at `complete()`. Memory: one part being filled plus
    `parts_in_flight` parts uploading. The bucket's default encryption applies; the
    lifecycle rule aborts uploads of a process that died before either call.
    """

    def __init__(
        self,
        s3: Any,
        bucket: str,
        key: str,
        *,
        part_bytes: int = WRITE_PART_BYTES,
        parts_in_flight: int = WRITE_PARTS_IN_FLIGHT,
    ):
        self._s3, self._bucket, self.key = s3, bucket, key
        self._part_bytes, self._in_flight = part_bytes, parts_in_flight
        self._buffer = bytearray()
        self._written = 0
        self._upload_id: str | None = None
        self._parts: list[Future] = []
        self._pool: ThreadPoolExecutor | None = None
        self.state = "open"  # -> "complete" | "aborted"

    # -- the file protocol pyarrow uses --------------------------------------------------
    def write(self, data: bytes | memoryview) -> int:
        if self.state != "open":
            raise ValueError(f"write to a {self.state} S3Sink for {self.key}")
        self._buffer += data
        self._written += len(data)
        while len(self._buffer) >= self._part_bytes:
            part = bytes(self._buffer[: self._part_bytes])
            del self._buffer[: self._part_bytes]
            self._send(part)
        return len(data)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return self.state != "open"

    def close(self) -> None:
        """pyarrow may close the file it was given: publishing is `complete()`'s decision."""

    # -- publishing ------------------------------------------------------------------------
    def _send(self, part: bytes) -> None:
        if self._upload_id is None:
            self._upload_id = self._s3.create_multipart_upload(
                Bucket=self._bucket, Key=self.key, ChecksumAlgorithm=CHECKSUM_ALGORITHM
            )["UploadId"]
            self._pool = ThreadPoolExecutor(self._in_flight, thread_name_prefix="s3-sink")
        for f in self._parts:
            if f.done() and f.exception() is not None:
                raise f.exception()  # fail fast: no point uploading the rest
        running = [f for f in self._parts if not f.done()]
        if len(running) >= self._in_flight:
            running[0].result()  # bounded memory: wait for the oldest part still uploading
        number = len(self._parts) + 1
        self._parts.append(self._pool.submit(self._upload_part, number, part))

    def _upload_part(self, number: int, part: bytes) -> dict:
        answer = self._s3.upload_part(
            Bucket=self._bucket,
            Key=self.key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=part,
            ChecksumAlgorithm=CHECKSUM_ALGORITHM,
        )
        done = {"PartNumber": number, "ETag": answer["ETag"]}
        if answer.get("ChecksumCRC32"):  # S3 checks every part's CRC again at completion
            done["ChecksumCRC32"] = answer["ChecksumCRC32"]
        return done

    def complete(self) -> None:
        """Make the object visible under `key` (atomically: all of it or nothing)."""
        if self.state != "open":
            raise ValueError(f"complete() on a {self.state} S3Sink for {self.key}")
        try:
            if self._upload_id is None:
                self._s3.put_object(Bucket=self._bucket, Key=self.key, Body=bytes(self._buffer))
            else:
                if self._buffer:
                    self._send(bytes(self._buffer))
                parts = [f.result() for f in self._parts]
                self._s3.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": parts},
                )
        except BaseException:
            self.abort()
            raise
        self.state = "complete"
        self._release()

    def abort(self) -> None:
        """Discard what was uploaded; a no-op once completed or aborted."""
        if self.state != "open":
            return
        self.state = "aborted"
        for f in self._parts:
            f.cancel()
        self._release()  # waits for parts still uploading, so the abort is the last word
        if self._upload_id is not None:
            self._s3.abort_multipart_upload(
                Bucket=self._bucket, Key=self.key, UploadId=self._upload_id
            )

    def _release(self) -> None:
        self._buffer = bytearray()
        self._parts = []
        if self._pool:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> S3Sink:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is not None or self.state == "open":
            self.abort()


# One client serves a processor's ReadAhead and its two sinks at once; size its connection
# pool for all of them so no connection is thrown away and re-opened (botocore's default: 10).
S3_MAX_CONNECTIONS = READ_AHEAD_PARTS + 2 * WRITE_PARTS_IN_FLIGHT + 2


# the ratio limit applies once this much was decompressed: tiny files have meaningless ratios
RATIO_FLOOR_BYTES = 1024 * 1024


class _BoundedInflate:
    """A read-only stream over decompressed bytes that raises DecompressedTooLarge as soon as
    the output passes `max_bytes`, or `max_ratio` times the compressed size (past
    RATIO_FLOOR_BYTES): a decompression bomb stops after at most one read past the limit.
    It has no seek/tell, so the transfer manager streams it instead of trying to rewind."""

    def __init__(self, plain: Any, *, compressed: int, max_bytes: int, max_ratio: float):
        self._plain, self._compressed = plain, compressed
        self._max_bytes, self._max_ratio = max_bytes, max_ratio
        self.total = 0

    def read(self, size: int = -1) -> bytes:
        data = self._plain.read(size)
        self.total += len(data)
        if self.total > self._max_bytes:
            raise DecompressedTooLarge(
                f"the gzip input decompresses to more than {self._max_bytes} bytes (the "
                f"max_decompressed_bytes limit; compressed size {self._compressed} bytes): "
                "split the file into smaller uploads, or raise max_decompressed_bytes if it "
                "is legitimate"
            )
        if self.total > RATIO_FLOOR_BYTES and self.total > self._max_ratio * self._compressed:
            raise DecompressedTooLarge(
                f"the gzip input expands more than {self._max_ratio:g}x (the max_gzip_ratio "
                f"limit: {self._compressed} compressed bytes gave over {self.total} so far): "
                "this looks like a decompression bomb; check the file, or raise "
                "max_gzip_ratio if such a ratio is legitimate for your data"
            )
        return data


def stage_gzip(
    s3: Any,
    bucket: str,
    key: str,
    version_id: str | None,
    staging_key: str,
    *,
    max_bytes: int,
    max_ratio: float,
) -> tuple[str | None, int]:
    """Stream-decompress a .gz object into `staging_key` (multipart, bounded memory).

    gzip cannot be split by byte ranges, so the splitter stages a plain copy once and the
    chunks are planned over it. Returns (staged version id, staged size). Raises
    DecompressedTooLarge past `max_bytes` or `max_ratio` (the upload is abandoned).
    """
    kwargs = {"Bucket": bucket, "Key": key}
    if version_id:
        kwargs["VersionId"] = version_id
    obj = s3.get_object(**kwargs)
    with gzip.GzipFile(fileobj=obj["Body"], mode="rb") as plain:
        bounded = _BoundedInflate(
            plain, compressed=int(obj["ContentLength"]), max_bytes=max_bytes, max_ratio=max_ratio
        )
        s3.upload_fileobj(bounded, bucket, staging_key, Config=TRANSFER)
    head = s3.head_object(Bucket=bucket, Key=staging_key)
    return head.get("VersionId"), int(head["ContentLength"])


# per-key delete errors (SlowDown, InternalError) come back in a 200 answer: the keys are
# deleted again, this many calls in all with a doubling pause, before DeleteIncomplete
DELETE_ATTEMPTS = 5
DELETE_FIRST_PAUSE_SECONDS = 0.2


def delete_keys(s3: Any, bucket: str, keys: list[str], *, attempts: int = DELETE_ATTEMPTS) -> None:
    """Delete the current versions of `keys` (at most 1000: one DeleteObjects call).

    DeleteObjects answers HTTP 200 even when some keys were not deleted: each such key is
    listed in the answer's `Errors` with its code. Those keys are deleted again (`attempts`
    calls in all, pausing 0.2 s, 0.4 s, ... between them); DeleteIncomplete names the keys
    that still failed, so the step fails and the state machine retries it instead of
    reporting a clean-up that did not happen."""
    pending = keys
    for attempt in range(1, attempts + 1):
        answer = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in pending], "Quiet": True}
        )
        errors = answer.get("Errors") or []
        if not errors:
            return
        pending = [e["Key"] for e in errors]
        if attempt < attempts:
            time.sleep(DELETE_FIRST_PAUSE_SECONDS * 2 ** (attempt - 1))
    first = errors[0]
    raise DeleteIncomplete(
        f"S3 did not delete {len(errors)} of {len(keys)} objects in s3://{bucket}/ after "
        f"{attempts} attempts (first: {first['Key']}: {first.get('Code')} "
        f"{first.get('Message', '')}). The step fails so that the state machine runs it again; "
        "if it keeps failing, check the bucket policy and the function role's s3:DeleteObject "
        "on that prefix, then delete the objects by hand"
    )


def delete_prefix(s3: Any, bucket: str, prefix: str) -> int:
    """Delete every current object under `prefix` (1000 per call); returns how many.
    DeleteIncomplete if S3 keeps refusing some of them (`delete_keys`)."""
    deleted = 0
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        keys = [o["Key"] for o in page.get("Contents", [])]
        if keys:
            delete_keys(s3, bucket, keys)
            deleted += len(keys)
    return deleted
