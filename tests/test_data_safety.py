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
from etl.events import ChunkItem, ChunkRange, Validated
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

    checked, manifest = _prepared(aws, "incoming/part.csv.gz", gzip.compress(_body(40, bad={3})))
    assert len(manifest) >= 4
    ref_valid = checked["file_id"]
    from etl.keys import FileRef

    ref = FileRef.from_file_id(ref_valid)
    copied = _fail_copy_of(aws.s3, monkeypatch, ref.valid_key(2))
    with pytest.raises(ClientError, match="SlowDown"):
        finalizer.handler(checked, Ctx())
    # the publish really was partial: other chunks reached processed/ and rejected/
    assert len(copied) == len(manifest) - 1
    assert len(_keys(aws, ref.valid_prefix)) == len(manifest) - 1
    assert _keys(aws, ref.rejected_prefix) == [ref.rejected_key(0)]
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
    clean = run_pipeline(aws, upload(aws, "incoming/clean.csv", body))
    checked, manifest = _prepared(aws, "incoming/retry.csv", body)
    from etl.keys import FileRef

    ref = FileRef.from_file_id(checked["file_id"])
    _fail_copy_of(aws.s3, monkeypatch, ref.valid_key(1))
    with pytest.raises(ClientError, match="SlowDown"):
        finalizer.handler(checked, Ctx())
    assert len(_keys(aws, ref.work_prefix)) == 2 * len(manifest)  # valid + rejects per chunk
    assert aws.status.get_file(ref.file_id)["status"] == "PUBLISHING"

    summary = finalizer.handler(checked, Ctx())  # the state machine's Retry

    assert summary == {
        **clean,
        **{k: summary[k] for k in ("file_id", "key", "version_id")},
        "valid_prefix": ref.valid_prefix,
        "rejected_prefix": ref.rejected_prefix,
        "message_group_id": "retry",
        "dedup_id": ref.digest,
    }
    assert [k.rsplit("/", 1)[1] for k in _keys(aws, ref.valid_prefix)] == [
        k.rsplit("/", 1)[1] for k in _keys(aws, clean["valid_prefix"])
    ]
    assert _tables(aws, ref.valid_prefix) == _tables(aws, clean["valid_prefix"])
    assert _tables(aws, ref.rejected_prefix) == _tables(aws, clean["rejected_prefix"])
    assert aws.status.get_file(ref.file_id)["status"] == "COMPLETE"
    assert _keys(aws, ref.work_prefix) == []


def test_work_is_deleted_only_after_complete_so_a_retry_after_a_lost_commit_finishes(
    aws, monkeypatch
):
    """The commit (PUBLISHING -> COMPLETE) is throttled after every copy succeeded: work/
    must still be there for the retry, which completes the same publish."""
    import finalizer

    checked, manifest = _prepared(aws, "incoming/commit.csv", _body(30, bad={5}))
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
    assert len(_keys(aws, ref.valid_prefix)) == len(manifest)
    assert _keys(aws, ref.rejected_prefix) == [ref.rejected_key(1)]  # row 5 is in chunk 1
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
    detail = upload(aws, "incoming/owned.csv.gz", body)
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

    detail = upload(aws, "incoming/late.csv", _body(10))
    summary = run_pipeline(aws, detail, "exec-1")
    out = mark_failed.handler(
        mark_failed_event({**detail, "error": _error("Lambda.ServiceException", "x")}, "exec-9"),
        Ctx(),
    )
    assert out == summary  # a COMPLETE file reports its success, whoever asks


def test_a_retried_mark_failed_reports_the_first_recorded_error(aws):
    import mark_failed

    checked, _ = _split_validate(aws, upload(aws, "incoming/twice.csv", _body(10)), "exec-1")
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

    detail = upload(aws, "incoming/March report (1).csv", b"a," * 3000)  # no line end at all
    detail["object"]["key"] = "incoming/March+report+%281%29.csv"  # as S3 notifications encode it
    with pytest.raises(RecordTooLarge) as raised:
        splitter.handler({"detail": detail, "execution_id": "exec-1"}, Ctx())
    version = detail["object"]["version-id"]
    decoded = f"s3://{BUCKET}/incoming/March report (1).csv?versionId={version}"
    assert aws.status.get_file(decoded)["status"] == "REGISTERED"  # Split registered it

    out = mark_failed.handler(
        mark_failed_event(
            {**detail, "error": _error("RecordTooLarge", str(raised.value))}, "exec-1"
        ),
        Ctx(),
    )

    assert out["file_id"] == decoded and out["key"] == "incoming/March report (1).csv"
    assert aws.status.get_file(decoded)["status"] == "FAILED"
    raw = f"s3://{BUCKET}/incoming/March+report+%281%29.csv?versionId={version}"
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

    checked, manifest = _split_validate(aws, upload(aws, "incoming/dead.csv", _body(30)), "exec-1")
    _fail_as_owner(aws, checked)
    with pytest.raises(FileStateConflict, match="is FAILED .execution exec-1."):
        _process(checked, manifest[0])
    assert aws.status.chunks(checked["file_id"]) == []
    assert _keys(aws, "work/") == []


