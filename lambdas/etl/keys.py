"""Deterministic identities and S3 keys: the same object version always maps to the same
file_id and the same output keys, so a retry overwrites instead of duplicating, and two
versions of one key never share an output."""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass

from .contract import PREFIXES

_VERSION_SEP = "?versionId="
S3_MAX_KEY_BYTES = 1024  # S3's limit on an object key, in UTF-8 bytes
_CSV_SUFFIXES = (".csv.gz", ".csv.gzip", ".gz", ".csv", ".txt")


@dataclass(frozen=True)
class FileRef:
    """One version of one uploaded object."""

    bucket: str
    key: str
    version_id: str | None

    @property
    def file_id(self) -> str:
        return f"s3://{self.bucket}/{self.key}{_VERSION_SEP}{self.version_id or 'null'}"

    def identity(self) -> dict[str, str | None]:
        """The fields every event about this file carries, under their event names."""
        return {
            "file_id": self.file_id,
            "bucket": self.bucket,
            "key": self.key,
            "version_id": self.version_id,
        }

    @classmethod
    def from_file_id(cls, file_id: str) -> FileRef:
        rest = file_id.removeprefix("s3://")
        path, _, version = rest.rpartition(_VERSION_SEP)
        bucket, _, key = path.partition("/")
        return cls(bucket, key, None if version == "null" else version)

    @property
    def is_gzip(self) -> bool:
        return self.key.lower().endswith((".gz", ".gzip"))

    @property
    def digest(self) -> str:
        """64 hex chars: the FIFO deduplication id and the version tag of output keys."""
        return hashlib.sha256(self.file_id.encode()).hexdigest()

    @property
    def dataset(self) -> str:
        """The key below incoming/ without its CSV/gzip suffix: `incoming/a/b.csv` -> `a/b`."""
        name = self.key.removeprefix(PREFIXES["incoming"])
        lower = name.lower()
        for suffix in _CSV_SUFFIXES:
            if lower.endswith(suffix):
                name = name[: -len(suffix)]
                break
        return name or "unnamed"

    @property
    def is_placeholder(self) -> bool:
        """A folder marker (`incoming/2024/`: what the S3 console's "Create folder" writes)
        or a hidden placeholder file (`.keep`, `.gitkeep`): when it has no bytes, it is no
        upload of data and the pipeline ignores it (docs/decisions.md)."""
        return self.key.endswith("/") or posixpath.basename(self.key).startswith(".")

    @property
    def message_group_id(self) -> str:
        """FIFO group per dataset; SQS allows printable ASCII only, at most 128 chars."""
        return re.sub(r"[^!-~]", "_", self.dataset)[:128]

    @property
    def run(self) -> str:
        return f"version={self.digest[:16]}"

    # -- keys --------------------------------------------------------------------------
    @property
    def valid_prefix(self) -> str:
        return f"{PREFIXES['processed']}{self.dataset}/{self.run}/"

    @property
    def rejected_prefix(self) -> str:
        return f"{PREFIXES['rejected']}{self.dataset}/{self.run}/"

    @property
    def work_prefix(self) -> str:
        return f"{PREFIXES['work']}{self.digest[:16]}/"

    @property
    def published_prefixes(self) -> tuple[str, str]:
        """Where this version's results go; a failed file must leave nothing under them."""
        return self.valid_prefix, self.rejected_prefix

    @property
    def staging_prefix(self) -> str:
        return f"{PREFIXES['staging']}{self.digest[:16]}/"

    @property
    def manifest_key(self) -> str:
        return f"{PREFIXES['manifests']}{self.digest[:16]}.json"

    @property
    def staging_key(self) -> str:
        base = posixpath.basename(self.key)
        for suffix in (".gzip", ".gz"):
            if base.lower().endswith(suffix):
                base = base[: -len(suffix)]
        return f"{self.staging_prefix}{base}"

    def output_keys(self, chunks: int) -> tuple[str, ...]:
        """Every key the pipeline writes for this file version planned into `chunks` chunks,
        at their longest (the last chunk's): what must fit S3's key limit."""
        last = max(chunks - 1, 0)
        return (
            self.valid_key(last),
            self.rejected_key(last),
            self.work_valid_key(last),
            self.work_rejected_key(last),
            self.staging_key,
            self.manifest_key,
        )

    def longest_output_key_bytes(self, chunks: int) -> int:
        return max(len(k.encode()) for k in self.output_keys(chunks))

    def valid_key(self, chunk: int) -> str:
        return f"{self.valid_prefix}chunk-{chunk:06d}.parquet"

    def rejected_key(self, chunk: int) -> str:
        return f"{self.rejected_prefix}chunk-{chunk:06d}.parquet"

    def work_valid_key(self, chunk: int) -> str:
        return f"{self.work_prefix}valid/chunk-{chunk:06d}.parquet"

    def work_rejected_key(self, chunk: int) -> str:
        return f"{self.work_prefix}rejected/chunk-{chunk:06d}.parquet"
