"""tftest plan tests: each module through a fixture root, and envs/dev + envs/prod.

They run wherever terraform is installed, with the provider `localrun/tfcli.py` chooses (the
envs' pinned 6.66.0 where it is installable, otherwise the machine's filesystem mirror through
the test-only version override; tfplugin.py prints which in the pytest header). No AWS
account is needed: a test-only provider override gives fake credentials and the skip_* flags
and points the two services a plan calls at an in-process moto server: STS (the data source
aws_caller_identity) and Step Functions (the provider validates a state machine definition
that is known at plan time). Every plan must also be free of warnings.
"""

from __future__ import annotations

import json

import pytest
import tftest
from tfhcl import contract
from tfrun import FUNCTIONS, provider_text, require_terraform, selected

pytest_plugins = ["tfplugin"]
pytestmark = pytest.mark.tftest

ACCOUNT = "123456789012"  # moto's default account
POWERTOOLS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}

OVERRIDE = """\
# Test-only: written by tests/terraform/test_plan.py into a temporary copy of the root.
provider "aws" {{
  region                      = "us-east-1"
  access_key                  = "mock-access-key"
  secret_key                  = "mock-secret-key"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {{
    sts = "{sts}"
    sfn = "{sts}"
  }}
}}
"""


def _plan(tf_root, tf_env, rel: str, sts: str, tf_vars: dict | None = None):
    """`terraform plan` of the initialised root `rel`; its JSON as tftest's plan output."""
    root = tf_root(rel)
    (root / "zz_tftest_override.tf").write_text(OVERRIDE.format(sts=sts))
    tf = tftest.TerraformTest(str(root), binary=require_terraform())
    tf.env = dict(tf_env)  # tftest would merge os.environ back in, AWS_* included
    args = ["-input=false", "-no-color", "-out=tfplan"]
    args += [f"-var={k}={v}" for k, v in (tf_vars or {}).items()]
    try:
        planned = tf.execute_command("plan", *args)
        shown = tf.execute_command("show", "-no-color", "-json", "tfplan")
    except tftest.TerraformTestError as exc:
        pytest.fail(f"terraform plan of {rel} failed with {provider_text()}: {exc}", pytrace=False)
    output = planned.out + planned.err
    assert "Warning:" not in output, f"plan of {rel} warns with {provider_text()}:\n{output}"
    return tftest.TerraformPlanOutput(json.loads(shown.out))


def _of_type(plan, rtype: str) -> dict[str, dict]:
    return {
        addr: change["change"]["after"]
        for addr, change in plan.resource_changes.items()
        if change["type"] == rtype and change.get("mode", "managed") == "managed"
    }


def _by_key(resources: dict[str, dict]) -> dict[str, dict]:
    """module.x.aws_y.this["splitter"] -> {"splitter": after}."""
    return {addr.rsplit('["', 1)[1].rstrip('"]'): after for addr, after in resources.items()}


# --- modules through fixtures ------------------------------------------------------------


PLANS = {
    "storage": ("tests/terraform/fixtures/storage", {}),
    "compute": ("tests/terraform/fixtures/compute", {"artifacts_dir": "{tree}/dist"}),
    "orchestration": ("tests/terraform/fixtures/orchestration", {}),
    "observability": ("tests/terraform/fixtures/observability", {}),
    "dev": ("envs/dev", {"region": "us-east-1"}),
    "prod": ("envs/prod", {"region": "us-east-1"}),
}


@pytest.fixture(scope="session")
def plans(request, tf_jobs, sts_endpoint, tf_root, tf_env, tf_tree):
    """The plans the selected tests need (all six in a full run), started together on the
    session's terraform pool."""
    needed = selected(request, "env_plan") | {
        name
        for item in request.session.items
        for name in PLANS
        if f"{name}_plan" in getattr(item, "fixturenames", ())
    }
    return {
        name: tf_jobs.submit(
            _plan,
            tf_root,
            tf_env,
            rel,
            sts_endpoint,
            {k: v.format(tree=tf_tree) for k, v in tf_vars.items()},
        )
        for name, (rel, tf_vars) in PLANS.items()
        if name in needed
    }


@pytest.fixture(scope="session")
def storage_plan(plans):
    return plans["storage"].result()


@pytest.fixture(scope="session")
def compute_plan(plans):
    return plans["compute"].result()


@pytest.fixture(scope="session")
def orchestration_plan(plans):
    return plans["orchestration"].result()


@pytest.fixture(scope="session")
def observability_plan(plans):
    return plans["observability"].result()


