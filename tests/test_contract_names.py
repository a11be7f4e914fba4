"""contract.json is the one source of the shared names: every copy in Python or prose is
derived from it or checked against it here.

* ``etl.contract`` is the only Python reader of contract.json;
* every ``metrics.add_metric`` in lambdas/ is in ``metrics.emitted`` with the same unit and
  emitting function, and every listed metric is emitted;
* ``contract.functions.*.dynamodb`` is exactly what each handler calls through the status
  store (the derivation of tests/terraform/test_iam_policies.py, reused);
* etl/status.py's key attribute names and sort keys are the contract's ``table``, and no
  other module in lambdas/ spells them (they call ``status.chunk_index``);
* docs/contracts.md's table of template variables lists ``state_machine`` exactly;
* docs/contracts.md's "Resource names" list is generated from ``names``
  (tools/contract_names.py writes it: ``python3 noxfile.py -s docs``).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "lambdas") not in sys.path:
    sys.path.append(str(REPO / "lambdas"))

from etl import contract as contract_module  # noqa: E402
from etl.contract import CONTRACT  # noqa: E402

from tools.contract_names import BEGIN, END, docs_block, resource_names_markdown  # noqa: E402

LAMBDAS = REPO / "lambdas"
DOCS = REPO / "docs" / "contracts.md"
SKIP_DIRS = {
    ".git",
    ".nox",
    ".venv",
    ".venv-nox",
    ".terraform",
    "dist",
    "__pycache__",
    "node_modules",
    ".build-cache",
}
# Python files that name contract.json without parsing it, and why.
NOT_READERS = {
    # the reader itself
    "lambdas/etl/contract.py": "the one reader",
    # copies the file into the temporary tree Terraform tests run in; Terraform reads it
    "tests/terraform/tfrun.py": "copies it for Terraform (jsondecode(file(...)))",
}


# --------------------------------------------------------------------------- one reader
def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def contract_json_paths(source: str) -> list[int]:
    """Lines of string literals (not docstrings) that are a path ending in contract.json:
    the way a reader names the file (open, read_text, Path / "contract.json", json.load)."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    return sorted(
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docs
        and re.search(r"(^|[/\\])contract\.json$", node.value)
    )


def python_files() -> list[Path]:
    return sorted(
        p for p in REPO.rglob("*.py") if not SKIP_DIRS.intersection(p.relative_to(REPO).parts[:-1])
    )


def test_the_scan_finds_a_reader():
    assert contract_json_paths('p = root / "etl" / "contract.json"\n') == [1]
    assert contract_json_paths('json.load(open("lambdas/etl/contract.json"))\n') == [1]
    assert contract_json_paths('"""Reads contract.json."""\nx = "see contract.json docs"\n') == []


def test_etl_contract_is_the_only_python_reader_of_contract_json():
    readers = {}
    for path in python_files():
        rel = path.relative_to(REPO).as_posix()
        lines = contract_json_paths(path.read_text(encoding="utf-8"))
        if lines and rel not in NOT_READERS:
            readers[rel] = lines
    assert readers == {}, "read the contract with etl.contract (CONTRACT / load()), not by path"
    assert contract_module.PATH == REPO / contract_module.REPO_RELATIVE_PATH


