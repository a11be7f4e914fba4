"""Small helpers to read the Terraform code with python-hcl2 (8.x) in tests.

python-hcl2 8 keeps string quotes (``'"arm64"'``) and block labels quoted, and renders
expressions as ``"${...}"``. These helpers hide that so tests read like the HCL.
"""

from __future__ import annotations

import copy
import functools
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import hcl2

REPO = Path(__file__).resolve().parents[2]
MODULES_DIR = REPO / "modules"
ENVS_DIR = REPO / "envs"
MODULES = ("storage", "compute", "orchestration", "observability", "pipeline")
ENVS = ("dev", "prod")
TEMPLATE_PATH = MODULES_DIR / "orchestration" / "templates" / "pipeline.asl.json"


def _contract_reader() -> ModuleType:
    """etl.contract, the one reader of the contract (also when run as a script)."""
    if str(REPO / "lambdas") not in sys.path:
        sys.path.append(str(REPO / "lambdas"))
    import etl.contract

    return etl.contract


CONTRACT_PATH = _contract_reader().PATH


def contract() -> dict[str, Any]:
    return _contract_reader().load().data


def unquote(value: Any) -> Any:
    """'"x"' -> 'x'; anything else unchanged (expressions stay '${...}')."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def expr(value: Any) -> str:
    """'${var.x}' -> 'var.x' with whitespace collapsed; other strings unquoted."""
    text = unquote(value)
    if isinstance(text, str) and text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    return re.sub(r"\s+", " ", str(text)).strip()


def load(path: Path) -> dict[str, Any]:
    """The parsed file. python-hcl2 parses slowly and the tests read the same few files
    hundreds of times: each text is parsed once per session, each caller gets its own copy."""
    return copy.deepcopy(_parse(path.read_text(encoding="utf-8")))


@functools.cache
def _parse(text: str) -> dict[str, Any]:
    return hcl2.loads(text)


def tf_files(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*.tf") if ".terraform" not in p.parts)


def load_dir(directory: Path) -> list[tuple[Path, dict[str, Any]]]:
    return [(p, load(p)) for p in sorted(directory.glob("*.tf"))]


def blocks(parsed: dict[str, Any], kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Single-label blocks (variable, output, module): yields (name, body)."""
    for entry in parsed.get(kind, []):
        for name, body in entry.items():
            yield unquote(name), body


def typed_blocks(parsed: dict[str, Any], kind: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Two-label blocks (resource, data): yields (type, name, body)."""
    for entry in parsed.get(kind, []):
        for rtype, named in entry.items():
            for name, body in named.items():
                yield unquote(rtype), unquote(name), body


def module_blocks(directory: Path, kind: str) -> Iterator[tuple[Path, str, str, dict[str, Any]]]:
    for path, parsed in load_dir(directory):
        for rtype, name, body in typed_blocks(parsed, kind):
            yield path, rtype, name, body


def locals_of(directory: Path) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for _, parsed in load_dir(directory):
        for entry in parsed.get("locals", []):
            merged.update({k: v for k, v in entry.items() if not k.startswith("__")})
    return merged


def variables_of(directory: Path) -> dict[str, dict[str, Any]]:
    return {
        name: body for _, parsed in load_dir(directory) for name, body in blocks(parsed, "variable")
    }


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
