"""envs/prod applied to the emulator (its S3 backend replaced by local state in a temporary
copy, localrun/stack.py): `terraform plan` shows no changes right after, prod's own settings
read back from the emulator, and `terraform destroy` is refused by `prevent_destroy` (the
README and envs/prod/README.md: bucket, status table and KMS key are protected). The
emulator (and everything applied to it) goes away when the module ends."""

from __future__ import annotations

import re

import boto3
import pytest
from etl.contract import CONTRACT

from localrun.deployment import Deployment
from localrun.stack import TerraformFailed

pytestmark = pytest.mark.e2e
REGION = "us-east-1"
PREFIX = "etl-prod"  # envs/prod's default prefix: the test applies prod's defaults only


@pytest.fixture(scope="module")
def prod():
    deployed = Deployment({}, env="prod")
    try:
        deployed.start(plan=True)
        yield deployed
    finally:
        deployed.close()  # stops the emulator: the protected resources go with it


def _client(prod: Deployment, service: str):
    return boto3.client(
        service,
        endpoint_url=prod.endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_prod_applies_with_local_state_and_plans_no_changes_right_after(prod):
    assert prod.stack.remote_backend
    assert (prod.stack.root / "terraform.tfstate").is_file()
    assert prod.plan_code == 0, prod.plan_output
    assert "No changes." in prod.plan_output


def test_prod_settings_read_back_from_the_emulator(prod):
    functions = prod.outputs["function_names"]
    assert sorted(functions) == sorted(CONTRACT.functions)
    lam = _client(prod, "lambda")
    reserved = {
        name: lam.get_function_concurrency(FunctionName=function).get(
            "ReservedConcurrentExecutions"
        )
        for name, function in functions.items()
    }
    assert reserved == {name: 50 if name == "processor" else None for name in functions}

    groups = _client(prod, "logs").describe_log_groups()["logGroups"]
    retention = {g["logGroupName"]: g.get("retentionInDays") for g in groups}
    for function in functions.values():
        assert retention[f"/aws/lambda/{function}"] == 365
    state_machine_groups = [n for n in retention if "states" in n and PREFIX in n]
    assert state_machine_groups and {retention[n] for n in state_machine_groups} == {365}

    table = _client(prod, "dynamodb").describe_table(TableName=prod.outputs["table_name"])
    assert table["Table"]["DeletionProtectionEnabled"] is True


def test_prod_state_holds_the_protected_blocks(prod):
    values = prod.stack.state_values()
    storage = "module.pipeline.module.storage"
    for resource in ("aws_s3_bucket", "aws_dynamodb_table", "aws_kms_key"):
        assert f"{storage}.{resource}.retained[0]" in values, resource
        assert f"{storage}.{resource}.this[0]" not in values, resource
    assert values[f"{storage}.aws_s3_bucket.retained[0]"]["force_destroy"] is False
    assert values[f"{storage}.aws_kms_key.retained[0]"]["deletion_window_in_days"] == 30


def test_terraform_destroy_is_stopped_by_prevent_destroy(prod):
    """Terraform refuses the destroy plan at the bucket and the table; the KMS key (also
    prevent_destroy) is destroyed after them, since it encrypts them, so Terraform stops
    before it reaches the key. Nothing is destroyed; the key stays enabled."""
    before = prod.stack.state_resources()
    with pytest.raises(TerraformFailed) as failed:
        prod.destroy()
    message = " ".join(str(failed.value).split())
    refused = re.findall(r"Resource ([\w.\[\]]+) has lifecycle.prevent_destroy set", message)
    assert sorted(refused) == [
        "module.pipeline.module.storage.aws_dynamodb_table.retained[0]",
        "module.pipeline.module.storage.aws_s3_bucket.retained[0]",
    ], message
    assert message.count("Error: Instance cannot be destroyed") == 2
    assert prod.stack.state_resources() == before  # nothing was destroyed
    _client(prod, "s3").head_bucket(Bucket=prod.outputs["bucket_name"])
    key = prod.stack.state_values()["module.pipeline.module.storage.aws_kms_key.retained[0]"]
    metadata = _client(prod, "kms").describe_key(KeyId=key["key_id"])["KeyMetadata"]
    assert metadata["KeyState"] == "Enabled"
