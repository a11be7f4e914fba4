"""lambdas/etl/__init__.py describes the package truthfully: every module is listed, and the
modules it names as the only ones touching AWS are exactly those importing boto3/botocore."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import etl

ETL = Path(__file__).resolve().parents[1] / "lambdas" / "etl"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_every_module_is_listed_in_the_package_docstring():
    listed = set(re.findall(r"^    (\w+)\s{2,}", etl.__doc__, flags=re.MULTILINE))
    modules = {p.stem for p in ETL.glob("*.py") if p.stem != "__init__"}
    assert listed == modules


def test_the_modules_named_as_touching_aws_are_the_ones_importing_boto():
    (sentence,) = re.findall(r"AWS is touched only by (.*?);", etl.__doc__, flags=re.DOTALL)
    named = set(re.findall(r"`(\w+)`", sentence))
    importing = {p.stem for p in ETL.glob("*.py") if _imports(p) & {"boto3", "botocore"}}
    assert named == importing == {"s3io", "status", "runtime", "split"}


def test_contract_is_stdlib_only():
    import sys

    assert _imports(ETL / "contract.py") <= set(sys.stdlib_module_names) | {"__future__"}
