"""Finalize: check conservation, publish the chunk outputs from work/, mark COMPLETE.

The publishing protocol (safe to retry at any point) is etl/publish.py's."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext
from etl.events import Validated
from etl.keys import FileRef
from etl.publish import finalize_file
from etl.runtime import add_dataset_dimension, get_runtime, logger, metrics


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    rt = get_runtime()
    checked = Validated.from_dict(event)
    ref = FileRef.from_file_id(checked.file_id)
    logger.append_keys(file_id=ref.file_id)
    add_dataset_dimension(checked.schema.dataset)
    return finalize_file(rt, checked, ref).to_dict()
