"""Data safety at handler level (moto in-process): a failed file never leaves results, a
retried finalizer finishes the same publish, and only the execution that owns a file may
fail it, publish it or write its chunks (issue 10, items 1, 2, 8 and 12)."""

from __future__ import annotations

import gzip
import json
import threading

import pytest
from botocore.exceptions import ClientError
from conftest import BUCKET, HEADER
from test_handlers import Ctx, mark_failed_event, run_pipeline, upload
from test_reliability_handlers import _body, _keys, _process, _split_validate, _tables


def _throttled(operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, operation
    )


def _fail_copy_of(s3, monkeypatch, failing_key: str) -> list[str]:
    """CopyObject raises for `failing_key` (once); every other copy goes through. Returns
    the keys copied successfully."""
    real = s3.copy_object
    copied: list[str] = []
    lock = threading.Lock()
    state = {"failed": False}

    def copy_object(**kwargs):
        with lock:
            fail = kwargs["Key"] == failing_key and not state["failed"]
            state["failed"] |= fail
        if fail:
            raise _throttled("CopyObject")
        out = real(**kwargs)
        with lock:
            copied.append(kwargs["Key"])
        return out

    monkeypatch.setattr(s3, "copy_object", copy_object)
    return copied


def _prepared(aws, key: str, body: bytes, execution_id: str = "exec-1"):
    """Split, Validate and every chunk processed: the file is ready to finalize."""
    checked, manifest = _split_validate(aws, upload(aws, key, body), execution_id)
    for chunk in manifest:
        _process(checked, chunk)
    return checked, manifest


def _error(name: str, message: str) -> dict:
    return {"Error": name, "Cause": json.dumps({"errorType": name, "errorMessage": message})}


# -- item 1: a failed publish leaves nothing; a retried publish completes -------------------------
def test_a_copy_failing_part_way_then_mark_failed_leaves_nothing_under_processed_or_rejected(
    aws, monkeypatch
):
    import finalizer
    import mark_failed

    checked, manifest = _prepared(
        aws, "incoming/transactions/part.csv.gz", gzip.compress(_body(40, bad={3}))
    )
    assert len(manifest) >= 4
    ref_valid = checked["file_id"]
    from etl.keys import FileRef

    ref = FileRef.from_file_id(ref_valid)
    copied = _fail_copy_of(aws.s3, monkeypatch, ref.outputs(1).valid_key(2))
    with pytest.raises(ClientError, match="SlowDown"):
        finalizer.handler(checked, Ctx())
    # the publish really was partial: other chunks reached processed/ and rejected/
    assert len(copied) == len(manifest) - 1
    assert len(_keys(aws, ref.outputs(1).valid_prefix)) == len(manifest) - 1
    assert _keys(aws, ref.outputs(1).rejected_prefix) == [ref.outputs(1).rejected_key(0)]
    assert aws.status.get_file(ref.file_id)["status"] == "PUBLISHING"

    out = mark_failed.handler(
        mark_failed_event({**checked, "error": _error("ClientError", "SlowDown")}, "exec-1"),
        Ctx(),
    )

    assert out["status"] == "FAILED" and out["error"] == "UnexpectedError"
    assert aws.status.get_file(ref.file_id)["status"] == "FAILED"
    for prefix in ("processed/", "rejected/", "work/", "staging/"):
        assert _keys(aws, prefix) == [], prefix


