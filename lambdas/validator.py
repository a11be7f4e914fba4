"""Validate: file-level checks against the schema before any fan-out (etl/validate.py)."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext
from etl.events import SplitOutput
from etl.runtime import get_runtime, logger, metrics
from etl.validate import validate_file

SAMPLE_BYTES = 1024 * 1024  # encoding is checked on the first MiB; later bad bytes become rejects


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    rt = get_runtime()
    split = SplitOutput.from_dict(event)
    logger.append_keys(file_id=split.file_id)
    return validate_file(rt, split, SAMPLE_BYTES).to_dict()
