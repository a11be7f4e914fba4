"""Bad and hostile input fails with a named error and an actionable reason (moto in-process):
gzip and chunk-count limits, CR-only line endings, objects outside incoming/, and the raw
exceptions that used to reach the failure message as `Error`, `ClientError`, `KeyError`
(issue 10, items 4, 9 and 14)."""

from __future__ import annotations

import dataclasses
import gzip
import json
import random

import pytest
from conftest import HEADER, row
from test_handlers import BUCKET, Ctx, mark_failed_event, upload
from test_reliability_handlers import _body, _keys, _versions


def _with_settings(aws, **changes) -> None:
    aws.settings = dataclasses.replace(aws.settings, **changes)


def _split(detail: dict, execution_id: str = "exec-1") -> dict:
    import splitter

    return splitter.handler({"detail": detail, "execution_id": execution_id}, Ctx())


def _mark_failed(state: dict, exc: Exception, execution_id: str = "exec-1") -> dict:
    import mark_failed

    name = type(exc).__name__
    cause = json.dumps({"errorType": name, "errorMessage": str(exc)})
    return mark_failed.handler(
        mark_failed_event({**state, "error": {"Error": name, "Cause": cause}}, execution_id), Ctx()
    )


def _table_items(aws) -> list[dict]:
    return aws.status.table.scan()["Items"]


def _varied_rows(n: int) -> bytes:
    """Rows that gzip compresses only a few times (random merchants), unlike a bomb."""
    rng = random.Random(7)
    lines = [HEADER] + [
        row(i, merchant="".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(40)))
        for i in range(n)
    ]
    return ("\n".join(lines) + "\n").encode()


# -- item 4: limits -------------------------------------------------------------------------------
def test_settings_read_the_limits_from_the_contract_env_names_with_defaults():
    from etl.contract import DEFAULTS, ENV
    from etl.runtime import Settings

    base = {ENV["bucket"]: "b", ENV["status_table"]: "t", ENV["datasets"]: "transactions"}
    assert Settings.from_env(base) == Settings(bucket="b", status_table="t")
    # comma-separated as Terraform sets it; read sorted
    two = Settings.from_env({**base, ENV["datasets"]: "trades,fx_rates"})
    assert two.datasets == ("fx_rates", "trades")
    with pytest.raises(RuntimeError, match=r"missing environment variables \['ETL_DATASETS'\]"):
        Settings.from_env({ENV["bucket"]: "b", ENV["status_table"]: "t"})
    assert (
        DEFAULTS["max_decompressed_bytes"],
        DEFAULTS["max_gzip_ratio"],
        DEFAULTS["max_chunks"],
    ) == (50 * 1024**3, 100, 10_000)
    got = Settings.from_env(
        {
            **base,
            ENV["max_decompressed_bytes"]: "2097152",
            ENV["max_gzip_ratio"]: "12.5",
            ENV["max_chunks"]: "7",
        }
    )
    assert (got.max_decompressed_bytes, got.max_gzip_ratio, got.max_chunks) == (2097152, 12.5, 7)


def test_gzip_larger_than_max_decompressed_bytes_fails_and_stages_nothing(aws):
    body = _varied_rows(30_000)  # 2.9 MB, compresses ~2x
    assert len(body) > 2.5 * 1024 * 1024
    _with_settings(aws, max_decompressed_bytes=2 * 1024 * 1024, max_gzip_ratio=1000)
    detail = upload(aws, "incoming/transactions/big.csv.gz", gzip.compress(body))
    from etl.errors import DecompressedTooLarge

    with pytest.raises(DecompressedTooLarge) as raised:
        _split(detail)
    assert str(raised.value).startswith(
        "the gzip input decompresses to more than 2097152 bytes (the max_decompressed_bytes limit"
    )
    assert "raise max_decompressed_bytes" in str(raised.value)
    assert _versions(aws, "staging/") == [] and _keys(aws, "manifests/") == []
    out = _mark_failed(detail, raised.value)
    assert (out["error"], out["subject"]) == (
        "DecompressedTooLarge",
        "CSV ETL failed: DecompressedTooLarge",
    )


def test_a_gzip_bomb_past_max_gzip_ratio_fails_before_it_is_inflated(aws, monkeypatch):
    from etl import s3io
    from etl.errors import DecompressedTooLarge

    bomb = gzip.compress(HEADER.encode() + b"\n" + b"0" * (64 * 1024 * 1024))
    assert len(bomb) < 100_000  # > 600x
    inflated = []
    real = s3io._BoundedInflate.read

    def read(self, size=-1):
        data = real(self, size)
        inflated.append(len(data))
        return data

    monkeypatch.setattr(s3io._BoundedInflate, "read", read)
    with pytest.raises(DecompressedTooLarge, match=r"expands more than 100x \(the max_gzip_ratio"):
        _split(upload(aws, "incoming/transactions/bomb.csv.gz", bomb))
    # stopped after the first read past the floor: far from the 64 MiB it holds
    assert sum(inflated) <= 16 * 1024 * 1024 + s3io.RATIO_FLOOR_BYTES
    assert _versions(aws, "staging/") == []


