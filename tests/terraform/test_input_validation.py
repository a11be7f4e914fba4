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

TERRAFORM = shutil.which("terraform")
pytestmark = pytest.mark.skipif(TERRAFORM is None, reason="terraform is not installed")

STORAGE_REQUIRED = {
    "prefix": "etl-test",
    "prefixes": {
        k: f"{k}/"
        for k in ("incoming", "staging", "manifests", "work", "processed", "rejected", "config")
    },
    "schema_file": "schema.json",
    "datasets": {"transactions": {"schema_file": "schema.json"}},
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


# --- envs: reserved_concurrency ------------------------------------------------------------


def test_env_reserved_concurrency_defaults(env_root):
    env, root = env_root
    from tfhcl import variables_of as _variables_of

    assert all("validation" not in b for b in _variables_of(ENVS_DIR / env).values()), env
    root.accepts(PIPELINE_REQUIRED)
    # prod reserves the processor; dev leaves everything unreserved.
    from tfhcl import unquote, variables_of

    default = variables_of(ENVS_DIR / env)["reserved_concurrency"]["default"]
    assert {unquote(k): v for k, v in default.items()} == (
        {"processor": 50} if env == "prod" else {}
    )


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
        ({"chunk_bytes": 1024}, False),
        ({"chunk_bytes": 1048576}, True),
        ({"chunk_bytes": 1024, "chunk_bytes_minimum": 1024}, True),
        ({"chunk_bytes": 1023, "chunk_bytes_minimum": 1024}, False),
    ],
    ids=["prod-minimum", "one-mib", "dev-minimum", "under-dev-minimum"],
)
def test_chunk_bytes_minimum_is_per_environment(pipeline_vars, values, accepted):
    """prod keeps the 1 MiB floor; dev lowers it to 1 KiB (chunk_bytes_minimum)."""
    if accepted:
        pipeline_vars.accepts({**PIPELINE_REQUIRED, **values})
    else:
        pipeline_vars.refuses({**PIPELINE_REQUIRED, **values}, "at least chunk_bytes_minimum")


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


# --- modules/pipeline: datasets ------------------------------------------------------------


def test_datasets_default_and_valid_names_are_accepted(pipeline_vars):
    pipeline_vars.accepts(PIPELINE_REQUIRED)
    pipeline_vars.accepts(
        {
            **PIPELINE_REQUIRED,
            "datasets": {
                "transactions": {"schema_file": "a.json"},
                "fx_rates_2": {"schema_file": "b.json"},
            },
        }
    )


@pytest.mark.parametrize("name", ["Trades", "2024", "fx-rates", "_x", "a" * 64, ""])
def test_a_dataset_name_must_be_lower_case_letters_digits_and_underscores(pipeline_vars, name):
    pipeline_vars.refuses(
        {**PIPELINE_REQUIRED, "datasets": {name: {"schema_file": "a.json"}}},
        "Every datasets key must match ^[a-z][a-z0-9_]{0,62}$",
    )


def test_the_old_schema_file_input_is_refused_saying_what_to_write(pipeline_vars):
    pipeline_vars.refuses(
        {**PIPELINE_REQUIRED, "schema_file": "schemas/transactions.json"},
        "schema_file is replaced by datasets: write datasets = { transactions = { "
        'schema_file = "<the same path>" } } and upload files under incoming/transactions/.',
    )
