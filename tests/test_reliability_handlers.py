"""Reliability at handler level (moto in-process): duplicates, crashes and retries, new
versions, poison files and the conservation check, each asserted exactly.

The handlers are driven in the order the state machine runs them (see test_handlers.py);
here the interesting part is what happens when that order is broken: an event delivered
again, an invocation that crashes half-way and runs again, a step that never ran.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import HEADER, row
from etl.events import ChunkItem, ChunkRange, Validated
from etl.status import chunk_index
from test_handlers import (
    BUCKET,
    Ctx,
    mark_failed_event,
    run_pipeline,
    split_event,
    upload,
)


def _body(n: int, bad: set[int] = frozenset(), start: int = 0) -> bytes:
    lines = [HEADER] + [
        row(i, amount="1.005") if i in bad else row(i) for i in range(start, start + n)
    ]
    return ("\n".join(lines) + "\n").encode()


def _split_validate(rt, detail: dict, execution_id: str = "exec-1") -> tuple[dict, list[dict]]:
    import splitter
    import validator

    split = splitter.handler(split_event(detail, execution_id), Ctx())
    checked = validator.handler(split, Ctx())
    manifest = json.loads(
        rt.s3.get_object(Bucket=BUCKET, Key=checked["manifest_key"])["Body"].read()
    )
    return checked, manifest


def _process(checked: dict, chunk: dict) -> dict:
    import processor

    item = ChunkItem.of(
        Validated.from_dict(checked), ChunkRange.from_dict(chunk), checked["execution_id"]
    )
    return processor.handler(item.to_dict(), Ctx())


def _keys(rt, prefix: str) -> list[str]:
    return sorted(
        o["Key"] for o in rt.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    )


def _versions(rt, prefix: str) -> list[tuple[str, bool]]:
    out = rt.s3.list_object_versions(Bucket=BUCKET, Prefix=prefix)
    return sorted(
        [(v["Key"], False) for v in out.get("Versions", [])]
        + [(v["Key"], True) for v in out.get("DeleteMarkers", [])]
    )


def _tables(rt, prefix: str) -> dict[str, list[dict]]:
    return {
        k.rsplit("/", 1)[-1]: pq.read_table(
            io.BytesIO(rt.s3.get_object(Bucket=BUCKET, Key=k)["Body"].read())
        ).to_pylist()
        for k in _keys(rt, prefix)
    }


def _chunks(rt, file_id: str) -> dict[int, dict]:
    return {chunk_index(i): i for i in rt.status.chunks(file_id)}


# -- duplicates -------------------------------------------------------------------------------
def test_same_version_delivered_three_times_registers_and_plans_once(aws):
    import splitter

    detail = upload(aws, "incoming/transactions/dup.csv", _body(30, bad={4}))
    first = splitter.handler({"detail": detail, "execution_id": "exec-1"}, Ctx())
    # delivery 2 arrives while exec-1 is still REGISTERED, delivery 3 after COMPLETE
    second = splitter.handler({"detail": detail, "execution_id": "exec-2"}, Ctx())
    summary = run_pipeline(aws, detail, "exec-1")  # exec-1 carries on (a same-execution retry)
    third = splitter.handler({"detail": detail, "execution_id": "exec-3"}, Ctx())

    assert first["duplicate"] is False and summary["status"] == "COMPLETE"
    base = {
        "file_id": first["file_id"],
        "bucket": BUCKET,
        "key": "incoming/transactions/dup.csv",
        "version_id": detail["object"]["version-id"],
        "duplicate": True,
    }
    assert second == {**base, "status": "REGISTERED", "execution_id": "exec-2"}
    assert third == {**base, "status": "COMPLETE", "execution_id": "exec-3"}
    assert aws.status.get_file(first["file_id"])["execution_id"] == "exec-1"
    # the manifest was written by exec-1 only (its Split ran twice: same key, 2 versions)
    assert _versions(aws, "manifests/") == [(first["manifest_key"], False)] * 2
    assert _versions(aws, "processed/") == [(k, False) for k in _keys(aws, "processed/")]


def test_redelivered_event_for_a_failed_version_is_a_duplicate_not_a_retry(aws):
    """A FAILED file is not reprocessed by a re-delivered event: upload it again (a new
    version) to retry. docs/failure-modes.md says so."""
    import mark_failed
    import splitter

    detail = upload(aws, "incoming/transactions/failed.csv", b"")
    out = mark_failed.handler(
        mark_failed_event(
            {
                **detail,
                "error": {
                    "Error": "EmptyFile",
                    "Cause": json.dumps(
                        {"errorType": "EmptyFile", "errorMessage": "the file is empty (0 bytes)"}
                    ),
                },
            },
            "exec-1",
        ),
        Ctx(),
    )
    assert out["status"] == "FAILED"
    again = splitter.handler({"detail": detail, "execution_id": "exec-2"}, Ctx())
    assert again["duplicate"] is True and again["status"] == "FAILED"


# -- crashes and retries ----------------------------------------------------------------------
class CrashAfterUpload(Exception):
    """A processor that dies right after uploading its valid output (test-only)."""


class _CrashAfterValidUpload:
    """The Runtime's S3 client, failing once right after the upload of ``key_part``."""

    def __init__(self, s3, key_part: str) -> None:
        self._s3, self._key_part = s3, key_part

    def __getattr__(self, name):
        return getattr(self._s3, name)

    def _crash_after(self, name: str, **kwargs):
        result = getattr(self._s3, name)(**kwargs)
        if self._key_part and self._key_part in kwargs["Key"]:
            self._key_part = None
            raise CrashAfterUpload(f"crashed after uploading {kwargs['Key']}")
        return result

    def put_object(self, **kwargs):
        return self._crash_after("put_object", **kwargs)

    def complete_multipart_upload(self, **kwargs):
        return self._crash_after("complete_multipart_upload", **kwargs)


