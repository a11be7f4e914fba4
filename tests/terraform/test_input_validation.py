"""Input validations, evaluated by Terraform itself (issue 10, items 6 and 7).

Each case copies a root's or a module's variables.tf (plus the locals its validations read)
into a temporary root with no resources, so `terraform plan` needs no provider and no
network, and runs the real validation rules on the given values.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from tfhcl import CONTRACT_PATH, ENVS_DIR, MODULES_DIR

TRANSACTIONS = MODULES_DIR.parent / "schemas" / "transactions.json"

TERRAFORM = shutil.which("terraform")
pytestmark = pytest.mark.skipif(TERRAFORM is None, reason="terraform is not installed")

STORAGE_REQUIRED = {
    "prefix": "etl-test",
    "names": {
        "bucket": "etl-test-processing-123456789012",
        "table": "etl-test-status",
        "kms_alias": "alias/etl-test-etl",
    },
    "prefixes": {
        k: f"{k}/"
        for k in ("incoming", "staging", "manifests", "work", "processed", "rejected", "config")
    },
    "datasets": {"transactions": {"schema_file": str(TRANSACTIONS)}},
    "table_key": {"partition_key": "file_id", "sort_key": "chunk_id"},
}
PIPELINE_REQUIRED = {"prefix": "etl-test"}


def _env() -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    return env


class Root:
    """A temporary root holding only variable declarations (and locals they read)."""

    def __init__(self, path: Path):
        self.path = path
        proc = subprocess.run(
            [TERRAFORM, "init", "-input=false", "-no-color", "-backend=false"],
            cwd=path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr

    def plan(self, values: dict) -> subprocess.CompletedProcess:
        (self.path / "case.auto.tfvars.json").write_text(json.dumps(values))
        return subprocess.run(
            [TERRAFORM, "plan", "-input=false", "-no-color", "-lock=false", "-refresh=false"],
            cwd=self.path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def accepts(self, values: dict) -> None:
        proc = self.plan(values)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    def refuses(self, values: dict, *fragments: str) -> str:
        proc = self.plan(values)
        text = " ".join((proc.stdout + proc.stderr).split())
        assert proc.returncode != 0, f"accepted {values}"
        assert "Invalid value for variable" in text, text
        for fragment in fragments:
            assert fragment in text, text
        return text


def _root(tmp_path_factory, name: str, source: Path, extra: str = "") -> Root:
    path = tmp_path_factory.mktemp(name)
    shutil.copy2(source / "variables.tf", path / "variables.tf")
    if extra:
        (path / "locals.tf").write_text(extra)
    return Root(path)


@pytest.fixture(scope="module")
def storage(tmp_path_factory) -> Root:
    return _root(tmp_path_factory, "storage-vars", MODULES_DIR / "storage")


@pytest.fixture(scope="module")
def pipeline_vars(tmp_path_factory) -> Root:
    # modules/pipeline's validations read local.function_keys (the contract's functions).
    extra = (
        "locals {\n  function_keys = keys(jsondecode(file("
        f"{json.dumps(str(CONTRACT_PATH))})).functions)\n}}\n"
    )
    return _root(tmp_path_factory, "pipeline-vars", MODULES_DIR / "pipeline", extra)


@pytest.fixture(scope="module", params=["dev", "prod"])
def env_root(request, pipeline_vars) -> tuple[str, Root]:
    """The envs validate nothing themselves: their values go through modules/pipeline."""
    return request.param, pipeline_vars


@pytest.fixture(scope="module")
def compute(tmp_path_factory) -> Root:
    return _root(tmp_path_factory, "compute-vars", MODULES_DIR / "compute")


# --- storage: lifecycle_rules --------------------------------------------------------------


def test_storage_defaults_are_accepted(storage):
    storage.accepts(STORAGE_REQUIRED)


@pytest.mark.parametrize("storage_class", ["GLACIER", "DEEP_ARCHIVE"])
def test_processed_cannot_move_to_a_class_athena_skips(storage, storage_class):
    storage.refuses(
        {**STORAGE_REQUIRED, "lifecycle_rules": {"processed_storage_class": storage_class}},
        "Athena does not read GLACIER or DEEP_ARCHIVE",
    )


@pytest.mark.parametrize(
    "storage_class", ["GLACIER_IR", "INTELLIGENT_TIERING", "STANDARD_IA", "STANDARD"]
)
def test_processed_may_move_to_a_class_athena_reads(storage, storage_class):
    storage.accepts(
        {**STORAGE_REQUIRED, "lifecycle_rules": {"processed_storage_class": storage_class}}
    )


def test_standard_ia_needs_30_days(storage):
    storage.refuses(
        {
            **STORAGE_REQUIRED,
            "lifecycle_rules": {
                "processed_storage_class": "STANDARD_IA",
                "processed_transition_after_days": 7,
            },
        },
        "STANDARD_IA after 30 days",
    )


def test_processed_storage_class_names_a_class(storage):
    storage.refuses(
        {**STORAGE_REQUIRED, "lifecycle_rules": {"processed_storage_class": "glacier_ir"}},
        "must be GLACIER_IR, INTELLIGENT_TIERING, STANDARD_IA or STANDARD",
    )


def test_processed_expiry_must_come_after_the_transition(storage):
    storage.refuses(
        {
            **STORAGE_REQUIRED,
            "lifecycle_rules": {
                "processed_transition_after_days": 30,
                "processed_expire_after_days": 30,
            },
        },
        "must be greater than processed_transition_after_days",
    )
    for rules in (
        {"processed_transition_after_days": 30, "processed_expire_after_days": 31},
        {"processed_storage_class": "STANDARD", "processed_expire_after_days": 30},
    ):
        storage.accepts({**STORAGE_REQUIRED, "lifecycle_rules": rules})


@pytest.mark.parametrize(
    "rules",
    [
        {"transient_noncurrent_expire_after_days": 0},
        {"transient_expire_after_days": 0},
        {"noncurrent_expire_after_days": 1.5},
        {"processed_expire_after_days": 0},
    ],
    ids=["noncurrent-0", "transient-0", "fraction", "processed-expiry-0"],
)
def test_scratch_expiry_days_must_be_whole_and_positive(storage, rules):
    storage.refuses({**STORAGE_REQUIRED, "lifecycle_rules": rules}, "at least 1")


@pytest.mark.parametrize("kept", [-1, 101, 0.5])
def test_noncurrent_versions_to_retain_is_bounded(storage, kept):
    storage.refuses(
        {**STORAGE_REQUIRED, "lifecycle_rules": {"noncurrent_versions_to_retain": kept}},
        "from 0 to 100",
    )


# --- datasets --------------------------------------------------------------------------------


def test_the_old_schema_file_is_refused_with_the_line_to_write_instead(env_root):
    _, root = env_root
    root.refuses(
        {**PIPELINE_REQUIRED, "schema_file": "schemas/orders.json"},
        "schema_file was replaced by datasets: write datasets = { transactions = {"
        ' schema_file = "schemas/orders.json" } } instead (and upload files under'
        " incoming/transactions/)",
    )


def test_datasets_default_to_transactions_and_accept_several(env_root):
    _, root = env_root
    root.accepts(PIPELINE_REQUIRED)
    root.accepts({**PIPELINE_REQUIRED, "datasets": {"transactions": {}, "card_payments_2": {}}})


@pytest.mark.parametrize(
    ("datasets", "message"),
    [
        ({}, "datasets needs at least one dataset, e.g. datasets = { transactions = {"),
        (
            {"transactions": {}, "Card-Payments": {}, "2fa": {}},
            'Dataset names must be 1-63 lower-case letters, digits or "_", starting with a'
            " letter (the name is the first segment of the dataset's incoming/ keys and part of"
            " its Glue table names); rename: 2fa, Card-Payments.",
        ),
        ({"d" + "x" * 63: {}}, "rename: d" + "x" * 63 + "."),
        (
            {f"dataset_{i:02d}_{'x' * 50}": {} for i in range(40)},
            "The dataset names take 2479 characters together (comma-separated); at most 2048",
        ),
    ],
    ids=["none", "bad-names", "64-characters", "too-long-for-the-environment"],
)
def test_dataset_names_are_validated(env_root, datasets, message):
    _, root = env_root
    root.refuses({**PIPELINE_REQUIRED, "datasets": datasets}, message)


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (None, "Schema file not found: datasets.orders.schema_file = {path}. Point schema_file"),
        ({"name": "orders", "version": "v2", "fields": []}, "malformed in: {path}."),
        ({"name": "orders", "version": 0, "fields": []}, "major N >= 1; none means 1"),
    ],
    ids=["missing-file", "v-prefix", "major-0"],
)
def test_storage_refuses_a_dataset_whose_schema_it_cannot_place(storage, tmp_path, schema, message):
    path = tmp_path / "orders.json"
    if schema is not None:
        path.write_text(json.dumps(schema))
    datasets = {
        "transactions": {"schema_file": str(TRANSACTIONS)},
        "orders": {"schema_file": str(path)},
    }
    storage.refuses({**STORAGE_REQUIRED, "datasets": datasets}, message.format(path=path))


@pytest.mark.parametrize("version", [1, "1", "2.0", "3.10.7"])
def test_storage_accepts_each_version_form(storage, tmp_path, version):
    path = tmp_path / "orders.json"
    path.write_text(json.dumps({"name": "orders", "version": version, "fields": []}))
    storage.accepts({**STORAGE_REQUIRED, "datasets": {"orders": {"schema_file": str(path)}}})


# --- envs: reserved_concurrency ------------------------------------------------------------


def test_env_reserved_concurrency_defaults(env_root):
    env, root = env_root
    from tfhcl import blocks, load, unquote, variables_of

    assert all("validation" not in b for b in variables_of(ENVS_DIR / env).values()), env
    root.accepts(PIPELINE_REQUIRED)
    # prod reserves the processor; dev leaves everything unreserved.
    (call,) = [b for _, b in blocks(load(ENVS_DIR / env / "main.tf"), "module")]
    reserved = {unquote(k): v for k, v in call.get("reserved_concurrency", {}).items()}
    assert reserved == ({"processor": 50} if env == "prod" else {})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"reserved_concurrency": {"processor": 0}}, "0 would stop the function"),
        ({"reserved_concurrency": {"processor": 12.5}}, "whole numbers of at least 1"),
        ({"reserved_concurrency": {"procesor": 20}}, "keys must be contract function names"),
        (
            {"reserved_concurrency": {"processor": 5}, "max_concurrency": 10},
            "must be at least max_concurrency",
        ),
    ],
    ids=["zero", "fraction", "unknown-function", "below-max-concurrency"],
)
def test_env_reserved_concurrency_is_validated(env_root, values, message):
    _, root = env_root
    root.refuses({**PIPELINE_REQUIRED, **values}, message)


def test_env_reserved_concurrency_may_cover_other_functions(env_root):
    _, root = env_root
    root.accepts(
        {
            **PIPELINE_REQUIRED,
            "reserved_concurrency": {"processor": 40, "splitter": 5},
            "max_concurrency": 40,
        }
    )


@pytest.mark.parametrize(
    ("values", "accepted"),
    [
        ({"limits": {"chunk_bytes": 1024}}, False),
        ({"limits": {"chunk_bytes": 1048576}}, True),
        ({"limits": {"chunk_bytes": 1024, "chunk_bytes_minimum": 1024}}, True),
        ({"limits": {"chunk_bytes": 1023, "chunk_bytes_minimum": 1024}}, False),
    ],
    ids=["prod-minimum", "one-mib", "dev-minimum", "under-dev-minimum"],
)
def test_chunk_bytes_minimum_is_per_environment(pipeline_vars, values, accepted):
    """prod keeps the 1 MiB floor; dev lowers it to 1 KiB (limits.chunk_bytes_minimum)."""
    if accepted:
        pipeline_vars.accepts({**PIPELINE_REQUIRED, **values})
    else:
        pipeline_vars.refuses(
            {**PIPELINE_REQUIRED, **values}, "at least limits.chunk_bytes_minimum"
        )


# --- compute: reserved_concurrency per function ---------------------------------------------


def _compute_values(reserved) -> dict:
    fn = {
        "handler": "splitter.handler",
        "description": "d",
        "zip_path": "x.zip",
        "zip_base64sha256": "x",
        "reserved_concurrency": reserved,
    }
    return {
        "artifacts_bucket": "b",
        "dynamodb_actions": {"splitter": []},
        "bucket_arn": "arn:aws:s3:::b",
        "environment": {},
        "functions": {"splitter": fn},
        "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/k",
        "layer": {"path": "l.zip", "sha256": "x", "base64sha256": "x"},
        "metrics_namespace": "CsvEtl",
        "names": {"function": "etl-test-{function}", "layer": "etl-test-deps", "service": "s"},
        "prefix": "etl-test",
        "prefixes": {"incoming": "incoming/"},
        "table_arn": "arn:aws:dynamodb:us-east-1:123456789012:table/t",
    }


@pytest.mark.parametrize("reserved", [None, 1, 200])
def test_compute_accepts_unreserved_or_positive_concurrency(compute, reserved):
    compute.accepts(_compute_values(reserved))


@pytest.mark.parametrize("reserved", [0, -1, 2.5])
def test_compute_refuses_zero_negative_or_fractional_concurrency(compute, reserved):
    compute.refuses(_compute_values(reserved), "0 would stop the function")