def test_storage_bucket_is_private_versioned_encrypted_and_tiered(storage_plan):
    (bucket,) = _of_type(storage_plan, "aws_s3_bucket").values()
    assert bucket["bucket"] == f"etl-test-processing-{ACCOUNT}"
    assert bucket["force_destroy"] is True
    (versioning,) = _of_type(storage_plan, "aws_s3_bucket_versioning").values()
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"
    (pab,) = _of_type(storage_plan, "aws_s3_bucket_public_access_block").values()
    assert all(
        pab[k] is True
        for k in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
    )
    (sse,) = _of_type(storage_plan, "aws_s3_bucket_server_side_encryption_configuration").values()
    assert (
        sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms"
    )
    (lifecycle,) = _of_type(storage_plan, "aws_s3_bucket_lifecycle_configuration").values()
    rules = {r["id"]: r for r in lifecycle["rule"]}
    processed = rules["processed-storage-class"]
    assert processed["filter"][0]["prefix"] == "processed/"
    assert (
        processed["transition"][0]["days"] == 30
        and processed["transition"][0]["storage_class"] == "GLACIER_IR"  # Athena reads it
    )
    assert {
        "expire-work",
        "expire-staging",
        "expire-manifests",
        "abort-incomplete-multipart-uploads",
        "expire-noncurrent-versions",
        "remove-expired-delete-markers",
    } <= set(rules)
    for scratch in ("expire-work", "expire-staging", "expire-manifests"):
        (noncurrent,) = rules[scratch]["noncurrent_version_expiration"]
        assert noncurrent["noncurrent_days"] == 1 and not noncurrent["newer_noncurrent_versions"]
    assert rules["remove-expired-delete-markers"]["expiration"][0]["expired_object_delete_marker"]
    (notification,) = _of_type(storage_plan, "aws_s3_bucket_notification").values()
    assert notification["eventbridge"] is True
    (key,) = _of_type(storage_plan, "aws_kms_key").values()
    assert key["enable_key_rotation"] is True
    (schema,) = _of_type(storage_plan, "aws_s3_object").values()
    assert schema["key"] == "config/schemas/transactions.json"


def test_storage_status_table(storage_plan):
    (table,) = _of_type(storage_plan, "aws_dynamodb_table").values()
    assert table["name"] == "etl-test-status"
    assert (table["hash_key"], table["range_key"], table["billing_mode"]) == (
        "file_id",
        "chunk_id",
        "PAY_PER_REQUEST",
    )
    assert {(a["name"], a["type"]) for a in table["attribute"]} == {
        ("file_id", "S"),
        ("chunk_id", "S"),
    }
    assert table["point_in_time_recovery"][0]["enabled"] is True
    assert table["server_side_encryption"][0]["enabled"] is True
    assert table["ttl"][0] == {"enabled": True, "attribute_name": "expires_at"}
    assert table["deletion_protection_enabled"] is False


def test_compute_functions(compute_plan):
    functions = _by_key(_of_type(compute_plan, "aws_lambda_function"))
    assert set(functions) == set(FUNCTIONS)
    spec = contract()
    for name, fn in functions.items():
        assert fn["function_name"] == f"etl-test-{name.replace('_', '-')}"
        assert fn["handler"] == spec["functions"][name]["handler"]
        assert fn["runtime"] == "python3.12"
        assert fn["architectures"] == ["arm64"]
        assert (fn["memory_size"], fn["timeout"]) == (1769, 900)
        assert fn["tracing_config"][0]["mode"] == "Active"
        assert set(fn["environment"][0]["variables"]) == set(spec["env"].values()) | POWERTOOLS
        assert (
            fn["environment"][0]["variables"]["POWERTOOLS_METRICS_NAMESPACE"]
            == spec["metrics"]["namespace"]
        )
        assert fn["ephemeral_storage"][0]["size"] == (4096 if name == "processor" else 512)
    groups = _of_type(compute_plan, "aws_cloudwatch_log_group")
    assert {g["name"] for g in groups.values()} == {
        f"/aws/lambda/etl-test-{n.replace('_', '-')}" for n in FUNCTIONS
    }
    assert {g["retention_in_days"] for g in groups.values()} == {30}
    assert len(_of_type(compute_plan, "aws_iam_role")) == 5


def test_compute_layer_goes_through_s3(compute_plan):
    (obj,) = _of_type(compute_plan, "aws_s3_object").values()
    assert obj["key"].startswith("artifacts/layers/") and obj["key"].endswith(".zip")
    (layer,) = _of_type(compute_plan, "aws_lambda_layer_version").values()
    assert layer["s3_key"] == obj["key"]
    assert layer["compatible_architectures"] == ["arm64"]
    assert layer["compatible_runtimes"] == ["python3.12"]


