"""The one reader of ``contract.json``: names shared by Terraform, the handlers, the build,
the local harness and the tests.

Stdlib only and free of package-relative imports, so ``build.py`` (which runs before any
dependency is installed) loads this file by path. Every other Python file takes the contract
from here (``tests/test_contract_names.py`` fails on any other reader of ``contract.json``).

    from etl.contract import CONTRACT
    CONTRACT.functions["mark_failed"].dynamodb       # ("GetItem", "Query", "UpdateItem")
    CONTRACT.resource_name("function", "etl-dev", function="mark_failed")  # etl-dev-mark-failed
    CONTRACT.table.chunk_id(7)                        # "CHUNK#000007"
    CONTRACT.schema_object_key("transactions")        # "config/schemas/transactions.json"

Sections are parsed when first used, so a partial contract (the build tests' tiny repo,
which declares only ``functions``) serves the accessors it has.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

FILE_NAME = "contract.json"
PATH = Path(__file__).resolve().with_name(FILE_NAME)
# Where contract.json lives in the repository (relative to the repository root).
REPO_RELATIVE_PATH = "lambdas/etl/" + FILE_NAME


@dataclass(frozen=True)
class Function:
    """One Lambda function: its contract key, handler and the data it may touch."""

    key: str  # e.g. "mark_failed"
    handler: str  # "<module>.<function>"
    description: str = ""
    s3_read: tuple[str, ...] = ()  # prefix keys (contract.prefixes)
    s3_write: tuple[str, ...] = ()
    s3_delete: tuple[str, ...] = ()
    s3_list: tuple[str, ...] = ()
    dynamodb: tuple[str, ...] = ()  # DynamoDB item actions without "dynamodb:"

    @property
    def module(self) -> str:
        """The entry module: 'mark_failed.handler' -> 'mark_failed'."""
        return self.handler.rpartition(".")[0]

    @property
    def resource_key(self) -> str:
        """The key as it appears in resource names: 'mark_failed' -> 'mark-failed'."""
        return self.key.replace("_", "-")


@dataclass(frozen=True)
class Table:
    """The status table: key schema (both keys strings) and item sort keys."""

    partition_key: str
    sort_key: str
    file_item: str  # the sort key of a file's item
    chunk_item_prefix: str
    chunk_index_digits: int

    def chunk_id(self, index: int) -> str:
        """The sort key of chunk ``index``'s item: 7 -> 'CHUNK#000007'."""
        return f"{self.chunk_item_prefix}{index:0{self.chunk_index_digits}d}"

    def is_chunk_id(self, sort_key: str) -> bool:
        return sort_key.startswith(self.chunk_item_prefix)

    def chunk_index(self, sort_key: str) -> int:
        """The inverse of :meth:`chunk_id`: 'CHUNK#000007' -> 7."""
        if not self.is_chunk_id(sort_key):
            raise ValueError(f"{sort_key!r} is not a chunk item's sort key")
        return int(sort_key[len(self.chunk_item_prefix) :])

    def key(self, file_id: str, sort_key: str) -> dict[str, str]:
        """An item's primary key as plain values."""
        return {self.partition_key: file_id, self.sort_key: sort_key}

    def key_schema(self) -> list[dict[str, str]]:
        """CreateTable's KeySchema."""
        return [
            {"AttributeName": self.partition_key, "KeyType": "HASH"},
            {"AttributeName": self.sort_key, "KeyType": "RANGE"},
        ]

    def attribute_definitions(self) -> list[dict[str, str]]:
        """CreateTable's AttributeDefinitions (both keys are strings)."""
        return [
            {"AttributeName": name, "AttributeType": "S"}
            for name in (self.partition_key, self.sort_key)
        ]


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str  # a CloudWatch unit, as Powertools' MetricUnit spells it
    by: str  # the functions key of the emitting function


@dataclass(frozen=True)
class Metrics:
    namespace: str
    dimension: str  # on every metric, valued names.service
    dataset_dimension: str  # with `dimension`, on metrics emitted once the dataset is known
    emitted: dict[str, Metric]


@dataclass(frozen=True)
class StateMachine:
    template: str  # path relative to the repository root
    variables: tuple[str, ...]  # the non-ARN template variables

    def template_variables(self, functions: tuple[str, ...]) -> tuple[str, ...]:
        """Every templatefile() variable: ``<function>_arn`` per function, then the rest."""
        return (*(f"{name}_arn" for name in functions), *self.variables)


