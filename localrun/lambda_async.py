"""Lambda's asynchronous invocation (``InvocationType=Event``), as the local layer runs it.

What the Lambda service does with an event it accepted (docs: "Error handling and automatic
retries in Lambda", "Capturing records of Lambda asynchronous invocations"):

- it runs the function; when the function returns an error it retries, at most
  ``MaximumRetryAttempts`` times (0-2, default 2) from the function's event invoke config;
- when the retries are exhausted it sends an invocation record to the config's ``OnFailure``
  destination (SQS queue, SNS topic, Lambda function or EventBridge bus), using the
  function's execution role; without a destination the event is dropped.

AWS waits about one minute before the first retry and two before the second; here the waits
are ``retry_delays_s`` (short by default: nothing here depends on the length). Delivery goes to
moto's backends in this process; SQS and SNS destinations are supported (the pipeline uses a
queue), any other kind raises ``NotImplementedError`` in the invoking thread and is logged.
"""

from __future__ import annotations

import datetime
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence

LOG = logging.getLogger(__name__)
DEFAULT_RETRY_ATTEMPTS = 2


def event_invoke_config(function_arn: str) -> dict:
    """The function's event invoke config as moto holds it ({} when none was put)."""
    from moto.awslambda.exceptions import UnknownEventConfig
    from moto.awslambda.models import lambda_backends

    account, region = _account_and_region(function_arn)
    try:
        return lambda_backends[account][region].get_function_event_invoke_config(function_arn)
    except UnknownEventConfig:
        return {}


def run_event(
    invoke: Callable[[], dict],
    function_arn: str,
    payload: str,
    *,
    retry_delays_s: Sequence[float] = (0.2, 0.4),
    sleep: Callable[[float], None] | None = None,
) -> dict:
    """Run one accepted event: the first attempt, the retries the config allows, then the
    failure record to the ``OnFailure`` destination. Returns the last attempt's result."""
    sleep = sleep or time.sleep
    config = event_invoke_config(function_arn)
    retries = config.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS)
    for attempt in range(retries + 1):
        if attempt:
            sleep(retry_delays_s[min(attempt, len(retry_delays_s)) - 1])
        result = invoke()
        if result["ok"]:
            return result
    destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    if destination:
        deliver(destination, failure_record(function_arn, payload, result, retries + 1))
    else:
        LOG.warning("%s: retries exhausted, no OnFailure destination: event dropped", function_arn)
    return result


def failure_record(function_arn: str, payload: str, result: dict, invoke_count: int) -> dict:
    """The invocation record Lambda sends to an OnFailure destination (AWS's shape)."""
    now = datetime.datetime.now(datetime.UTC)
    return {
        "version": "1.0",
        "timestamp": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"{function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": json.loads(payload) if payload else None,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {
            "errorMessage": result.get("errorMessage"),
            "errorType": result.get("errorType"),
            "stackTrace": result.get("stackTrace", []),
        },
    }


def deliver(destination: str, record: dict) -> None:
    """Send ``record`` to an SQS queue or SNS topic ARN (moto's backends, this process)."""
    service = destination.split(":")[2]
    account, region = _account_and_region(destination)
    body = json.dumps(record)
    if service == "sqs":
        from moto.sqs.models import sqs_backends

        sqs_backends[account][region].send_message(destination.split(":")[5], body)
    elif service == "sns":
        from moto.sns.models import sns_backends

        sns_backends[account][region].publish(body, arn=destination)
    else:
        raise NotImplementedError(
            f"OnFailure destination {destination}: only SQS and SNS are delivered locally"
        )


def _account_and_region(arn: str) -> tuple[str, str]:
    parts = arn.split(":")
    return parts[4], parts[3]
