"""MarkFailed: record the failure (name and reason) and build the SNS message; also the
target of the execution-ended rule (an execution no Catch saw end). The outcomes of both
are etl/failure.py's."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext
from etl.events import ExecutionEnded, MarkFailedInput
from etl.failure import EXECUTION_ENDED, execution_ended, mark_file_failed
from etl.runtime import get_runtime, logger, metrics


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    rt = get_runtime()
    if event.get("detail-type") == EXECUTION_ENDED:
        return execution_ended(rt, ExecutionEnded.from_dict(event)).to_dict()
    return mark_file_failed(rt, MarkFailedInput.from_dict(event)).to_dict()
