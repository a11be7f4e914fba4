"""Validate: file-level checks against the schema before any fan-out."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext
from etl.checks import check_has_data, check_quotes, check_text, parse_header
from etl.chunking import header_text
from etl.events import SplitOutput, Validated
from etl.runtime import get_runtime, logger, metrics
from etl.s3io import range_reader

SAMPLE_BYTES = 1024 * 1024  # encoding is checked on the first MiB; later bad bytes become rejects


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    rt = get_runtime()
    split = SplitOutput.from_dict(event)
    logger.append_keys(file_id=split.file_id)
    schema = rt.schema(split.schema)  # the version Split pinned, never a newer one
    read = range_reader(rt.s3, split.bucket, split.data_key, split.data_version_id)
    size, h0, h1 = split.size, split.header_start, split.header_end
    sample_end = min(size, h1 + SAMPLE_BYTES)
    sample = read(h0, sample_end) if sample_end > h0 else b""
    check_text(sample, complete=sample_end == size, offset=h0)
    columns = parse_header(header_text(sample[: h1 - h0]), schema)
    check_has_data(sample[h1 - h0 :], data_bytes=size - h1)
    # before any fan-out: a quote that never closes in the sample names its file line
    check_quotes(
        sample[h1 - h0 :],
        complete=sample_end == size,
        delimiter=schema.delimiter,
        offset=h1,
        first_line=split.header_newlines + 1,
        max_record_bytes=rt.settings.max_record_bytes,
    )
    rt.status.set_processing(
        split.file_id,
        split.execution_id,
        chunk_count=split.chunk_count,
        columns=columns,
        # the pinned schema's reject threshold, for the finalizer (which reads no schema)
        max_rejected_share=str(schema.max_rejected_share),
    )
    logger.info("file accepted", extra={"columns": columns, "chunks": split.chunk_count})
    return Validated.of(split, columns).to_dict()
