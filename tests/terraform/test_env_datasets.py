"""The deploy sessions check every dataset their environment deploys, read by Terraform.

`deploy-dev`, `plan-prod` and `apply-prod` run, after `terraform init` and before plan/apply,
`terraform console` in the initialised env root with the session's own -var/-var-file
arguments (buildtools/env_datasets.py), and check each dataset's schema file against that
dataset's releases (`<dir of the file>/released/<dataset>/`, where
modules/storage/catalog_columns.tf reads them). Here the sessions run for real on the test tree's
initialised envs/dev and envs/prod (tfplugin.py), with nox, the build, the AWS checks and the
terraform init/plan/apply commands replaced (FakeSession records them): the console call is
the real one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tfrun import require_terraform

from buildtools import env_datasets
from tests.fake_nox import FakeSession, Stop

pytest_plugins = ["tfplugin"]
pytestmark = pytest.mark.tftest

V1 = {
    "name": "orders",
    "version": 1,
    "fields": [
        {"name": "id", "type": "string", "constraints": {"required": True}},
        {"name": "amount", "type": "number", "precision": 10, "scale": 2},
        {"name": "note", "type": "string"},
    ],
}
COMPATIBLE = {**V1, "version": "1.1", "fields": [*V1["fields"], {"name": "channel"}]}
INCOMPATIBLE = {**V1, "version": "1.1", "fields": V1["fields"][:2]}  # note removed
NOTE_REMOVED = (
    "note: FIELD_NO_DELETE: removed: queries that select it fail and its published values "
    "become unreachable through the table; keep it (make it optional), or declare a new major "
    'version ("version": "2")'
)
FEED = Path("feeds/orders-v1.json")


def write(path: Path, doc: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


@pytest.fixture
def feed(tmp_path, monkeypatch):
    """Dataset orders at feeds/orders-v1.json (outside schemas/, another name), released as
    v1 at feeds/released/orders/v1.json; the working folder is tmp_path."""
    write(tmp_path / "feeds" / "released" / "orders" / "v1.json", V1)
    monkeypatch.chdir(tmp_path)
    return write(tmp_path / FEED, V1)


@pytest.fixture
def tf_process_env(tf_env, monkeypatch):
    """The sessions' terraform subprocesses get the tests' CLI config, no AWS_*."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in tf_env.items():
        monkeypatch.setenv(name, value)


def var_file(tmp_path: Path, env_root: Path, schema: Path) -> str:
    """A -var-file declaring dataset orders with its schema_file relative to the env root,
    as a user writes it (Terraform resolves it against the root)."""
    rel = os.path.relpath(schema, env_root)
    path = tmp_path / "datasets.tfvars"
    path.write_text(f'datasets = {{ orders = {{ schema_file = "{rel}" }} }}\n')
    return f"-var-file={path}"


def run_session(noxfile, monkeypatch, tf_tree, name: str, posargs: list[str]) -> FakeSession:
    """noxfile's session `name` on the test tree: init/plan/apply recorded, not run."""
    monkeypatch.setattr(noxfile, "HERE", tf_tree)
    monkeypatch.setattr(noxfile, "require_terraform", lambda s: require_terraform())
    monkeypatch.setattr(noxfile, "require_aws_provider", lambda *a: None)
    monkeypatch.setattr(noxfile, "require_aws_credentials", lambda s: None)
    monkeypatch.setattr(noxfile, "package_artifacts", lambda s, a: tf_tree / "dist/manifest.json")
    session = FakeSession(tf_tree, posargs)
    getattr(noxfile, name).func(session)
    return session


def ran(session: FakeSession) -> list[str]:
    """The terraform subcommands the session ran (init, plan, apply)."""
    return [call[1][2] for call in session.calls if call[0] == "run"]


@pytest.fixture
def dev_root(tf_root, tf_process_env):
    return tf_root("envs/dev")


def test_deploy_dev_refuses_an_incompatible_change_of_a_dataset_outside_schemas(
    noxfile_module, monkeypatch, tf_tree, dev_root, feed, tmp_path
):
    write(feed, INCOMPATIBLE)
    args = [var_file(tmp_path, dev_root, feed)]
    with pytest.raises(Stop) as stop:
        run_session(noxfile_module, monkeypatch, tf_tree, "deploy_dev", args)
    assert str(stop.value).splitlines() == [
        "dataset schema check failed (docs/schema-versions.md):",
        f"{FEED} (dataset orders): {NOTE_REMOVED}",
    ]


