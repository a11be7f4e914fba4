"""The Lambda invoke layer on its own (no moto): wire format, runtime errors, sandbox, pool."""

from __future__ import annotations

import json
import threading
import time
import zipfile
from pathlib import Path

import pytest
from werkzeug.test import Client

from localrun.lambda_layer import FunctionSpec, LambdaLayer

HANDLER = """
import json, os, sys, time

class SchemaMismatch(Exception):
    pass

def handler(event, context):
    action = event.get("action")
    if action == "raise":
        raise SchemaMismatch("header does not match: expected amount")
    if action == "exit":
        os._exit(3)
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "env":
        return {"bucket": os.environ.get("ETL_BUCKET"), "path0": sys.path[0],
                "cwd": os.getcwd(), "pythonpath": os.environ.get("PYTHONPATH"),
                "request_id": context.aws_request_id, "function": context.function_name,
                "remaining": context.get_remaining_time_in_millis()}
    return {"echo": event, "pid": os.getpid()}
"""


def _spec(tmp_path: Path, source: str = HANDLER, timeout_s: float = 30) -> FunctionSpec:
    zip_path = tmp_path / "fn.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("fn.py", source)
    return FunctionSpec(
        name="fn",
        function_name="etl-test-fn",
        arn="arn:aws:lambda:us-east-1:123456789012:function:etl-test-fn",
        zip_path=zip_path,
        handler="fn.handler",
        environment={"ETL_BUCKET": "b", "AWS_LAMBDA_FUNCTION_NAME": "etl-test-fn"},
        timeout_s=timeout_s,
    )


