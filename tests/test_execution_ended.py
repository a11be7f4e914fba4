"""mark_failed for the execution-ended rule (issue 18, item 4), on in-process moto.

The events are EventBridge's `Step Functions Execution Status Change` events in the exact
shape AWS sends (`aws_event` below); the failure topic is a moto SNS topic with an SQS queue
subscribed, so every published message is read back. tests/e2e/test_execution_ended_on_the_emulator.py runs
the same path through the deployed rule (StopExecution on the emulator).
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from conftest import BUCKET, HEADER, row
from etl.errors import MalformedEvent
from etl.keys import FileRef
from test_handlers import Ctx, mark_failed_event, run_pipeline, upload
from test_reliability_handlers import _keys, _process, _split_validate

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:etl-test-pipeline"


def _execution(name: str) -> str:
    return f"arn:aws:states:us-east-1:123456789012:execution:etl-test-pipeline:{name}"


def aws_event(execution_arn: str, status: str, detail_input, **extra) -> dict:
    """The event EventBridge delivers (AWS's documented shape, all fields)."""
    return {
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2024-03-01T12:00:00Z",
        "region": "us-east-1",
        "resources": [execution_arn],
        "detail": {
            "executionArn": execution_arn,
            "stateMachineArn": MACHINE,
            "name": execution_arn.rsplit(":", 1)[-1],
            "status": status,
            "startDate": 1709294400000,
            "stopDate": 1709294460000,
            "input": None if detail_input is None else json.dumps(detail_input),
            "output": None,
            "inputDetails": {"included": detail_input is not None},
            "outputDetails": None,
            "error": None,
            "cause": None,
            **extra,
        },
    }


@pytest.fixture
def topic(aws):
    """A failure topic with a subscribed queue; returns a reader of the published messages."""
    import boto3

    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    arn = sns.create_topic(Name="etl-test-failures")["TopicArn"]
    url = sqs.create_queue(QueueName="observer")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    aws.settings = dataclasses.replace(aws.settings, failure_topic_arn=arn)

    def published() -> list[dict]:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in got]

    return published


def _body(n: int) -> bytes:
    return ("\n".join([HEADER] + [row(i) for i in range(n)]) + "\n").encode()


def _half_published(rt, key: str, execution: str) -> tuple[dict, dict]:
    """A file whose execution died in Finalize: every chunk done, PUBLISHING, one object
    already under processed/ (what a finalizer that published and then died leaves)."""
    detail = upload(rt, key, _body(30))
    checked, manifest = _split_validate(rt, detail, execution)
    for chunk in manifest:
        _process(checked, chunk)
    rt.status.begin_publish(checked["file_id"], execution)
    valid_prefix = FileRef.from_file_id(checked["file_id"]).outputs(1).valid_prefix
    rt.s3.put_object(Bucket=BUCKET, Key=f"{valid_prefix}chunk-000000.parquet", Body=b"x")
    return detail, checked


def _handle(event: dict) -> dict:
    import mark_failed

    return mark_failed.handler(event, Ctx())


def test_a_timed_out_execution_in_finalize_fails_the_file_removes_outputs_and_notifies(aws, topic):
    execution = _execution("timed-out")
    detail, checked = _half_published(aws, "incoming/transactions/late.csv", execution)
    assert _keys(aws, "processed/transactions/v1/late/") and _keys(aws, "work/")

    out = _handle(aws_event(execution, "TIMED_OUT", detail))

    assert out == {"execution_arn": execution, "file_id": checked["file_id"], "action": "notified"}
    item = aws.status.get_file(checked["file_id"])
    assert (item["status"], item["error"], item["ended_notice"]) == (
        "FAILED",
        "ExecutionTimedOut",
        execution,
    )
    assert _keys(aws, "processed/transactions/v1/late/") == [] and _keys(aws, "work/") == []
    (message,) = topic()
    assert message["Subject"] == "CSV ETL failed: ExecutionTimedOut"
    body = json.loads(message["Message"])
    assert (body["file_id"], body["key"], body["status"], body["error"]) == (
        checked["file_id"],
        "incoming/transactions/late.csv",
        "FAILED",
        "ExecutionTimedOut",
    )
    assert body["reason"].startswith("the execution ran past the state machine's timeout")