# --------------------------------------------------------------------------- metrics
def _literal(node: ast.AST) -> str | None:
    """'Count' or MetricUnit.Count -> 'Count'."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def emitted_metrics() -> dict[str, set[tuple[str, str]]]:
    """{metric name: {(unit, emitting module)}} from every ``*.add_metric(...)`` call."""
    found: dict[str, set[tuple[str, str]]] = {}
    for path in sorted(LAMBDAS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_metric"
            ):
                continue
            kwargs = {k.arg: _literal(k.value) for k in node.keywords}
            name, unit = kwargs.get("name"), kwargs.get("unit")
            module = path.relative_to(LAMBDAS).with_suffix("").as_posix()
            assert name and unit, f"{module}:{node.lineno}: add_metric needs literal name and unit"
            found.setdefault(name, set()).add((unit, module))
    return found


def _emitting_functions() -> dict[str, str]:
    """{module: function}: a handler module, or a core module whose work exactly one handler
    runs (tests/terraform/test_iam_policies.py handler_sources, the same derivation)."""
    iam = _iam_derivation()
    users: dict[str, set[str]] = {}
    for key in CONTRACT.functions:
        for path in iam.handler_sources(key):
            users.setdefault(path.relative_to(LAMBDAS).with_suffix("").as_posix(), set()).add(key)
    modules = {m: next(iter(keys)) for m, keys in users.items() if len(keys) == 1}
    return {**modules, **{fn.module: key for key, fn in CONTRACT.functions.items()}}


def test_every_emitted_metric_is_in_the_contract_with_its_unit_and_function():
    modules = _emitting_functions()
    emitted = {
        name: {(unit, modules.get(module, module)) for unit, module in uses}
        for name, uses in emitted_metrics().items()
    }
    listed = {m.name: {(m.unit, m.by)} for m in CONTRACT.metrics.emitted.values()}
    assert emitted == listed


def test_the_contract_metrics_name_real_functions_and_units():
    from aws_lambda_powertools.metrics import MetricUnit

    units = {u.value for u in MetricUnit}
    for metric in CONTRACT.metrics.emitted.values():
        assert metric.by in CONTRACT.functions, metric
        assert metric.unit in units, metric


# --------------------------------------------------------------------------- DynamoDB actions
def _iam_derivation():
    """tests/terraform/test_iam_policies.py, whose derivation of each handler's code and calls
    the grants are checked with."""
    sys.path.insert(0, str(REPO / "tests" / "terraform"))
    try:
        import test_iam_policies as iam
    finally:
        sys.path.remove(str(REPO / "tests" / "terraform"))
    return iam


def _handler_dynamodb_actions() -> dict[str, list[str]]:
    """What each handler calls through the status store, derived from the code by
    tests/terraform/test_iam_policies.py (the derivation the IAM grants are checked with)."""
    iam = _iam_derivation()
    store = iam._status_store_actions()
    return {
        function: sorted(
            {
                a.removeprefix("dynamodb:")
                for m in iam._runtime_calls(function, "status")
                for a in store[m]
            }
        )
        for function in CONTRACT.functions
    }


def test_contract_dynamodb_actions_are_exactly_what_each_handler_calls():
    declared = {key: sorted(fn.dynamodb) for key, fn in CONTRACT.functions.items()}
    assert declared == _handler_dynamodb_actions()


# --------------------------------------------------------------------------- status table keys
def _status_tree() -> ast.Module:
    return ast.parse((LAMBDAS / "etl" / "status.py").read_text(encoding="utf-8"))


def _key_dicts(tree: ast.AST) -> list[ast.Dict]:
    """Dict literals passed as Key=... or held under "Key": (item keys in transactions)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "Key" and isinstance(node.value, ast.Dict):
            found.append(node.value)
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "Key":
                    assert isinstance(value, ast.Dict), ast.unparse(value)
                    found.append(value)
    return found


def test_status_store_item_keys_are_the_contract_key_schema():
    table = CONTRACT.table
    dicts = _key_dicts(_status_tree())
    assert len(dicts) >= 5  # get, set_processing, the transaction items, updates
    for found in dicts:
        names = [k.value for k in found.keys if isinstance(k, ast.Constant)]
        assert names == [table.partition_key, table.sort_key], ast.unparse(found)


def test_status_store_expressions_name_the_contract_keys():
    table = CONTRACT.table
    strings = [
        n.value
        for n in ast.walk(_status_tree())
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]
    conditions = [s for s in strings if "=" in s or "attribute_not_exists" in s]
    not_exists = {m for s in conditions for m in re.findall(r"attribute_not_exists\((\w+)\)", s)}
    assert not_exists == {table.partition_key}
    (query,) = [s for s in conditions if "begins_with" in s]
    assert query == f"{table.partition_key} = :f AND begins_with({table.sort_key}, :c)"
    # the sort keys come from the contract, never as literals
    assert table.file_item not in strings
    assert not [s for s in strings if s.startswith(table.chunk_item_prefix)]