def test_crash_after_valid_upload_is_never_finalized_and_the_retry_converges(aws, monkeypatch):
    import finalizer

    body = _body(40, bad={3, 17, 33})
    clean = run_pipeline(aws, upload(aws, "incoming/transactions/clean.csv", body))
    assert clean["chunks"] >= 4

    detail = upload(aws, "incoming/transactions/crashy.csv", body)
    checked, manifest = _split_validate(aws, detail)
    real_s3 = aws.s3
    for chunk in manifest:
        if chunk["index"] == 1:
            monkeypatch.setattr(aws, "s3", _CrashAfterValidUpload(real_s3, "/valid/chunk-000001"))
            with pytest.raises(CrashAfterUpload, match="valid/chunk-000001.parquet"):
                _process(checked, chunk)
            monkeypatch.setattr(aws, "s3", real_s3)
        else:
            _process(checked, chunk)

    # Half-done chunk: its valid Parquet is in work/, its rejects are not; the item records why.
    digest = hashlib.sha256(checked["file_id"].encode()).hexdigest()[:16]
    work = f"work/{digest}/"
    assert f"{work}valid/chunk-000001.parquet" in _keys(aws, work)
    assert f"{work}rejected/chunk-000001.parquet" not in _keys(aws, work)
    crashed = _chunks(aws, checked["file_id"])[1]
    assert (crashed["status"], crashed["attempts"], crashed["error"]) == (
        "FAILED",
        1,
        "CrashAfterUpload",
    )
    # A finalizer that ran now (no retry) refuses with the chunk's own error: nothing is
    # published, nothing COMPLETE.
    with pytest.raises(Exception, match=r"chunk 1: crashed after uploading work/") as refused:
        finalizer.handler(checked, Ctx())
    assert type(refused.value).__name__ == "CrashAfterUpload"
    assert (
        _keys(aws, "processed/transactions/v1/crashy/") == []
        and _keys(aws, "rejected/transactions/v1/crashy/") == []
    )
    assert aws.status.get_file(checked["file_id"])["status"] == "PROCESSING"

    _process(checked, manifest[1])  # the Map's retry
    summary = finalizer.handler(checked, Ctx())

    items = _chunks(aws, checked["file_id"])
    assert {k: (i["status"], i["attempts"], i["attempt_done"]) for k, i in items.items()} == {
        k: ("DONE", 2 if k == 1 else 1, 2 if k == 1 else 1) for k in range(len(manifest))
    }
    assert (
        (summary["rows_valid"], summary["rows_rejected"])
        == (clean["rows_valid"], clean["rows_rejected"])
        == (37, 3)
    )
    assert _tables(aws, summary["valid_prefix"]) == _tables(aws, clean["valid_prefix"])
    assert _tables(aws, summary["rejected_prefix"]) == _tables(aws, clean["rejected_prefix"])
    assert _keys(aws, work) == []


