"""The deployed stack is exactly what Terraform declares, and Terraform agrees.

tests/conftest.py's `deployment` applies the real envs/dev (real provider, every endpoint on
the embedded moto) once per session, runs `terraform plan -detailed-exitcode` right after
and `terraform destroy` at the end (asserting it succeeds with data in the bucket).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from conftest import E2E_SETTINGS
from etl.contract import CONTRACT

from localrun.emulator import ACCOUNT_ID

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_plan_right_after_apply_shows_no_changes(deployment):
    assert deployment.plan_code == 0, deployment.plan_output[-4000:]


def test_the_settings_reach_the_functions_and_the_state_machine_as_terraform_variables(pipeline):
    env = pipeline.function_environment("splitter")
    assert env["ETL_CHUNK_BYTES"] == str(E2E_SETTINGS["chunk_bytes"])
    assert env["ETL_MAX_RECORD_BYTES"] == str(E2E_SETTINGS["max_record_bytes"])
    assert env["ETL_DATASETS"] == "trades,transactions"  # sorted, comma-separated
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
    rules = {r["Name"]: r for r in c("events").list_rules()["Rules"]}
    prefix = E2E_SETTINGS["prefix"]
    trigger, ended = (
        CONTRACT.resource_name(k, prefix) for k in ("event_rule", "execution_ended_rule")
    )
    assert sorted(rules) == sorted([trigger, ended])
    (target,) = c("events").list_targets_by_rule(Rule=trigger)["Targets"]
    assert (target["Arn"], target["InputPath"]) == (outputs["state_machine_arn"], "$.detail")
    # the execution-ended rule hands the whole event to mark_failed
    (target,) = c("events").list_targets_by_rule(Rule=ended)["Targets"]
    assert (target["Arn"], "InputPath" in target) == (pipeline.function_arn("mark_failed"), False)
    assert (
        target["DeadLetterConfig"]["Arn"].rsplit(":", 1)[-1]
        == outputs["events_dlq_url"].rsplit("/", 1)[-1]
    )
    pattern = json.loads(rules[ended]["EventPattern"])
    assert pattern["detail"] == {
        "status": ["FAILED", "TIMED_OUT", "ABORTED"],
        "stateMachineArn": [outputs["state_machine_arn"]],
    }


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
    uploaded = pipeline.upload(path, "incoming/transactions/shape.csv")
    (arn,) = pipeline.wait_for_start("incoming/transactions/shape.csv")
    pipeline.wait_for(arn, timeout=60)
    detail = pipeline.executions("incoming/transactions/shape.csv")[0].detail
    assert detail["bucket"] == {"name": pipeline.bucket}
    assert detail["object"]["key"] == "incoming/transactions/shape.csv"
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


def test_every_resource_is_named_by_the_contract(pipeline):
    prefix = E2E_SETTINGS["prefix"]
    outputs = pipeline.deployment.outputs

    def name(kind, **kwargs):
        return CONTRACT.resource_name(kind, prefix, **kwargs)

    assert pipeline.prefix == prefix
    assert outputs["function_names"] == {
        f: name("function", function=f) for f in CONTRACT.functions
    }
    assert outputs["bucket_name"] == name("bucket", account_id=ACCOUNT_ID)
    assert outputs["table_name"] == name("table")
    assert outputs["results_queue_url"].rsplit("/", 1)[-1] == name("results_queue")
    assert outputs["events_dlq_url"].rsplit("/", 1)[-1] == name("events_dlq")
    assert outputs["failure_topic_arn"].rsplit(":", 1)[-1] == name("failure_topic")
    assert pipeline.state_machine_name == name("state_machine")
    rules = pipeline.client("events").list_rules()["Rules"]
    assert sorted(r["Name"] for r in rules) == sorted(
        [name("event_rule"), name("execution_ended_rule")]
    )
    table = pipeline.client("dynamodb").describe_table(TableName=outputs["table_name"])["Table"]
    assert table["KeySchema"] == CONTRACT.table.key_schema()
    assert table["AttributeDefinitions"] == CONTRACT.table.attribute_definitions()


def test_the_functions_run_with_the_deployed_service_name_and_namespace(pipeline):
    """The worker processes get Terraform's environment, so the `service` dimension is the
    deployed one: the prefix (contract names.service) for every function."""
    service = CONTRACT.resource_name("service", E2E_SETTINGS["prefix"])
    for spec in pipeline.layer._specs.values():
        assert spec.environment["POWERTOOLS_SERVICE_NAME"] == service, spec.name
        assert spec.environment["POWERTOOLS_METRICS_NAMESPACE"] == CONTRACT.metrics.namespace


def test_the_results_queue_deduplicates_as_terraform_declares(pipeline):
    """The queue the functions' results go to is Terraform's FIFO queue, with the content-based
    deduplication Terraform's state records (the harness creates no queue of its own for it)."""
    url = pipeline.deployment.outputs["results_queue_url"]
    attributes = pipeline.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["FifoQueue", "ContentBasedDeduplication"]
    )["Attributes"]
    (queue,) = [
        v
        for a, v in pipeline.deployment.stack.state_values().items()
        if a.endswith("aws_sqs_queue.results")
    ]
    assert queue["fifo_queue"] is True and queue["content_based_deduplication"] is True
    assert attributes == {"FifoQueue": "true", "ContentBasedDeduplication": "true"}


def _expected_tables(bucket: str, datasets: dict) -> dict[str, str]:
    """{table: location}: per dataset its current major and every older released one."""
    majors = set()
    for name, dataset in datasets.items():
        schema_file = Path(dataset["schema_file"])
        current = int(str(json.loads(schema_file.read_text())["version"]).split(".")[0])
        released = schema_file.parent / "released" / name
        majors |= {(name, current)} | {
            (name, int(p.stem[1:])) for p in released.glob("v*.json") if int(p.stem[1:]) < current
        }
    return {
        f"{name}_v{major}{suffix}": f"s3://{bucket}/{prefix}/{name}/v{major}/"
        for name, major in majors
        for suffix, prefix in (("", "processed"), ("_rejected", "rejected"))
    }


def test_the_datasets_have_their_schema_objects_tables_and_environment(pipeline):
    """Each dataset of the session's stack: its schema object written by Terraform, its Glue
    table pairs on its prefixes, and ETL_DATASETS (sorted names) on every function."""
    outputs = pipeline.deployment.outputs
    bucket = outputs["bucket_name"]
    datasets = pipeline.deployment.variables["datasets"]
    assert sorted(outputs["datasets"]) == sorted(datasets)
    s3 = pipeline.client("s3")
    for name, dataset in datasets.items():
        schema = s3.get_object(Bucket=bucket, Key=f"config/schemas/{name}.json")
        assert schema["Body"].read() == Path(dataset["schema_file"]).read_bytes()
        assert schema["VersionId"]  # the functions pin this version
        assert outputs["datasets"][name]["incoming_prefix"] == f"incoming/{name}/"
    tables = pipeline.client("glue").get_tables(DatabaseName=outputs["catalog_database_name"])
    located = {t["Name"]: t["StorageDescriptor"]["Location"] for t in tables["TableList"]}
    assert located == _expected_tables(bucket, datasets)
    assert sorted(outputs["catalog_tables"]) == sorted(t for t in located if "_rejected" not in t)
    lam = pipeline.client("lambda")
    for function in outputs["function_names"].values():
        env = lam.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
        assert env[CONTRACT.env["datasets"]] == ",".join(sorted(datasets)), function
