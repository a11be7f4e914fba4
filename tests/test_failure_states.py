"""MarkFailed failing after its retries still tells the user (issue 18, item 6).

moto's ASL interpreter runs the states of the rendered template that MarkFailed reaches, with
the mark_failed Lambda failing on every attempt and a moto SNS topic (an SQS queue
subscribed) as the failure topic: the Catch publishes the failed state's input, which names
the file, and the execution fails in `FailureNotRecorded` (not `FileFailed`, so the
execution-ended rule cleans up after it). NotifySuccess's Catch has the same shape (checked
on the template by tests/terraform/test_asl_template.py); running it here would sleep
through eight SQS retries.
"""

from __future__ import annotations

import json
import time

import boto3
from etl.contract import CONTRACT

from localrun import moto_patches
from localrun.asl import render_asl
from localrun.pipeline import ASL_TEMPLATE

ACCOUNT = "123456789012"


def _values(topic_arn: str) -> dict:
    return {
        **{
            f"{name}_arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:etl-test-{name}"
            for name in CONTRACT.functions
        },
        "results_queue_url": f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/etl-test-results.fifo",
        "failure_topic_arn": topic_arn,
        "max_concurrency": 10,
        "retry_interval_seconds": 1,
        "retry_max_attempts": 0,
        "retry_backoff_rate": 1.0,
        "timeout_seconds": 300,
    }


def _reachable(states: dict, start: str) -> dict:
    """The states reachable from `start` (Next, Choices, Default, Catch)."""
    seen, todo = {}, [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        state = seen[name] = states[name]
        todo += [state[k] for k in ("Next", "Default") if k in state]
        todo += [c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])]
    return seen


def test_a_mark_failed_that_keeps_failing_publishes_the_file_and_fails_the_execution(
    aws, monkeypatch
):
    from moto.awslambda.models import LambdaBackend

    sns, sqs, sfn = boto3.client("sns"), boto3.client("sqs"), boto3.client("stepfunctions")
    topic = sns.create_topic(Name="etl-test-failures")["TopicArn"]
    url = sqs.create_queue(QueueName="observer")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue["QueueArn"])
    calls = []

    def failing_invoke(self, name, qualifier, body, headers, response_headers):
        calls.append(json.loads(body))
        response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps({"errorType": "ClientError", "errorMessage": "DynamoDB down"}).encode()

    monkeypatch.setattr(LambdaBackend, "invoke", failing_invoke)
    definition = json.loads(render_asl(ASL_TEMPLATE.read_text(encoding="utf-8"), _values(topic)))
    states = _reachable(definition["States"], "MarkFailed")
    failed_state = {
        "file_id": "s3://b/incoming/x.csv?versionId=v",
        "key": "incoming/x.csv",
        "error": {"Error": "States.Timeout", "Cause": "Finalize timed out"},
    }
    # moto's configuration is process-wide: restored after the test, so no later test in this
    # process (an xdist worker's, say) finds its state machines running
    from moto.core.config import default_user_config

    monkeypatch.setitem(
        default_user_config, "stepfunctions", dict(default_user_config["stepfunctions"])
    )
    moto_patches.enable_step_functions_execution()
    machine = sfn.create_state_machine(
        name="after-mark-failed",
        definition=json.dumps({"StartAt": "MarkFailed", "States": states}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(failed_state))
    deadline = time.monotonic() + 120
    while (ended := sfn.describe_execution(executionArn=execution["executionArn"]))[
        "status"
    ] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.2)

    assert (ended["status"], ended.get("error")) == ("FAILED", "FailureNotRecorded")
    assert len(calls) == 4  # the first attempt and MarkFailed's 3 retries of States.ALL
    (message,) = [
        json.loads(m["Body"])
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    ]
    assert message["Subject"] == "CSV ETL failed: the failure could not be recorded"
    body = json.loads(message["Message"])
    assert {k: body[k] for k in ("file_id", "key", "error")} == failed_state
    assert body["mark_failed_error"]["Error"] == "ClientError"