def test_a_gzip_within_the_limits_is_staged_as_before(aws):
    body = _body(30)
    _with_settings(aws, max_decompressed_bytes=len(body), max_gzip_ratio=1.0)
    out = _split(upload(aws, "incoming/transactions/fine.csv.gz", gzip.compress(body)))
    assert out["size"] == len(body) and out["compression"] == "gzip"


def test_a_plan_past_max_chunks_is_too_many_chunks_and_writes_no_manifest(aws):
    from etl.errors import TooManyChunks

    detail = upload(aws, "incoming/transactions/many.csv", _body(40))  # 8 chunks of about 256 bytes
    _with_settings(aws, max_chunks=3)
    with pytest.raises(TooManyChunks) as raised:
        _split(detail)
    assert str(raised.value) == (
        f"the file's {len(_body(40)) - len(HEADER) - 1} data bytes would be split into more "
        "than 3 chunks of about 256 bytes (the max_chunks limit): raise chunk_bytes for fewer, "
        "larger chunks, raise max_chunks, or split the file into smaller uploads"
    )
    assert _keys(aws, "manifests/") == []
    _with_settings(aws, max_chunks=8)  # exactly at the limit is fine
    assert _split(upload(aws, "incoming/transactions/many.csv", _body(40)))["chunk_count"] == 8


# -- item 9: named errors instead of raw exceptions ---------------------------------------------
def _cr_only(n: int) -> bytes:
    return ("\r".join([HEADER] + [row(i) for i in range(n)]) + "\r").encode()


CR_ONLY = [
    # (body, the handler that refuses it)
    (_cr_only(5), "splitter"),  # was: header only (the whole file one "line"), then _csv.Error
    (_cr_only(100), "splitter"),  # was: RecordTooLarge (no line feed within max_record_bytes)
    (_cr_only(5) + b"\n", "validator"),  # one LF at the end: the header line holds every CR
]


@pytest.mark.parametrize(("body", "stage"), CR_ONLY, ids=["small", "large", "final_lf"])
def test_cr_only_line_endings_fail_as_line_ending_error(aws, body, stage):
    """Before: `_csv.Error: new-line character seen in unquoted field` (published as
    `CSV ETL failed: Error`) or a misleading RecordTooLarge."""
    import validator
    from etl.errors import LineEndingError

    detail = upload(aws, "incoming/transactions/mac.csv", body)
    state = {"detail": detail, "execution_id": "exec-1"}
    with pytest.raises(LineEndingError) as raised:
        state = _split(detail)
        validator.handler(state, Ctx())
    assert ("file_id" in state) == (stage == "validator")
    assert str(raised.value) == (
        "the lines end in a bare carriage return (CR, classic Mac OS line endings), not LF or "
        "CRLF: re-export the file with Unix (LF) or Windows (CRLF) line endings"
    )
    out = _mark_failed(state if stage == "validator" else detail, raised.value)
    assert out["subject"] == "CSV ETL failed: LineEndingError"


def test_a_header_field_over_the_csv_field_limit_is_schema_mismatch(aws):
    import validator
    from etl.errors import SchemaMismatch

    _with_settings(aws, max_record_bytes=400_000)
    header = HEADER.replace("status", "s" * 200_000)
    detail = upload(aws, "incoming/transactions/wide.csv", f"{header}\n{row(1)}\n".encode())
    with pytest.raises(SchemaMismatch, match=r"the header line is not valid CSV \(field larger"):
        validator.handler(_split(detail), Ctx())


def test_an_object_deleted_before_split_is_input_not_found(aws):
    from etl.errors import InputNotFound

    detail = upload(aws, "incoming/transactions/gone.csv", _body(3))
    aws.s3.delete_object(
        Bucket=BUCKET,
        Key="incoming/transactions/gone.csv",
        VersionId=detail["object"]["version-id"],
    )
    with pytest.raises(InputNotFound, match=r"does not exist .*: upload the file again"):
        _split(detail)


def _delete_every_version(aws, key: str) -> None:
    for v in aws.s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]:
        aws.s3.delete_object(Bucket=BUCKET, Key=key, VersionId=v["VersionId"])


def test_a_missing_schema_object_is_schema_config_error(aws):
    from etl.contract import CONTRACT
    from etl.errors import SchemaConfigError

    _delete_every_version(aws, CONTRACT.schema_object_key("transactions"))
    detail = upload(aws, "incoming/transactions/noschema.csv", _body(3))
    with pytest.raises(
        SchemaConfigError,
        match=r"config/schemas/transactions.json of dataset 'transactions' cannot be read "
        r"\(NoSuchKey\): deploy it",
    ):
        _split(detail)


