"""Handlers against moto (in-process), driven in the order the state machine runs them."""

from __future__ import annotations

import gzip
import io
import json

import pyarrow.parquet as pq
import pytest
from conftest import BUCKET, HEADER, row, s3_event
from etl.events import ChunkItem, ChunkRange, MarkFailedInput, ObjectCreated, SplitInput, Validated

# what the Distributed Map's ItemSelector hands each processor (plus "chunk")
CHUNK_ITEM_KEYS = tuple(name for name, _ in ChunkItem.json_fields() if name != "chunk")


class Ctx:
    function_name = "test"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "req-1"


def upload(rt, key: str, body: bytes) -> dict:
    out = rt.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return s3_event(BUCKET, key, out.get("VersionId"), len(body))


def mark_failed_event(state: dict, execution_id: str) -> dict:
    """MarkFailed's event as the state machine builds it (ASL Parameters)."""
    return MarkFailedInput(execution_id, state).to_dict()


def split_event(detail: dict, execution_id: str) -> dict:
    """Split's event as the state machine builds it (ASL Parameters)."""
    return SplitInput(ObjectCreated.from_dict(detail), execution_id).to_dict()


def run_pipeline_checked(rt, detail: dict, execution_id: str = "exec-1") -> tuple[dict, dict]:
    """Split -> Validate -> every chunk -> Finalize, like the Distributed Map does: (the
    Validate output, which Finalize gets, and Finalize's output)."""
    import finalizer
    import processor
    import splitter
    import validator

    split = splitter.handler(split_event(detail, execution_id), Ctx())
    if split["duplicate"]:
        return split, split
    checked = validator.handler(split, Ctx())
    validated = Validated.from_dict(checked)
    manifest = json.loads(
        rt.s3.get_object(Bucket=BUCKET, Key=validated.manifest_key)["Body"].read()
    )
    for chunk in manifest:
        item = ChunkItem.of(validated, ChunkRange.from_dict(chunk), execution_id)
        processor.handler(item.to_dict(), Ctx())
    return checked, finalizer.handler(checked, Ctx())


def run_pipeline(rt, detail: dict, execution_id: str = "exec-1") -> dict:
    return run_pipeline_checked(rt, detail, execution_id)[1]


def read_prefix(rt, prefix: str):
    keys = sorted(
        o["Key"] for o in rt.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    )
    tables = [
        pq.read_table(io.BytesIO(rt.s3.get_object(Bucket=BUCKET, Key=k)["Body"].read()))
        for k in keys
    ]
    return keys, [r for t in tables for r in t.to_pylist()]


def test_many_chunks_with_quoted_newlines_keep_every_row(aws):
    lines = [HEADER]
    for i in range(40):
        if i % 9 == 3:
            lines.append(row(i, merchant='"Multi\nline, ""quoted"" merchant"'))
        elif i % 13 == 5:
            lines.append(row(i, amount="12.345"))
        else:
            lines.append(row(i))
    body = ("\n".join(lines) + "\n").encode()
    summary = run_pipeline(aws, upload(aws, "incoming/transactions/day1.csv", body))

    assert summary["status"] == "COMPLETE"
    assert summary["chunks"] == 9  # 256-byte targets over 2.5 KB of data
    bad = [i for i in range(40) if i % 13 == 5 and i % 9 != 3]
    assert summary["rows_valid"] == 40 - len(bad)
    assert summary["rows_rejected"] == len(bad)
    _, valid = read_prefix(aws, summary["valid_prefix"])
    assert [r["transaction_id"] for r in valid] == [f"T{i:06d}" for i in range(40) if i not in bad]
    multiline = [r["merchant"] for r in valid if r["transaction_id"] == "T000003"]
    assert multiline == ['Multi\nline, "quoted" merchant']
    _, rejected = read_prefix(aws, summary["rejected_prefix"])
    # file line of record i: header is line 1, every quoted-newline record before it adds a line
    expected_lines = [2 + i + sum(1 for j in range(i) if j % 9 == 3) for i in bad]
    assert [r["line"] for r in rejected] == expected_lines
    assert [r["raw"] for r in rejected] == [row(i, amount="12.345") for i in bad]
    assert all(r["reason"].startswith("amount: not a decimal(18,2)") for r in rejected)
    status = aws.status.get_file(summary["file_id"])
    assert status["status"] == "COMPLETE" and status["rows_valid"] == summary["rows_valid"]
    # work files are cleaned up, nothing half-written remains
    assert "Contents" not in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix="work/")


