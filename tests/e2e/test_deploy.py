"""The deployed stack is exactly what Terraform declares, and Terraform agrees.

tests/conftest.py's `deployment` applies the real envs/dev (real provider, every endpoint on
the embedded moto) once per session, runs `terraform plan -detailed-exitcode` right after
and `terraform destroy` at the end (asserting it succeeds with data in the bucket).
"""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from conftest import E2E_SETTINGS

pytestmark = pytest.mark.e2e


def test_plan_right_after_apply_shows_no_changes(deployment):
    assert deployment.plan_code == 0, deployment.plan_output[-4000:]


def test_the_settings_reach_the_functions_and_the_state_machine_as_terraform_variables(pipeline):
    env = pipeline.function_environment("splitter")
    assert env["ETL_CHUNK_BYTES"] == str(E2E_SETTINGS["chunk_bytes"])
    assert env["ETL_MAX_RECORD_BYTES"] == str(E2E_SETTINGS["max_record_bytes"])
    definition = json.loads(pipeline.definition)
    chunks = definition["States"]["ProcessChunks"]
    assert chunks["MaxConcurrency"] == E2E_SETTINGS["max_concurrency"]
    retries = chunks["ItemProcessor"]["States"]["ProcessChunk"]["Retry"]
    (retry,) = [r for r in retries if "States.TaskFailed" in r["ErrorEquals"]]
    assert (retry["IntervalSeconds"], retry["MaxAttempts"], retry["BackoffRate"]) == (1, 3, 1.0)


def test_every_resource_is_terraforms_and_the_harness_adds_only_an_observer(pipeline):
    outputs = pipeline.deployment.outputs
    c = pipeline.client
    functions = sorted(f["FunctionName"] for f in c("lambda").list_functions()["Functions"])
    assert functions == sorted(outputs["function_names"].values())
    machines = c("stepfunctions").list_state_machines()["stateMachines"]
    assert [m["stateMachineArn"] for m in machines] == [outputs["state_machine_arn"]]
    assert [b["Name"] for b in c("s3").list_buckets()["Buckets"]] == [outputs["bucket_name"]]
    assert c("dynamodb").list_tables()["TableNames"] == [outputs["table_name"]]
    topics = [t["TopicArn"] for t in c("sns").list_topics()["Topics"]]
    assert topics == [outputs["failure_topic_arn"]]
    queues = sorted(q.rsplit("/", 1)[-1] for q in c("sqs").list_queues()["QueueUrls"])
    observers = [q for q in queues if q.startswith("localrun-failure-observer-")]
    assert len(observers) == 1  # the harness's own: reads the failure topic
    assert sorted(set(queues) - set(observers)) == sorted(
        u.rsplit("/", 1)[-1] for u in (outputs["results_queue_url"], outputs["events_dlq_url"])
    )
    (rule,) = c("events").list_rules()["Rules"]
    (target,) = c("events").list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert (target["Arn"], target["InputPath"]) == (outputs["state_machine_arn"], "$.detail")


def test_functions_run_with_the_environment_and_zip_terraform_deployed(pipeline):
    lam = pipeline.client("lambda")
    for name, function in pipeline.deployment.outputs["function_names"].items():
        config = lam.get_function_configuration(FunctionName=function)
        spec = next(s for s in pipeline.layer._specs.values() if s.name == name)
        terraform_env = config["Environment"]["Variables"]
        assert {k: spec.environment[k] for k in terraform_env} == terraform_env
        assert set(spec.environment) - set(terraform_env) == {
            "AWS_ENDPOINT_URL",
            "AWS_DEFAULT_REGION",
            "AWS_REGION",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "LOCALRUN_FUNCTION_ARN",
        }
        assert spec.handler == config["Handler"] and spec.timeout_s == config["Timeout"]
        digest = base64.b64encode(hashlib.sha256(spec.zip_path.read_bytes()).digest()).decode()
        assert digest == config["CodeSha256"]


def test_execution_input_is_the_s3_event_detail_in_the_aws_shape(pipeline, tmp_path):
    path = tmp_path / "shape.csv"
    path.write_text("transaction_id\n")
    uploaded = pipeline.upload(path, "incoming/shape.csv")
    (arn,) = pipeline.wait_for_start("incoming/shape.csv")
    pipeline.wait_for(arn, timeout=60)
    detail = pipeline.executions("incoming/shape.csv")[0].detail
    assert detail["bucket"] == {"name": pipeline.bucket}
    assert detail["object"]["key"] == "incoming/shape.csv"
    assert detail["object"]["version-id"] == uploaded["version_id"]
    assert detail["object"]["etag"] == uploaded["etag"]
    assert detail["object"]["size"] == uploaded["size"]
    assert detail["reason"] == "PutObject"
    assert sorted(detail) == [
        "bucket",
        "object",
        "reason",
        "request-id",
        "requester",
        "source-ip-address",
        "version",
    ]