def test_chunk_run_twice_to_success_counts_once(aws):
    """A processor that succeeded but whose result was lost (timeout at the very end) runs
    again: the chunk's counts are replaced, not added, and its outputs overwritten."""
    import finalizer

    body = _body(30, bad={5})
    clean = run_pipeline(aws, upload(aws, "incoming/transactions/once.csv", body))
    detail = upload(aws, "incoming/transactions/twice.csv", body)
    checked, manifest = _split_validate(aws, detail)
    results = [_process(checked, c) for c in manifest]
    again = _process(checked, manifest[0])
    assert again == results[0]
    summary = finalizer.handler(checked, Ctx())

    assert (
        (summary["rows_total"], summary["rows_valid"], summary["rows_rejected"])
        == (clean["rows_total"], clean["rows_valid"], clean["rows_rejected"])
        == (30, 29, 1)
    )
    assert _chunks(aws, checked["file_id"])[0]["attempts"] == 2
    assert _tables(aws, summary["valid_prefix"]) == _tables(aws, clean["valid_prefix"])
    assert _tables(aws, summary["rejected_prefix"]) == _tables(aws, clean["rejected_prefix"])
    # published once each: the finalizer copied each chunk a single time
    assert _versions(aws, summary["valid_prefix"]) == [
        (k, False) for k in _keys(aws, summary["valid_prefix"])
    ]


def test_finalizer_refuses_when_a_chunk_never_ran(aws):
    import finalizer
    from etl.errors import ConservationError

    checked, manifest = _split_validate(
        aws, upload(aws, "incoming/transactions/lost.csv", _body(30))
    )
    for chunk in manifest[:-1]:
        _process(checked, chunk)
    with pytest.raises(ConservationError, match=rf"missing \[{len(manifest) - 1}\]"):
        finalizer.handler(checked, Ctx())
    assert _keys(aws, "processed/transactions/v1/lost/") == []
    assert aws.status.get_file(checked["file_id"])["status"] == "PROCESSING"


def test_finalizer_refuses_when_counts_do_not_add_up(aws):
    import finalizer
    from etl.contract import CONTRACT
    from etl.errors import ConservationError
    from etl.status import chunk_id

    checked, manifest = _split_validate(
        aws, upload(aws, "incoming/transactions/drift.csv", _body(30))
    )
    for chunk in manifest:
        _process(checked, chunk)
    aws.status.table.update_item(  # a chunk that claims one row less than it read
        Key=CONTRACT.table.key(checked["file_id"], chunk_id(0)),
        UpdateExpression="SET rows_valid = rows_valid - :one",
        ExpressionAttributeValues={":one": 1},
    )
    with pytest.raises(ConservationError, match="rows lost or duplicated"):
        finalizer.handler(checked, Ctx())
    assert _keys(aws, "processed/transactions/v1/drift/") == []


