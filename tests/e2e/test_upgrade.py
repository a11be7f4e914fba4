"""Older envs/dev deployments upgrade with no destroy of their data, on the embedded moto with
the real provider.

Issue 13: before modules/pipeline, envs/dev called the modules at its root (module.storage,
module.compute, ...). The old layout is rebuilt here from modules/pipeline itself used as the
root (its module calls then sit at exactly those addresses), with envs/dev's values. It is
applied to the emulator; its state then goes to the real envs/dev, whose `moved` blocks must
turn the upgrade into moves only: Plan: 0 to add, 0 to change, 0 to destroy.

Issue 19: a deployment of one `schema_file` (envs/dev as of SINGLE_SCHEMA_COMMIT, taken from
git history) upgrades to datasets: only the old schema object and the two Glue tables (metadata)
are replaced; the bucket with its data, the status table, the key and the queues stay.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import boto3
import pytest
from etl.contract import REPO_RELATIVE_PATH

pytestmark = pytest.mark.e2e

# envs/dev's arguments to module "pipeline" that differ from the module's defaults.
DEV_SWITCHES = {
    "force_destroy": True,
    "deletion_protection": False,
    "retain": False,
    "kms_key_deletion_window_days": 7,
    "log_level": "DEBUG",
    "log_retention_days": 30,
}
OLD_LAYOUT = ("storage", "compute", "orchestration", "observability")


def _old_layout_root(stack) -> None:
    """<tree>/envs/old: modules/pipeline's .tf as a root (sources re-pointed), envs/dev's
    provider block and overrides, envs/dev's values."""
    dev, old, pipeline = stack.root, stack.dir / "envs" / "old", stack.dir / "modules" / "pipeline"
    old.mkdir()
    for name in ("main.tf", "variables.tf", "outputs.tf"):
        text = (pipeline / name).read_text()
        text = text.replace('source = "./contract"', 'source = "../../modules/pipeline/contract"')
        text = re.sub(r'source = "\.\./(\w+)"', r'source = "../../modules/\1"', text)
        (old / name).write_text(text)
    # the provider's Environment tag names the env; modules/pipeline has its own
    # local.environment (the functions' variables)
    versions = (dev / "versions.tf").read_text().replace("local.environment", '"dev"')
    (old / "versions.tf").write_text(versions)
    for override in dev.glob("*override*.tf"):
        shutil.copy2(override, old / override.name)
    (old / "env.tf").write_text(
        'variable "region" {\n  type = string\n}\n\n'
        'variable "tags" {\n  type    = map(string)\n  default = {}\n}\n'
    )
    values = json.loads(next(dev.glob("*.tfvars.json")).read_text())
    limits = {**values.get("limits", {}), "chunk_bytes_minimum": 1024}
    (old / "old.auto.tfvars.json").write_text(
        json.dumps({**values, **DEV_SWITCHES, "limits": limits})
    )


@pytest.fixture
def dev_stack(tmp_path):
    """dev_stack(prefix) -> (deployed, stack): a Deployment of envs/dev's values under `prefix`
    with the build's artifacts, its embedded moto started, and its DevStack (envs/dev) not yet
    initialised; the emulator is closed after the test."""
    from localrun.pipeline import Deployment, dev_variables
    from localrun.stack import DevStack, require_terraform

    require_terraform()
    opened = []

    def start(prefix: str):
        deployed = Deployment(dev_variables(prefix=prefix), work_dir=tmp_path)
        opened.append(deployed)
        zips, layer_zip, architecture = deployed._artifacts()
        deployed.emulator.start()
        deployed.stack = DevStack(
            deployed.emulator.endpoint_url,
            zips,
            deployed.variables,
            layer_zip=layer_zip,
            architecture=architecture,
            work_dir=tmp_path / "terraform",
        )
        return deployed, deployed.stack

    yield start
    for deployed in opened:
        deployed.close()


def test_an_old_layout_deployment_upgrades_with_moves_only(dev_stack):
    _, stack = dev_stack("etl-upgrade")
    dev = stack.root
    _old_layout_root(stack)
    stack.root = stack.dir / "envs" / "old"
    stack.init()
    stack.apply()
    old_state = [a for a in stack.state_resources() if ".data." not in f".{a}"]
    assert {a.split(".")[1] for a in old_state} == set(OLD_LAYOUT)
    assert len(old_state) > 40

    # The upgrade: the same state under the real envs/dev.
    shutil.copy2(stack.root / "terraform.tfstate", dev / "terraform.tfstate")
    stack.root = dev
    stack.init()
    code, output = stack._run("plan", ok_codes=(0,))
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in output, output[-6000:]
    moved = re.findall(r"# (module\.\S+) has moved to (module\.pipeline\.\S+)", output)
    assert sorted(old for old, _ in moved) == sorted(old_state)
    assert all(new == f"module.pipeline.{old}" for old, new in moved)
    stack.destroy()
    assert stack.state_resources() == []