class Contract:
    """Typed accessors over one contract.json document."""

    def __init__(self, data: dict[str, Any], source: Path | None = None) -> None:
        self.data = data
        self.source = source

    def __repr__(self) -> str:
        return f"Contract({self.source or '<dict>'})"

    @cached_property
    def env(self) -> dict[str, str]:
        """Setting key -> environment variable name, e.g. bucket -> ETL_BUCKET."""
        return dict(self.data["env"])

    @cached_property
    def prefixes(self) -> dict[str, str]:
        """Prefix key -> S3 key prefix, e.g. incoming -> 'incoming/'."""
        return dict(self.data["prefixes"])

    @cached_property
    def schema_object_key_pattern(self) -> str:
        """Where a dataset's schema lives in the bucket: 'config/schemas/{dataset}.json'."""
        return self.data["schema_object_key_pattern"]

    def schema_object_key(self, dataset: str) -> str:
        """The key of ``dataset``'s schema object (Terraform writes it from schema_file)."""
        return self.schema_object_key_pattern.format(dataset=dataset)

    @cached_property
    def defaults(self) -> dict[str, Any]:
        return dict(self.data["defaults"])

    @cached_property
    def functions(self) -> dict[str, Function]:
        """Functions key -> Function, in contract order."""
        out = {}
        for key, spec in (self.data.get("functions") or {}).items():
            lists = {
                f: tuple(spec.get(f, ()))
                for f in ("s3_read", "s3_write", "s3_delete", "s3_list", "dynamodb")
            }
            out[key] = Function(key, spec["handler"], spec.get("description", ""), **lists)
        return out

    @property
    def function_keys(self) -> tuple[str, ...]:
        return tuple(self.functions)

    @cached_property
    def names(self) -> dict[str, str]:
        """Resource kind -> name pattern (the ``comment`` entry is not a kind)."""
        return {k: v for k, v in self.data["names"].items() if k != "comment"}

    def resource_name(
        self,
        kind: str,
        prefix: str,
        account_id: str | None = None,
        function: str | None = None,
    ) -> str:
        """The name of a resource of ``kind`` (a ``names`` key) for deployment ``prefix``;
        ``function`` is a functions key (``mark_failed``), written with ``-`` in the name."""
        if kind not in self.names:
            raise KeyError(f"no resource kind {kind!r} in contract names: {sorted(self.names)}")
        values: dict[str, str] = {"prefix": prefix}
        if account_id is not None:
            values["account_id"] = account_id
        if function is not None:
            if function not in self.functions:
                raise KeyError(f"no function {function!r} in the contract")
            values["function"] = self.functions[function].resource_key
        pattern = self.names[kind]
        needed = {f for _, f, _, _ in string.Formatter().parse(pattern) if f}
        missing = sorted(needed - values.keys())
        if missing:
            raise ValueError(f"resource name {kind!r} ({pattern}) needs {', '.join(missing)}")
        return pattern.format_map(values)

    def prefix_of(self, kind: str, name: str) -> str:
        """The deployment prefix of a resource named after ``kind``'s pattern, when that
        pattern has no other placeholder: ('state_machine', 'etl-dev-pipeline') -> 'etl-dev'."""
        head, sep, tail = self.names[kind].partition("{prefix}")
        if not sep or "{" in head + tail:
            raise ValueError(f"resource name {kind!r} ({self.names[kind]}) has other placeholders")
        if not (name.startswith(head) and name.endswith(tail)) or len(name) <= len(head + tail):
            raise ValueError(f"{name!r} is not a {kind} name ({self.names[kind]})")
        return name[len(head) : len(name) - len(tail)]

    def function_name(self, prefix: str, function: str) -> str:
        return self.resource_name("function", prefix, function=function)

    @cached_property
    def table(self) -> Table:
        t = self.data["table"]
        return Table(
            t["partition_key"],
            t["sort_key"],
            t["file_item"],
            t["chunk_item_prefix"],
            int(t["chunk_index_digits"]),
        )

    @cached_property
    def metrics(self) -> Metrics:
        m = self.data["metrics"]
        emitted = {n: Metric(n, s["unit"], s["by"]) for n, s in m["emitted"].items()}
        return Metrics(m["namespace"], m["dimension"], m["dataset_dimension"], emitted)

    @cached_property
    def state_machine(self) -> StateMachine:
        s = self.data["state_machine"]
        return StateMachine(s["template"], tuple(s["variables"]))


def load(path: str | Path = PATH) -> Contract:
    """Read a contract.json (the repository's by default)."""
    path = Path(path)
    return Contract(json.loads(path.read_text(encoding="utf-8")), path)


_DEFAULT: list[Contract] = []


def _default() -> Contract:
    """The repository's contract, read on first use (so loading this file by path, as
    build.py does, reads nothing until asked)."""
    if not _DEFAULT:
        _DEFAULT.append(load())
    return _DEFAULT[0]


# ``CONTRACT`` and the plain values the handlers import (``from etl.contract import
# PREFIXES``), resolved on first use.
_LAZY = {
    "CONTRACT": _default,
    "ENV": lambda: _default().env,
    "PREFIXES": lambda: _default().prefixes,
    "FUNCTIONS": lambda: _default().data["functions"],
    "DEFAULTS": lambda: _default().defaults,
    "METRICS_NAMESPACE": lambda: _default().metrics.namespace,
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return _LAZY[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
