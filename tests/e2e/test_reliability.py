"""Reliability end to end: the pipeline never loses or duplicates data.

The real handlers run on the real state machine as Terraform deployed them to the embedded
moto (the session's stack, tests/conftest.py), through ``localrun``. Every test asserts exact behaviour: exact object keys, exact row contents
(Parquet compared row for row with a clean run), exact status items and messages.

Notes on what is asserted:
* The bucket is versioned. Retries overwrite deterministic keys and the finalizer/MarkFailed
  delete scratch objects under work/ and staging/, so noncurrent versions and delete markers
  are expected there. Key sets below are CURRENT objects (ListObjectsV2) unless a test says
  it looks at versions (ListObjectVersions) -- e.g. to prove a duplicate event wrote nothing.
* Chunks are small (E2E_SETTINGS: 4 KiB) so a few hundred rows fan out into several Map
  items; max_record_bytes is 2 KiB so RecordTooLarge needs only a few KB. Retries really
  sleep in moto: interval 1 s, backoff 1.0.

Over 500 lines on purpose: the scenarios share one deployed stack and its helpers; split
across files they would each deploy it again (~75 s per deploy).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import E2E_SETTINGS
from etl.contract import CONTRACT

from localrun.pipeline import LocalPipeline
from localrun.sample import write_transactions

REPO = Path(__file__).resolve().parents[2]
_HANDLERS = CONTRACT.function_keys

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not all(
            (REPO / "lambdas" / f"{f.module}.py").is_file() for f in CONTRACT.functions.values()
        ),
        reason="the real handlers (lambdas/<function>.py) are not in this checkout",
    ),
]

CHUNK_BYTES = E2E_SETTINGS["chunk_bytes"]
MAX_RECORD_BYTES = E2E_SETTINGS["max_record_bytes"]
HEADER = "transaction_id,account_id,timestamp,amount,currency,merchant,category,status\n"


# -- helpers ----------------------------------------------------------------------------------
def _row(
    i: int, *, amount: str = "12.34", status: str = "POSTED", merchant: str = "Harbor Fuel"
) -> str:
    return (
        f"TX{i:010d},ACC{i % 997:06d},2024-03-01T12:00:00Z,{amount},EUR,{merchant},food,{status}\n"
    )


def _digest(pipeline: LocalPipeline, key: str, version_id: str | None) -> str:
    """sha256 of the file id, computed here independently of lambdas/etl/keys.py."""
    file_id = f"s3://{pipeline.bucket}/{key}?versionId={version_id or 'null'}"
    return hashlib.sha256(file_id.encode()).hexdigest()


def _file_id(pipeline: LocalPipeline, key: str, version_id: str | None) -> str:
    return f"s3://{pipeline.bucket}/{key}?versionId={version_id or 'null'}"


def _current(pipeline: LocalPipeline, prefix: str = "") -> list[str]:
    return pipeline.list_keys(prefix)


def _versions(pipeline: LocalPipeline, prefix: str) -> list[tuple[str, str, bool]]:
    """(key, version id, is delete marker) of every version under prefix."""
    s3 = pipeline.client("s3")
    out = []
    for page in s3.get_paginator("list_object_versions").paginate(
        Bucket=pipeline.bucket, Prefix=prefix
    ):
        out += [(v["Key"], v["VersionId"], False) for v in page.get("Versions", [])]
        out += [(v["Key"], v["VersionId"], True) for v in page.get("DeleteMarkers", [])]
    return sorted(out)


def _tables(pipeline: LocalPipeline, keys: list[str]) -> dict[str, pa.Table]:
    """{chunk file name: table} for keys (chunk-000003.parquet -> its table)."""
    s3 = pipeline.client("s3")
    return {
        k.rsplit("/", 1)[-1]: pq.read_table(
            io.BytesIO(s3.get_object(Bucket=pipeline.bucket, Key=k)["Body"].read())
        )
        for k in keys
    }


def _rows(pipeline: LocalPipeline, keys: list[str]) -> list[dict]:
    tables = _tables(pipeline, keys)
    return [r for name in sorted(tables) for r in tables[name].to_pylist()]


def _wait_started(pipeline: LocalPipeline, key: str, count: int) -> list[str]:
    return pipeline.wait_for_start(key, count=count, timeout=45)


def _run(pipeline: LocalPipeline, path: Path, key: str | None = None):
    """Upload path (to key) and wait for the execution its S3 event starts."""
    key = key or f"incoming/transactions/{path.name}"
    before = len(pipeline.executions(key))
    uploaded = pipeline.upload(path, key)
    arn = _wait_started(pipeline, key, before + 1)[before]
    result = pipeline.wait_for(arn, timeout=240)
    assert result.version_id == uploaded["version_id"]
    return result, uploaded


def _history_states(pipeline: LocalPipeline, execution_arn: str) -> list[str]:
    """Names of the states entered, in order (public GetExecutionHistory)."""
    sfn = pipeline.client("stepfunctions")
    names, kwargs = [], {}
    while True:
        page = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000, **kwargs)
        names += [
            e["stateEnteredEventDetails"]["name"]
            for e in page["events"]
            if "stateEnteredEventDetails" in e
        ]
        if not page.get("nextToken"):
            return names
        kwargs = {"nextToken": page["nextToken"]}


def _state_output(pipeline: LocalPipeline, execution_arn: str, state: str) -> dict:
    sfn = pipeline.client("stepfunctions")
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    for e in events:
        details = e.get("stateExitedEventDetails")
        if details and details["name"] == state:
            return json.loads(details["output"])
    raise AssertionError(f"{state} never exited in {execution_arn}")


def _manifest(pipeline: LocalPipeline, digest: str) -> list[dict]:
    body = pipeline.client("s3").get_object(
        Bucket=pipeline.bucket, Key=f"manifests/{digest[:16]}.json"
    )
    return json.loads(body["Body"].read())


def _chunk_items(pipeline: LocalPipeline, file_id: str) -> dict[int, dict]:
    return {
        CONTRACT.table.chunk_index(i[CONTRACT.table.sort_key]): i
        for i in pipeline.status_items(file_id)
        if CONTRACT.table.is_chunk_id(i[CONTRACT.table.sort_key])
    }


def _messages_for(pipeline: LocalPipeline, file_id: str) -> tuple[list[dict], list[dict]]:
    successes, failures = pipeline.drain_messages()
    return (
        [m for m in successes if m.get("file_id") == file_id],
        [m for m in failures if json.loads(m["Message"]).get("file_id") == file_id],
    )


def _expected_output_keys(
    pipeline, dataset: str, digest: str, manifest: list[dict], data: bytes, bad_ids: set[str]
) -> tuple[list[str], list[str]]:
    """processed/ and rejected/ keys the file must produce, from our own knowledge of which
    rows are bad and the manifest's byte ranges: a chunk has a valid object iff it holds a
    good row, a rejected object iff it holds a bad row."""
    run = f"version={digest[:16]}"
    valid, rejected = [], []
    for chunk in manifest:
        ids = [
            line.split(",", 1)[0]
            for line in data[chunk["start"] : chunk["end"]].decode().splitlines()
            if line
        ]
        name = f"chunk-{chunk['index']:06d}.parquet"
        if any(i not in bad_ids for i in ids):
            valid.append(f"processed/transactions/v1/{dataset}/{run}/{name}")
        if any(i in bad_ids for i in ids):
            rejected.append(f"rejected/transactions/v1/{dataset}/{run}/{name}")
    return valid, rejected


def _write_with_rejects(
    path: Path, rows: int, bad_every: int, start: int = 0
) -> tuple[bytes, set[str]]:
    """rows records; every bad_every-th has an amount that would need rounding (a reject)."""
    lines, bad = [], set()
    for i in range(start, start + rows):
        if bad_every and i % bad_every == bad_every - 1:
            lines.append(_row(i, amount="1.005"))
            bad.add(f"TX{i:010d}")
        else:
            lines.append(_row(i))
    data = (HEADER + "".join(lines)).encode()
    path.write_bytes(data)
    return data, bad


# -- duplicates -------------------------------------------------------------------------------
def test_same_event_delivered_three_times_does_the_work_once(pipeline, tmp_path):
    path = tmp_path / "dup3.csv"
    data, bad = _write_with_rejects(path, rows=250, bad_every=40)
    key = "incoming/transactions/dup3.csv"

    uploaded = pipeline.upload(path, key)  # delivery 1: the S3 event itself
    detail = pipeline.object_created_detail(key, uploaded["version_id"])
    pipeline.put_event(detail)  # deliveries 2 and 3: the same object version again
    pipeline.put_event(detail)
    arns = _wait_started(pipeline, key, 3)
    results = [pipeline.wait_for(arn, timeout=240) for arn in arns]

    assert len(pipeline.executions(key)) == 3
    assert [r.status for r in results] == ["SUCCEEDED"] * 3
    workers = [r for r in results if not r.duplicate]
    duplicates = [r for r in results if r.duplicate]
    assert len(workers) == 1 and len(duplicates) == 2
    worker = workers[0]
    file_id = _file_id(pipeline, key, uploaded["version_id"])
    assert worker.file_id == file_id and worker.success_message is not None
    for dup in duplicates:
        # The visible sign: the execution ended in the AlreadyProcessed Succeed state,
        # right after Split, and its output says duplicate: true.
        assert _history_states(pipeline, dup.execution_arn) == [
            "Split",
            "IsDuplicate",
            "AlreadyProcessed",
        ]
        assert dup.output["duplicate"] is True and dup.output["file_id"] == file_id
        assert dup.output["status"] in ("REGISTERED", "PROCESSING", "COMPLETE")
        assert dup.success_message is None
    states = _history_states(pipeline, worker.execution_arn)
    assert states[:4] == ["Split", "IsDuplicate", "Validate", "ProcessChunks"]
    assert states[-2:] == ["Finalize", "NotifySuccess"] and "AlreadyProcessed" not in states

    # Every Lambda but the splitter ran once per file / chunk, never for a duplicate.
    calls = [i for i in pipeline.invocations if i.file_id == file_id]
    splits = [i for i in pipeline.invocations if i.function == "splitter" and i.file_id is None]
    by_function = {f: sorted(i.chunk_index for i in calls if i.function == f) for f in _HANDLERS}
    assert by_function["processor"] == list(range(worker.chunks))
    assert [len(by_function[f]) for f in ("validator", "finalizer", "mark_failed")] == [1, 1, 0]
    assert len(splits) >= 3

    # Outputs exist once: exact keys, each written exactly once (one version each).
    digest = _digest(pipeline, key, uploaded["version_id"])
    valid_keys, rejected_keys = _expected_output_keys(
        pipeline, "dup3", digest, _manifest(pipeline, digest), data, bad
    )
    assert _current(pipeline, "processed/transactions/v1/dup3/") == valid_keys
    assert _current(pipeline, "rejected/transactions/v1/dup3/") == rejected_keys
    assert [k for k, _, _ in _versions(pipeline, "processed/transactions/v1/dup3/")] == valid_keys
    assert [k for k, _, _ in _versions(pipeline, "rejected/transactions/v1/dup3/")] == rejected_keys
    assert _current(pipeline, f"work/{digest[:16]}/") == []
    assert len(_rows(pipeline, valid_keys)) == 250 - len(bad)
    assert len(_rows(pipeline, rejected_keys)) == len(bad)

    # Exactly one success message on the FIFO queue, none on the failure topic.
    successes, failures = _messages_for(pipeline, file_id)
    assert len(successes) == 1 and failures == []
    assert successes[0]["dedup_id"] == digest
    items = pipeline.status_items(file_id)
    file_item = next(i for i in items if i[CONTRACT.table.sort_key] == CONTRACT.table.file_item)
    assert file_item["status"] == "COMPLETE" and file_item["execution_id"] == worker.execution_arn
    assert {
        i["attempts"] for i in items if CONTRACT.table.is_chunk_id(i[CONTRACT.table.sort_key])
    } == {1}


def test_redelivered_event_after_completion_ends_quickly_as_duplicate(pipeline, tmp_path):
    path = tmp_path / "late_dup.csv"
    _write_with_rejects(path, rows=120, bad_every=0)
    first, uploaded = _run(pipeline, path)
    assert first.status == "SUCCEEDED", first.error
    before = _versions(pipeline, "processed/transactions/v1/late_dup/")

    pipeline.put_event(pipeline.object_created_detail(uploaded["key"], uploaded["version_id"]))
    again = pipeline.wait_for(_wait_started(pipeline, uploaded["key"], 2)[1], timeout=60)

    assert again.status == "SUCCEEDED" and again.duplicate
    assert again.output["status"] == "COMPLETE"
    assert _history_states(pipeline, again.execution_arn) == [
        "Split",
        "IsDuplicate",
        "AlreadyProcessed",
    ]
    assert again.duration_s < 10
    assert _versions(pipeline, "processed/transactions/v1/late_dup/") == before
    successes, _ = _messages_for(pipeline, first.file_id)
    assert len(successes) == 1


# -- retries after a crash --------------------------------------------------------------------
def _outputs(pipeline, result) -> tuple[dict[str, pa.Table], dict[str, pa.Table]]:
    return _tables(pipeline, result.valid_keys), _tables(pipeline, result.rejected_keys)


def _assert_same_tables(got: dict[str, pa.Table], want: dict[str, pa.Table]) -> None:
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name].schema.equals(want[name].schema), name
        assert got[name].to_pylist() == want[name].to_pylist(), name  # row for row, in order


def _assert_exact_bucket_state(
    pipeline,
    dataset: str,
    key: str,
    version_id: str,
    valid_keys: list[str],
    rejected_keys: list[str],
) -> None:
    digest = _digest(pipeline, key, version_id)[:16]
    assert _current(pipeline, f"processed/transactions/v1/{dataset}/") == valid_keys
    assert _current(pipeline, f"rejected/transactions/v1/{dataset}/") == rejected_keys
    assert _current(pipeline, f"work/{digest}/") == []
    assert _current(pipeline, f"staging/{digest}/") == []
    assert f"manifests/{digest}.json" in _current(pipeline, "manifests/")


def test_processor_crash_after_upload_is_retried_to_identical_outputs(pipeline, tmp_path):
    """The harness crashes the processor of chunks 1 and 3 on their first attempt right after
    they uploaded their valid Parquet, before their rejects (a half-done chunk)."""
    path = tmp_path / "crash.csv"
    data, bad = _write_with_rejects(path, rows=300, bad_every=23)

    clean, _ = _run(pipeline, path, "incoming/transactions/crash_clean.csv")
    assert clean.status == "SUCCEEDED", clean.error
    want_valid, want_rejected = _outputs(pipeline, clean)
    assert clean.chunks >= 5

    faulted = pipeline
    for chunk in (1, 3):
        pipeline.inject_fault(
            "processor",
            chunk_index=chunk,
            attempts={1},
            when="after_upload",
            key_contains="/valid/",
        )
    try:
        result, uploaded = _run(faulted, path, "incoming/transactions/crash.csv")
    finally:
        pipeline.layer.clear_faults()

    assert result.status == "SUCCEEDED", result.error
    assert (result.rows_total, result.rows_valid, result.rows_rejected) == (
        300,
        300 - len(bad),
        len(bad),
    )
    got_valid, got_rejected = _outputs(faulted, result)
    _assert_same_tables(got_valid, want_valid)
    _assert_same_tables(got_rejected, want_rejected)

    runs = sorted(
        (i.chunk_index, i.attempt, i.ok, i.error_type)
        for i in faulted.invocations
        if i.function == "processor" and i.file_id == result.file_id
    )
    expected_runs = []
    for k in range(result.chunks):
        if k in (1, 3):
            expected_runs += [(k, 1, False, "InjectedFault"), (k, 2, True, None)]
        else:
            expected_runs.append((k, 1, True, None))
    assert runs == expected_runs
    items = _chunk_items(faulted, result.file_id)
    assert {k: (i["status"], i["attempts"], i["attempt_done"]) for k, i in items.items()} == {
        k: ("DONE", 2, 2) if k in (1, 3) else ("DONE", 1, 1) for k in range(result.chunks)
    }

    # Exactly the expected current objects of this file.
    digest = _digest(faulted, uploaded["key"], uploaded["version_id"])
    valid_keys, rejected_keys = _expected_output_keys(
        faulted, "crash", digest, _manifest(faulted, digest), data, bad
    )
    assert result.valid_keys == valid_keys and result.rejected_keys == rejected_keys
    assert _current(faulted, "processed/transactions/v1/crash/") == valid_keys
    assert _current(faulted, "rejected/transactions/v1/crash/") == rejected_keys
    assert f"manifests/{digest[:16]}.json" in _current(faulted, "manifests/")
    assert _current(faulted, f"work/{digest[:16]}/") == []
    # Published objects were written once; the crashed attempts' overwrites and the scratch
    # deletions left noncurrent versions / delete markers under work/ only.
    assert [k for k, _, _ in _versions(faulted, "processed/transactions/v1/crash/")] == valid_keys
    work = _versions(faulted, f"work/{digest[:16]}/")
    assert {k for k, _, marker in work if marker} == {k for k, _, _ in work}
    valid_work = [k for k, _, m in work if not m and "/valid/" in k]
    assert sorted(k.rsplit("/", 1)[-1] for k in valid_work) == sorted(
        [f"chunk-{k:06d}.parquet" for k in range(result.chunks)]
        + ["chunk-000001.parquet", "chunk-000003.parquet"]
    )  # uploaded twice: crash + retry
    successes, failures = _messages_for(faulted, result.file_id)
    assert len(successes) == 1 and failures == []


def test_harness_faults_before_and_after_the_handler_converge_to_identical_outputs(
    pipeline, tmp_path
):
    """The harness's own fault injection: 'after' = the handler ran fully (all side effects)
    and the invocation still failed; 'before' = the Lambda failed before the handler ran."""
    path = tmp_path / "hfault.csv"
    data, bad = _write_with_rejects(path, rows=300, bad_every=17)
    clean, _ = _run(pipeline, path, "incoming/transactions/hfault_clean.csv")
    assert clean.status == "SUCCEEDED", clean.error
    want_valid, want_rejected = _outputs(pipeline, clean)

    pipeline.inject_fault("processor", chunk_index=0, attempts={1}, when="after")
    pipeline.inject_fault("processor", chunk_index=2, attempts={1, 2}, when="after")
    pipeline.inject_fault("processor", chunk_index=4, attempts={1}, when="before")
    try:
        result, uploaded = _run(pipeline, path, "incoming/transactions/hfault.csv")
    finally:
        pipeline.layer.clear_faults()

    assert result.status == "SUCCEEDED", result.error
    _assert_same_tables(_tables(pipeline, result.valid_keys), want_valid)
    _assert_same_tables(_tables(pipeline, result.rejected_keys), want_rejected)
    runs = [
        i for i in pipeline.invocations if i.function == "processor" and i.file_id == result.file_id
    ]
    assert sorted((i.chunk_index, i.attempt, i.ok) for i in runs if i.chunk_index in (0, 2, 4)) == [
        (0, 1, False),
        (0, 2, True),
        (2, 1, False),
        (2, 2, False),
        (2, 3, True),
        (4, 1, False),
        (4, 2, True),
    ]
    # attempts counts handler runs: an 'after' fault ran the handler, a 'before' fault did not
    items = _chunk_items(pipeline, result.file_id)
    assert {k: i["attempts"] for k, i in items.items()} == {
        k: {0: 2, 2: 3}.get(k, 1) for k in range(result.chunks)
    }
    assert {i["status"] for i in items.values()} == {"DONE"}
    digest = _digest(pipeline, uploaded["key"], uploaded["version_id"])
    valid_keys, rejected_keys = _expected_output_keys(
        pipeline, "hfault", digest, _manifest(pipeline, digest), data, bad
    )
    _assert_exact_bucket_state(
        pipeline, "hfault", uploaded["key"], uploaded["version_id"], valid_keys, rejected_keys
    )
    successes, failures = _messages_for(pipeline, result.file_id)
    assert len(successes) == 1 and failures == []


# -- a new version of the same key -------------------------------------------------------------
def test_new_version_of_same_key_gets_its_own_outputs_and_never_mixes(pipeline, tmp_path):
    key = "incoming/transactions/versioned.csv"
    a_path, b_path = tmp_path / "a.csv", tmp_path / "b.csv"
    a_data, a_bad = _write_with_rejects(a_path, rows=200, bad_every=30, start=0)
    b_data, b_bad = _write_with_rejects(b_path, rows=130, bad_every=25, start=10_000)

    a, a_up = _run(pipeline, a_path, key)
    assert a.status == "SUCCEEDED", a.error
    a_versions = _versions(pipeline, "processed/transactions/v1/versioned/") + _versions(
        pipeline, "rejected/transactions/v1/versioned/"
    )
    b, b_up = _run(pipeline, b_path, key)
    assert b.status == "SUCCEEDED", b.error

    assert a_up["version_id"] != b_up["version_id"] and a.file_id != b.file_id
    a_run = f"version={_digest(pipeline, key, a_up['version_id'])[:16]}"
    b_run = f"version={_digest(pipeline, key, b_up['version_id'])[:16]}"
    assert a_run != b_run
    assert {k.split("/")[4] for k in a.valid_keys + a.rejected_keys} == {a_run}
    assert {k.split("/")[4] for k in b.valid_keys + b.rejected_keys} == {b_run}
    # B's outputs hold exactly B's rows; A's outputs are still exactly A's rows, untouched.
    b_ids = [f"TX{i:010d}" for i in range(10_000, 10_130)]
    a_ids = [f"TX{i:010d}" for i in range(200)]
    assert [r["transaction_id"] for r in _rows(pipeline, b.valid_keys)] == [
        i for i in b_ids if i not in b_bad
    ]
    assert sorted(r["raw"].split(",")[0] for r in _rows(pipeline, b.rejected_keys)) == sorted(b_bad)
    assert [r["transaction_id"] for r in _rows(pipeline, a.valid_keys)] == [
        i for i in a_ids if i not in a_bad
    ]
    assert sorted(r["raw"].split(",")[0] for r in _rows(pipeline, a.rejected_keys)) == sorted(a_bad)
    assert _current(pipeline, "processed/transactions/v1/versioned/") == sorted(
        a.valid_keys + b.valid_keys
    )
    assert _current(pipeline, "rejected/transactions/v1/versioned/") == sorted(
        a.rejected_keys + b.rejected_keys
    )
    after = _versions(pipeline, "processed/transactions/v1/versioned/") + _versions(
        pipeline, "rejected/transactions/v1/versioned/"
    )
    assert [v for v in after if a_run in v[0]] == a_versions
    # Two distinct file items, each with its own counts; two success messages.
    assert (a.file_item["status"], a.file_item["rows_valid"], a.file_item["rows_rejected"]) == (
        "COMPLETE",
        200 - len(a_bad),
        len(a_bad),
    )
    assert (b.file_item["status"], b.file_item["rows_valid"], b.file_item["rows_rejected"]) == (
        "COMPLETE",
        130 - len(b_bad),
        len(b_bad),
    )
    assert (a.file_item["version_id"], b.file_item["version_id"]) == (
        a_up["version_id"],
        b_up["version_id"],
    )
    a_msgs, _ = _messages_for(pipeline, a.file_id)
    b_msgs, _ = _messages_for(pipeline, b.file_id)
    assert len(a_msgs) == 1 and len(b_msgs) == 1
    assert a_msgs[0]["dedup_id"] != b_msgs[0]["dedup_id"]
    assert (
        a_msgs[0]["message_group_id"] == b_msgs[0]["message_group_id"] == "transactions/versioned"
    )


# -- poison files -----------------------------------------------------------------------------
def _rows_text(n: int) -> str:
    return "".join(_row(i) for i in range(n))


POISON = {
    # name: (bytes, error, a phrase of the reason, manifest written?)
    "empty": (b"", "EmptyFile", "the file is empty (0 bytes)", False),
    "header_only": (HEADER.encode(), "HeaderOnly", "the file has a header but no data rows", True),
    "binary": (bytes(range(256)) * 8, "EncodingError", "binary content: a NUL byte", True),
    "latin1": (
        (HEADER + _rows_text(5).replace("Harbor Fuel", "Caf\xe9 Z\xfcrich")).encode("latin-1"),
        "EncodingError",
        "not UTF-8: invalid byte b'\\xe9'",
        True,
    ),
    "semicolons": (
        (HEADER + _rows_text(5)).replace(",", ";").encode(),
        "DelimiterMismatch",
        "the header is delimited by ';'",
        True,
    ),
    "one_huge_line": (
        b"x" * (3 * MAX_RECORD_BYTES),
        "RecordTooLarge",
        f"longer than the maximum record size of {MAX_RECORD_BYTES} bytes",
        False,
    ),
    "wrong_header": (
        (HEADER.replace("merchant", "shop") + _rows_text(5)).encode(),
        "SchemaMismatch",
        "missing columns ['merchant']; unknown columns ['shop']",
        True,
    ),
}


def _assert_failed_cleanly(
    pipeline, result, uploaded: dict, body: bytes, dataset: str, error: str, phrase: str
) -> None:
    assert result.status == "FAILED" and result.execution_status == "FAILED"
    # DynamoDB: FAILED with the named error and the reason.
    item = result.file_item
    assert (item["status"], item["error"]) == ("FAILED", error), item
    assert phrase in item["reason"], item["reason"]
    # SNS: one failure message with the same name and reason.
    assert result.failure_message["Subject"] == f"CSV ETL failed: {error}"
    message = json.loads(result.failure_message["Message"])
    assert message == {
        "file_id": result.file_id,
        "status": "FAILED",
        "bucket": pipeline.bucket,
        "key": uploaded["key"],
        "version_id": uploaded["version_id"],
        "error": error,
        "reason": item["reason"],
        "input_untouched": True,
    }
    successes, failures = _messages_for(pipeline, result.file_id)
    assert successes == [] and len(failures) == 1
    # The input object is untouched: same bytes, same (single) version.
    s3 = pipeline.client("s3")
    head = s3.head_object(Bucket=pipeline.bucket, Key=uploaded["key"])
    assert head["VersionId"] == uploaded["version_id"]
    assert s3.get_object(Bucket=pipeline.bucket, Key=uploaded["key"])["Body"].read() == body
    assert [(k, v) for k, v, _ in _versions(pipeline, uploaded["key"])] == [
        (uploaded["key"], uploaded["version_id"])
    ]
    # Nothing that looks like a result, now or ever (no version at all under the dataset).
    assert _versions(pipeline, f"processed/transactions/v1/{dataset}/") == []
    assert _versions(pipeline, f"rejected/transactions/v1/{dataset}/") == []
    digest = _digest(pipeline, uploaded["key"], uploaded["version_id"])[:16]
    assert _current(pipeline, f"work/{digest}/") == []
    assert _current(pipeline, f"staging/{digest}/") == []


@pytest.mark.parametrize("name", list(POISON))
def test_poison_file_fails_with_named_error_and_leaves_no_result(pipeline, tmp_path, name):
    body, error, phrase, manifest = POISON[name]
    path = tmp_path / f"poison_{name}.csv"
    path.write_bytes(body)

    result, uploaded = _run(pipeline, path)

    _assert_failed_cleanly(pipeline, result, uploaded, body, f"poison_{name}", error, phrase)
    digest = _digest(pipeline, uploaded["key"], uploaded["version_id"])[:16]
    # Split writes the manifest before Validate runs; it stays (transient prefix, expired by
    # the bucket lifecycle). A Split-time failure writes none.
    assert (f"manifests/{digest}.json" in _current(pipeline, "manifests/")) is manifest
    # File-level failures stop before the fan-out: no processor ever ran.
    assert [
        i
        for i in pipeline.invocations
        if i.file_id == result.file_id and i.function in ("processor", "finalizer")
    ] == []


def test_corrupt_gzip_fails_as_encoding_error(pipeline, tmp_path):
    body = b"this is not gzip\n" * 10
    path = tmp_path / "poison_gz.csv.gz"
    path.write_bytes(body)

    result, uploaded = _run(pipeline, path)

    _assert_failed_cleanly(
        pipeline,
        result,
        uploaded,
        body,
        "poison_gz",
        "EncodingError",
        "the object ends in .gz but is not valid gzip",
    )


def _huge_tail_file(path: Path) -> bytes:
    # 150 good rows (several chunks), then one record longer than max_record_bytes and no
    # newline: Split/Validate cannot see it; the processor of the last chunk raises
    # RecordTooLarge while the other chunks succeed.
    body = (HEADER + _rows_text(150)).encode() + b"TX9999999999," + b"y" * (3 * MAX_RECORD_BYTES)
    path.write_bytes(body)
    return body


def test_record_too_large_inside_a_chunk_fails_the_file_and_publishes_nothing(pipeline, tmp_path):
    """Pins the actual behaviour (see the xfail below for the error name)."""
    path = tmp_path / "poison_tail.csv"
    body = _huge_tail_file(path)

    result, uploaded = _run(pipeline, path)

    assert result.chunks >= 3
    last = result.chunks - 1
    procs = sorted(
        (i.chunk_index, i.ok, i.error_type)
        for i in pipeline.invocations
        if i.function == "processor" and i.file_id == result.file_id
    )
    # RecordTooLarge is not retried (MaxAttempts 0); the other chunks succeeded.
    assert procs == [(k, True, None) for k in range(last)] + [(last, False, "RecordTooLarge")]
    items = _chunk_items(pipeline, result.file_id)
    assert {k: i["status"] for k, i in items.items()} == {
        **{k: "DONE" for k in range(last)},
        last: "FAILED",
    }
    assert items[last]["error"] == "RecordTooLarge"
    # moto does not fail the Map run on a failed item (AWS fails it with States.ExceedTolerated
    # FailureThreshold); either way the chunk's own named error is what the file records.
    _assert_failed_cleanly(
        pipeline,
        result,
        uploaded,
        body,
        "poison_tail",
        "RecordTooLarge",
        f"chunk {last}: a record is longer than the maximum record size",
    )
    # The successful chunks' Parquet went to work/ only and MarkFailed deleted it: current
    # objects are gone, delete markers (and noncurrent versions) remain in the versioned bucket.
    digest = _digest(pipeline, uploaded["key"], uploaded["version_id"])[:16]
    work = _versions(pipeline, f"work/{digest}/")
    assert {k for k, _, m in work if m} == {
        f"work/{digest}/{kind}/chunk-{k:06d}.parquet"
        for kind in ("valid", "rejected")
        for k in range(last)
    }


def test_record_too_large_inside_a_chunk_is_reported_as_record_too_large(pipeline, tmp_path):
    path = tmp_path / "poison_tail2.csv"
    _huge_tail_file(path)
    result, _ = _run(pipeline, path)
    assert result.status == "FAILED"
    assert result.file_item["error"] == "RecordTooLarge", result.file_item


# -- many files at once -----------------------------------------------------------------------
def test_twenty_files_at_once_all_complete_with_exact_counts(pipeline, tmp_path):
    specs = []
    for n in range(20):
        rows = 20 + 37 * n  # 20 .. 723 rows, ~1 to ~12 chunks
        invalid = (0.0, 0.01, 0.05, 0.08)[n % 4]  # within maxRejectedShare 0.1
        path = tmp_path / f"many_{n:02d}.csv"
        stats = write_transactions(path, rows=rows, invalid_fraction=invalid, seed=100 + n)
        specs.append((path, stats))
    started = time.monotonic()
    uploads = [pipeline.upload(path) for path, _ in specs]  # all events first, then wait
    arns = [_wait_started(pipeline, up["key"], 1)[0] for up in uploads]
    results = [pipeline.wait_for(arn, timeout=240) for arn in arns]
    elapsed = time.monotonic() - started

    for (path, stats), up, result in zip(specs, uploads, results, strict=True):
        assert result.status == "SUCCEEDED", (path.name, result.error)
        assert not result.duplicate and result.version_id == up["version_id"]
        counts = (result.rows_total, result.rows_valid, result.rows_rejected)
        assert counts == (stats.rows, stats.valid_rows, stats.invalid_rows), path.name
        item = result.file_item
        assert (item["status"], item["rows_total"], item["rows_valid"], item["rows_rejected"]) == (
            "COMPLETE",
            stats.rows,
            stats.valid_rows,
            stats.invalid_rows,
        ), path.name
        assert (
            sum(t.num_rows for t in _tables(pipeline, result.valid_keys).values())
            == stats.valid_rows
        )
        assert (
            sum(t.num_rows for t in _tables(pipeline, result.rejected_keys).values())
            == stats.invalid_rows
        )
        assert bool(result.rejected_keys) == (stats.invalid_rows > 0)
        successes, failures = _messages_for(pipeline, result.file_id)
        assert len(successes) == 1 and failures == [], path.name
        digest = _digest(pipeline, up["key"], up["version_id"])[:16]
        assert _current(pipeline, f"work/{digest}/") == []
    assert sum(s.invalid_rows for _, s in specs) > 0
    assert elapsed < 180


# -- gzip -------------------------------------------------------------------------------------
def test_gzip_gives_the_same_outputs_as_the_plain_file(pipeline, tmp_path):
    plain = tmp_path / "gzcmp.csv"
    stats = write_transactions(plain, rows=400, invalid_fraction=0.05, seed=42)
    packed = tmp_path / "gzcmp_packed.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))

    want, _ = _run(pipeline, plain)
    got, uploaded = _run(pipeline, packed)

    assert want.status == got.status == "SUCCEEDED", (want.error, got.error)
    assert (got.rows_total, got.rows_valid, got.rows_rejected) == (
        stats.rows,
        stats.valid_rows,
        stats.invalid_rows,
    )
    assert got.chunks == want.chunks >= 3  # same bytes after staging: the same chunk plan
    _assert_same_tables(_tables(pipeline, got.valid_keys), _tables(pipeline, want.valid_keys))
    _assert_same_tables(_tables(pipeline, got.rejected_keys), _tables(pipeline, want.rejected_keys))
    assert {k.split("/")[3] for k in got.valid_keys} == {"gzcmp_packed"}

    # Split streamed a plain copy to staging/<digest16>/<name without .gz> and planned the
    # chunks over it; the finalizer deleted it after publishing (a delete marker remains).
    digest = _digest(pipeline, uploaded["key"], uploaded["version_id"])[:16]
    split = _state_output(pipeline, got.execution_arn, "Split")
    staged = f"staging/{digest}/gzcmp_packed.csv"
    assert (split["compression"], split["data_key"], split["size"]) == (
        "gzip",
        staged,
        plain.stat().st_size,
    )
    versions = _versions(pipeline, f"staging/{digest}/")
    assert sorted((k, m) for k, _, m in versions) == [(staged, False), (staged, True)]
    assert _current(pipeline, "staging/") == []
    s3 = pipeline.client("s3")
    staged_version = next(v for k, v, m in versions if not m)
    assert (
        s3.get_object(Bucket=pipeline.bucket, Key=staged, VersionId=staged_version)["Body"].read()
        == plain.read_bytes()
    )
    assert (
        s3.get_object(Bucket=pipeline.bucket, Key=uploaded["key"])["Body"].read()
        == packed.read_bytes()
    )


def test_a_console_folder_marker_ends_in_ignored_without_a_failure(pipeline, tmp_path):
    """Issue 18 item 8 on the deployed state machine: the S3 console's "Create folder"
    object (0 bytes, key ending in /) ends SUCCEEDED in the Ignored state; nothing is
    registered, written or sent."""
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    key = "incoming/made-in-the-console/"
    before = set(_current(pipeline))

    result, uploaded = _run(pipeline, empty, key)

    assert (result.status, result.ignored, result.error) == ("SUCCEEDED", True, None)
    assert _history_states(pipeline, result.execution_arn) == ["Split", "IsDuplicate", "Ignored"]
    assert result.output == {
        "execution_id": result.execution_arn,
        "bucket": pipeline.bucket,
        "key": key,
        "version_id": uploaded["version_id"],
        "ignored": True,
        "reason": "a 0-byte folder marker or placeholder holds no data",
    }
    assert result.failure_message is None and result.success_message is None
    assert pipeline.status_items(_file_id(pipeline, key, uploaded["version_id"])) == []
    assert set(_current(pipeline)) - before == {key}
