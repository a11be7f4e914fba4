"""Finalizer core: the conservation check over chunk results, and the success summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .errors import ConservationError, EtlError, TooManyRejects, from_name
from .events import SchemaIdentity, SuccessMessage
from .keys import FileRef
from .schema import DEFAULT_MAX_REJECTED_SHARE
from .status_model import DONE, FAILED, chunk_index

SUMMARY_KEYS = (
    "rows_total",
    "rows_valid",
    "rows_rejected",
    "chunks",
    "blank_lines",
    "valid_prefix",
    "rejected_prefix",
    "rejects_by_rule",
    "first_rejects",
)
FIRST_REJECTS = 5  # rejected lines the summary shows
TOP_RULES = 3  # (column, rule) pairs a TooManyRejects message names


def success_message(ref: FileRef, schema: SchemaIdentity, summary: dict) -> SuccessMessage:
    """The message the FIFO results queue carries (one per object version), from the
    finalizer's summary or the COMPLETE file item that holds it, with the schema version
    that typed the file."""
    return SuccessMessage.from_dict(
        {
            **ref.identity(),
            "dataset": schema.dataset,
            "schema": schema.to_dict(),
            **{k: _plain(summary.get(k, [])) for k in SUMMARY_KEYS},
            "message_group_id": ref.message_group_id,
            "dedup_id": ref.digest,
        }
    )


def chunk_failure(items: list[dict]) -> EtlError | None:
    """The named error of the first chunk whose last attempt failed, if any."""
    failed = sorted((i for i in items if i.get("status") == FAILED), key=chunk_index)
    if not failed:
        return None
    first = failed[0]
    index = chunk_index(first)
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
    by_index = {chunk_index(i): i for i in items}
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


# ---------------------------------------------------------------------------
# rejects: counts per column and rule, the first rejected lines, the threshold
# ---------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """DynamoDB numbers (Decimal), nested, as plain ints/floats for JSON."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def reject_summary(items: list[dict], first_lines: dict[int, int]) -> dict:
    """Sum the chunks' failure counts per (column, rule), most frequent first, and keep the
    file's first rejected lines (chunk-local line numbers made file line numbers)."""
    counts: Counter = Counter()
    first: list[dict] = []
    for item in items:
        k = chunk_index(item)
        for c in item.get("failure_counts") or []:
            counts[(c.get("column"), c["rule"])] += int(c["count"])
        for r in item.get("first_rejects") or []:
            first.append({**_plain(r), "line": int(r["line"]) + first_lines[k] - 1})
    first.sort(key=lambda r: r["line"])
    return {
        "rejects_by_rule": [
            {"column": column, "rule": rule, "count": n}
            for (column, rule), n in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
        ],
        "first_rejects": first[:FIRST_REJECTS],
    }


def max_rejected_share(file_item: dict | None) -> float:
    """The schema's maxRejectedShare as the validator recorded it on the file item."""
    value = (file_item or {}).get("max_rejected_share")
    return DEFAULT_MAX_REJECTED_SHARE if value in (None, "") else float(value)


def describe_rules(rejects_by_rule: list[dict], top: int = TOP_RULES) -> str:
    """`amount type 1,461; currency enum 3` (record-level rules have no column)."""
    return "; ".join(
        f"{r['column'] + ' ' if r.get('column') else ''}{r['rule']} {int(r['count']):,}"
        for r in rejects_by_rule[:top]
    )


def check_reject_threshold(totals: FileTotals, rejects: dict, max_share: float) -> None:
    """TooManyRejects when more than `max_share` of the file's rows were rejected: a file
    that mostly fails its schema is the wrong file or the wrong schema, not a result."""
    if totals.rows_total == 0 or totals.rows_rejected <= max_share * totals.rows_total:
        return
    share = totals.rows_rejected / totals.rows_total
    raise TooManyRejects(
        f"{totals.rows_rejected:,} of {totals.rows_total:,} rows rejected ({share:.1%}), more "
        f"than the schema's maxRejectedShare {max_share:.1%}; top rules: "
        f"{describe_rules(rejects['rejects_by_rule'])}. Nothing was published: check that the "
        "schema describes the file (formats, missingValues, constraints) or fix the file, "
        "then upload it again (or raise maxRejectedShare)"
    )
