"""The import graph of the code that runs (lambdas/, localrun/) is one-way, and the core's
pure modules import without the AWS SDK (issue 22, item 4).

`etl.schema` (the types) and `etl.schema_check` (reading a document into them) once imported
each other, and `etl.events` pulled botocore in through `etl.status` for three state names.
A circle makes the import order matter and hides which module a rule belongs to; the SDK in a
pure module makes it slow to import and untestable without the SDK.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAMBDAS = ROOT / "lambdas"
# The core's modules that talk to AWS (lambdas/etl/__init__.py says so): the adapters and the
# functions' work that drives them; every other is pure.
AWS_MODULES = {
    "etl.runtime",
    "etl.s3io",
    "etl.status",
    "etl.chunk",
    "etl.publish",
    "etl.split",
    "etl.failure",
    "etl.validate",
}
HANDLER_MAX_LINES = 60


def module_name(path: Path) -> str:
    """lambdas/etl/keys.py -> etl.keys; lambdas/splitter.py -> splitter;
    localrun/stack.py -> localrun.stack (the names they are imported by)."""
    rel = path.relative_to(LAMBDAS if LAMBDAS in path.parents else ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    files = [*LAMBDAS.rglob("*.py"), *(ROOT / "localrun").rglob("*.py")]
    return {module_name(p): p for p in sorted(files)}


def imported(path: Path, name: str, known: set[str]) -> set[str]:
    """The modules of `known` that `path` (module `name`) imports anywhere in its body:
    a lazy import inside a function is still a dependency."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from etl import status` depends on the module etl.status, `from etl.x import y`
            # on etl.x (a package's __init__, run on the way to any of its modules, is no
            # edge, as for `import etl.x`)
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            candidates = [m for m in submodules if m in known] or [base]
        else:
            continue
        found |= {c for c in candidates if c in known and c != name}
    return found


def import_graph() -> dict[str, set[str]]:
    modules = source_modules()
    return {name: imported(path, name, set(modules)) for name, path in modules.items()}


def test_the_graph_reads_the_known_edges():
    """The parser sees relative, absolute and lazy imports (else the next test proves nothing)."""
    graph = import_graph()
    assert {"etl.errors", "etl.keys", "etl.status_model"} <= graph["etl.events"]
    assert "etl.schema" in graph["etl.schema_check"]
    assert "etl.status" in graph["etl.publish"]
    assert "localrun.stack" in graph["localrun.deployment"]


def test_lambdas_and_localrun_import_without_a_circle():
    try:
        order = list(TopologicalSorter(import_graph()).static_order())
    except CycleError as exc:
        pytest.fail(f"import circle: {' -> '.join(exc.args[1])}")
    assert {"etl.schema", "etl.schema_check", "splitter", "localrun"} <= set(order)


def test_the_schema_types_do_not_import_their_reader():
    graph = import_graph()
    assert "etl.schema_check" not in graph["etl.schema"]
    assert "etl.status" not in graph["etl.events"]


# -- the pure modules, imported with the AWS SDK made unimportable --------------------------
BLOCKER = """
import importlib.abc, json, sys
class NoAwsSdk(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("boto3", "botocore"):
            raise ModuleNotFoundError(f"blocked: {name}")
sys.meta_path.insert(0, NoAwsSdk())
sys.path.insert(0, "lambdas")
failed = {}
for module in json.loads(sys.argv[1]):
    try:
        __import__(module)
    except ImportError as exc:
        failed[module] = str(exc)
print(json.dumps(failed))
"""


def import_without_aws_sdk(modules: list[str]) -> dict[str, str]:
    """{module: error} for each of `modules` that fails to import without boto3/botocore,
    each in a fresh interpreter."""
    failed = {}
    for module in modules:
        proc = subprocess.run(
            [sys.executable, "-c", BLOCKER, json.dumps([module])],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        failed.update(json.loads(proc.stdout))
    return failed


def pure_modules() -> list[str]:
    etl = [m for m in source_modules() if m == "etl" or m.startswith("etl.")]
    return sorted(set(etl) - AWS_MODULES)


def test_every_pure_core_module_imports_without_boto3_or_botocore():
    modules = pure_modules()
    assert {"etl.events", "etl.schema", "etl.schema_check", "etl.finalize"} <= set(modules)
    assert import_without_aws_sdk(modules) == {}


def test_the_blocker_blocks_the_aws_modules():
    """The AWS-facing modules fail under the same blocker: the list above is not padded, and
    the blocker really keeps the SDK out."""
    failed = import_without_aws_sdk(sorted(AWS_MODULES))
    assert set(failed) == AWS_MODULES
    assert all("blocked: boto" in error for error in failed.values()), failed


# -- thin handlers: parse the typed event, call the core, return a typed event (issue 22, 3) --
def handler_modules() -> dict[str, Path]:
    return {p.stem: p for p in sorted(LAMBDAS.glob("*.py"))}


def test_every_handler_is_a_thin_adapter():
    lengths = {
        name: len(p.read_text(encoding="utf-8").splitlines())
        for name, p in handler_modules().items()
    }
    assert set(lengths) >= {"splitter", "validator", "processor", "finalizer", "mark_failed"}
    thin = set(handler_modules())
    assert {n: k for n, k in lengths.items() if k > HANDLER_MAX_LINES and n in thin} == {}


def test_the_core_imports_no_handler():
    """The core is testable without importing a Lambda entry point."""
    graph, handlers = import_graph(), set(handler_modules())
    core = {m: deps for m, deps in graph.items() if m == "etl" or m.startswith("etl.")}
    assert "etl.chunk" in core and "processor" in graph
    assert {m: deps & handlers for m, deps in core.items() if deps & handlers} == {}
