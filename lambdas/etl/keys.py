"""Deterministic identities and S3 keys: the same object version always maps to the same
file_id and the same output keys, so a retry overwrites instead of duplicating, and two
versions of one key never share an output.

Key layout (`<path>` is the key below `incoming/<dataset>/` without its CSV/gzip suffix):

    incoming/<dataset>/<path>.csv                     an upload; <dataset> routes it
    processed/<dataset>/v<major>/<path>/version=<id16>/chunk-NNNNNN.parquet
    rejected/<dataset>/v<major>/<path>/version=<id16>/chunk-NNNNNN.parquet

`<major>` is the major version of the schema the file was pinned to, so outputs of
incompatible schema versions never share a prefix (or a table).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .contract import PREFIXES
from .errors import UnknownDataset

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
    def dataset(self) -> str | None:
        """The first segment below incoming/: `incoming/sales/a/b.csv` -> `sales`; None for
        a key directly under incoming/ (no dataset segment)."""
        below = self.key.removeprefix(PREFIXES["incoming"])
        head, sep, _ = below.partition("/")
        return head if sep and head else None

    @property
    def path(self) -> str:
        """The key below incoming/<dataset>/ without its CSV/gzip suffix:
        `incoming/sales/a/b.csv` -> `a/b`."""
        below = self.key.removeprefix(PREFIXES["incoming"])
        if self.dataset is not None:
            below = below[len(self.dataset) + 1 :]
        lower = below.lower()
        for suffix in _CSV_SUFFIXES:
            if lower.endswith(suffix):
                below = below[: -len(suffix)]
                break
        return below or "unnamed"

    @property
    def is_placeholder(self) -> bool:
        """A folder marker (`incoming/2024/`: what the S3 console's "Create folder" writes)
        or a hidden placeholder file (`.keep`, `.gitkeep`): when it has no bytes, it is no
        upload of data and the pipeline ignores it (docs/decisions.md)."""
        return self.key.endswith("/") or posixpath.basename(self.key).startswith(".")

    @property
    def message_group_id(self) -> str:
        """FIFO group per dataset and path (`<dataset>/<path>`); SQS allows printable ASCII
        only, at most 128 chars."""
        return re.sub(r"[^!-~]", "_", f"{self.dataset}/{self.path}")[:128]

    @property
    def run(self) -> str:
        return f"version={self.digest[:16]}"

    def outputs(self, major: int) -> Outputs:
        """Where this version's results are published, typed by a schema of `major`."""
        return Outputs(self, major)

    # -- scratch keys ------------------------------------------------------------------
    @property
    def work_prefix(self) -> str:
        return f"{PREFIXES['work']}{self.digest[:16]}/"

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

    def work_valid_key(self, chunk: int) -> str:
        return f"{self.work_prefix}valid/chunk-{chunk:06d}.parquet"

    def work_rejected_key(self, chunk: int) -> str:
        return f"{self.work_prefix}rejected/chunk-{chunk:06d}.parquet"

    def output_keys(self, chunks: int, major: int) -> tuple[str, ...]:
        """Every key the pipeline writes for this file version planned into `chunks` chunks
        and typed by a schema of `major`, at their longest (the last chunk's): what must fit
        S3's key limit."""
        last = max(chunks - 1, 0)
        return (
            self.outputs(major).valid_key(last),
            self.outputs(major).rejected_key(last),
            self.work_valid_key(last),
            self.work_rejected_key(last),
            self.staging_key,
            self.manifest_key,
        )

    def longest_output_key_bytes(self, chunks: int, major: int) -> int:
        return max(len(k.encode()) for k in self.output_keys(chunks, major))


@dataclass(frozen=True)
class Outputs:
    """The published keys of one file version typed by a schema of major version `major`."""

    ref: FileRef
    major: int

    def _prefix(self, kind: str) -> str:
        ref = self.ref
        return f"{PREFIXES[kind]}{ref.dataset}/v{self.major}/{ref.path}/{ref.run}/"

    @property
    def valid_prefix(self) -> str:
        return self._prefix("processed")

    @property
    def rejected_prefix(self) -> str:
        return self._prefix("rejected")

    @property
    def published_prefixes(self) -> tuple[str, str]:
        """Where this version's results go; a failed file must leave nothing under them."""
        return self.valid_prefix, self.rejected_prefix

    def valid_key(self, chunk: int) -> str:
        return f"{self.valid_prefix}chunk-{chunk:06d}.parquet"

    def rejected_key(self, chunk: int) -> str:
        return f"{self.rejected_prefix}chunk-{chunk:06d}.parquet"


def route(ref: FileRef, declared: Iterable[str]) -> str:
    """The dataset of an upload: the first segment below incoming/, which must be one of
    the `declared` datasets (Terraform's `datasets`); UnknownDataset otherwise."""
    names = sorted(declared)
    if ref.dataset is not None and ref.dataset in names:
        return ref.dataset
    incoming = PREFIXES["incoming"]
    found = (
        f"its first segment below {incoming} ({ref.dataset!r}) is no declared dataset"
        if ref.dataset is not None
        else f"it is directly under {incoming}, not under {incoming}<dataset>/"
    )
    example = f" (e.g. {incoming}{names[0]}/{posixpath.basename(ref.key)})" if names else ""
    raise UnknownDataset(
        f"s3://{ref.bucket}/{ref.key}: {found}; the declared datasets are "
        f"{', '.join(names) or '(none)'}. Upload the file under {incoming}<dataset>/"
        f"{example} or declare the dataset in the Terraform input `datasets`"
    )