def test_deploy_dev_applies_the_same_dataset_after_a_compatible_change(
    noxfile_module, monkeypatch, tf_tree, dev_root, feed, tmp_path
):
    write(feed, COMPATIBLE)
    args = [var_file(tmp_path, dev_root, feed), "-auto-approve"]
    session = run_session(noxfile_module, monkeypatch, tf_tree, "deploy_dev", args)
    assert ran(session) == ["init", "apply"]
    assert session.calls[-1][1][-2:] == (args[0], "-auto-approve")


def test_plan_prod_refuses_a_dataset_not_released_yet_naming_the_release_command(
    noxfile_module, monkeypatch, tf_tree, tf_root, tf_process_env, feed, tmp_path
):
    prod_root = tf_root("envs/prod")  # its backend is local here (tfplugin.py)
    write(feed, COMPATIBLE)
    args = [var_file(tmp_path, prod_root, feed)]
    backend = prod_root / "backend.hcl"  # the session requires it; init is not run here
    backend.write_text("")
    try:
        with pytest.raises(Stop) as stop:
            run_session(noxfile_module, monkeypatch, tf_tree, "plan_prod", args)
    finally:
        backend.unlink()
    assert str(stop.value).splitlines()[1:] == [
        f"{FEED} (dataset orders): $.version: SCHEMA_RELEASED: version 1.1 is not released "
        "(feeds/released/orders/v1.json): run `python3 noxfile.py -s schemas -- release "
        f"orders={FEED}` and commit the baseline before deploying to prod"
    ]


def test_deploy_dev_refuses_a_dataset_whose_schema_file_is_missing(
    noxfile_module, monkeypatch, tf_tree, dev_root, feed, tmp_path
):
    args = [var_file(tmp_path, dev_root, feed.with_name("gone.json"))]
    with pytest.raises(Stop) as stop:
        run_session(noxfile_module, monkeypatch, tf_tree, "deploy_dev", args)
    assert str(stop.value).splitlines()[1:] == [
        "feeds/gone.json (dataset orders): cannot read the schema file (No such file or "
        "directory): dataset orders cannot be checked, so it is not deployed; create the file, "
        "or point datasets.orders.schema_file at the dataset's Table Schema (null: "
        "schemas/orders.json)"
    ]


def test_the_datasets_are_read_from_every_source_terraform_merges(
    dev_root, tf_tree, feed, tmp_path, monkeypatch
):
    terraform = require_terraform()
    # no variables given: the default, transactions at <repo>/schemas/transactions.json
    assert env_datasets.read(terraform, dev_root, ["-auto-approve"], root=tf_tree) == {
        "transactions": tf_tree / "schemas" / "transactions.json"
    }
    # TF_VAR_datasets, then -var over it (Terraform's precedence), a relative path resolved
    # against the env root
    monkeypatch.setenv("TF_VAR_datasets", '{"orders" = {}}')
    assert env_datasets.read(terraform, dev_root, root=tf_tree) == {
        "orders": tf_tree / "schemas" / "orders.json"
    }
    rel = os.path.relpath(feed, dev_root)
    given = ["-var", f'datasets={{ orders = {{ schema_file = "{rel}" }}, more = {{}} }}']
    assert env_datasets.read(terraform, dev_root, given, root=tf_tree) == {
        "more": tf_tree / "schemas" / "more.json",
        "orders": feed,
    }


def test_a_datasets_value_terraform_refuses_stops_the_check(dev_root, tf_tree):
    with pytest.raises(env_datasets.DatasetsUnreadable) as err:
        env_datasets.read(require_terraform(), dev_root, ["-var=datasets=oops"], root=tf_tree)
    assert str(err.value).startswith(
        "cannot read the datasets envs/dev deploys (`terraform console` exit 1: Error: "
    )
    assert str(err.value).endswith(
        "), so their schemas cannot be checked: fix what Terraform reports and deploy again"
    )


def test_var_args_keeps_only_what_console_takes():
    given = ["-auto-approve", "-var", "a=1", "--var-file=x.tfvars", "-target=m", "-var=b=2"]
    assert env_datasets.var_args(given) == ["-var=a=1", "--var-file=x.tfvars", "-var=b=2"]