def test_a_stopped_execution_mid_map_is_failed_with_the_stop_cause(aws, topic):
    execution = _execution("stopped")
    detail = upload(aws, "incoming/transactions/stopped.csv", _body(30))
    checked, manifest = _split_validate(aws, detail, execution)
    _process(checked, manifest[0])

    out = _handle(aws_event(execution, "ABORTED", detail, cause="operator stopped it"))

    assert out["action"] == "notified"
    item = aws.status.get_file(checked["file_id"])
    assert (item["status"], item["error"]) == ("FAILED", "ExecutionAborted")
    assert item["reason"].startswith("the execution was stopped before it finished (operator")
    assert _keys(aws, "work/") == []
    assert [json.loads(m["Message"])["error"] for m in topic()] == ["ExecutionAborted"]


def test_an_execution_that_ended_in_file_failed_is_a_no_op_without_a_second_message(aws, topic):
    """The Fail state after NotifyFailure: MarkFailed recorded and cleaned, the state
    machine sent the message. The rule still fires (status FAILED): nothing happens."""
    import mark_failed

    execution = _execution("reported")
    detail = upload(aws, "incoming/transactions/bad.csv", b"")
    failed = mark_failed.handler(
        mark_failed_event({**detail, "error": {"Error": "EmptyFile", "Cause": "empty"}}, execution),
        Ctx(),
    )
    before = aws.status.get_file(failed["file_id"])

    out = _handle(aws_event(execution, "FAILED", detail, error="FileFailed", cause="marked"))

    assert out == {
        "execution_arn": execution,
        "file_id": failed["file_id"],
        "action": "already_reported",
    }
    assert aws.status.get_file(failed["file_id"]) == before
    assert topic() == []


def test_a_failed_notify_failure_after_mark_failed_sends_the_recorded_failure_once(aws, topic):
    """MarkFailed recorded FAILED, then NotifyFailure failed (the execution failed with
    States.TaskFailed): the recorded error is published; a redelivered event publishes
    nothing more."""
    import mark_failed

    execution = _execution("notify-failed")
    detail = upload(aws, "incoming/transactions/bad2.csv", b"")
    mark_failed.handler(
        mark_failed_event({**detail, "error": {"Error": "EmptyFile", "Cause": "empty"}}, execution),
        Ctx(),
    )
    event = aws_event(execution, "FAILED", detail, error="States.TaskFailed", cause="SNS down")

    first, again = _handle(event), _handle(event)

    assert (first["action"], again["action"]) == ("notified", "already_reported")
    (message,) = topic()
    body = json.loads(message["Message"])
    assert (body["error"], body["reason"]) == ("EmptyFile", "empty")


def test_a_runtime_failure_no_catch_saw_is_recorded_under_the_service_name(aws, topic):
    """e.g. States.DataLimitExceeded on a state's output: no Catch runs."""
    execution = _execution("data-limit")
    detail = upload(aws, "incoming/transactions/big.csv", _body(30))
    checked, _ = _split_validate(aws, detail, execution)

    out = _handle(
        aws_event(execution, "FAILED", detail, error="States.DataLimitExceeded", cause="too big")
    )

    assert out["action"] == "notified"
    item = aws.status.get_file(checked["file_id"])
    assert (item["status"], item["error"], item["reason"]) == (
        "FAILED",
        "States.DataLimitExceeded",
        "too big",
    )
    assert len(topic()) == 1


def _complete(rt, name: str) -> tuple[dict, dict, list[str]]:
    """A file its execution `owner` committed: the success message, the execution input and
    the published keys."""
    key = f"incoming/transactions/{name}.csv"
    summary = run_pipeline(rt, upload(rt, key, _body(10)), "owner")
    detail = {
        "bucket": {"name": BUCKET},
        "object": {"key": key, "version-id": summary["version_id"]},
    }
    published = _keys(rt, summary["valid_prefix"])
    assert published
    return summary, detail, published


@pytest.mark.parametrize("status", ["TIMED_OUT", "ABORTED"])
def test_a_complete_file_whose_execution_ended_before_notify_success_gets_its_message_on_sns(
    aws, topic, status
):
    """The execution timed out or was stopped after Finalize committed (e.g. during
    NotifySuccess's retries): the success message may never have been sent, so it goes to the
    failure topic, as for SuccessMessageNotSent, once. Before, nothing was sent."""
    summary, detail, published = _complete(aws, "done")
    event = aws_event("owner", status, detail)

    first, again = _handle(event), _handle(event)

    assert (first["action"], again["action"]) == ("complete_notified", "complete")
    assert aws.status.get_file(summary["file_id"])["status"] == "COMPLETE"
    assert _keys(aws, summary["valid_prefix"]) == published
    (message,) = topic()
    assert message["Subject"] == "CSV ETL: file COMPLETE, success message may not have been sent"
    assert json.loads(message["Message"]) == summary


