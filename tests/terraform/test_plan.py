"""tftest plan tests: each module through a fixture root, and envs/dev + envs/prod.

They need terraform and the hashicorp/aws 6.66.0 provider (installed, in a local mirror, or
downloadable). No AWS account is needed: a test-only override file gives the provider fake
credentials and its skip_* flags, and points STS (the one data source that calls AWS,
aws_caller_identity) at an in-process moto server. Where terraform or the provider is
missing, every test here skips and says so.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest
from tfhcl import REPO, contract

pytestmark = pytest.mark.tftest

PROVIDER_VERSION = "6.66.0"
ACCOUNT = "123456789012"  # moto's default account
FUNCTIONS = ("splitter", "validator", "processor", "finalizer", "mark_failed")
POWERTOOLS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
# Copied into the temporary tree, keeping the relative paths the roots use.
TREE = ("modules", "envs", "schemas", "lambdas/etl/contract.json", "tests/terraform/fixtures")
PROBE_TIMEOUT_S = 120  # only reached when a registry answers and the download starts
PLUGIN_CACHE = Path(
    os.environ.get("TF_PLUGIN_CACHE_DIR")
    or Path.home() / ".cache" / "csv-etl" / "terraform-plugins"
)

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
  }}
}}
"""
BACKEND_OVERRIDE = """\
terraform {
  backend "local" {}
}
"""


def _tf_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(TF_PLUGIN_CACHE_DIR=str(PLUGIN_CACHE), TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    return env


@functools.lru_cache(maxsize=1)
def terraform_unavailable() -> str | None:
    """Why plan tests cannot run here, or None. Decided once per session.

    `terraform init` on a two-line probe is the honest test: it succeeds with the provider
    in a local mirror or plugin cache+lock, or with a reachable registry (then the download
    lands in the plugin cache for the real roots). Offline it fails in well under a second
    (measured: 0.1 s here).
    """
    binary = shutil.which("terraform")
    if binary is None:
        return (
            "terraform is not installed (not on PATH); tftest plan tests need terraform "
            f"and the hashicorp/aws {PROVIDER_VERSION} provider"
        )
    PLUGIN_CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tf-probe-") as probe:
        Path(probe, "versions.tf").write_text(
            'terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
            f'      version = "{PROVIDER_VERSION}"\n    }}\n  }}\n}}\n'
        )
        try:
            proc = subprocess.run(
                [binary, "init", "-backend=false", "-input=false", "-no-color"],
                cwd=probe,
                env=_tf_env(),
                capture_output=True,
                text=True,
                timeout=PROBE_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return (
                f"the hashicorp/aws {PROVIDER_VERSION} provider is not installed "
                "and `terraform init` timed out fetching it"
            )
    if proc.returncode != 0:
        first = next(
            (line.strip() for line in proc.stderr.splitlines() if line.strip().startswith("Error")),
            "init failed",
        )
        return (
            f"the hashicorp/aws {PROVIDER_VERSION} provider is not installed and cannot be "
            f"downloaded ({first}); plan tests need terraform and that provider"
        )
    return None


@pytest.fixture(scope="session")
def sts_endpoint():
    if reason := terraform_unavailable():
        pytest.skip(reason)
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def tree(tmp_path_factory) -> Path:
    """A copy of the Terraform code, the contract, the schema and a fixture build."""
    root = tmp_path_factory.mktemp("repo")
    for rel in TREE:
        src, dst = REPO / rel, root / rel
        if src.is_dir():
            shutil.copytree(
                src,
                dst,
                ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", ".terraform.lock.hcl"),
            )
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    _write_fixture_build(root)
    return root


def _fake_zip(path: Path, member: str, text: str) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, text)
    data = path.read_bytes()
    digest = hashlib.sha256(data)
    return {
        "sha256": digest.hexdigest(),
        "base64sha256": base64.b64encode(digest.digest()).decode(),
        "size": len(data),
    }


def _write_fixture_build(root: Path) -> None:
    """dist/manifest.json in build.py's format, plus tiny zips (also for the compute fixture)."""
    artifacts = {}
    for name in FUNCTIONS:
        rel = f"dist/functions/{name}.zip"
        artifacts[name] = {
            "path": rel,
            **_fake_zip(root / rel, f"{name}.py", "def handler(e, c):\n    return e\n"),
        }
        shutil.copy2(root / rel, root / "dist" / f"{name}.zip")
    artifacts["layer"] = {
        "path": "dist/layer-arm64.zip",
        **_fake_zip(root / "dist/layer-arm64.zip", "python/x.py", ""),
    }
    shutil.copy2(root / "dist/layer-arm64.zip", root / "dist" / "layer.zip")
    manifest = {"architecture": "arm64", "python": "3.12", "artifacts": artifacts}
    (root / "dist" / "manifest.json").write_text(json.dumps(manifest, indent=2))


def _plan(tree: Path, rel: str, sts: str, tf_vars: dict | None = None):
    import tftest

    tfdir = tree / rel
    (tfdir / "zz_tftest_override.tf").write_text(OVERRIDE.format(sts=sts))
    if "backend " in (tfdir / "versions.tf").read_text():
        (tfdir / "zz_backend_override.tf").write_text(BACKEND_OVERRIDE)
    tf = tftest.TerraformTest(str(tfdir), binary=shutil.which("terraform"), env=_tf_env())
    tf.setup()
    return tf.plan(output=True, tf_vars=tf_vars or {})


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


@pytest.fixture(scope="module")
def storage_plan(sts_endpoint, tree):
    return _plan(tree, "tests/terraform/fixtures/storage", sts_endpoint)


@pytest.fixture(scope="module")
def compute_plan(sts_endpoint, tree):
    return _plan(
        tree,
        "tests/terraform/fixtures/compute",
        sts_endpoint,
        {"artifacts_dir": str(tree / "dist")},
    )


@pytest.fixture(scope="module")
def orchestration_plan(sts_endpoint, tree):
    return _plan(tree, "tests/terraform/fixtures/orchestration", sts_endpoint)


@pytest.fixture(scope="module")
def observability_plan(sts_endpoint, tree):
    return _plan(tree, "tests/terraform/fixtures/observability", sts_endpoint)


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
    assert schema["key"] == "config/schema.json"


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
        assert (fn["memory_size"], fn["timeout"]) == (3072, 900)
        assert fn["tracing_config"][0]["mode"] == "Active"
        assert set(fn["environment"][0]["variables"]) == set(spec["env"].values()) | POWERTOOLS
        assert (
            fn["environment"][0]["variables"]["POWERTOOLS_METRICS_NAMESPACE"]
            == spec["metrics_namespace"]
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
def env_plan(request, sts_endpoint, tree):
    return request.param, _plan(
        tree, f"envs/{request.param}", sts_endpoint, {"region": "us-east-1"}
    )


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


def test_skip_decision_is_fast_and_cached():
    """The availability probe runs once per session (and, offline, fails fast)."""
    terraform_unavailable()
    assert terraform_unavailable.cache_info().currsize == 1
