"""Process one chunk: parallel ranged GETs -> typed Parquet + rejects, streamed to work/."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext
from etl.chunk import process_chunk
from etl.events import ChunkItem
from etl.keys import FileRef
from etl.runtime import add_dataset_dimension, get_runtime, logger, metrics


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    rt = get_runtime()
    item = ChunkItem.from_dict(event)
    ref = FileRef.from_file_id(item.file_id)
    logger.append_keys(file_id=ref.file_id, chunk_id=item.chunk.index)
    add_dataset_dimension(item.schema.dataset)
    return process_chunk(rt, item, ref).to_dict()