def test_a_pinned_schema_version_that_is_gone_is_schema_version_unavailable(aws):
    """The file's schema version was deleted after Split pinned it: the next step refuses
    to type the file with anything else (before: it silently read the current schema)."""
    import validator
    from etl.contract import CONTRACT
    from etl.errors import SchemaVersionUnavailable
    from etl.runtime import Runtime, set_runtime

    state = _split(upload(aws, "incoming/transactions/noschema.csv", _body(3)))
    _delete_every_version(aws, CONTRACT.schema_object_key("transactions"))
    fresh = Runtime(aws.settings, s3=aws.s3, dynamodb=aws.dynamodb)  # a cold container
    set_runtime(fresh)
    pinned = state["schema"]["object_version_id"]
    with pytest.raises(
        SchemaVersionUnavailable,
        match=rf"object version {pinned}\), which this file was pinned to when it was "
        r"registered, cannot be read \((NoSuchVersion|NoSuchKey)\): the file is never typed by "
        "another schema version instead",
    ):
        validator.handler(state, Ctx())


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Error", "new-line character seen in unquoted field"),
        ("KeyError", "'detail'"),
        ("Exception", "boom"),
        ("ClientError", "An error occurred (SlowDown) when calling the GetObject operation"),
        ("ArrowInvalid", "CSV parse error"),
    ],
)
def test_mark_failed_never_publishes_a_raw_exception_name(aws, name, message):
    import mark_failed

    state = _split(upload(aws, "incoming/transactions/raw.csv", _body(3)))
    cause = json.dumps({"errorType": name, "errorMessage": message})
    out = mark_failed.handler(
        mark_failed_event({**state, "error": {"Error": name, "Cause": cause}}, "exec-1"), Ctx()
    )
    assert (out["error"], out["subject"]) == ("UnexpectedError", "CSV ETL failed: UnexpectedError")
    assert out["reason"].startswith(f"{name}: {message} (an error the pipeline has no name for")
    assert aws.status.get_file(state["file_id"])["error"] == "UnexpectedError"


@pytest.mark.parametrize("name", ["States.Timeout", "Lambda.Unknown", "RecordTooLarge"])
def test_mark_failed_keeps_named_and_service_errors(aws, name):
    import mark_failed

    state = _split(upload(aws, "incoming/transactions/named.csv", _body(3)))
    out = mark_failed.handler(
        mark_failed_event({**state, "error": {"Error": name, "Cause": "why"}}, "exec-1"), Ctx()
    )
    assert (out["error"], out["reason"]) == (name, "why")


# -- item 14: only the pipeline bucket's incoming/ ------------------------------------------------
@pytest.mark.parametrize(
    ("bucket", "key"),
    [
        (BUCKET, "config/schemas/transactions.json"),
        (BUCKET, "staging/0123456789abcdef/x.csv"),
        (BUCKET, "processed/transactions/v1/x/version=0123456789abcdef/chunk-000000.parquet"),
        ("someone-elses-bucket", "incoming/transactions/x.csv"),
    ],
)
def test_the_splitter_refuses_objects_outside_incoming_of_the_pipeline_bucket(aws, bucket, key):
    from conftest import s3_event
    from etl.errors import InputOutsidePipeline

    if bucket == BUCKET:
        aws.s3.put_object(Bucket=BUCKET, Key=key, Body=_body(3))
    detail = s3_event(bucket, key, "v1", 10)
    with pytest.raises(InputOutsidePipeline) as raised:
        _split(detail)
    assert str(raised.value) == (
        f"s3://{bucket}/{key} is not under s3://{BUCKET}/incoming/: the pipeline processes "
        "only objects uploaded to incoming/ of its own bucket; upload the file there"
    )
    before = _keys(aws, "")
    out = _mark_failed(detail, raised.value)
    assert (out["status"], out["error"], out["file_id"]) == (
        "FAILED",
        "InputOutsidePipeline",
        f"s3://{bucket}/{key}?versionId=v1",
    )
    assert _table_items(aws) == [] and _keys(aws, "") == before  # nothing recorded or deleted


def test_a_malformed_execution_input_is_refused_by_name(aws):
    import splitter
    from etl.errors import InputOutsidePipeline

    with pytest.raises(InputOutsidePipeline, match="not an S3 Object Created event"):
        splitter.handler({"detail": {"bucket": {}}, "execution_id": "exec-1"}, Ctx())
    out = _mark_failed({"detail": {"bucket": {}}}, InputOutsidePipeline("not an S3 event"))
    assert (out["file_id"], out["error"]) == (None, "InputOutsidePipeline")
    assert _table_items(aws) == []