def test_duplicate_event_for_same_version_does_no_second_run(aws):
    detail = upload(aws, "incoming/transactions/dup.csv", f"{HEADER}\n{row(1)}\n".encode())
    first = run_pipeline(aws, detail, "exec-1")
    again = run_pipeline(aws, detail, "exec-2")
    assert first["status"] == "COMPLETE"
    assert again == {
        "file_id": first["file_id"],
        "bucket": BUCKET,
        "key": "incoming/transactions/dup.csv",
        "version_id": detail["object"]["version-id"],
        "duplicate": True,
        "status": "COMPLETE",
        "execution_id": "exec-2",
    }


def test_retry_of_split_in_same_execution_is_not_a_duplicate(aws):
    import splitter

    detail = upload(aws, "incoming/transactions/retry.csv", f"{HEADER}\n{row(1)}\n".encode())
    first = splitter.handler({"detail": detail, "execution_id": "exec-1"}, Ctx())
    second = splitter.handler({"detail": detail, "execution_id": "exec-1"}, Ctx())
    assert first == second and first["duplicate"] is False


def test_bad_header_is_schema_mismatch_and_mark_failed_records_it(aws):
    import mark_failed
    import splitter
    import validator
    from etl.errors import SchemaMismatch

    detail = upload(
        aws, "incoming/transactions/bad.csv", b"transaction_id,acct,amount\nT1,A1,1.00\n"
    )
    split = splitter.handler({"detail": detail, "execution_id": "e"}, Ctx())
    with pytest.raises(SchemaMismatch) as err:
        validator.handler(split, Ctx())
    assert (
        "missing columns ['account_id', 'timestamp', 'currency', 'merchant', 'category', 'status']"
        in str(err.value)
    )
    assert "unknown columns ['acct']" in str(err.value)
    cause = json.dumps({"errorType": "SchemaMismatch", "errorMessage": str(err.value)})
    out = mark_failed.handler(
        mark_failed_event({**split, "error": {"Error": "SchemaMismatch", "Cause": cause}}, "e"),
        Ctx(),
    )
    assert out["status"] == "FAILED" and out["error"] == "SchemaMismatch"
    assert json.loads(out["message"])["reason"] == str(err.value)
    item = aws.status.get_file(split["file_id"])
    assert (item["status"], item["error"]) == ("FAILED", "SchemaMismatch")
    # the input is untouched
    got = aws.s3.get_object(
        Bucket=BUCKET, Key="incoming/transactions/bad.csv", VersionId=detail["object"]["version-id"]
    )
    assert got["Body"].read() == b"transaction_id,acct,amount\nT1,A1,1.00\n"


def test_mark_failed_after_split_failure_uses_the_raw_event(aws):
    import mark_failed

    detail = upload(aws, "incoming/transactions/empty.csv", b"")
    out = mark_failed.handler(
        mark_failed_event(
            {**detail, "error": {"Error": "EmptyFile", "Cause": "the file is empty"}}, "e"
        ),
        Ctx(),
    )
    assert (
        out["file_id"]
        == f"s3://{BUCKET}/incoming/transactions/empty.csv?versionId={detail['object']['version-id']}"
    )
    assert aws.status.get_file(out["file_id"])["status"] == "FAILED"


def test_gzip_object_is_staged_and_processed(aws):
    body = ("\n".join([HEADER] + [row(i) for i in range(30)]) + "\n").encode()
    summary = run_pipeline(aws, upload(aws, "incoming/transactions/z.csv.gz", gzip.compress(body)))
    assert summary["status"] == "COMPLETE"
    assert summary["rows_valid"] == 30 and summary["chunks"] > 1
    _, valid = read_prefix(aws, summary["valid_prefix"])
    assert [r["transaction_id"] for r in valid] == [f"T{i:06d}" for i in range(30)]
    assert summary["valid_prefix"].startswith("processed/transactions/v1/z/version=")