def test_status_store_sort_keys_are_the_contract_ones():
    from etl import status

    assert CONTRACT.table.file_item == status.FILE
    assert status.chunk_id(7) == CONTRACT.table.chunk_id(7)
    assert CONTRACT.table.chunk_id(7) == "CHUNK#000007"
    assert CONTRACT.table.chunk_index("CHUNK#000007") == 7
    assert (status.PARTITION_KEY, status.SORT_KEY) == ("file_id", "chunk_id")


def _literals_outside_docstrings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]


def test_only_the_status_store_spells_the_sort_key_and_item_ids():
    """Everything else reads a chunk item's index with status.chunk_index (the finalizer
    parsed ``int(item["chunk_id"].split("#")[1])`` by hand in four places)."""
    table = CONTRACT.table
    owners = {LAMBDAS / "etl" / "status.py", LAMBDAS / "etl" / "contract.py"}
    found = [
        f"{path.relative_to(REPO)}:{line}: {value!r}"
        for path in sorted(LAMBDAS.rglob("*.py"))
        if path not in owners
        for line, value in _literals_outside_docstrings(path)
        if value in (table.sort_key, table.file_item) or value.startswith(table.chunk_item_prefix)
    ]
    assert found == []


def test_status_chunk_index_reads_the_sort_key():
    from etl import status

    assert status.chunk_index(CONTRACT.table.key("f", status.chunk_id(42))) == 42
    with pytest.raises(ValueError, match="not a chunk item's sort key"):
        status.chunk_index(CONTRACT.table.key("f", status.FILE))


# --------------------------------------------------------------------------- template variables
def test_docs_template_variables_table_is_the_contract_list():
    """docs/contracts.md's table of the state machine's variables names each templatefile()
    variable once: <function>_arn per contract function, then state_machine.variables."""
    text = DOCS.read_text(encoding="utf-8")
    table = text.split("| variable | meaning |", 1)[1].split("\n\n", 1)[0]
    listed = [
        name for row in table.splitlines()[2:] for name in re.findall(r"`(\w+)`", row.split("|")[1])
    ]
    sm = CONTRACT.state_machine
    assert listed == list(sm.template_variables(tuple(CONTRACT.functions)))


# --------------------------------------------------------------------------- resource names
def test_docs_resource_names_are_the_contract_names():
    text = DOCS.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, f"{DOCS} lost its generated Resource names list"
    assert docs_block(text) == resource_names_markdown(), (
        "docs/contracts.md Resource names differ from contract.json: run python3 noxfile.py -s docs"
    )


@pytest.mark.parametrize(
    ("kind", "kwargs", "expected"),
    [
        ("function", {"function": "mark_failed"}, "etl-dev-mark-failed"),
        ("bucket", {"account_id": "123456789012"}, "etl-dev-processing-123456789012"),
        ("table", {}, "etl-dev-status"),
        ("results_queue", {}, "etl-dev-results.fifo"),
        ("service", {}, "etl-dev"),
    ],
)
def test_resource_name(kind, kwargs, expected):
    assert CONTRACT.resource_name(kind, "etl-dev", **kwargs) == expected


def test_resource_name_refuses_missing_or_unknown_parts():
    with pytest.raises(ValueError, match=r"'bucket' \(\{prefix\}-processing-\{account_id\}\)"):
        CONTRACT.resource_name("bucket", "etl-dev")
    with pytest.raises(KeyError, match="no function 'mark-failed'"):
        CONTRACT.resource_name("function", "etl-dev", function="mark-failed")
    with pytest.raises(KeyError, match="no resource kind 'queue'"):
        CONTRACT.resource_name("queue", "etl-dev")
    assert CONTRACT.prefix_of("state_machine", "etl-e2e-pipeline") == "etl-e2e"
    with pytest.raises(ValueError, match="is not a state_machine name"):
        CONTRACT.prefix_of("state_machine", "etl-e2e-status")
