"""Finalize: check conservation, publish the chunk outputs from work/, mark COMPLETE.

Nothing appears under processed/ or rejected/ before this step succeeds, so a failed file
never leaves Parquet that looks like a result.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from aws_lambda_powertools.utilities.typing import LambdaContext
from etl.finalize import (
    check_conservation,
    check_reject_threshold,
    chunk_failure,
    max_rejected_share,
    reject_summary,
    success_message,
)
from etl.keys import FileRef
from etl.runtime import get_runtime, logger, metrics
from etl.s3io import delete_prefix
from etl.status import COMPLETE
from etl.transform import PARQUET_COMPRESSION

PUBLISH_THREADS = 8


def _publish_valid(rt, ref: FileRef, index: int) -> None:
    """Server-side copy: the bytes never pass through the function."""
    rt.s3.copy_object(
        Bucket=ref.bucket,
        Key=ref.valid_key(index),
        CopySource={"Bucket": ref.bucket, "Key": ref.work_valid_key(index)},
    )


def _publish_rejects(rt, ref: FileRef, index: int, first_line: int) -> None:
    """Chunk-local line numbers -> file line numbers (rejects are small; read whole)."""
    body = rt.s3.get_object(Bucket=ref.bucket, Key=ref.work_rejected_key(index))["Body"].read()
    table = pq.read_table(io.BytesIO(body))
    lines = pc.add(table.column("line"), pa.scalar(first_line - 1, pa.int64()))
    table = table.set_column(0, table.schema.field("line"), lines)
    out = io.BytesIO()
    pq.write_table(table, out, compression=PARQUET_COMPRESSION)
    rt.s3.put_object(Bucket=ref.bucket, Key=ref.rejected_key(index), Body=out.getvalue())


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    rt = get_runtime()
    ref = FileRef.from_file_id(event["file_id"])
    logger.append_keys(file_id=ref.file_id)
    done = rt.status.get_file(ref.file_id)
    if done and done.get("status") == COMPLETE:  # a retried finalizer: same answer, no work
        return success_message(ref, done)
    chunk_count = int(event["chunk_count"])
    items = rt.status.chunks(ref.file_id)
    failure = chunk_failure(items)
    if failure is not None:  # surface the chunk's own named error (e.g. RecordTooLarge)
        raise failure
    totals = check_conservation(
        items,
        chunk_count=chunk_count,
        data_bytes=int(event["size"]) - int(event["header_end"]),
        header_newlines=int(event["header_newlines"]),
    )
    rejects = reject_summary(items, totals.first_lines)
    check_reject_threshold(totals, rejects, max_rejected_share(done))  # before publishing
    by_index = {int(i["chunk_id"].split("#")[1]): i for i in items}
    with ThreadPoolExecutor(PUBLISH_THREADS) as pool:
        jobs = [
            pool.submit(_publish_valid, rt, ref, k)
            for k in range(chunk_count)
            if int(by_index[k]["rows_valid"]) > 0
        ]
        jobs += [
            pool.submit(_publish_rejects, rt, ref, k, totals.first_lines[k])
            for k in range(chunk_count)
            if int(by_index[k]["rows_rejected"]) > 0
        ]
        for job in jobs:
            job.result()
    delete_prefix(rt.s3, ref.bucket, ref.work_prefix)
    if event.get("data_key") and event["data_key"] != ref.key:
        delete_prefix(rt.s3, ref.bucket, event["data_key"])  # the staged gzip copy
    summary = {
        "rows_total": totals.rows_total,
        "rows_valid": totals.rows_valid,
        "rows_rejected": totals.rows_rejected,
        "chunks": totals.chunks,
        "blank_lines": totals.blank_lines,
        "valid_prefix": ref.valid_prefix,
        "rejected_prefix": ref.rejected_prefix,
        **rejects,
    }
    rt.status.complete_file(ref.file_id, summary)
    metrics.add_metric(name="FilesCompleted", unit="Count", value=1)
    logger.info("file complete", extra=summary)
    return success_message(ref, summary)