def test_a_retried_finalizer_after_a_partial_publish_completes_with_exactly_the_right_objects(
    aws, monkeypatch
):
    import finalizer

    body = _body(40, bad={3, 17, 33})
    clean = run_pipeline(aws, upload(aws, "incoming/transactions/clean.csv", body))
    checked, manifest = _prepared(aws, "incoming/transactions/retry.csv", body)
    from etl.keys import FileRef

    ref = FileRef.from_file_id(checked["file_id"])
    _fail_copy_of(aws.s3, monkeypatch, ref.outputs(1).valid_key(1))
    with pytest.raises(ClientError, match="SlowDown"):
        finalizer.handler(checked, Ctx())
    assert len(_keys(aws, ref.work_prefix)) == 2 * len(manifest)  # valid + rejects per chunk
    assert aws.status.get_file(ref.file_id)["status"] == "PUBLISHING"

    summary = finalizer.handler(checked, Ctx())  # the state machine's Retry

    assert summary == {
        **clean,
        **{k: summary[k] for k in ("file_id", "key", "version_id")},
        "valid_prefix": ref.outputs(1).valid_prefix,
        "rejected_prefix": ref.outputs(1).rejected_prefix,
        "message_group_id": "transactions/retry",
        "dedup_id": ref.digest,
    }
    assert [k.rsplit("/", 1)[1] for k in _keys(aws, ref.outputs(1).valid_prefix)] == [
        k.rsplit("/", 1)[1] for k in _keys(aws, clean["valid_prefix"])
    ]
    assert _tables(aws, ref.outputs(1).valid_prefix) == _tables(aws, clean["valid_prefix"])
    assert _tables(aws, ref.outputs(1).rejected_prefix) == _tables(aws, clean["rejected_prefix"])
    assert aws.status.get_file(ref.file_id)["status"] == "COMPLETE"
    assert _keys(aws, ref.work_prefix) == []


def test_work_is_deleted_only_after_complete_so_a_retry_after_a_lost_commit_finishes(
    aws, monkeypatch
):
    """The commit (PUBLISHING -> COMPLETE) is throttled after every copy succeeded: work/
    must still be there for the retry, which completes the same publish."""
    import finalizer

    checked, manifest = _prepared(aws, "incoming/transactions/commit.csv", _body(30, bad={5}))
    from etl.keys import FileRef

    ref = FileRef.from_file_id(checked["file_id"])
    real = aws.status.complete_file
    calls = []

    def complete_file(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                "UpdateItem",
            )
        return real(*args, **kwargs)

    monkeypatch.setattr(aws.status, "complete_file", complete_file)
    with pytest.raises(ClientError, match="ProvisionedThroughputExceeded"):
        finalizer.handler(checked, Ctx())
    assert aws.status.get_file(ref.file_id)["status"] == "PUBLISHING"
    assert len(_keys(aws, ref.work_prefix)) == 2 * len(manifest)  # valid + rejects per chunk

    summary = finalizer.handler(checked, Ctx())

    assert (summary["status"], summary["rows_valid"], summary["rows_rejected"]) == (
        "COMPLETE",
        29,
        1,
    )
    assert len(_keys(aws, ref.outputs(1).valid_prefix)) == len(manifest)
    assert _keys(aws, ref.outputs(1).rejected_prefix) == [
        ref.outputs(1).rejected_key(1)
    ]  # row 5 is in chunk 1
    assert _keys(aws, ref.work_prefix) == []
    # a third run (e.g. a late retry) sees COMPLETE: same message, nothing new
    assert finalizer.handler(checked, Ctx()) == summary


# -- items 2 and 8: only the owner fails a file; the decoded key's file id ------------------------
def test_a_duplicate_execution_whose_split_fails_leaves_the_owners_file_intact(aws):
    """Reproduced scenario: exec-2 (a duplicate event) has its Split throttled after retries
    while exec-1 processes the file. MarkFailed of exec-2 changes and deletes nothing."""
    import finalizer
    import mark_failed

    body = gzip.compress(_body(30, bad={4}))
    detail = upload(aws, "incoming/transactions/owned.csv.gz", body)
    checked, manifest = _split_validate(aws, detail, "exec-1")
    _process(checked, manifest[0])
    from etl.keys import FileRef

    ref = FileRef.from_file_id(checked["file_id"])
    before = (aws.status.get_file(ref.file_id), _keys(aws, "work/"), _keys(aws, "staging/"))
    assert before[1] and before[2] == [ref.staging_key]

    out = mark_failed.handler(
        mark_failed_event(
            {**detail, "error": _error("Lambda.TooManyRequestsException", "Rate Exceeded.")},
            "exec-2",
        ),
        Ctx(),
    )

    assert out == {
        "file_id": ref.file_id,
        "status": "NOT_OWNER",
        "file_status": "PROCESSING",
        "owner_execution_id": "exec-1",
        "error": "Lambda.TooManyRequestsException",
        "reason": "Rate Exceeded.",
    }
    assert (aws.status.get_file(ref.file_id), _keys(aws, "work/"), _keys(aws, "staging/")) == before
    for chunk in manifest[1:]:  # the owner carries on and completes
        _process(checked, chunk)
    assert finalizer.handler(checked, Ctx())["rows_valid"] == 29