def test_orchestration_state_machine(orchestration_plan):
    (machine,) = _of_type(orchestration_plan, "aws_sfn_state_machine").values()
    assert machine["name"] == "etl-test-pipeline"
    assert machine["type"] == "STANDARD"
    assert machine["tracing_configuration"][0]["enabled"] is True
    logging = machine["logging_configuration"][0]
    assert logging["level"] == "ALL" and logging["include_execution_data"] is True
    definition = json.loads(machine["definition"])
    assert definition["TimeoutSeconds"] == 7200
    chunks = definition["States"]["ProcessChunks"]
    assert chunks["MaxConcurrency"] == 10
    retry = chunks["ItemProcessor"]["States"]["ProcessChunk"]["Retry"][-1]
    assert (retry["IntervalSeconds"], retry["MaxAttempts"], retry["BackoffRate"]) == (2, 3, 2)
    assert definition["States"]["NotifySuccess"]["Parameters"]["QueueUrl"] == (
        f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/etl-test-results.fifo"
    )
    assert definition["States"]["NotifyFailure"]["Parameters"]["TopicArn"] == (
        f"arn:aws:sns:us-east-1:{ACCOUNT}:etl-test-failures"
    )


def test_orchestration_queues_topic_and_trigger(orchestration_plan):
    queues = _of_type(orchestration_plan, "aws_sqs_queue")
    fifo = [q for q in queues.values() if q["fifo_queue"]]
    assert len(fifo) == 1
    (results,) = fifo
    assert results["name"] == "etl-test-results.fifo"
    assert results["content_based_deduplication"] is True
    assert (results["message_retention_seconds"], results["visibility_timeout_seconds"]) == (
        604800,
        900,
    )
    assert all(q["kms_master_key_id"] for q in queues.values())
    (topic,) = _of_type(orchestration_plan, "aws_sns_topic").values()
    assert topic["name"] == "etl-test-failures" and topic["kms_master_key_id"]
    (rule,) = _of_type(orchestration_plan, "aws_cloudwatch_event_rule").values()
    pattern = json.loads(rule["event_pattern"])
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "incoming/"}]
    (target,) = _of_type(orchestration_plan, "aws_cloudwatch_event_target").values()
    assert target["input_path"] == "$.detail"
    assert target["retry_policy"][0]["maximum_retry_attempts"] >= 1
    assert len(target["dead_letter_config"]) == 1


def test_observability_dashboard_and_alarms(observability_plan):
    (dashboard,) = _of_type(observability_plan, "aws_cloudwatch_dashboard").values()
    body = json.loads(dashboard["dashboard_body"])
    metrics = json.dumps(body)
    for name in (
        "ExecutionsStarted",
        "ExecutionsFailed",
        "Invocations",
        "Throttles",
        "ConsumedWriteCapacityUnits",
        "RowsValid",
        "RowsRejected",
        "ProcessedBytes",
        "ChunkSeconds",
        "ReadRetries",
    ):
        assert name in metrics
    alarms = _of_type(observability_plan, "aws_cloudwatch_metric_alarm")
    assert len(alarms) == 3 + 2 * len(FUNCTIONS)
    for alarm in alarms.values():
        assert (
            alarm["alarm_actions"]
            == alarm["ok_actions"]
            == [f"arn:aws:sns:us-east-1:{ACCOUNT}:etl-test-failures"]
        )


# --- environments ---------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["dev", "prod"])
def env_plan(request, plans):
    return request.param, plans[request.param].result()


def test_env_counts_and_key_values(env_plan):
    env, plan = env_plan
    functions = _by_key(_of_type(plan, "aws_lambda_function"))
    assert set(functions) == set(FUNCTIONS)
    assert {f["runtime"] for f in functions.values()} == {"python3.12"}
    assert {tuple(f["architectures"]) for f in functions.values()} == {("arm64",)}
    assert functions["processor"]["ephemeral_storage"][0]["size"] == 512  # Parquet streams to S3
    assert functions["mark_failed"]["function_name"] == f"etl-{env}-mark-failed"
    (machine,) = _of_type(plan, "aws_sfn_state_machine").values()
    assert machine["type"] == "STANDARD"
    if machine.get("definition"):  # unknown until the function ARNs exist
        assert json.loads(machine["definition"])["States"]["ProcessChunks"]["MaxConcurrency"] == 10
    assert sum(1 for q in _of_type(plan, "aws_sqs_queue").values() if q["fifo_queue"]) == 1
    (versioning,) = _of_type(plan, "aws_s3_bucket_versioning").values()
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"
    assert len(_of_type(plan, "aws_cloudwatch_event_rule")) == 1
    assert len(_of_type(plan, "aws_cloudwatch_dashboard")) == 1


