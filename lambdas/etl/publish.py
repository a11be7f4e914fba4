"""Finalize a file: check conservation, publish the chunk outputs from work/, mark COMPLETE.
The finalizer handler is its adapter.

Publishing is a small state machine of its own, safe to retry at any point:
1. PROCESSING -> PUBLISHING, a conditional write that only the owning execution passes
   (a FAILED or COMPLETE file, or another execution's, is refused: FileStateConflict);
2. copy/rewrite every chunk output to its deterministic processed/ and rejected/ key
   (idempotent: a retry overwrites the same keys with the same bytes);
3. PUBLISHING -> COMPLETE;
4. only then delete work/ and the staged gzip copy.
A retry that finds PUBLISHING redoes 2-4; one that finds COMPLETE redoes 4 and returns the
same success message. If the file fails instead, MarkFailed deletes the file version's
processed/ and rejected/ prefixes, so a failed file never leaves Parquet that looks like a
result; a finalizer that finds the file FAILED when publishing went wrong (its execution
ended while it ran, and the execution-ended clean-up ran beside it) deletes them itself.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import pyarrow.parquet as pq

from etl.errors import FileStateConflict
from etl.events import SuccessMessage, Validated
from etl.finalize import (
    check_conservation,
    check_reject_threshold,
    chunk_failure,
    max_rejected_share,
    reject_summary,
    success_message,
)
from etl.keys import FileRef, Outputs
from etl.outcome import rejects_in_file_lines
from etl.runtime import Runtime, logger, metrics
from etl.s3io import delete_prefix
from etl.status import COMPLETE, FAILED, chunk_index
from etl.transform import PARQUET_COMPRESSION

PUBLISH_THREADS = 8


def _publish_valid(rt: Runtime, out: Outputs, index: int) -> None:
    """Server-side copy: the bytes (and the Parquet metadata) never pass through the
    function."""
    ref = out.ref
    rt.s3.copy_object(
        Bucket=ref.bucket,
        Key=out.valid_key(index),
        CopySource={"Bucket": ref.bucket, "Key": ref.work_valid_key(index)},
    )


def _publish_rejects(rt: Runtime, out: Outputs, index: int, first_line: int) -> None:
    """Chunk-local line numbers -> file line numbers (rejects are small; read whole). The
    file's key-value metadata is read with the table and written back with it."""
    ref = out.ref
    body = rt.s3.get_object(Bucket=ref.bucket, Key=ref.work_rejected_key(index))["Body"].read()
    table = rejects_in_file_lines(io.BytesIO(body), first_line)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression=PARQUET_COMPRESSION)
    rt.s3.put_object(Bucket=ref.bucket, Key=out.rejected_key(index), Body=buffer.getvalue())


def _cleanup(rt: Runtime, ref: FileRef, data_key: str | None) -> None:
    """Scratch of a COMPLETE file: its work/ outputs and the staged gzip copy."""
    delete_prefix(rt.s3, ref.bucket, ref.work_prefix)
    if data_key and data_key != ref.key:
        delete_prefix(rt.s3, ref.bucket, data_key)  # the staged gzip copy


def _checked_totals(rt: Runtime, ref: FileRef, event: Validated):
    items = rt.status.chunks(ref.file_id)
    failure = chunk_failure(items)
    if failure is not None:  # surface the chunk's own named error (e.g. RecordTooLarge)
        raise failure
    totals = check_conservation(
        items,
        chunk_count=event.chunk_count,
        data_bytes=event.size - event.header_end,
        header_newlines=event.header_newlines,
    )
    return items, totals


def _publish(rt: Runtime, out: Outputs, items: list[dict], totals) -> None:
    by_index = {chunk_index(i): i for i in items}
    with ThreadPoolExecutor(PUBLISH_THREADS) as pool:
        jobs = [
            pool.submit(_publish_valid, rt, out, k)
            for k in range(totals.chunks)
            if int(by_index[k]["rows_valid"]) > 0
        ]
        jobs += [
            pool.submit(_publish_rejects, rt, out, k, totals.first_lines[k])
            for k in range(totals.chunks)
            if int(by_index[k]["rows_rejected"]) > 0
        ]
        for job in jobs:
            job.result()


def _withdraw_if_failed(rt: Runtime, out: Outputs) -> None:
    """After publishing went wrong: if the file is FAILED meanwhile, delete the version's
    processed/ and rejected/ prefixes. Step Functions does not stop a running Lambda, so a
    finalizer whose execution timed out or was stopped may still copy after the
    execution-ended clean-up listed those prefixes; what lands then is removed here, so a
    FAILED file never keeps Parquet that looks like a result."""
    if (rt.status.get_file(out.ref.file_id) or {}).get("status") != FAILED:
        return  # PUBLISHING: the state machine's retry or MarkFailed finishes the file
    for prefix in out.published_prefixes:
        delete_prefix(rt.s3, out.ref.bucket, prefix)
    logger.warning("the file failed while it was published: its copies were withdrawn")


def finalize_file(rt: Runtime, checked: Validated, ref: FileRef) -> SuccessMessage:
    """Publish the checked file ``ref`` (steps 1-4 above) and return its success message;
    a retry after COMPLETE only finishes the cleanup and returns the same message."""
    out = ref.outputs(checked.schema.major)
    done = rt.status.get_file(ref.file_id) or {}
    if done.get("status") == COMPLETE:  # a retried finalizer: finish the cleanup, same answer
        _cleanup(rt, ref, checked.data_key)
        return success_message(ref, checked.schema, done)
    if done.get("status") == FAILED:
        raise FileStateConflict(
            f"refusing to publish: {ref.file_id} is FAILED ({done.get('error')}); "
            "nothing was published. Upload the file again to retry it"
        )
    execution_id = checked.execution_id
    items, totals = _checked_totals(rt, ref, checked)  # refuse before changing anything
    rejects = reject_summary(items, totals.first_lines)
    check_reject_threshold(totals, rejects, max_rejected_share(done))  # before publishing
    rt.status.begin_publish(ref.file_id, execution_id)
    # No chunk write is accepted from here on: these chunk items are final.
    items, totals = _checked_totals(rt, ref, checked)
    rejects = reject_summary(items, totals.first_lines)
    summary = {
        "rows_total": totals.rows_total,
        "rows_valid": totals.rows_valid,
        "rows_rejected": totals.rows_rejected,
        "chunks": totals.chunks,
        "blank_lines": totals.blank_lines,
        "valid_prefix": out.valid_prefix,
        "rejected_prefix": out.rejected_prefix,
        **rejects,
    }
    try:
        _publish(rt, out, items, totals)
        rt.status.complete_file(ref.file_id, execution_id, summary)
    except Exception:
        _withdraw_if_failed(rt, out)
        raise
    _cleanup(rt, ref, checked.data_key)
    metrics.add_metric(name="FilesCompleted", unit="Count", value=1)
    message = success_message(ref, checked.schema, summary)  # no row's raw text
    logger.info("file complete", extra={k: v for k, v in message.to_dict().items() if k in summary})
    return message
