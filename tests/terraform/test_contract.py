"""Terraform and the handlers agree on the names in lambdas/etl/contract.json."""

from __future__ import annotations

import re

import pytest
from tfhcl import (
    ENVS,
    ENVS_DIR,
    MODULES_DIR,
    REPO,
    blocks,
    contract,
    expr,
    load_dir,
    locals_of,
    module_blocks,
    tf_files,
)

CONTRACT = contract()
POWERTOOLS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}


def _module_call(env: str, name: str) -> dict:
    calls = {n: b for _, parsed in load_dir(ENVS_DIR / env) for n, b in blocks(parsed, "module")}
    return calls[name]


@pytest.mark.parametrize("env", ENVS)
def test_env_builds_lambda_environment_from_contract_env(env):
    env_locals = locals_of(ENVS_DIR / env)
    # The variable NAMES come only from contract.json `env` ...
    assert (
        expr(env_locals["environment"])
        == "{for key, name in local.contract.env : name => local.env_values[key]}"
    )
    # ... and there is a value for every contract key (no more, no less).
    assert set(env_locals["env_values"]) == set(CONTRACT["env"])
    assert (
        expr(env_locals["contract"])
        == 'jsondecode(file("${path.module}/../../lambdas/etl/contract.json"))'
    )
    assert expr(_module_call(env, "compute")["environment"]) == "local.environment"


def test_compute_adds_only_powertools_variables_and_sets_them_on_every_function():
    compute_locals = locals_of(MODULES_DIR / "compute")
    merged = expr(compute_locals["environment"])
    assert merged.startswith("merge(var.environment, {")
    assert set(re.findall(r"\b(POWERTOOLS_[A-Z_]+)\s*=", merged)) == POWERTOOLS
    functions = [
        b
        for _, t, _, b in module_blocks(MODULES_DIR / "compute", "resource")
        if t == "aws_lambda_function"
    ]
    assert len(functions) == 1
    assert expr(functions[0]["environment"][0]["variables"]) == "local.environment"


def test_metrics_namespace_comes_from_contract():
    for env in ENVS:
        for module in ("compute", "observability"):
            assert (
                expr(_module_call(env, module)["metrics_namespace"])
                == "local.contract.metrics.namespace"
            )


def _handler_sources() -> dict[str, str]:
    return {str(p): p.read_text(encoding="utf-8") for p in (REPO / "lambdas").rglob("*.py")}


def test_handlers_read_exactly_the_contract_env_through_etl_contract():
    """Handlers read settings as ENV["<contract key>"] (etl.contract); the keys they use are the
    contract's keys, so the names Terraform sets are the names they read."""
    sources = _handler_sources()
    if not sources:
        pytest.skip("no handler code under lambdas/ yet")
    keys = {k for text in sources.values() for k in re.findall(r"\bENV\[[\"'](\w+)[\"']\]", text)}
    assert keys == set(CONTRACT["env"]), (
        f"handlers read {sorted(keys)}, contract.json env has {sorted(CONTRACT['env'])}"
    )


def test_handlers_use_no_literal_etl_names_outside_the_contract():
    """A literal ETL_* name in handler code must be a contract name, or a test-only switch
    (ETL_TEST_*) that Terraform never sets."""
    names = set(CONTRACT["env"].values())
    used = {
        n
        for text in _handler_sources().values()
        for n in re.findall(r"[\"'](ETL_[A-Z0-9_]+)[\"']", text)
    }
    assert {n for n in used if not n.startswith("ETL_TEST_")} <= names
    for path in tf_files(MODULES_DIR, ENVS_DIR):
        assert "ETL_TEST_" not in path.read_text(encoding="utf-8"), (
            f"{path} sets a test-only variable"
        )


def test_etl_contract_module_exposes_the_same_names():
    etl_contract = pytest.importorskip("etl.contract")
    assert CONTRACT["env"] == etl_contract.ENV
    assert CONTRACT["functions"] == etl_contract.FUNCTIONS
    assert CONTRACT["prefixes"] == etl_contract.PREFIXES


@pytest.mark.parametrize("env", ENVS)
def test_functions_handlers_and_access_come_from_contract(env):
    functions = expr(locals_of(ENVS_DIR / env)["functions"])
    assert functions.startswith("{for name, fn in local.contract.functions : name => merge(")
    for attr in ("handler", "description", "s3_read", "s3_write", "s3_delete"):
        assert f"{attr} = fn.{attr}" in functions
    # s3_list is optional in contract.json (only functions that list without deleting).
    assert "s3_list = try(fn.s3_list, [])" in functions
    # Reserved concurrency has one input per env, keyed by contract name.
    assert "reserved_concurrency = lookup(var.reserved_concurrency, name, null)" in functions
    assert expr(_module_call(env, "compute")["functions"]) == "local.functions"
    # S3 prefixes and the schema key too.
    storage = _module_call(env, "storage")
    assert expr(storage["prefixes"]) == "local.contract.prefixes"
    assert expr(storage["schema_object_key"]) == "local.contract.schema_object_key"


def test_compute_names_and_handlers_follow_the_contract():
    compute_locals = locals_of(MODULES_DIR / "compute")
    assert (
        expr(compute_locals["function_names"])
        == '{for name, _ in var.functions : name => "${var.prefix}-${replace(name, "_", "-")}"}'
    )
    (fn,) = [
        b
        for _, t, _, b in module_blocks(MODULES_DIR / "compute", "resource")
        if t == "aws_lambda_function"
    ]
    assert expr(fn["for_each"]) == "var.functions"
    assert expr(fn["function_name"]) == "local.function_names[each.key]"
    assert expr(fn["handler"]) == "each.value.handler"
    assert expr(fn["description"]) == "each.value.description"


def test_contract_functions_have_handlers_matching_their_names():
    for name, fn in CONTRACT["functions"].items():
        assert fn["handler"] == f"{name}.handler"
        for kind in ("s3_read", "s3_write", "s3_delete", "s3_list"):
            assert set(fn.get(kind, [])) <= set(CONTRACT["prefixes"]), (
                f"{name}.{kind} names an unknown prefix"
            )
        assert set(fn) <= {
            "handler",
            "description",
            "s3_read",
            "s3_write",
            "s3_delete",
            "s3_list",
        }, f"{name}: unknown contract keys (the envs pass only these to the compute module)"
    # Nothing may write under incoming/: that would re-trigger the pipeline.
    assert all("incoming" not in fn["s3_write"] for fn in CONTRACT["functions"].values())


def test_event_rule_filters_the_contract_incoming_prefix():
    for env in ENVS:
        call = _module_call(env, "orchestration")
        assert expr(call["incoming_prefix"]) == "local.contract.prefixes.incoming"
        assert expr(call["manifests_prefix"]) == "local.contract.prefixes.manifests"
    (rule,) = [
        b
        for _, t, _, b in module_blocks(MODULES_DIR / "orchestration", "resource")
        if t == "aws_cloudwatch_event_rule"
    ]
    pattern = expr(rule["event_pattern"])
    assert "prefix = var.incoming_prefix" in pattern and '"Object Created"' in pattern