def test_env_data_protection(env_plan):
    env, plan = env_plan
    ((bucket_addr, bucket),) = _of_type(plan, "aws_s3_bucket").items()
    ((table_addr, table),) = _of_type(plan, "aws_dynamodb_table").items()
    ((key_addr, _),) = _of_type(plan, "aws_kms_key").items()
    if env == "prod":
        # The blocks carrying lifecycle { prevent_destroy = true }.
        assert (
            ".retained[0]" in bucket_addr
            and ".retained[0]" in table_addr
            and ".retained[0]" in key_addr
        )
        assert bucket["force_destroy"] is False and table["deletion_protection_enabled"] is True
    else:
        assert ".this[0]" in bucket_addr and ".this[0]" in table_addr and ".this[0]" in key_addr
        assert bucket["force_destroy"] is True and table["deletion_protection_enabled"] is False


# --- contract.json, as planned (issue 13): every copy agrees with the one contract ----------


def _names(prefix: str) -> dict[str, str]:
    return {
        k: p.replace("{prefix}", prefix).replace("{account_id}", ACCOUNT)
        for k, p in contract()["names"].items()
        if k != "comment"
    }


def _custom_metric_lines(dashboard: dict) -> list[list]:
    body = json.loads(dashboard["dashboard_body"])
    namespace = contract()["metrics"]["namespace"]
    lines = [line for w in body["widgets"] for line in w["properties"].get("metrics", [])]
    # Every line is an AWS/* metric or one of the contract's namespace.
    assert {line[0] for line in lines if not line[0].startswith("AWS/")} <= {namespace}
    return [line for line in lines if not line[0].startswith("AWS/")]


def test_env_names_are_the_contract_patterns(env_plan):
    env, plan = env_plan
    names = _names(f"etl-{env}")
    one = {
        "bucket": ("aws_s3_bucket", "bucket"),
        "table": ("aws_dynamodb_table", "name"),
        "kms_alias": ("aws_kms_alias", "name"),
        "layer": ("aws_lambda_layer_version", "layer_name"),
        "state_machine": ("aws_sfn_state_machine", "name"),
        "failure_topic": ("aws_sns_topic", "name"),
        "event_rule": ("aws_cloudwatch_event_rule", "name"),
        "dashboard": ("aws_cloudwatch_dashboard", "dashboard_name"),
    }
    for key, (rtype, attr) in one.items():
        (after,) = _of_type(plan, rtype).values()
        assert after[attr] == names[key], (env, key)
    queues = {q["name"] for q in _of_type(plan, "aws_sqs_queue").values()}
    assert queues == {names["results_queue"], names["events_dlq"]}
    functions = _by_key(_of_type(plan, "aws_lambda_function"))
    assert set(functions) == set(contract()["functions"])
    for key, fn in functions.items():
        assert fn["function_name"] == names["function"].replace("{function}", key.replace("_", "-"))


def test_compute_service_name_is_the_contract_service(compute_plan):
    service = _names("etl-test")["service"]
    for fn in _of_type(compute_plan, "aws_lambda_function").values():
        assert fn["environment"][0]["variables"]["POWERTOOLS_SERVICE_NAME"] == service


def test_env_table_keys_are_the_contract_table(env_plan):
    _, plan = env_plan
    (table,) = _of_type(plan, "aws_dynamodb_table").values()
    spec = contract()["table"]
    assert (table["hash_key"], table["range_key"]) == (spec["partition_key"], spec["sort_key"])
    assert {(a["name"], a["type"]) for a in table["attribute"]} == {
        (spec["partition_key"], "S"),
        (spec["sort_key"], "S"),
    }


def test_dashboard_graphs_only_emitted_metrics_in_the_contract_namespace(observability_plan):
    """The observability fixture gets its inputs from the pipeline's contract reader, as the
    envs do (their dashboard body is unknown until the state machine exists)."""
    (dashboard,) = _of_type(observability_plan, "aws_cloudwatch_dashboard").values()
    metrics = contract()["metrics"]
    lines = _custom_metric_lines(dashboard)
    assert lines, "the dashboard graphs custom metrics"
    for line in lines:
        namespace, name, dimension, value = line[:4]
        assert namespace == metrics["namespace"], line
        assert name in metrics["emitted"], line
        assert (dimension, value) == (metrics["dimension"], _names("etl-test")["service"])


def test_state_machine_is_rendered_with_every_contract_function(orchestration_plan):
    (machine,) = _of_type(orchestration_plan, "aws_sfn_state_machine").values()
    text = machine["definition"]
    names = _names("etl-test")
    for key in contract()["functions"]:
        fn = names["function"].replace("{function}", key.replace("_", "-"))
        assert f'"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{fn}"' in text, key
    assert "${" not in text
