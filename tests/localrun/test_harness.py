"""The local harness itself, driven with throwaway handlers (tests/localrun/fake_handlers.py).

These pin what the harness promises independently of the real handlers: the ASL renders
and moto runs it through the Distributed Map with an ItemReader, invocations reach the
built zips in parallel warm workers, named errors reach Catch and SNS, injected faults are
retried, duplicate events start a second execution that ends in AlreadyProcessed, and
closing leaves no process or port behind.
"""

from __future__ import annotations

import json

import pytest

from localrun.pipeline import LocalPipeline
from tests.localrun.fake_handlers import write_fake_lambdas

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("fake")
    with LocalPipeline(
        lambdas_dir=write_fake_lambdas(root), max_concurrency=3, chunk_bytes=4096
    ) as pipeline:
        yield pipeline


def _csv(tmp_path, name: str, rows: int = 30):
    path = tmp_path / name
    path.write_text("a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(rows)))
    return path


def test_run_goes_through_distributed_map_and_writes_outputs(pipeline, tmp_path):
    seen = []
    result = pipeline.run_file(
        _csv(tmp_path, "ok.csv"), out_dir=tmp_path / "out", progress=seen.append
    )

    assert result.status == "SUCCEEDED", result.error
    assert (result.rows_total, result.rows_valid, result.chunks) == (31, 31, 3)
    assert result.success_message["status"] == "COMPLETE"
    runs = [i for i in pipeline.invocations if i.file_id == result.file_id]
    assert sorted(i.chunk_index for i in runs if i.function == "processor") == [0, 1, 2]
    # The Map's items ran in parallel: three warm workers of the processor.
    assert len({i.worker_pid for i in runs if i.function == "processor"}) == 3
    assert seen[-1].status == "SUCCEEDED" and seen[-1].chunks_done == 3
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "SUCCEEDED" and summary["rows_valid"] == 31
    assert summary["error"] is None and summary["execution_arn"] == result.execution_arn
    assert sorted(p.name for p in (tmp_path / "out" / "valid").iterdir()) == [
        "part-000000.txt",
        "part-000001.txt",
        "part-000002.txt",
    ]


def test_execution_input_is_the_s3_event_detail_in_the_aws_shape(pipeline, tmp_path):
    result = pipeline.run_file(_csv(tmp_path, "shape.csv", rows=3))
    started = pipeline.executions("incoming/shape.csv")[-1]
    obj = started.detail["object"]
    assert started.detail["bucket"] == {"name": pipeline.bucket}
    assert obj["key"] == "incoming/shape.csv" and obj["version-id"] == result.version_id
    assert obj["size"] == (tmp_path / "shape.csv").stat().st_size
    assert set(obj) >= {"etag", "sequencer"} and "eTag" not in obj
    assert started.detail["reason"] == "PutObject"


def test_function_env_comes_from_the_contract(pipeline):
    env = pipeline.function_environment("processor")
    assert env["ETL_BUCKET"] == "etl-local-processing"
    assert env["ETL_STATUS_TABLE"] == "etl-local-status"
    assert env["ETL_SCHEMA_KEY"] == "config/schema.json"
    assert env["ETL_CHUNK_BYTES"] == "4096"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "CsvEtl"
    assert env["AWS_ENDPOINT_URL"] == pipeline.endpoint_url


def test_named_error_reaches_catch_mark_failed_and_sns(pipeline, tmp_path):
    result = pipeline.run_file(_csv(tmp_path, "bad.csv"), out_dir=tmp_path / "out")

    assert result.status == "FAILED" and result.execution_status == "FAILED"
    assert result.failure["error"]["Error"] == "SchemaMismatch"
    assert result.error == (
        "SchemaMismatch: header does not match the schema: expected transaction_id"
    )
    assert result.failure_message["Subject"] == "ETL failed: SchemaMismatch"
    assert json.loads(result.failure_message["Message"])["error"] == "SchemaMismatch"
    assert result.file_item["status"] == "FAILED"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "FAILED" and summary["error"].startswith("SchemaMismatch")
    assert not any(
        i.function == "processor" for i in pipeline.invocations if i.file_id == result.file_id
    )


def test_injected_faults_before_and_after_the_handler_are_retried(pipeline, tmp_path):
    pipeline.inject_fault("processor", chunk_index=1, attempts={1}, when="before")
    pipeline.inject_fault("processor", chunk_index=2, attempts={1, 2}, when="after")
    try:
        result = pipeline.run_file(_csv(tmp_path, "faults.csv"))
    finally:
        pipeline.layer.clear_faults()

    assert result.status == "SUCCEEDED", result.error
    runs = [
        i for i in pipeline.invocations if i.file_id == result.file_id and i.function == "processor"
    ]
    attempts = {(i.chunk_index, i.attempt): (i.ok, i.error_type, i.injected) for i in runs}
    assert attempts == {
        (0, 1): (True, None, None),
        (1, 1): (False, "InjectedFault", "before"),
        (1, 2): (True, None, None),
        (2, 1): (False, "InjectedFault", "after"),
        (2, 2): (False, "InjectedFault", "after"),
        (2, 3): (True, None, None),
    }
    assert len(result.valid_keys) == 3  # the retried chunk overwrote, not duplicated


def test_duplicate_event_ends_in_already_processed_with_one_message(pipeline, tmp_path):
    first = pipeline.run_file(_csv(tmp_path, "dup.csv"))
    detail = pipeline.executions("incoming/dup.csv")[0].detail

    pipeline.put_event(detail)
    arns = pipeline.wait_for_start("incoming/dup.csv", count=2)
    second = pipeline.wait_for(arns[1])

    assert first.status == second.status == "SUCCEEDED"
    assert second.duplicate and not first.duplicate
    successes, _ = pipeline.drain_messages()
    assert [m["file_id"] for m in successes].count(first.file_id) == 1
    processed = [
        i for i in pipeline.invocations if i.file_id == first.file_id and i.function == "processor"
    ]
    assert len(processed) == 3