def test_a_complete_file_is_left_alone_when_the_state_machine_reported_it(aws, topic):
    """SuccessMessageNotSent: the state machine published the success message to the topic;
    another execution's end (a duplicate) says nothing about this file's message."""
    summary, detail, published = _complete(aws, "reported")

    reported = aws_event("owner", "FAILED", detail, error="SuccessMessageNotSent", cause="x")
    duplicate = aws_event(_execution("duplicate"), "ABORTED", detail)

    assert [_handle(e)["action"] for e in (reported, duplicate)] == ["complete", "complete"]
    assert aws.status.get_file(summary["file_id"])["status"] == "COMPLETE"
    assert _keys(aws, summary["valid_prefix"]) == published
    assert topic() == []


def test_a_file_another_execution_owns_is_left_alone(aws, topic):
    """A duplicate event's execution stopped while the owner still processes the file."""
    detail = upload(aws, "incoming/transactions/busy.csv", _body(30))
    checked, manifest = _split_validate(aws, detail, "owner")
    _process(checked, manifest[0])
    work = _keys(aws, "work/")

    out = _handle(aws_event(_execution("duplicate"), "ABORTED", detail))

    assert out["action"] == "not_owner"
    item = aws.status.get_file(checked["file_id"])
    assert (item["status"], item["execution_id"]) == ("PROCESSING", "owner")
    assert _keys(aws, "work/") == work != []
    assert topic() == []


def test_an_input_outside_the_pipeline_or_not_included_changes_nothing(aws, topic):
    outside = {"bucket": {"name": "another-bucket"}, "object": {"key": "incoming/x.csv"}}
    for detail_input in (outside, None, ["not", "an", "event"]):
        out = _handle(aws_event(_execution("x"), "FAILED", detail_input, error="States.Runtime"))
        assert out == {
            "execution_arn": _execution("x"),
            "file_id": None,
            "action": "outside_pipeline",
        }
    assert topic() == []


def test_an_event_without_its_documented_fields_is_a_malformed_event(aws):
    event = aws_event(_execution("x"), "FAILED", None)
    del event["detail"]["executionArn"]
    with pytest.raises(MalformedEvent, match="detail.executionArn"):
        _handle(event)


def test_a_finalizer_still_running_after_its_execution_timed_out_withdraws_its_copies(
    aws, topic, monkeypatch
):
    """Step Functions does not stop a running Lambda: a finalizer whose execution timed out
    while it published can land a copy after the execution-ended clean-up listed processed/
    (emulated: the copy reads its source, the clean-up runs, the copy lands). Before, that
    Parquet stayed published under the FAILED file."""
    import threading

    import finalizer
    from etl.errors import FileStateConflict

    execution = _execution("late-finalizer")
    detail = upload(aws, "incoming/transactions/racing.csv", _body(3))
    checked, manifest = _split_validate(aws, detail, execution)
    assert len(manifest) == 1
    _process(checked, manifest[0])
    real_copy, ended, lock = aws.s3.copy_object, [], threading.Lock()

    def copy_landing_after_the_clean_up(**kwargs):
        with lock:
            if ended:
                return real_copy(**kwargs)
            source = kwargs["CopySource"]
            body = aws.s3.get_object(Bucket=source["Bucket"], Key=source["Key"])["Body"].read()
            ended.append(_handle(aws_event(execution, "TIMED_OUT", detail)))
            return aws.s3.put_object(Bucket=kwargs["Bucket"], Key=kwargs["Key"], Body=body)

    monkeypatch.setattr(aws.s3, "copy_object", copy_landing_after_the_clean_up)

    with pytest.raises(FileStateConflict, match="refusing to mark COMPLETE"):
        finalizer.handler(checked, Ctx())

    assert ended[0]["action"] == "notified"
    assert aws.status.get_file(checked["file_id"])["status"] == "FAILED"
    for prefix in ("processed/", "rejected/", "work/"):
        assert _keys(aws, prefix) == [], prefix
    assert [json.loads(m["Message"])["error"] for m in topic()] == ["ExecutionTimedOut"]
