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


PIPELINE = MODULES_DIR / "pipeline"
CONTRACT_READER = PIPELINE / "contract"


def _module_call(name: str, root=PIPELINE) -> dict:
    calls = {n: b for _, parsed in load_dir(root) for n, b in blocks(parsed, "module")}
    return calls[name]


def test_pipeline_builds_lambda_environment_from_contract_env():
    pipeline_locals = locals_of(PIPELINE)
    # The variable NAMES come only from contract.json `env` ...
    assert (
        expr(pipeline_locals["environment"])
        == "{for key, name in module.contract.env : name => local.env_values[key]}"
    )
    # ... and there is a value for every contract key (no more, no less).
    assert set(pipeline_locals["env_values"]) == set(CONTRACT["env"])
    assert expr(locals_of(CONTRACT_READER)["contract"]) == (
        'jsondecode(file(coalesce(var.contract_file, "${local.repo_root}/lambdas/etl/contract.json")))'
    )
    assert expr(_module_call("compute")["environment"]) == "local.environment"


@pytest.mark.parametrize("env", ENVS)
def test_envs_read_no_contract_and_build_nothing_themselves(env):
    """The glue lives once, in modules/pipeline: an env has one module call, no locals, and
    reads no file."""
    calls = [n for _, parsed in load_dir(ENVS_DIR / env) for n, _ in blocks(parsed, "module")]
    assert calls == ["pipeline"]
    assert expr(_module_call("pipeline", ENVS_DIR / env)["source"]) == "../../modules/pipeline"
    assert locals_of(ENVS_DIR / env) == {}
    text = "\n".join(p.read_text(encoding="utf-8") for p in (ENVS_DIR / env).glob("*.tf"))
    assert not re.search(r"\b(file|jsondecode|templatefile)\(", text)
    assert "local.contract" not in text and "module.contract" not in text


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
    for module in ("compute", "observability"):
        assert (
            expr(_module_call(module)["metrics_namespace"]) == "module.contract.metrics.namespace"
        )
    custom = {k: expr(v) for k, v in _module_call("observability")["custom_metrics"].items()}
    assert custom == {
        "dimension": "module.contract.metrics.dimension",
        "emitted": "keys(module.contract.metrics.emitted)",
    }


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


def test_functions_handlers_and_access_come_from_contract():
    functions = expr(locals_of(CONTRACT_READER)["functions"])
    assert functions.startswith("{for name, fn in local.contract.functions : name => merge(")
    for attr in ("handler", "description", "s3_read", "s3_write", "s3_delete", "s3_list"):
        assert f"{attr} = fn.{attr}" in functions
    # Reserved concurrency has one input, keyed by contract name.
    assert "reserved_concurrency = lookup(var.reserved_concurrency, name, null)" in functions
    assert expr(_module_call("compute")["functions"]) == "module.contract.functions"
    assert expr(_module_call("compute")["dynamodb_actions"]) == "module.contract.dynamodb_actions"
    # S3 prefixes, the schema key and the table keys too.
    storage = _module_call("storage")
    assert expr(storage["prefixes"]) == "module.contract.prefixes"
    assert expr(storage["schema_object_key_pattern"]) == "module.contract.schema_object_key_pattern"
    assert expr(storage["table_key"]) == "module.contract.table_key"


def test_compute_names_and_handlers_follow_the_contract():
    compute_locals = locals_of(MODULES_DIR / "compute")
    assert expr(compute_locals["function_names"]) == (
        "{for name, _ in var.functions : name => "
        'replace(local.function_name_pattern, "{function}", replace(name, "_", "-"))}'
    )
    names = {k: expr(v) for k, v in _module_call("compute")["names"].items()}
    assert names == {"function": "local.names.function", "layer": "local.names.layer"}
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
            "dynamodb",
        }, f"{name}: unknown contract keys (modules/pipeline/contract passes only these)"
    # Nothing may write under incoming/: that would re-trigger the pipeline.
    assert all("incoming" not in fn["s3_write"] for fn in CONTRACT["functions"].values())


def test_event_rule_filters_the_contract_incoming_prefix():
    call = _module_call("orchestration")
    assert expr(call["incoming_prefix"]) == "module.contract.prefixes.incoming"
    assert expr(call["manifests_prefix"]) == "module.contract.prefixes.manifests"
    (rule,) = [
        b
        for _, t, _, b in module_blocks(MODULES_DIR / "orchestration", "resource")
        if t == "aws_cloudwatch_event_rule"
    ]
    pattern = expr(rule["event_pattern"])
    assert "prefix = var.incoming_prefix" in pattern and '"Object Created"' in pattern