def test_a_processor_cannot_write_the_chunks_of_another_execution(aws):
    import processor
    from etl.errors import FileStateConflict
    from test_handlers import CHUNK_ITEM_KEYS

    checked, manifest = _split_validate(aws, upload(aws, "incoming/mine.csv", _body(30)), "exec-1")
    event = {**{k: checked[k] for k in CHUNK_ITEM_KEYS}, "chunk": manifest[0]}
    with pytest.raises(FileStateConflict, match="not PROCESSING under this execution"):
        processor.handler({**event, "execution_id": "exec-2"}, Ctx())
    assert aws.status.chunks(checked["file_id"]) == []
    processor.handler(event, Ctx())
    assert [i["execution_id"] for i in aws.status.chunks(checked["file_id"])] == ["exec-1"]


def test_a_chunk_result_arriving_after_publishing_started_is_refused(aws):
    from etl.errors import FileStateConflict

    checked, manifest = _prepared(aws, "incoming/late_chunk.csv", _body(30))
    aws.status.begin_publish(checked["file_id"], "exec-1")
    with pytest.raises(FileStateConflict, match="is PUBLISHING"):
        aws.status.finish_chunk(checked["file_id"], 0, "exec-1", {"rows_valid": 0})
    assert aws.status.chunks(checked["file_id"])[0]["rows_valid"] > 0


def test_the_finalizer_refuses_to_publish_a_failed_file(aws):
    import finalizer
    from etl.errors import FileStateConflict

    checked, _ = _prepared(aws, "incoming/failed_then_final.csv", _body(30, bad={2}))
    _fail_as_owner(aws, checked)
    with pytest.raises(FileStateConflict, match="refusing to publish: .* is FAILED"):
        finalizer.handler(checked, Ctx())
    assert _keys(aws, "processed/") == [] and _keys(aws, "rejected/") == []
    assert aws.status.get_file(checked["file_id"])["status"] == "FAILED"


def test_the_finalizer_of_another_execution_publishes_nothing(aws):
    import finalizer
    from etl.errors import FileStateConflict

    checked, _ = _prepared(aws, "incoming/other.csv", _body(30, bad={2}))
    with pytest.raises(FileStateConflict, match="only the execution that owns"):
        finalizer.handler({**checked, "execution_id": "exec-2"}, Ctx())
    assert _keys(aws, "processed/") == [] and _keys(aws, "rejected/") == []
    assert aws.status.get_file(checked["file_id"])["status"] == "PROCESSING"


def test_the_validator_of_another_execution_cannot_start_processing_the_file(aws):
    import splitter
    import validator
    from etl.errors import FileStateConflict

    detail = upload(aws, "incoming/validate.csv", _body(10))
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

    checked, manifest = _split_validate(aws, upload(aws, "incoming/busy.csv", _body(10)))
    monkeypatch.setattr(client, "transact_write_items", transact_write_items)
    _process(checked, manifest[0])
    assert len(calls) == 4  # start: 2 conflicts + 1; finish: 1
    item = aws.status.chunks(checked["file_id"])[0]
    assert (item["status"], item["attempts"]) == ("DONE", 1)


