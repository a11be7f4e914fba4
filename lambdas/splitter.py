"""Split: route the object to its dataset, pin the dataset's schema, register the object
version, plan record-aligned chunks, write the manifest (etl/split.py does the work)."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext
from etl.events import SplitInput
from etl.runtime import get_runtime, logger, metrics
from etl.split import split_file


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return split_file(get_runtime(), SplitInput.from_dict(event)).to_dict()
