"""Shared fixtures: a moto-backed AWS world for handler tests and the default schema."""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

import pytest
from etl.contract import CONTRACT

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = ROOT / "schemas" / "transactions.json"
# The in-process moto world of the handler tests, named as a deployment "etl-test" would be.
TEST_PREFIX = "etl-test"
MOTO_ACCOUNT_ID = "123456789012"  # moto's default account
BUCKET = CONTRACT.resource_name("bucket", TEST_PREFIX, account_id=MOTO_ACCOUNT_ID)
TABLE = CONTRACT.resource_name("table", TEST_PREFIX)
DATASET = "transactions"  # the default dataset: uploads go under incoming/transactions/
INCOMING = CONTRACT.prefixes["incoming"] + DATASET + "/"
HEADER = "transaction_id,account_id,timestamp,amount,currency,merchant,category,status"


def row(i: int, **overrides: str) -> str:
    """One valid transactions record (fields overridable by name)."""
    values = {
        "transaction_id": f"T{i:06d}",
        "account_id": f"A{i % 7}",
        "timestamp": f"2024-03-{1 + i % 28:02d}T12:00:{i % 60:02d}Z",
        "amount": f"{i}.{i % 100:02d}",
        "currency": "USD",
        "merchant": "Shop",
        "category": "food",
        "status": "POSTED",
    }
    values.update(overrides)
    return ",".join(values[k] for k in HEADER.split(","))


@pytest.fixture(scope="session")
def schema():
    from etl.schema_check import load_schema

    return load_schema(SCHEMA_PATH)


_SERVICE_MODELS = []  # the one botocore loader of the handler tests, created on first use


def botocore_session_sharing_models():
    """A new botocore session (its own credentials, configuration and handlers) that reads the
    service models through one loader for the whole test session. mock_aws gives every test a
    new default session, and a new session parses the S3 and DynamoDB models again: most of
    a handler test's setup. The loader caches what it parsed; boto3 adds its data folder to
    the loader's search path once per session, kept to one entry here."""
    import botocore.session

    session = botocore.session.get_session()
    if not _SERVICE_MODELS:
        _SERVICE_MODELS.append(session.get_component("data_loader"))
    loader = _SERVICE_MODELS[0]
    loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
    session.register_component("data_loader", loader)
    return session


@pytest.fixture
def moto_in_process(monkeypatch):
    """moto in-process (`mock_aws`) with test credentials in us-east-1 and no endpoint
    override, so boto3 clients made inside reach moto's backends."""
    from moto import mock_aws

    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


@pytest.fixture
def aws(moto_in_process):
    """moto in-process: a versioned bucket with the schema, the status table, a Runtime."""
    import boto3
    from etl import runtime

    boto3.setup_default_session(botocore_session=botocore_session_sharing_models())
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(
        Bucket=BUCKET,
        Key=CONTRACT.schema_object_key(DATASET),
        Body=SCHEMA_PATH.read_bytes(),
    )
    ddb = boto3.resource("dynamodb")
    ddb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=CONTRACT.table.key_schema(),
        AttributeDefinitions=CONTRACT.table.attribute_definitions(),
    )
    rt = runtime.Runtime(
        runtime.Settings(
            bucket=BUCKET,
            status_table=TABLE,
            chunk_bytes=256,
            max_record_bytes=4096,
        ),
        s3=s3,
        dynamodb=ddb,
    )
    runtime.set_runtime(rt)
    yield rt
    runtime.set_runtime(None)


def s3_event(bucket: str, key: str, version_id: str | None, size: int) -> dict:
    """The `detail` of EventBridge's S3 Object Created event (the execution input)."""
    from etl.events import ObjectCreated

    return ObjectCreated(bucket, key, size, "x", version_id or None, "1", "PutObject").to_dict()


def dumps(x) -> str:
    return json.dumps(x, default=str)


# What Terraform sets on every function (modules/compute): the contract's namespace, and the
# deployment prefix as the service.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", CONTRACT.metrics.namespace)
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", CONTRACT.resource_name("service", TEST_PREFIX))


# -- the deployed stack: envs/dev applied by Terraform to the embedded emulator -----------------
# One per test session (tests/e2e, tests/localrun). Its settings are envs/dev variables: small
# chunks so a few KB fan out into several Distributed Map items, a small max_record_bytes so
# RecordTooLarge needs only a few KB, retries at 1 s without backoff (moto really sleeps).
# Two datasets: transactions (the default of uploads) and trades (tests/schemas/trades.json).
TRADES_SCHEMA_PATH = ROOT / "tests" / "schemas" / "trades.json"
E2E_SETTINGS = {
    "prefix": "etl-e2e",
    "schema_paths": (SCHEMA_PATH, TRADES_SCHEMA_PATH),
    "chunk_bytes": 4 * 1024,
    "max_record_bytes": 2 * 1024,
    "max_concurrency": 4,
    "retry_interval_seconds": 1,
    "retry_max_attempts": 3,
    "retry_backoff_rate": 1.0,
}
_TERRAFORM_REPORT: list[str] = []