def test_mark_failed_after_complete_keeps_the_file_complete_and_its_outputs(aws):
    """Finalize's Catch can reach MarkFailed after the file was marked COMPLETE (e.g. the
    invocation failed after the handler returned). The table and outputs must not move, and
    what MarkFailed returns is the success message (the state machine sends it to SQS)."""
    import mark_failed

    summary = run_pipeline(aws, upload(aws, "incoming/transactions/done.csv", _body(20, bad={2})))
    published = _versions(aws, "processed/transactions/v1/done/") + _versions(
        aws, "rejected/transactions/v1/done/"
    )
    out = mark_failed.handler(
        mark_failed_event(
            {
                "file_id": summary["file_id"],
                "error": {"Error": "Lambda.ServiceException", "Cause": "late failure"},
            },
            "exec-1",
        ),
        Ctx(),
    )

    item = aws.status.get_file(summary["file_id"])
    assert item["status"] == "COMPLETE" and "error" not in item
    assert (
        _versions(aws, "processed/transactions/v1/done/")
        + _versions(aws, "rejected/transactions/v1/done/")
        == published
    )
    assert out == summary and out["status"] == "COMPLETE"


# -- new version of the same key --------------------------------------------------------------
def test_two_versions_of_one_key_are_two_files_with_separate_outputs(aws):
    a = run_pipeline(aws, upload(aws, "incoming/transactions/x.csv", _body(12, bad={3}, start=0)))
    b = run_pipeline(
        aws, upload(aws, "incoming/transactions/x.csv", _body(10, bad={105}, start=100))
    )

    assert a["file_id"] != b["file_id"] and a["version_id"] != b["version_id"]
    assert a["valid_prefix"] != b["valid_prefix"]
    assert a["valid_prefix"].startswith("processed/transactions/v1/x/version=") and b[
        "valid_prefix"
    ].startswith("processed/transactions/v1/x/version=")
    a_rows = [r["transaction_id"] for t in _tables(aws, a["valid_prefix"]).values() for r in t]
    b_rows = [r["transaction_id"] for t in _tables(aws, b["valid_prefix"]).values() for r in t]
    assert a_rows == [f"T{i:06d}" for i in range(12) if i != 3]
    assert b_rows == [f"T{i:06d}" for i in range(100, 110) if i != 105]
    assert [r["raw"][:7] for t in _tables(aws, b["rejected_prefix"]).values() for r in t] == [
        "T000105"
    ]
    files = [aws.status.get_file(x["file_id"]) for x in (a, b)]
    assert [(f["status"], f["rows_valid"], f["rows_rejected"]) for f in files] == [
        ("COMPLETE", 11, 1),
        ("COMPLETE", 9, 1),  # 1 of 10 rejected: within the schema's maxRejectedShare 0.1
    ]


# -- poison files -----------------------------------------------------------------------------
POISON = [
    # (name, body, handler that raises, error class name, a phrase of the message)
    ("empty", b"", "splitter", "EmptyFile", "the file is empty (0 bytes)"),
    ("bom_only", b"\xef\xbb\xbf", "splitter", "EmptyFile", "the file is empty"),
    ("header_only", f"{HEADER}\n".encode(), "validator", "HeaderOnly", "no data rows"),
    ("header_blank_lines", f"{HEADER}\n\n\n".encode(), "validator", "HeaderOnly", "no data rows"),
    (
        "binary",
        b"\x00\x01\x02\n" * 50,
        "validator",
        "EncodingError",
        "binary content: a NUL byte at offset 0",
    ),
    # UTF-16 text holds NUL bytes: it is reported as binary content
    (
        "utf16",
        f"{HEADER}\n{row(1)}\n".encode("utf-16"),
        "validator",
        "EncodingError",
        "binary content: a NUL byte at offset 3",
    ),
    (
        "cp1252",
        f"{HEADER}\n{row(1, merchant='Café')}\n".encode("cp1252"),
        "validator",
        "EncodingError",
        "not UTF-8: invalid byte b'\\xe9'",
    ),
    (
        "tabs",
        f"{HEADER}\n{row(1)}\n".replace(",", "\t").encode(),
        "validator",
        "DelimiterMismatch",
        "delimited by '\\t'",
    ),
    ("one_huge_line", b"a," * 3000, "splitter", "RecordTooLarge", "maximum record size of 4096"),
    (
        "bad_header",
        f"{HEADER.replace('status', 'state')}\n{row(1)}\n".encode(),
        "validator",
        "SchemaMismatch",
        "missing columns ['status']; unknown columns ['state']",
    ),
    ("not_gzip.csv.gz", b"plain text, not gzip\n", "splitter", "EncodingError", "not valid gzip"),
]