def test_mark_failed_of_another_execution_after_complete_sends_nothing_new(aws):
    import mark_failed

    detail = upload(aws, "incoming/transactions/late.csv", _body(10))
    summary = run_pipeline(aws, detail, "exec-1")
    out = mark_failed.handler(
        mark_failed_event({**detail, "error": _error("Lambda.ServiceException", "x")}, "exec-9"),
        Ctx(),
    )
    assert out == summary  # a COMPLETE file reports its success, whoever asks


def test_a_retried_mark_failed_reports_the_first_recorded_error(aws):
    import mark_failed

    checked, _ = _split_validate(
        aws, upload(aws, "incoming/transactions/twice.csv", _body(10)), "exec-1"
    )
    first = mark_failed.handler(
        mark_failed_event({**checked, "error": _error("RecordTooLarge", "chunk 0: big")}, "exec-1"),
        Ctx(),
    )
    again = mark_failed.handler(
        mark_failed_event({**checked, "error": _error("States.Timeout", "")}, "exec-1"), Ctx()
    )
    assert first == again and again["error"] == "RecordTooLarge"
    item = aws.status.get_file(checked["file_id"])
    assert (item["status"], item["error"], item["execution_id"]) == (
        "FAILED",
        "RecordTooLarge",
        "exec-1",
    )


def test_a_split_failure_after_decoding_the_key_is_recorded_under_the_file_id_split_used(aws):
    import mark_failed
    import splitter
    from etl.errors import RecordTooLarge

    detail = upload(
        aws, "incoming/transactions/March report (1).csv", b"a," * 3000
    )  # no line end at all
    detail["object"]["key"] = (
        "incoming/transactions/March+report+%281%29.csv"  # as S3 notifications encode it
    )
    with pytest.raises(RecordTooLarge) as raised:
        splitter.handler({"detail": detail, "execution_id": "exec-1"}, Ctx())
    version = detail["object"]["version-id"]
    decoded = f"s3://{BUCKET}/incoming/transactions/March report (1).csv?versionId={version}"
    assert aws.status.get_file(decoded)["status"] == "REGISTERED"  # Split registered it

    out = mark_failed.handler(
        mark_failed_event(
            {**detail, "error": _error("RecordTooLarge", str(raised.value))}, "exec-1"
        ),
        Ctx(),
    )

    assert out["file_id"] == decoded and out["key"] == "incoming/transactions/March report (1).csv"
    assert aws.status.get_file(decoded)["status"] == "FAILED"
    raw = f"s3://{BUCKET}/incoming/transactions/March+report+%281%29.csv?versionId={version}"
    assert aws.status.get_file(raw) is None


# -- item 12: conditional chunk writes; no publish of a FAILED file -------------------------------
def _fail_as_owner(aws, checked: dict) -> None:
    import mark_failed

    mark_failed.handler(
        mark_failed_event({**checked, "error": _error("RecordTooLarge", "chunk 1: big")}, "exec-1"),
        Ctx(),
    )


def test_a_processor_cannot_write_into_a_failed_file(aws):
    from etl.errors import FileStateConflict

    checked, manifest = _split_validate(
        aws, upload(aws, "incoming/transactions/dead.csv", _body(30)), "exec-1"
    )
    _fail_as_owner(aws, checked)
    with pytest.raises(FileStateConflict, match="is FAILED .execution exec-1."):
        _process(checked, manifest[0])
    assert aws.status.chunks(checked["file_id"]) == []
    assert _keys(aws, "work/") == []