@pytest.fixture
def layer(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/should/not/leak")
    layer = LambdaLayer(_not_found_app, [_spec(tmp_path)], pool_size=3, log_dir=tmp_path / "logs")
    yield layer
    layer.close()


def _not_found_app(environ, start_response):
    start_response("418 I'm a teapot", [])
    return [b"moto"]


def _invoke(layer: LambdaLayer, event: dict, target: str = "etl-test-fn"):
    from urllib.parse import quote

    return Client(layer).post(
        f"/2015-03-31/functions/{quote(target, safe='')}/invocations", data=json.dumps(event)
    )


def test_result_is_200_with_the_json_payload(layer):
    response = _invoke(
        layer, {"a": 1}, target="arn:aws:lambda:us-east-1:123456789012:function:etl-test-fn"
    )
    assert response.status_code == 200
    assert "X-Amz-Function-Error" not in response.headers
    assert response.get_json()["echo"] == {"a": 1}


def test_exception_is_200_unhandled_with_error_type_and_message(layer):
    response = _invoke(layer, {"action": "raise"})
    assert response.status_code == 200
    assert response.headers["X-Amz-Function-Error"] == "Unhandled"
    body = response.get_json()
    assert body["errorType"] == "SchemaMismatch"
    assert body["errorMessage"] == "header does not match: expected amount"
    assert any("fn.py" in frame for frame in body["stackTrace"])


def test_other_paths_go_to_the_wrapped_app(layer):
    assert Client(layer).get("/etl-bucket/key").status_code == 418


def test_unknown_function_is_404_resource_not_found(layer):
    response = _invoke(layer, {}, target="nope")
    assert response.status_code == 404
    assert response.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"


def test_handler_runs_from_the_zip_with_the_function_env_only(layer):
    body = _invoke(layer, {"action": "env"}).get_json()
    assert body["bucket"] == "b" and body["function"] == "etl-test-fn"
    assert body["path0"] == body["cwd"] and "localrun-task-" in body["path0"]
    assert body["pythonpath"] is None
    assert 0 < body["remaining"] <= 30_000
    assert body["request_id"]


def test_worker_crash_is_runtime_exit_error_and_the_next_call_gets_a_new_worker(layer):
    first = _invoke(layer, {}).get_json()["pid"]
    crashed = _invoke(layer, {"action": "exit"}).get_json()
    assert crashed["errorType"] == "Runtime.ExitError"
    assert _invoke(layer, {}).get_json()["pid"] != first


def test_import_error_is_reported_on_every_invocation(tmp_path):
    spec = _spec(tmp_path, source="import not_a_module\n")
    layer = LambdaLayer(_not_found_app, [spec], pool_size=1, log_dir=tmp_path / "logs")
    try:
        for _ in range(2):
            body = _invoke(layer, {}).get_json()
            assert body["errorType"] == "Runtime.ImportModuleError"
            assert "not_a_module" in body["errorMessage"]
    finally:
        layer.close()


def test_timeout_kills_the_worker_and_reports_sandbox_timedout(tmp_path):
    layer = LambdaLayer(
        _not_found_app, [_spec(tmp_path, timeout_s=1)], pool_size=1, log_dir=tmp_path / "logs"
    )
    try:
        started = time.monotonic()
        body = _invoke(layer, {"action": "sleep", "seconds": 30}).get_json()
        assert body["errorType"] == "Sandbox.Timedout"
        assert time.monotonic() - started < 10
        assert _invoke(layer, {"a": 2}).get_json()["echo"] == {"a": 2}
    finally:
        layer.close()


def test_pool_runs_invocations_in_parallel_up_to_its_size(layer):
    results = []

    def call():
        results.append(_invoke(layer, {"action": "sleep", "seconds": 1.5}).status_code)

    threads = [threading.Thread(target=call) for _ in range(3)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200, 200, 200]
    assert time.monotonic() - started < 2.9  # serial would be 4.5 s
    assert len(layer.worker_pids()) == 3


def test_injected_faults_match_function_chunk_and_attempt(layer):
    layer.inject_fault("fn", chunk_index=4, attempts={1}, when="after")
    event = {"file_id": "f", "chunk": {"index": 4}}
    first = _invoke(layer, event)
    second = _invoke(layer, event)
    other = _invoke(layer, {"file_id": "f", "chunk": {"index": 5}})
    assert first.get_json()["errorType"] == "InjectedFault"
    assert "X-Amz-Function-Error" not in second.headers
    assert "X-Amz-Function-Error" not in other.headers
    assert [(i.chunk_index, i.attempt, i.injected) for i in layer.invocations] == [
        (4, 1, "after"),
        (4, 2, None),
        (5, 1, None),
    ]


def test_a_fault_with_payload_contains_spares_other_payloads(layer):
    layer.inject_fault("fn", attempts={1, 2}, payload_contains="Status Change")
    other = _invoke(layer, {"input": {"file_id": "f"}})
    matching = _invoke(layer, {"detail-type": "Step Functions Execution Status Change"})
    assert "X-Amz-Function-Error" not in other.headers
    assert matching.get_json()["errorType"] == "InjectedFault"
    assert [(i.attempt, i.injected) for i in layer.invocations] == [(1, None), (2, "before")]


def test_close_stops_every_worker(layer):
    _invoke(layer, {})
    pids = layer.worker_pids()
    layer.close()
    time.sleep(0.2)
    assert pids and not [pid for pid in pids if Path(f"/proc/{pid}").exists()]


UPLOADER = """
import boto3
from botocore.stub import Stubber

def handler(event, context):
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="t",
                      aws_secret_access_key="t")
    done = []
    with Stubber(s3) as stub:
        for part in ("valid", "rejected"):
            key = f"work/x/{part}/chunk-000001.parquet"
            stub.add_response("put_object", {}, {"Bucket": "b", "Key": key, "Body": b"1"})
        for part in ("valid", "rejected"):
            s3.put_object(Bucket="b", Key=f"work/x/{part}/chunk-000001.parquet", Body=b"1")
            done.append(part)
    return done
"""


def test_a_fault_after_an_upload_fails_the_handler_right_after_that_upload(tmp_path):
    """The processor-style crash (its valid output uploaded, its rejects not), injected by
    the worker around the SDK: the handler's code knows nothing of it."""
    layer = LambdaLayer(
        _not_found_app, [_spec(tmp_path, UPLOADER)], pool_size=1, log_dir=tmp_path / "logs"
    )
    try:
        layer.inject_fault(
            "fn", chunk_index=1, attempts={1}, when="after_upload", key_contains="/valid/"
        )
        event = {"file_id": "f", "chunk": {"index": 1}}
        crashed = _invoke(layer, event).get_json()
        retried = _invoke(layer, event).get_json()
    finally:
        layer.close()
    assert crashed["errorType"] == "InjectedFault"
    assert crashed["errorMessage"] == (
        "injected fault after uploading work/x/valid/chunk-000001.parquet"
    )
    assert retried == ["valid", "rejected"]  # attempt 2: not armed, same warm worker
    assert [i.injected for i in layer.invocations] == ["after_upload:/valid/", None]


def test_an_upload_fault_needs_the_key_it_follows():
    from localrun.lambda_layer import Fault

    with pytest.raises(ValueError, match="key_contains is required"):
        Fault("fn", 1, frozenset({1}), "after_upload")
    with pytest.raises(ValueError, match="must be 'before', 'after' or 'after_upload'"):
        Fault("fn", 1, frozenset({1}), "during")


SLOW_INIT_HANDLER = """
import os, time
time.sleep(0.6)  # a slow init, like pyarrow's import

def handler(event, context):
    return {"pid": os.getpid()}
"""


def test_prewarm_starts_ready_workers_that_the_invocations_then_use(tmp_path):
    layer = LambdaLayer(
        _not_found_app,
        [_spec(tmp_path, SLOW_INIT_HANDLER)],
        pool_size=3,
        log_dir=tmp_path / "logs",
    )
    try:
        began = time.monotonic()
        layer.prewarm({"fn": 5, "unknown": 1})  # capped at the pool size; inits run at once
        assert 0.6 <= time.monotonic() - began < 1.5
        warm = sorted(layer.worker_pids())
        assert len(warm) == 3
        began = time.monotonic()
        pids = {_invoke(layer, {}).get_json()["pid"] for _ in range(3)}
        assert time.monotonic() - began < 0.5  # no init left to wait for
        assert pids <= set(warm)
        assert sorted(layer.worker_pids()) == warm
    finally:
        layer.close()


def test_a_worker_that_dies_during_prewarm_is_replaced_on_the_first_invocation(tmp_path):
    source = "import os\nos._exit(7)\n"
    layer = LambdaLayer(
        _not_found_app, [_spec(tmp_path, source)], pool_size=2, log_dir=tmp_path / "logs"
    )
    try:
        layer.prewarm({"fn": 1})
        assert layer.worker_pids() == []
        response = _invoke(layer, {})
        assert response.status_code == 200
        assert response.headers["X-Amz-Function-Error"] == "Unhandled"
        assert response.get_json()["errorType"] == "Runtime.ExitError"
    finally:
        layer.close()
