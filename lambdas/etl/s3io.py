"""Small S3 helpers shared by the handlers: ranged reads and gzip staging."""

from __future__ import annotations

import gzip
from typing import Any

from boto3.s3.transfer import TransferConfig

# Bounded memory for multipart uploads: 2 parts of 16 MiB in flight at most.
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


def open_range(s3: Any, bucket: str, key: str, version_id: str | None, start: int, end: int):
    """A streaming body for bytes [start, end) of one object version (never read whole)."""
    kwargs = {"Bucket": bucket, "Key": key, "Range": f"bytes={start}-{end - 1}"}
    if version_id:
        kwargs["VersionId"] = version_id
    return s3.get_object(**kwargs)["Body"]


class _ReadOnly:
    """Hide seek/tell so the transfer manager streams instead of trying to rewind."""

    def __init__(self, raw: Any):
        self.read = raw.read


def stage_gzip(
    s3: Any, bucket: str, key: str, version_id: str | None, staging_key: str
) -> tuple[str | None, int]:
    """Stream-decompress a .gz object into `staging_key` (multipart, bounded memory).

    gzip cannot be split by byte ranges, so the splitter stages a plain copy once and the
    chunks are planned over it. Returns (staged version id, staged size).
    """
    kwargs = {"Bucket": bucket, "Key": key}
    if version_id:
        kwargs["VersionId"] = version_id
    body = s3.get_object(**kwargs)["Body"]
    with gzip.GzipFile(fileobj=body, mode="rb") as plain:
        s3.upload_fileobj(_ReadOnly(plain), bucket, staging_key, Config=TRANSFER)
    head = s3.head_object(Bucket=bucket, Key=staging_key)
    return head.get("VersionId"), int(head["ContentLength"])


def delete_prefix(s3: Any, bucket: str, prefix: str) -> int:
    """Delete every current object under `prefix` (1000 per call); returns how many."""
    deleted = 0
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    return deleted
