"""The execution-ended rule end to end (issue 18, item 4): an execution stopped mid-run is
cleaned up and reported by mark_failed through the rule Terraform deployed; an execution
that failed through MarkFailed is not reported twice.

On the emulator, Step Functions' status-change events and EventBridge's Lambda targets are
the moto patches `sfn_status_events` and `eventbridge_to_stepfunctions`
(localrun/moto_patches.py); the rule, its pattern, its target and the function are what
Terraform deployed from envs/dev.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from etl.contract import CONTRACT
from etl.failure import EXECUTION_ENDED
from etl.keys import FileRef

from localrun.pipeline import LocalPipeline

REPO = Path(__file__).resolve().parents[2]
HEADER = "transaction_id,account_id,timestamp,amount,currency,merchant,category,status\n"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (REPO / "lambdas" / "mark_failed.py").is_file(),
        reason="the real handlers are not in this checkout",
    ),
]


def _rows(n: int) -> str:
    return "".join(
        f"TX{i:010d},ACC{i % 997:06d},2024-03-01T12:00:00Z,12.34,EUR,Harbor Fuel,food,POSTED\n"
        for i in range(n)
    )


def _until(predicate, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return found


def _file_item(pipeline: LocalPipeline, file_id: str) -> dict:
    items = pipeline.status_items(file_id)
    return next((i for i in items if i[CONTRACT.table.sort_key] == CONTRACT.table.file_item), {})


def _rule_invocations(pipeline: LocalPipeline) -> int:
    """mark_failed invocations by the rule: their event names no file at its top level."""
    return sum(1 for i in pipeline.invocations if i.function == "mark_failed" and not i.file_id)


def _failures_for(pipeline: LocalPipeline, file_id: str) -> list[dict]:
    _, failures = pipeline.drain_messages()
    return [m for m in failures if json.loads(m["Message"]).get("file_id") == file_id]


def test_a_stopped_execution_is_failed_cleaned_up_and_reported_by_the_rule(pipeline, tmp_path):
    path = tmp_path / "stopped.csv"
    path.write_text(HEADER + _rows(3000))  # ~260 KB: dozens of 4 KiB chunks
    key = f"incoming/transactions/{path.name}"
    uploaded = pipeline.upload(path, key)
    (arn,) = pipeline.wait_for_start(key, count=1, timeout=45)
    file_id = f"s3://{pipeline.bucket}/{key}?versionId={uploaded['version_id']}"

    def chunks_done() -> bool:
        return any(
            i.get("status") == "DONE"
            for i in pipeline.status_items(file_id)
            if CONTRACT.table.is_chunk_id(i[CONTRACT.table.sort_key])
        )

    _until(chunks_done, "a chunk to finish")
    assert pipeline.list_keys(FileRef.from_file_id(file_id).work_prefix) != []
    pipeline.client("stepfunctions").stop_execution(executionArn=arn, cause="operator test")
    _until(
        lambda: "ended_notice" in _file_item(pipeline, file_id),
        "the rule's mark_failed to mark the file FAILED and publish the message",
    )

    item = _file_item(pipeline, file_id)
    assert (item["error"], item["execution_id"], item["ended_notice"]) == (
        "ExecutionAborted",
        arn,
        arn,
    )
    status = pipeline.client("stepfunctions").describe_execution(executionArn=arn)["status"]
    assert status == "ABORTED"
    (message,) = _until(lambda: _failures_for(pipeline, file_id), "the failure message")
    assert message["Subject"] == "CSV ETL failed: ExecutionAborted"
    body = json.loads(message["Message"])
    assert (body["key"], body["version_id"], body["error"]) == (
        key,
        uploaded["version_id"],
        "ExecutionAborted",
    )
    # A chunk still running when the execution stopped (Step Functions does not stop a
    # running Lambda) may upload to work/ after the clean-up; its result is refused (the file
    # is FAILED), so its chunk item is never DONE and its work/ object expires with the
    # bucket lifecycle. Nothing else may be left.
    time.sleep(3)
    ref = FileRef.from_file_id(file_id)
    prefixes = (ref.staging_prefix, *ref.outputs(1).published_prefixes)  # transactions v1
    assert {p: pipeline.list_keys(p) for p in prefixes} == {p: [] for p in prefixes}
    done = {
        CONTRACT.table.chunk_index(i[CONTRACT.table.sort_key])
        for i in pipeline.status_items(file_id)
        if CONTRACT.table.is_chunk_id(i[CONTRACT.table.sort_key]) and i.get("status") == "DONE"
    }
    left = {int(k.rsplit("chunk-", 1)[1][:6]) for k in pipeline.list_keys(ref.work_prefix)}
    assert done and not left & done, (sorted(left), sorted(done))


def test_a_file_failed_through_mark_failed_is_reported_once(pipeline, tmp_path):
    """FAILED in the FileFailed state: the rule still invokes mark_failed, which does
    nothing (the state machine already sent the message)."""
    path = tmp_path / "header-only.csv"
    path.write_text(HEADER)
    before = _rule_invocations(pipeline)
    result = pipeline.run_file(path, timeout=240)
    assert result.status == "FAILED" and result.failure["error"] == "HeaderOnly"

    _until(lambda: _rule_invocations(pipeline) > before, "the rule to invoke mark_failed")
    time.sleep(2)  # a second message, if one were sent, arrives in this time
    (message,) = _failures_for(pipeline, result.file_id)
    assert json.loads(message["Message"])["error"] == "HeaderOnly"
    assert "ended_notice" not in result.file_item
    assert "ended_notice" not in _file_item(pipeline, result.file_id)


def test_a_clean_up_that_keeps_failing_is_recorded_in_the_events_dead_letter_queue(
    pipeline, tmp_path
):
    """The rule invokes mark_failed asynchronously: Lambda retries a failing clean-up twice,
    then sends its invocation record to the OnFailure destination Terraform configured (the
    alarmed events dead-letter queue) instead of dropping it."""
    sqs = pipeline.client("sqs")
    dlq_url = pipeline.deployment.outputs["events_dlq_url"]
    path = tmp_path / "header-only-again.csv"
    path.write_text(HEADER)
    before = len(pipeline.invocations)
    # every invocation by the rule fails; the state machine's MarkFailed runs as usual
    pipeline.inject_fault(
        "mark_failed", attempts=range(1, 100_000), payload_contains=EXECUTION_ENDED
    )
    try:
        result = pipeline.run_file(path, timeout=240)
        assert (result.status, result.failure["error"]) == ("FAILED", "HeaderOnly")
        got = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=20)
    finally:
        pipeline.layer.clear_faults()
    (message,) = got["Messages"]
    record = json.loads(message["Body"])
    assert (
        record["requestContext"]["condition"],
        record["requestContext"]["approximateInvokeCount"],
    ) == (
        "RetriesExhausted",
        3,
    )
    assert (
        record["requestContext"]["functionArn"].split(":")[6]
        == pipeline.deployment.outputs["function_names"]["mark_failed"]
    )
    event = record["requestPayload"]
    assert (event["source"], event["detail"]["status"]) == ("aws.states", "FAILED")
    assert record["responsePayload"]["errorType"] == "InjectedFault"
    failed = [
        i for i in pipeline.invocations[before:] if i.function == "mark_failed" and i.injected
    ]
    assert len(failed) == 3
    sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
