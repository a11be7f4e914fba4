"""Finalizer core: the conservation check over chunk results, and the success summary."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConservationError, EtlError, from_name
from .keys import FileRef
from .status import COMPLETE, DONE, FAILED

SUMMARY_KEYS = (
    "rows_total",
    "rows_valid",
    "rows_rejected",
    "chunks",
    "blank_lines",
    "valid_prefix",
    "rejected_prefix",
)


def success_message(ref: FileRef, summary: dict) -> dict:
    """The message the FIFO results queue carries (one per object version)."""
    return {
        "file_id": ref.file_id,
        "status": COMPLETE,
        "bucket": ref.bucket,
        "key": ref.key,
        "version_id": ref.version_id,
        **{k: summary[k] for k in SUMMARY_KEYS},
        "message_group_id": ref.message_group_id,
        "dedup_id": ref.digest,
    }


def chunk_failure(items: list[dict]) -> EtlError | None:
    """The named error of the first chunk whose last attempt failed, if any."""
    failed = sorted((i for i in items if i.get("status") == FAILED), key=lambda i: i["chunk_id"])
    if not failed:
        return None
    first = failed[0]
    index = int(first["chunk_id"].split("#")[1])
    more = f" ({len(failed) - 1} more chunks failed)" if len(failed) > 1 else ""
    return from_name(
        first.get("error", "ChunkFailed"), f"chunk {index}: {first.get('reason', '')}{more}"
    )


@dataclass(frozen=True)
class FileTotals:
    chunks: int
    rows_valid: int
    rows_rejected: int
    records: int
    bytes: int
    blank_lines: int
    first_lines: dict[int, int]  # chunk index -> file line of its first byte

    @property
    def rows_total(self) -> int:
        return self.rows_valid + self.rows_rejected


def check_conservation(
    items: list[dict], *, chunk_count: int, data_bytes: int, header_newlines: int
) -> FileTotals:
    """Every planned chunk DONE exactly once, every data byte consumed, every record counted.

    `records` is counted by quote parity on the raw bytes, independently of the CSV parser
    whose rows become valid or rejected, so valid + rejected == records is a real check.
    """
    by_index = {int(i["chunk_id"].split("#")[1]): i for i in items}
    missing = [k for k in range(chunk_count) if k not in by_index]
    not_done = sorted(k for k, i in by_index.items() if i.get("status") != DONE)
    extra = sorted(k for k in by_index if k >= chunk_count)
    if missing or not_done or extra:
        raise ConservationError(
            f"chunks not accounted for: missing {missing[:20]}, not finished {not_done[:20]}, "
            f"unexpected {extra[:20]} (of {chunk_count} planned)"
        )
    ordered = [by_index[k] for k in range(chunk_count)]
    valid = sum(int(i["rows_valid"]) for i in ordered)
    rejected = sum(int(i["rows_rejected"]) for i in ordered)
    records = sum(int(i["records"]) for i in ordered)
    consumed = sum(int(i["bytes"]) for i in ordered)
    if consumed != data_bytes:
        raise ConservationError(f"chunks consumed {consumed} bytes but the data holds {data_bytes}")
    if valid + rejected != records:
        raise ConservationError(
            f"rows lost or duplicated: {valid} valid + {rejected} rejected "
            f"!= {records} records read"
        )
    first_lines: dict[int, int] = {}
    line = header_newlines + 1
    for k, item in enumerate(ordered):
        first_lines[k] = line
        line += int(item["lines"])
    return FileTotals(
        chunk_count,
        valid,
        rejected,
        records,
        consumed,
        sum(int(i.get("blank_lines", 0)) for i in ordered),
        first_lines,
    )