# -- issue 18, item 5: per-key delete errors are not a clean failure ------------------------------
def test_mark_failed_whose_deletes_keep_failing_raises_and_its_retry_removes_everything(
    aws, monkeypatch
):
    """DeleteObjects answers 200 with the key in `Errors`: MarkFailed must not report a clean
    failure while Parquet is left under processed/ (before: it returned FAILED and left it)."""
    import finalizer
    import mark_failed
    from etl import s3io
    from etl.errors import DeleteIncomplete
    from etl.keys import FileRef
    from test_s3io import _refusing

    monkeypatch.setattr(s3io.time, "sleep", lambda s: None)
    checked, manifest = _prepared(aws, "incoming/stuck.csv", _body(30, bad={2}))
    ref = FileRef.from_file_id(checked["file_id"])
    _fail_copy_of(aws.s3, monkeypatch, ref.valid_key(1))
    with pytest.raises(ClientError):
        finalizer.handler(checked, Ctx())  # a partial publish: chunk 0 is under processed/
    assert ref.valid_key(0) in _keys(aws, ref.valid_prefix)
    _refusing(aws.s3, monkeypatch, {ref.valid_key(0): 5})
    event = mark_failed_event({**checked, "error": _error("ClientError", "SlowDown")}, "exec-1")

    with pytest.raises(DeleteIncomplete, match="chunk-000000.parquet: SlowDown"):
        mark_failed.handler(event, Ctx())
    assert _keys(aws, ref.valid_prefix) == [ref.valid_key(0)]

    out = mark_failed.handler(event, Ctx())  # the state machine's Retry of MarkFailed

    assert (out["status"], out["error"]) == ("FAILED", "UnexpectedError")
    for prefix in ("processed/", "rejected/", "work/", "staging/"):
        assert _keys(aws, prefix) == [], prefix


# -- issue 18, item 7: an execution without a version id reads one version only -------------------
def test_an_execution_without_a_version_id_reads_only_the_version_current_at_split(aws):
    """A manual StartExecution names no version-id. Reproduced before the fix: the object is
    overwritten after the first chunk, and the later chunks published the second version's
    rows (X...) under the first's file."""
    import finalizer
    from test_handlers import upload

    first = _body(30, bad={4})
    detail = upload(aws, "incoming/manual.csv", first)
    version = detail["object"].pop("version-id")
    checked, manifest = _split_validate(aws, detail)
    assert len(manifest) >= 3 and checked["version_id"] is None
    assert checked["data_version_id"] == version
    _process(checked, manifest[0])
    aws.s3.put_object(Bucket=BUCKET, Key="incoming/manual.csv", Body=first.replace(b"T0", b"X0"))
    for chunk in manifest[1:]:
        _process(checked, chunk)

    summary = finalizer.handler(checked, Ctx())

    rows = [r for t in _tables(aws, summary["valid_prefix"]).values() for r in t]
    assert [r["transaction_id"] for r in rows] == [f"T{i:06d}" for i in range(30) if i != 4]
    assert (summary["rows_valid"], summary["rows_rejected"]) == (29, 1)


# -- issue 18, item 8: folder markers and placeholders are not files ------------------------------
@pytest.mark.parametrize("key", ["incoming/2024/", "incoming/a/b/", ".keep", "a/.gitkeep"])
def test_a_zero_byte_folder_marker_or_placeholder_is_ignored(aws, key):
    import splitter
    from etl.keys import FileRef
    from test_handlers import split_event

    key = key if key.startswith("incoming/") else f"incoming/{key}"
    detail = upload(aws, key, b"")

    out = splitter.handler(split_event(detail, "exec-1"), Ctx())

    assert out == {
        "execution_id": "exec-1",
        "bucket": BUCKET,
        "key": key,
        "version_id": detail["object"]["version-id"],
        "ignored": True,
        "reason": "a 0-byte folder marker or placeholder holds no data",
    }
    ref = FileRef(BUCKET, key, detail["object"]["version-id"])
    assert aws.status.get_file(ref.file_id) is None
    assert _keys(aws, "manifests/") == [] and _keys(aws, "staging/") == []


def test_other_empty_objects_still_fail_as_empty_file(aws):
    """The decision (docs/decisions.md): only markers are ignored; an empty data file is a
    failed export someone must hear about."""
    from etl.errors import EmptyFile

    with pytest.raises(EmptyFile):
        _split_validate(aws, upload(aws, "incoming/export.csv", b""))


def test_a_dotfile_with_data_is_processed_like_any_file(aws):
    out = run_pipeline(aws, upload(aws, "incoming/.hidden.csv", _body(3)))
    assert (out["status"], out["rows_valid"]) == ("COMPLETE", 3)


# -- issue 18, item 9: output keys past S3's key limit are refused before any work ----------------
def _long_key(output_bytes: int) -> str:
    """An input key whose longest output key (processed/<name>/version=<16>/chunk-NNNNNN.parquet,
    56 bytes around the name) is `output_bytes` long."""
    return f"incoming/{'n' * (output_bytes - 56)}.csv"


