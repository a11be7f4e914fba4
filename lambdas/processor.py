"""Process one chunk: streamed ranged GET -> typed Parquet + rejects, both under work/."""

from __future__ import annotations

import json
import os
import tempfile
import time

from aws_lambda_powertools.utilities.typing import LambdaContext
from etl.errors import InjectedFault
from etl.keys import FileRef
from etl.runtime import get_runtime, logger, metrics
from etl.s3io import TRANSFER, ReadAhead, range_reader
from etl.transform import process_stream

# Tests only: the local harness may set this; Terraform never does (a contract test pins it).
FAULT_ENV = "ETL_TEST_FAULTS"


def _inject_fault(stage: str, chunk: int, attempt: int) -> None:
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    for fault in json.loads(spec):
        if (
            fault.get("stage") == stage
            and chunk in fault.get("chunks", [])
            and attempt <= int(fault.get("attempts", 1))
        ):
            raise InjectedFault(f"injected fault at {stage} for chunk {chunk}, attempt {attempt}")


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    rt = get_runtime()
    chunk = event["chunk"]
    index = int(chunk["index"])
    ref = FileRef.from_file_id(event["file_id"])
    logger.append_keys(file_id=ref.file_id, chunk_id=index)
    attempt = rt.status.start_chunk(ref.file_id, index)
    try:
        return _process(rt, event, ref, index, attempt)
    except Exception as exc:  # record why on the chunk item, then let the state machine decide
        rt.status.fail_chunk(ref.file_id, index, type(exc).__name__, str(exc))
        raise


def _process(rt, event: dict, ref: FileRef, index: int, attempt: int) -> dict:
    chunk = event["chunk"]
    schema = rt.schema()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="chunk-") as tmp:
        valid_path, rejected_path = f"{tmp}/valid.parquet", f"{tmp}/rejected.parquet"
        read = range_reader(rt.s3, event["bucket"], event["data_key"], event.get("data_version_id"))
        with ReadAhead(read, int(chunk["start"]), int(chunk["end"])) as body:
            result = process_stream(
                body,
                schema=schema,
                columns=event["columns"],
                valid_path=valid_path,
                rejected_path=rejected_path,
                first_line=1,
                is_last_chunk=bool(chunk.get("last")),
                max_record_bytes=rt.settings.max_record_bytes,
            )
        # work/ until the finalizer publishes: a failed file never leaves results in processed/
        rt.s3.upload_file(valid_path, ref.bucket, ref.work_valid_key(index), Config=TRANSFER)
        _inject_fault("after_valid_upload", index, attempt)
        rt.s3.upload_file(rejected_path, ref.bucket, ref.work_rejected_key(index), Config=TRANSFER)
    rt.status.finish_chunk(ref.file_id, index, {**result.to_dict(), "attempt_done": attempt})
    seconds = time.perf_counter() - started
    metrics.add_metric(name="RowsValid", unit="Count", value=result.rows_valid)
    metrics.add_metric(name="RowsRejected", unit="Count", value=result.rows_rejected)
    metrics.add_metric(name="ProcessedBytes", unit="Bytes", value=result.bytes)
    metrics.add_metric(name="ChunkSeconds", unit="Seconds", value=round(seconds, 3))
    logger.info(
        "chunk processed",
        extra={**result.to_dict(), "seconds": round(seconds, 3), "attempt": attempt},
    )
    return {"file_id": ref.file_id, "chunk_index": index, **result.to_dict()}