def test_failed_file_leaves_no_published_output_and_no_work_files(aws):
    """One chunk hits RecordTooLarge after others finished: nothing reaches processed/."""
    import mark_failed
    import processor
    import splitter
    import validator
    from etl.errors import RecordTooLarge

    rows = [row(i) for i in range(30)]
    rows[20] = row(20, merchant="m" * 5000)  # longer than the test max record size (4096)
    detail = upload(
        aws, "incoming/transactions/poison.csv", ("\n".join([HEADER] + rows) + "\n").encode()
    )
    split = splitter.handler({"detail": detail, "execution_id": "e"}, Ctx())
    checked = validator.handler(split, Ctx())
    manifest = json.loads(
        aws.s3.get_object(Bucket=BUCKET, Key=checked["manifest_key"])["Body"].read()
    )
    item = {k: checked[k] for k in CHUNK_ITEM_KEYS}
    failures = []
    for chunk in manifest:
        try:
            processor.handler({**item, "chunk": chunk}, Ctx())
        except RecordTooLarge as exc:
            failures.append((chunk["index"], str(exc)))
    assert len(failures) == 1 and "maximum record size of 4096" in failures[0][1]
    assert aws.s3.list_objects_v2(Bucket=BUCKET, Prefix="work/")["KeyCount"] > 0
    cause = json.dumps({"errorType": "RecordTooLarge", "errorMessage": failures[0][1]})
    mark_failed.handler(
        mark_failed_event({**checked, "error": {"Error": "RecordTooLarge", "Cause": cause}}, "e"),
        Ctx(),
    )
    for prefix in ("processed/", "rejected/", "work/"):
        assert aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["KeyCount"] == 0, prefix
    assert aws.status.get_file(split["file_id"])["error"] == "RecordTooLarge"


def test_finalizer_retry_after_success_returns_the_same_message(aws):
    import finalizer

    good = "".join(f"{row(i)}\n" for i in range(3, 12))  # 1 of 10 rejected: within 0.1
    detail = upload(
        aws,
        "incoming/transactions/twice.csv",
        f"{HEADER}\n{row(1)}\n{row(2, amount='x')}\n{good}".encode(),
    )
    checked, first = run_pipeline_checked(aws, detail)
    again = finalizer.handler(checked, Ctx())  # the same Validate output: a retried finalizer
    assert again == first
    keys = sorted(o["Key"] for o in aws.s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    digest = first["dedup_id"][:16]
    assert keys == [
        "config/schemas/transactions.json",
        "incoming/transactions/twice.csv",
        f"manifests/{digest}.json",
        *[
            f"processed/transactions/v1/twice/version={digest}/chunk-{k:06d}.parquet"
            for k in range(first["chunks"])
        ],
        f"rejected/transactions/v1/twice/version={digest}/chunk-000000.parquet",
    ]


def test_keys_are_deterministic_and_safe_for_sqs():
    from etl.keys import FileRef

    ref = FileRef("b", "incoming/transactions/März 2024/day one.csv.gz", "v1")
    assert ref.file_id == "s3://b/incoming/transactions/März 2024/day one.csv.gz?versionId=v1"
    assert FileRef.from_file_id(ref.file_id) == ref
    assert ref.dataset == "transactions"
    assert ref.path == "März 2024/day one"
    assert ref.message_group_id == "transactions/M_rz_2024/day_one"
    assert ref.staging_key == f"staging/{ref.digest[:16]}/day one.csv"
    assert (
        ref.outputs(2).valid_key(3)
        == f"processed/transactions/v2/März 2024/day one/version={ref.digest[:16]}"
        "/chunk-000003.parquet"
    )
    assert (
        ref.outputs(1).rejected_key(0)
        == f"rejected/transactions/v1/März 2024/day one/version={ref.digest[:16]}"
        "/chunk-000000.parquet"
    )
    assert (
        FileRef("b", "incoming/transactions/x.csv", None).file_id
        == "s3://b/incoming/transactions/x.csv?versionId=null"
    )
    assert (
        FileRef.from_file_id("s3://b/incoming/transactions/x.csv?versionId=null").version_id is None
    )


def test_url_encoded_key_in_the_event_is_resolved_to_the_object(aws):
    import splitter

    detail = upload(
        aws, "incoming/transactions/March report (1).csv", f"{HEADER}\n{row(1)}\n".encode()
    )
    detail["object"]["key"] = (
        "incoming/transactions/March+report+%281%29.csv"  # as S3 notifications encode it
    )
    out = splitter.handler({"detail": detail, "execution_id": "e"}, Ctx())
    assert out["key"] == "incoming/transactions/March report (1).csv" and out["chunk_count"] == 1
    assert out["file_id"].startswith(
        f"s3://{BUCKET}/incoming/transactions/March report (1).csv?versionId="
    )