@pytest.mark.parametrize(
    ("name", "body", "stage", "error", "phrase"), POISON, ids=[p[0] for p in POISON]
)
def test_poison_file_raises_its_named_error_and_mark_failed_records_it(
    aws, name, body, stage, error, phrase
):
    import mark_failed
    import splitter
    import validator

    key = (
        f"incoming/transactions/{name}"
        if name.endswith(".gz")
        else f"incoming/transactions/{name}.csv"
    )
    detail = upload(aws, key, body)
    version = detail["object"]["version-id"]
    failing_input = {"detail": detail, "execution_id": "e"}
    with pytest.raises(Exception) as raised:
        split = splitter.handler(failing_input, Ctx())
        failing_input = split
        validator.handler(split, Ctx())
    assert type(raised.value).__name__ == error and phrase in str(raised.value), str(raised.value)
    assert (stage == "splitter") == ("detail" in failing_input)

    cause = json.dumps({"errorType": error, "errorMessage": str(raised.value)})
    event = {
        **(failing_input["detail"] if stage == "splitter" else failing_input),
        "error": {"Error": error, "Cause": cause},
    }
    out = mark_failed.handler(mark_failed_event(event, "e"), Ctx())

    item = aws.status.get_file(out["file_id"])
    assert (item["status"], item["error"], item["reason"]) == ("FAILED", error, str(raised.value))
    assert json.loads(out["message"])["reason"] == str(raised.value)
    assert out["subject"] == f"CSV ETL failed: {error}"
    # input untouched: one version, same bytes
    assert _versions(aws, key) == [(key, False)]
    got = aws.s3.get_object(Bucket=BUCKET, Key=key)
    assert got["VersionId"] == version and got["Body"].read() == body
    for prefix in ("processed/", "rejected/", "work/", "staging/"):
        assert _keys(aws, prefix) == [], prefix


def test_gzip_outputs_equal_the_plain_file_outputs(aws):
    body = _body(40, bad={7, 31})
    plain = run_pipeline(aws, upload(aws, "incoming/transactions/p.csv", body))
    packed = run_pipeline(aws, upload(aws, "incoming/transactions/g.csv.gz", gzip.compress(body)))
    assert packed["chunks"] == plain["chunks"] >= 4
    assert _tables(aws, packed["valid_prefix"]) == _tables(aws, plain["valid_prefix"])
    assert _tables(aws, packed["rejected_prefix"]) == _tables(aws, plain["rejected_prefix"])
    # the staged plain copy is scratch: written once, deleted after publishing
    digest = packed["dedup_id"][:16]
    assert _versions(aws, "staging/") == [
        (f"staging/{digest}/g.csv", False),
        (f"staging/{digest}/g.csv", True),
    ]


def test_no_production_handler_knows_of_test_faults():
    """Fault injection lives in the test harness (localrun's worker wraps the SDK); the
    deployed code has no switch a test could flip, and reads no test-only variable."""
    lambdas = Path(__file__).resolve().parents[1] / "lambdas"
    offenders = {
        str(path.relative_to(lambdas)): word
        for path in sorted(lambdas.rglob("*.py"))
        for word in ("ETL_TEST", "TEST_FAULT", "FAULT_ENV", "InjectedFault", "inject_fault")
        if word in path.read_text(encoding="utf-8")
    }
    assert offenders == {}