def test_a_key_whose_outputs_fit_exactly_is_published(aws):
    from etl.keys import FileRef

    detail = upload(aws, _long_key(1024), _body(5))
    summary = run_pipeline(aws, detail)
    ref = FileRef.from_file_id(summary["file_id"])
    assert ref.longest_output_key_bytes(aws.settings.max_chunks) == 1024
    assert summary["status"] == "COMPLETE"
    assert len(_keys(aws, "processed/")[0].encode()) == 1024  # chunk-000000: as long as -009999


def test_a_key_whose_outputs_would_pass_the_s3_limit_is_refused_before_any_work(aws):
    import mark_failed
    import splitter
    from etl.errors import KeyTooLong
    from test_handlers import split_event

    detail = upload(aws, _long_key(1025), _body(5))
    with pytest.raises(
        KeyTooLong,
        match="output keys would be 1025 bytes, past S3's limit of "
        "1024; nothing was processed. Upload the file under a key at least 1 ",
    ):
        splitter.handler(split_event(detail, "exec-1"), Ctx())
    assert _keys(aws, "manifests/") == [] and _keys(aws, "staging/") == []

    out = mark_failed.handler(
        mark_failed_event({**detail, "error": _error("KeyTooLong", "too long")}, "exec-1"), Ctx()
    )
    assert (out["status"], out["error"]) == ("FAILED", "KeyTooLong")


# -- issue 18, item 10: no raw row text in anything returned to Step Functions -------------------
SECRET = "Jörg Kessler 4111-1111-1111-1111"  # a rejected row's text that must stay out


def _every_output(aws, detail: dict, execution_id: str) -> tuple[list[dict], dict]:
    """Split, Validate, every processor and Finalize (or MarkFailed after its failure): every
    event the handlers return, and the last one."""
    import finalizer
    import mark_failed
    import processor
    import splitter
    import validator
    from etl.errors import EtlError
    from test_handlers import split_event

    outputs = [splitter.handler(split_event(detail, execution_id), Ctx())]
    outputs.append(validator.handler(outputs[0], Ctx()))
    checked = outputs[-1]
    manifest = json.loads(
        aws.s3.get_object(Bucket=BUCKET, Key=checked["manifest_key"])["Body"].read()
    )
    for chunk in manifest:
        item = ChunkItem.of(Validated.from_dict(checked), ChunkRange.from_dict(chunk), execution_id)
        outputs.append(processor.handler(item.to_dict(), Ctx()))
    try:
        outputs.append(finalizer.handler(checked, Ctx()))
    except EtlError as exc:
        error = _error(exc.name, str(exc))
        event = mark_failed_event({**checked, "error": error}, execution_id)
        outputs.append(mark_failed.handler(event, Ctx()))
    return outputs, outputs[-1]


@pytest.mark.parametrize("rejected_rows", [3, 20])  # COMPLETE with rejects; TooManyRejects
def test_no_handler_returns_or_logs_the_raw_text_of_a_rejected_row(aws, caplog, rejected_rows):
    from conftest import row

    bad = [row(i, merchant=f"{SECRET} {i}", amount="1.005") for i in range(rejected_rows)]
    good = [row(100 + i) for i in range(30)]
    body = "\n".join([HEADER, *good[:10], *bad, *good[10:]]).encode() + b"\n"
    caplog.set_level("INFO")

    outputs, last = _every_output(aws, upload(aws, f"incoming/raw{rejected_rows}.csv", body), "e")

    assert last["status"] == ("COMPLETE" if rejected_rows == 3 else "FAILED")
    assert last["rows_rejected" if rejected_rows == 3 else "error"] == (
        3 if rejected_rows == 3 else "TooManyRejects"
    )
    for out in outputs:
        text = json.dumps(out, ensure_ascii=False)
        assert "Jörg" not in text and "4111" not in text and "1.005" not in text, out
    ours = [r for r in caplog.records if not r.name.startswith(("boto", "urllib3", "moto"))]
    assert {"planned chunks", "chunk processed"} <= {r.getMessage() for r in ours}
    logged = " ".join(str(r.__dict__) for r in ours)  # the message and every extra field
    assert "Jörg" not in logged and "4111" not in logged
    if rejected_rows == 3:  # the rows are where the README says: rejects dataset, status table
        assert [r["line"] for r in last["first_rejects"]] == [12, 13, 14]
        item = aws.status.get_file(last["file_id"])
        assert item["first_rejects"][0]["raw"] == bad[0]
        assert [r["raw"] for t in _tables(aws, last["rejected_prefix"]).values() for r in t] == bad
