"""Asynchronous (Event) invocations through the local layer: Lambda's retries and the
OnFailure destination of the function's event invoke config, held by moto in-process."""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

import pytest
from werkzeug.test import Client

from localrun.lambda_layer import FunctionSpec, LambdaLayer

ARN = "arn:aws:lambda:us-east-1:123456789012:function:etl-test-async"
HANDLER = """
class SchemaMismatch(Exception):
    pass

def handler(event, context):
    if event.get("fail"):
        raise SchemaMismatch("cannot clean up")
    return {"ok": True}
"""


@pytest.fixture
def moto_lambda(moto_in_process, tmp_path):
    """moto in-process with the function (so its event invoke config can be put) and a queue;
    yields (lambda client, sqs client, queue url, queue arn, the layer)."""
    zip_path = tmp_path / "fn.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("fn.py", HANDLER)
    import boto3

    role = boto3.client("iam").create_role(
        RoleName="fn",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    client = boto3.client("lambda")
    created = client.create_function(
        FunctionName="etl-test-async",
        Runtime="python3.12",
        Role=role,
        Handler="fn.handler",
        Code={"ZipFile": zip_path.read_bytes()},
    )
    assert created["FunctionArn"] == ARN
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="failed-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    layer = LambdaLayer(_moto_only, [_spec(zip_path)], pool_size=1, log_dir=tmp_path / "l")
    try:
        yield client, sqs, url, queue_arn, layer
    finally:
        layer.close()


def _spec(zip_path: Path) -> FunctionSpec:
    return FunctionSpec(
        name="fn",
        function_name="etl-test-async",
        arn=ARN,
        zip_path=zip_path,
        handler="fn.handler",
        environment={},
    )


def _moto_only(environ, start_response):
    start_response("418 I'm a teapot", [])
    return [b"moto"]


def _invoke_event(layer: LambdaLayer, event: dict):
    return Client(layer).post(
        "/2015-03-31/functions/etl-test-async/invocations",
        data=json.dumps(event),
        headers={"X-Amz-Invocation-Type": "Event"},
    )


def _wait_for_invocations(layer: LambdaLayer, count: int) -> None:
    deadline = time.monotonic() + 60
    while len(layer.invocations) < count:
        assert time.monotonic() < deadline, f"{len(layer.invocations)} of {count} invocations"
        time.sleep(0.05)


def _messages(sqs, url: str, wait_s: int) -> list[dict]:
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s)
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def test_a_failing_event_is_retried_twice_then_recorded_at_the_on_failure_destination(
    moto_lambda,
):
    client, sqs, url, queue_arn, layer = moto_lambda
    client.put_function_event_invoke_config(
        FunctionName="etl-test-async",
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    event = {"fail": True, "detail": {"executionArn": "arn:x"}}
    assert _invoke_event(layer, event).status_code == 202
    (record,) = _messages(sqs, url, wait_s=20)
    assert [(i.attempt, i.ok, i.error_type) for i in layer.invocations] == [
        (1, False, "SchemaMismatch"),
        (2, False, "SchemaMismatch"),
        (3, False, "SchemaMismatch"),
    ]
    assert record["version"] == "1.0"
    assert {k: record["requestContext"][k] for k in ("functionArn", "condition")} == {
        "functionArn": f"{ARN}:$LATEST",
        "condition": "RetriesExhausted",
    }
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == event
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert (record["responsePayload"]["errorType"], record["responsePayload"]["errorMessage"]) == (
        "SchemaMismatch",
        "cannot clean up",
    )


def test_maximum_retry_attempts_zero_records_after_the_first_failure(moto_lambda):
    client, sqs, url, queue_arn, layer = moto_lambda
    client.put_function_event_invoke_config(
        FunctionName="etl-test-async",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    _invoke_event(layer, {"fail": True})
    (record,) = _messages(sqs, url, wait_s=20)
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert [i.attempt for i in layer.invocations] == [1]


def test_without_a_destination_the_event_is_retried_twice_and_dropped(moto_lambda):
    _, sqs, url, _, layer = moto_lambda
    _invoke_event(layer, {"fail": True})
    _wait_for_invocations(layer, 3)
    time.sleep(0.5)  # the drop happens after the third attempt: nothing may arrive after it
    assert [i.attempt for i in layer.invocations] == [1, 2, 3]
    assert _messages(sqs, url, wait_s=0) == []


def test_a_succeeding_event_runs_once_and_records_nothing(moto_lambda):
    client, sqs, url, queue_arn, layer = moto_lambda
    client.put_function_event_invoke_config(
        FunctionName="etl-test-async",
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    _invoke_event(layer, {"fail": False})
    _wait_for_invocations(layer, 1)
    time.sleep(0.5)
    assert [(i.attempt, i.ok) for i in layer.invocations] == [(1, True)]
    assert _messages(sqs, url, wait_s=0) == []