@pytest.fixture(scope="session")
def deployment():
    """envs/dev applied once; `terraform plan -detailed-exitcode` right after apply (its exit
    code is asserted by tests/e2e/test_deploy.py); `terraform destroy` at the end, which
    must succeed with data in the versioned bucket (asserted here)."""
    from localrun.pipeline import Deployment, dev_variables

    deployed = Deployment(dev_variables(**E2E_SETTINGS))
    try:
        deployed.start(plan=True)
        yield deployed
        _destroy_with_data(deployed)
    finally:
        deployed.close()


def _destroy_with_data(deployed) -> None:
    import boto3
    from botocore.exceptions import ClientError

    s3 = boto3.client(
        "s3",
        endpoint_url=deployed.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = deployed.outputs["bucket_name"]
    s3.put_object(
        Bucket=bucket, Key=CONTRACT.prefixes["incoming"] + "destroy-me.csv", Body=b"a\n"
    )  # never empty
    versions = s3.list_object_versions(Bucket=bucket)  # the first page is enough to say
    held = len(versions.get("Versions", [])) + len(versions.get("DeleteMarkers", []))
    assert held > 0
    at_least = "at least " if versions.get("IsTruncated") else ""
    deployed.destroy()
    assert deployed.stack.state_resources() == []
    try:
        s3.head_bucket(Bucket=bucket)
        raise AssertionError(f"{bucket} still exists after terraform destroy")
    except ClientError as exc:
        assert exc.response["Error"]["Code"] in ("404", "NoSuchBucket")
    timings = deployed.stack.timings
    _TERRAFORM_REPORT.append(
        f"terraform on the emulator ({deployed.stack.provider.describe()}): "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
        + f"; destroy removed a bucket holding {at_least}{held} object versions/delete markers"
    )


def pytest_sessionstart(session):
    """Resolve the runtime the Lambda workers of the e2e and localrun tests use, once: it
    builds the real layer into .build-cache/ once per checkout; under CI without a 3.12 (or
    without a package index to build the layer from) the session stops here, saying why."""
    from localrun.lambda_runtime import RuntimeUnavailable, default_runtime

    try:
        default_runtime()
    except RuntimeUnavailable as exc:
        pytest.exit(str(exc), returncode=1)


def pytest_report_header(config):
    from localrun.lambda_runtime import default_runtime

    return f"lambda workers: {default_runtime().describe()}"


def pytest_terminal_summary(terminalreporter):
    """The Terraform timings; in the host mode, again that the handlers ran on the host."""
    from localrun.lambda_runtime import default_runtime

    for line in _TERRAFORM_REPORT:
        terminalreporter.write_line(line)
    runtime = default_runtime()
    if not runtime.lambda_like:
        terminalreporter.write_line(
            f"lambda workers: {runtime.describe()}: the handlers did not run on the layer"
            " Lambda runs",
            yellow=True,
        )


# Outside the quick loop (`python3 noxfile.py -s quick`: -m "not e2e and not slow and not
# tftest"): no deploy, but each costs seconds: builds, the bench, the local harness's
# processes, Terraform plans of whole roots and of the storage lifecycle, every reference of
# the docs (and, by their mark, the modules' `terraform test` runs). What stays: the core's
# unit tests, the handler tests on in-process moto and the static HCL checks.
SLOW_FILES = {
    "tests/test_build.py",
    "tests/test_bench_peers.py",
    "tests/test_bench_reference.py",
    "tests/test_bench_report.py",
    "tests/test_sample.py",
    "tests/test_docs_links.py",
    "tests/terraform/test_plan.py",
    "tests/terraform/test_plan_policies.py",
    "tests/terraform/test_validate.py",
    "tests/terraform/test_input_validation.py",
    "tests/terraform/test_pipeline_moves.py",
    "tests/terraform/test_storage_lifecycle.py",
    "tests/terraform/test_catalog.py",
    "tests/terraform/test_tfcli.py",
}
SLOW_DIRS = ("tests/localrun/", "tests/e2e/")


def pytest_collection_modifyitems(config, items):
    """Tests on the deployed stack run last, in their collected order: in-process moto
    (`mock_aws`, used by the handler tests) resets moto's process-global backends, which
    would wipe the stack's resources while it is deployed. Before them the checks of the
    modules' `terraform test` runs, which start in the background with the first test
    (tests/terraform/tfplugin.py), so the tests between run beside them. SLOW_FILES get the
    `slow` mark."""
    for item in items:
        path = item.path.relative_to(ROOT).as_posix()
        if path in SLOW_FILES or path.startswith(SLOW_DIRS):
            item.add_marker(pytest.mark.slow)
    items.sort(key=_run_order)


def _run_order(item) -> tuple[bool, bool]:
    fixtures = getattr(item, "fixturenames", ())
    return "deployment" in fixtures, "module_tests" in fixtures


@pytest.fixture(scope="module")
def pipeline(deployment):
    """The harness attached to the session's deployed stack, one per module (warm workers)."""
    from localrun.pipeline import LocalPipeline

    with LocalPipeline(deployment=deployment) as attached:
        yield attached


@pytest.fixture(scope="session")
def noxfile_module():
    """noxfile.py as a module, imported once (importing it registers its sessions); the
    sessions are called with tests/fake_nox.py's FakeSession."""
    sys.path.insert(0, str(ROOT))
    try:
        return importlib.import_module("noxfile")
    finally:
        sys.path.remove(str(ROOT))
