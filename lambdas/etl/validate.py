"""Validate a file: the file-level checks against its pinned schema before any fan-out,
then PROCESSING. The validator handler is its adapter."""

from __future__ import annotations

from etl.checks import check_has_data, check_quotes, check_text, parse_header
from etl.chunking import header_text
from etl.events import SplitOutput, Validated
from etl.runtime import Runtime, logger
from etl.s3io import range_reader


def validate_file(rt: Runtime, split: SplitOutput, sample_bytes: int) -> Validated:
    """Check the encoding, header, data and quotes of the planned file ``split`` on its
    first ``sample_bytes`` after the header (later bad bytes become rejects) and mark it
    PROCESSING with its columns."""
    schema = rt.schema(split.schema)  # the version Split pinned, never a newer one
    read = range_reader(rt.s3, split.bucket, split.data_key, split.data_version_id)
    size, h0, h1 = split.size, split.header_start, split.header_end
    sample_end = min(size, h1 + sample_bytes)
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
    return Validated.of(split, columns)
