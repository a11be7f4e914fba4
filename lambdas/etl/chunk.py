"""One chunk's work: parallel ranged GETs -> typed Parquet + rejects, streamed to work/, with
the chunk's status, metrics and log line. The processor handler is its adapter."""

from __future__ import annotations

import time

import pyarrow as pa

from etl.errors import UnbalancedQuote
from etl.events import ChunkItem, ChunkOutput
from etl.keys import FileRef
from etl.runtime import Runtime, logger, metrics
from etl.s3io import ReadAhead, S3Sink, range_reader
from etl.transform import process_stream


def process_chunk(rt: Runtime, item: ChunkItem, ref: FileRef) -> ChunkOutput:
    """Process one chunk of ``ref`` under the execution of ``item``. Refused
    (FileStateConflict) unless the file is PROCESSING under this execution; a failure is
    recorded on the chunk item and raised for the state machine to decide (an unbalanced
    quote is located in the file)."""
    index, execution_id = item.chunk.index, item.execution_id
    attempt = rt.status.start_chunk(ref.file_id, index, execution_id)
    try:
        return _process(rt, item, ref, attempt)
    except UnbalancedQuote as exc:  # located in the chunk: say where it is in the file
        at = item.chunk.start + (exc.offset or 0)
        located = UnbalancedQuote.at(
            f"line {exc.line} of the chunk (byte offset {at} of the file)", offset=at, line=exc.line
        )
        rt.status.fail_chunk(ref.file_id, index, execution_id, located.name, str(located))
        raise located from exc
    except Exception as exc:  # record why on the chunk item, then let the state machine decide
        rt.status.fail_chunk(ref.file_id, index, execution_id, type(exc).__name__, str(exc))
        raise


def parquet_metadata(item: ChunkItem, ref: FileRef) -> dict[str, str]:
    """The key-value metadata of both Parquet outputs of a chunk: which schema version
    typed them and which file version and chunk they come from."""
    return {
        **item.schema.parquet_metadata(),
        "etl.file_id": ref.file_id,
        "etl.object_version_id": ref.version_id or "null",
        "etl.chunk": str(item.chunk.index),
    }


def chunk_threads(rt: Runtime) -> int:
    """Block threads for a chunk: the vCPUs the function's memory pays for, never more than
    the CPUs it shows (outside Lambda: the CPUs)."""
    shown = pa.cpu_count()
    return shown if rt.settings.vcpus is None else min(rt.settings.vcpus, shown)


def _process(rt: Runtime, item: ChunkItem, ref: FileRef, attempt: int) -> ChunkOutput:
    chunk, index = item.chunk, item.chunk.index
    schema = rt.schema(item.schema)  # the version Split pinned: every chunk alike
    started = time.perf_counter()
    read = range_reader(rt.s3, item.bucket, item.data_key, item.data_version_id)
    # work/ until the finalizer publishes: a failed file never leaves results in processed/.
    # Both outputs stream to S3 while the chunk is processed; neither is visible before
    # complete(), and leaving the block by an exception aborts whatever was not completed.
    with (
        ReadAhead(read, chunk.start, chunk.end) as body,
        S3Sink(rt.s3, ref.bucket, ref.work_valid_key(index)) as valid,
        S3Sink(rt.s3, ref.bucket, ref.work_rejected_key(index)) as rejected,
    ):
        result = process_stream(
            body,
            schema=schema,
            columns=list(item.columns),
            valid_path=valid,
            rejected_path=rejected,
            first_line=1,
            is_last_chunk=chunk.last,
            max_record_bytes=rt.settings.max_record_bytes,
            metadata=parquet_metadata(item, ref),
            threads=chunk_threads(rt),
        )
        valid.complete()
        rejected.complete()
    rt.status.finish_chunk(
        ref.file_id,
        index,
        item.execution_id,
        {**result.to_dict(), **result.reject_details(), "attempt_done": attempt},
    )
    seconds = time.perf_counter() - started
    metrics.add_metric(name="RowsValid", unit="Count", value=result.rows_valid)
    metrics.add_metric(name="RowsRejected", unit="Count", value=result.rows_rejected)
    metrics.add_metric(name="ProcessedBytes", unit="Bytes", value=result.bytes)
    metrics.add_metric(name="ChunkSeconds", unit="Seconds", value=round(seconds, 3))
    metrics.add_metric(name="ReadRetries", unit="Count", value=body.retries)
    logger.info(
        "chunk processed",
        extra={
            **result.to_dict(),
            "seconds": round(seconds, 3),
            "attempt": attempt,
            "read_retries": body.retries,
        },
    )
    return ChunkOutput(ref.file_id, index, **result.to_dict())