# The last commit before datasets: envs/dev with one schema_file (config/schema.json) and the
# Glue tables `processed` and `rejected` over the whole prefixes.
SINGLE_SCHEMA_COMMIT = "2f35bfc6ae272b0ad5a6af4800f4e142504f9aab"
SINGLE_SCHEMA_TREE = ("envs/dev", "modules", "schemas", REPO_RELATIVE_PATH)
STORAGE = "module.pipeline.module.storage"
# What the upgrade may replace: the single schema object and the Glue tables (metadata only).
REPLACED = {
    f"{STORAGE}.aws_s3_object.schema",
    f"{STORAGE}.aws_glue_catalog_table.processed[0]",
    f"{STORAGE}.aws_glue_catalog_table.rejected[0]",
}
ADDED = {
    f'{STORAGE}.aws_s3_object.schema["transactions"]',
    f'{STORAGE}.aws_glue_catalog_table.processed["transactions_v1"]',
    f'{STORAGE}.aws_glue_catalog_table.rejected["transactions_v1"]',
    # the execution-ended clean-up (issue 18 item 4), new since the single-schema commit
    "module.pipeline.module.orchestration.aws_cloudwatch_event_rule.execution_ended",
    "module.pipeline.module.orchestration.aws_cloudwatch_event_target.execution_ended",
    "module.pipeline.module.orchestration.aws_lambda_permission.execution_ended",
    "module.pipeline.module.orchestration.aws_iam_role_policy.execution_ended_handler",
    # its failed invocations go to the events dead-letter queue after Lambda's retries
    "module.pipeline.module.orchestration.aws_lambda_function_event_invoke_config.execution_ended",
    "module.pipeline.module.orchestration.aws_iam_role_policy.execution_ended_failures",
}
KEPT = (
    "aws_s3_bucket.",
    "aws_dynamodb_table.",
    "aws_kms_key.",
    "aws_kms_alias.",
    "aws_sqs_queue.",
    "aws_sns_topic.",
    "aws_glue_catalog_database.",
)


def _single_schema_tree(stack, repo) -> object:
    """<tree>/single: envs/dev, modules, schemas and contract.json as of SINGLE_SCHEMA_COMMIT,
    with this stack's build and envs/dev's test overrides; its variables with schema_file."""
    single = stack.dir / "single"
    single.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", SINGLE_SCHEMA_COMMIT, *SINGLE_SCHEMA_TREE],
        capture_output=True,
        check=False,
    )
    assert archive.returncode == 0, (
        f"the upgrade test needs {SINGLE_SCHEMA_COMMIT} in the git history (a full clone:"
        f" git fetch --unshallow): {archive.stderr.decode()}"
    )
    subprocess.run(["tar", "-x", "-C", str(single)], input=archive.stdout, check=True)
    shutil.copytree(stack.dir / "dist", single / "dist")
    root = single / "envs" / "dev"
    for override in stack.root.glob("*override*.tf"):
        shutil.copy2(override, root / override.name)
    values = json.loads(next(stack.root.glob("*.tfvars.json")).read_text())
    (schema,) = values.pop("datasets").values()
    (root / "single.auto.tfvars.json").write_text(json.dumps({**values, **schema}))
    return root


def _planned_changes(stack) -> dict[str, list[str]]:
    """{address: actions} of `terraform plan` in the stack's root."""
    stack._run("plan", "-out=upgrade.tfplan")
    _, shown = stack._run("show", "-json", "upgrade.tfplan")
    return {
        c["address"]: c["change"]["actions"]
        for c in json.loads(shown)["resource_changes"]
        if c["change"]["actions"] != ["no-op"] and c["mode"] == "managed"
    }


def test_a_single_schema_deployment_upgrades_to_datasets_keeping_its_data(dev_stack):
    from localrun.stack import REPO

    deployed, stack = dev_stack("etl-datasets")
    dev = stack.root
    stack.root = _single_schema_tree(stack, REPO)
    stack.init()
    stack.apply()
    before = stack.state_values()
    bucket = before[f"{STORAGE}.aws_s3_bucket.this[0]"]["bucket"]
    s3 = boto3.client(
        "s3",
        endpoint_url=deployed.emulator.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    written_before = "processed/2026/12/day/version=0123456789abcdef/chunk-000000.parquet"
    s3.put_object(Bucket=bucket, Key=written_before, Body=b"PAR1 stand-in")

    shutil.copy2(stack.root / "terraform.tfstate", dev / "terraform.tfstate")
    stack.root = dev
    stack.init()
    changes = _planned_changes(stack)
    deleted = {a for a, actions in changes.items() if "delete" in actions}
    assert deleted == REPLACED, changes
    assert {a for a, actions in changes.items() if actions == ["create"]} == ADDED
    # kept: never destroyed or replaced (an in-place update, e.g. the key policy scoped to
    # the pipeline's rules and alarms since, is allowed; the ARNs are compared below)
    assert not [
        a
        for a, actions in changes.items()
        if "delete" in actions and any(f".{kind}" in a for kind in KEPT)
    ], changes

    stack.apply()
    after = stack.state_values()
    for address, values in before.items():
        if any(f".{kind}" in address for kind in KEPT):
            assert after[address]["arn"] == values["arn"], address
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert {written_before, "config/schemas/transactions.json"} <= keys
    assert "config/schema.json" not in keys
    assert stack.plan_exit_code()[0] == 0
