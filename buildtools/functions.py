"""The function zips: one per function of contract.json, each = its entry module at the
root plus the whole shared ``etl/`` package. The function list comes from ``etl.contract``
(loaded by path: the build runs before any dependency is installed)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from buildtools.artifacts import (
    TOOL_ROOT,
    ArtifactPlan,
    ArtifactRecord,
    digest_inputs,
    record_artifact,
    save_stamp,
    up_to_date,
)
from buildtools.errors import BuildError, MissingInputError
from buildtools.zips import ZipEntry, collect_tree, display_path, write_zip


def contract_module(tool_root: Path = TOOL_ROOT) -> ModuleType:
    """``lambdas/etl/contract.py`` of this repository, imported by path (the ``etl``
    package is not importable here: the build runs on a bare interpreter)."""
    name = "_build_etl_contract"
    if name not in sys.modules:
        path = tool_root / "lambdas" / "etl" / "contract.py"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or not path.is_file():
            raise MissingInputError(f"{path} not found: the contract reader lives there")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


def load_contract(lambdas_dir: Path):
    """The contract of the tree being built (``<lambdas_dir>/etl/contract.json``)."""
    reader = contract_module()
    path = lambdas_dir / "etl" / reader.FILE_NAME
    if not path.is_file():
        raise MissingInputError(
            f"{path} not found: the function list comes from {reader.REPO_RELATIVE_PATH};"
            f" restore it (git checkout -- {reader.REPO_RELATIVE_PATH})"
        )
    return reader.load(path)


def entry_module(handler: str) -> str:
    """'mark_failed.handler' -> 'mark_failed'."""
    module, _, func = handler.rpartition(".")
    if not module or not func:
        raise BuildError(f"handler {handler!r} is not '<module>.<function>'")
    return module.replace(".", "/")


def plan_function(
    name: str, handler: str, lambdas_dir: Path, functions_dir: Path, shared: Sequence[ZipEntry]
) -> ArtifactPlan:
    """The zip ``<functions_dir>/<name>.zip``: the entry module plus the ``shared`` entries."""
    module = entry_module(handler)
    source = lambdas_dir / f"{module}.py"
    if not source.is_file():
        where = contract_module().REPO_RELATIVE_PATH
        raise MissingInputError(
            f"function {name!r}: entry module {display_path(source, lambdas_dir.parent)} not"
            f" found (handler {handler!r} in"
            f" {where}); add {source.name} or remove {name!r} from {Path(where).name}"
        )
    entries = (ZipEntry(f"{module}.py", source), *shared)
    params = {"kind": "function", "name": name, "handler": handler}
    return ArtifactPlan(
        name, functions_dir / f"{name}.zip", entries, digest_inputs(entries, params)
    )


def plan_functions(root: Path, out_dir: Path) -> list[ArtifactPlan]:
    """One plan per function of ``<root>/lambdas``, zipped to ``<out_dir>/functions``."""
    return plan_function_zips(root / "lambdas", out_dir / "functions")


def plan_function_zips(lambdas_dir: Path, functions_dir: Path) -> list[ArtifactPlan]:
    """One plan per function in contract.json, each = entry module + the etl/ package."""
    shared_dir = lambdas_dir / "etl"
    contract = load_contract(lambdas_dir)
    shared = collect_tree(shared_dir, "etl")
    if not any(e.arcname == "etl/__init__.py" for e in shared):
        raise MissingInputError(
            f"{shared_dir / '__init__.py'} not found: lambdas/etl must be a package"
            " (the handlers import it); add lambdas/etl/__init__.py"
        )
    functions = contract.functions
    if not functions:
        raise MissingInputError(f"{contract_module().REPO_RELATIVE_PATH} declares no functions")
    return [
        plan_function(name, fn.handler, lambdas_dir, functions_dir, shared)
        for name, fn in sorted(functions.items())
    ]


def build_function(plan: ArtifactPlan) -> ArtifactRecord:
    existing = up_to_date(plan.name, plan.output, plan.inputs_digest)
    if existing:
        return existing
    write_zip(plan.entries, plan.output)
    record = record_artifact(plan.name, plan.output, rebuilt=True)
    save_stamp(record, plan.inputs_digest)
    return record


def build_functions(lambdas_dir: Path, functions_dir: Path) -> list[ArtifactRecord]:
    """Build (or reuse) every function zip of ``lambdas_dir`` into ``functions_dir``."""
    return [build_function(plan) for plan in plan_function_zips(lambdas_dir, functions_dir)]
