"""Finalize: check conservation, publish rejects with file line numbers, mark COMPLETE."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from aws_lambda_powertools.utilities.typing import LambdaContext
from etl.finalize import check_conservation
from etl.keys import FileRef
from etl.runtime import get_runtime, logger, metrics


def _publish_rejects(rt, ref: FileRef, index: int, first_line: int) -> None:
    """Chunk-local line numbers -> file line numbers; idempotent (same input, same output)."""
    body = rt.s3.get_object(Bucket=ref.bucket, Key=ref.work_rejected_key(index))["Body"].read()
    table = pq.read_table(io.BytesIO(body))
    lines = pc.add(table.column("line"), pa.scalar(first_line - 1, pa.int64()))
    table = table.set_column(0, table.schema.field("line"), lines)
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd")
    rt.s3.put_object(Bucket=ref.bucket, Key=ref.rejected_key(index), Body=out.getvalue())


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    rt = get_runtime()
    ref = FileRef.from_file_id(event["file_id"])
    logger.append_keys(file_id=ref.file_id)
    chunk_count = int(event["chunk_count"])
    items = rt.status.chunks(ref.file_id)
    totals = check_conservation(
        items,
        chunk_count=chunk_count,
        data_bytes=int(event["size"]) - int(event["header_end"]),
        header_newlines=int(event["header_newlines"]),
    )
    rejected_chunks = {
        int(i["chunk_id"].split("#")[1]) for i in items if int(i["rows_rejected"]) > 0
    }
    for index in sorted(rejected_chunks):
        _publish_rejects(rt, ref, index, totals.first_lines[index])
    work_keys = [{"Key": ref.work_rejected_key(i)} for i in range(chunk_count)]
    for start in range(0, len(work_keys), 1000):
        rt.s3.delete_objects(
            Bucket=ref.bucket, Delete={"Objects": work_keys[start : start + 1000], "Quiet": True}
        )
    summary = {
        "rows_total": totals.rows_total,
        "rows_valid": totals.rows_valid,
        "rows_rejected": totals.rows_rejected,
        "chunks": totals.chunks,
        "blank_lines": totals.blank_lines,
        "valid_prefix": ref.valid_prefix,
        "rejected_prefix": ref.rejected_prefix,
    }
    rt.status.complete_file(ref.file_id, summary)
    metrics.add_metric(name="FilesCompleted", unit="Count", value=1)
    logger.info("file complete", extra=summary)
    return {
        "file_id": ref.file_id,
        "status": "COMPLETE",
        "bucket": ref.bucket,
        "key": ref.key,
        "version_id": ref.version_id,
        **summary,
        "message_group_id": ref.dataset[:128],
        "dedup_id": ref.digest,
    }