def test_a_processor_cannot_write_the_chunks_of_another_execution(aws):
    import processor
    from etl.errors import FileStateConflict
    from test_handlers import CHUNK_ITEM_KEYS

    checked, manifest = _split_validate(
        aws, upload(aws, "incoming/transactions/mine.csv", _body(30)), "exec-1"
    )
    event = {**{k: checked[k] for k in CHUNK_ITEM_KEYS}, "chunk": manifest[0]}
    with pytest.raises(FileStateConflict, match="not PROCESSING under this execution"):
        processor.handler({**event, "execution_id": "exec-2"}, Ctx())
    assert aws.status.chunks(checked["file_id"]) == []
    processor.handler(event, Ctx())
    assert [i["execution_id"] for i in aws.status.chunks(checked["file_id"])] == ["exec-1"]


def test_a_chunk_result_arriving_after_publishing_started_is_refused(aws):
    from etl.errors import FileStateConflict

    checked, manifest = _prepared(aws, "incoming/transactions/late_chunk.csv", _body(30))
    aws.status.begin_publish(checked["file_id"], "exec-1")
    with pytest.raises(FileStateConflict, match="is PUBLISHING"):
        aws.status.finish_chunk(checked["file_id"], 0, "exec-1", {"rows_valid": 0})
    assert aws.status.chunks(checked["file_id"])[0]["rows_valid"] > 0


def test_the_finalizer_refuses_to_publish_a_failed_file(aws):
    import finalizer
    from etl.errors import FileStateConflict

    checked, _ = _prepared(aws, "incoming/transactions/failed_then_final.csv", _body(30, bad={2}))
    _fail_as_owner(aws, checked)
    with pytest.raises(FileStateConflict, match="refusing to publish: .* is FAILED"):
        finalizer.handler(checked, Ctx())
    assert _keys(aws, "processed/") == [] and _keys(aws, "rejected/") == []
    assert aws.status.get_file(checked["file_id"])["status"] == "FAILED"


def test_the_finalizer_of_another_execution_publishes_nothing(aws):
    import finalizer
    from etl.errors import FileStateConflict

    checked, _ = _prepared(aws, "incoming/transactions/other.csv", _body(30, bad={2}))
    with pytest.raises(FileStateConflict, match="only the execution that owns"):
        finalizer.handler({**checked, "execution_id": "exec-2"}, Ctx())
    assert _keys(aws, "processed/") == [] and _keys(aws, "rejected/") == []
    assert aws.status.get_file(checked["file_id"])["status"] == "PROCESSING"


def test_the_validator_of_another_execution_cannot_start_processing_the_file(aws):
    import splitter
    import validator
    from etl.errors import FileStateConflict

    detail = upload(aws, "incoming/transactions/validate.csv", _body(10))
    split = splitter.handler({"detail": detail, "execution_id": "exec-1"}, Ctx())
    with pytest.raises(FileStateConflict, match=r"is REGISTERED \(execution exec-1\)"):
        validator.handler({**split, "execution_id": "exec-2"}, Ctx())
    assert aws.status.get_file(split["file_id"])["status"] == "REGISTERED"
    assert validator.handler(split, Ctx())["columns"] == HEADER.split(",")
    assert aws.status.get_file(split["file_id"])["status"] == "PROCESSING"


def test_a_chunk_write_that_meets_a_concurrent_transaction_is_tried_again(aws, monkeypatch):
    """Concurrent processors all check the file item in their transactions; DynamoDB cancels
    one of two that overlap (TransactionConflict) and botocore does not retry it."""
    client = aws.status.table.meta.client
    real = client.transact_write_items
    calls = []

    def transact_write_items(**kwargs):
        calls.append(kwargs)
        if len(calls) <= 2:
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
                },
                "TransactWriteItems",
            )
        return real(**kwargs)

    checked, manifest = _split_validate(
        aws, upload(aws, "incoming/transactions/busy.csv", _body(10))
    )
    monkeypatch.setattr(client, "transact_write_items", transact_write_items)
    _process(checked, manifest[0])
    assert len(calls) == 4  # start: 2 conflicts + 1; finish: 1
    item = aws.status.chunks(checked["file_id"])[0]
    assert (item["status"], item["attempts"]) == ("DONE", 1)
