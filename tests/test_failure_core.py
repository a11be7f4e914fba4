"""etl.failure, called without the Lambda entry point (issue 22, item 3: the core is testable
on its own). The execution-ended path removes a failed file's published outputs under the
major of the schema it pinned, like MarkFailed's own path."""

from __future__ import annotations

import json

from etl.events import ExecutionEnded, Validated
from etl.failure import execution_ended
from etl.keys import FileRef
from test_execution_ended import _body, _execution, aws_event, topic  # noqa: F401 (fixture)
from test_handlers import upload
from test_reliability_handlers import _keys, _process, _split_validate


def test_execution_ended_core_removes_the_published_outputs_of_the_pinned_major(aws, topic):  # noqa: F811
    execution = _execution("timed-out-core")
    detail = upload(aws, "incoming/transactions/late.csv", _body(30))
    checked, manifest = _split_validate(aws, detail, execution)
    for chunk in manifest:
        _process(checked, chunk)
    aws.status.begin_publish(checked["file_id"], execution)
    out = FileRef.from_file_id(checked["file_id"]).outputs(
        Validated.from_dict(checked).schema.major
    )
    aws.s3.put_object(Bucket=aws.settings.bucket, Key=out.valid_key(0), Body=b"x")
    assert _keys(aws, out.valid_prefix) and _keys(aws, "work/")

    outcome = execution_ended(
        aws, ExecutionEnded.from_dict(aws_event(execution, "TIMED_OUT", detail))
    )

    assert outcome.to_dict() == {
        "execution_arn": execution,
        "file_id": checked["file_id"],
        "action": "notified",
    }
    assert _keys(aws, out.valid_prefix) == [] and _keys(aws, "work/") == []
    item = aws.status.get_file(checked["file_id"])
    assert (item["status"], item["error"]) == ("FAILED", "ExecutionTimedOut")
    (message,) = topic()
    assert json.loads(message["Message"])["error"] == "ExecutionTimedOut"
