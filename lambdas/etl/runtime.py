"""What a handler needs from its environment: settings, AWS clients, logging, metrics and
the pinned schemas.

Created once per container; tests inject their own through `Runtime(...)`.

Schema pinning: Split reads a dataset's schema object (config/schemas/<dataset>.json) once,
with its S3 version id and the sha256 of its bytes (`pin_schema`); every later step of that
file reads exactly that object version and checks the digest (`schema`). A container keeps
the schemas it read by (dataset, version id), so a file's chunks cost one GetObject per
container, and a schema deployed while a file runs never types that file.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from botocore.config import Config
from botocore.exceptions import ClientError

from .contract import CONTRACT, DEFAULTS, ENV, METRICS_NAMESPACE
from .errors import SchemaConfigError, SchemaVersionUnavailable
from .events import SchemaIdentity
from .s3io import S3_MAX_CONNECTIONS
from .schema import Schema
from .schema_check import load_schema
from .status import StatusStore

logger = Logger()
metrics = Metrics(namespace=METRICS_NAMESPACE)
SCHEMA_CACHE_SIZE = 64  # (dataset, schema version) pairs a container keeps
# Lambda gives a function CPU time in proportion to its memory: one vCPU's worth at 1,769 MB
# (developer guide, "Configure Lambda function memory"); the CPUs the sandbox shows are not
# that (2 for every size up to 3,008 MB, measured by others: docs/configuration.md)
MB_PER_VCPU = 1769
MEMORY_ENV = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"  # set by Lambda (and the local workers)
_UNREADABLE = ("NoSuchKey", "NoSuchVersion", "404", "AccessDenied", "403", "InvalidArgument")


def add_dataset_dimension(dataset: str) -> None:
    """Publish this invocation's metrics per dataset too: the EMF record gets the dimension
    set (service, dataset) next to (service), so pipeline-wide graphs and alarms still see
    every value (contract.json `metrics`). Idempotent within an invocation."""
    names = CONTRACT.metrics
    _forget_dataset_dimension()
    dims = {names.dataset_dimension: dataset}
    if metrics.service:
        dims = {names.dimension: metrics.service, **dims}
    metrics.add_dimensions(**dims)


def _forget_dataset_dimension() -> None:
    """Drop the per-dataset dimension set: Powertools clears dimensions only when it flushes
    a metric, so an invocation that emitted none would hand its dataset to the next one."""
    sets = metrics.provider.dimension_sets
    sets[:] = [s for s in sets if CONTRACT.metrics.dataset_dimension not in s]


@dataclass(frozen=True)
class Settings:
    bucket: str
    status_table: str
    datasets: tuple[str, ...] = ("transactions",)  # the declared datasets (Terraform)
    chunk_bytes: int = DEFAULTS["chunk_bytes"]
    max_record_bytes: int = DEFAULTS["max_record_bytes"]
    max_decompressed_bytes: int = DEFAULTS["max_decompressed_bytes"]
    max_gzip_ratio: float = DEFAULTS["max_gzip_ratio"]
    max_chunks: int = DEFAULTS["max_chunks"]
    failure_topic_arn: str | None = None  # mark_failed publishes there for the ended-execution rule
    memory_mb: int | None = None  # the function's memory (Lambda's variable); None outside it

    @property
    def vcpus(self) -> int | None:
        """The vCPUs the function's memory pays for (rounded, at least 1), None outside
        Lambda. A 1,769 MB function sees two CPUs but has one vCPU of time across them:
        a thread per CPU shown would split that time and pay for the sharing."""
        return None if self.memory_mb is None else max(1, round(self.memory_mb / MB_PER_VCPU))

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        missing = [ENV[k] for k in ("bucket", "status_table", "datasets") if not env.get(ENV[k])]
        if missing:
            raise RuntimeError(
                f"missing environment variables {missing}: the function is "
                "deployed without the configuration Terraform sets"
            )
        return cls(
            bucket=env[ENV["bucket"]],
            status_table=env[ENV["status_table"]],
            datasets=tuple(sorted(d for d in env[ENV["datasets"]].split(",") if d)),
            chunk_bytes=int(env.get(ENV["chunk_bytes"]) or DEFAULTS["chunk_bytes"]),
            max_record_bytes=int(env.get(ENV["max_record_bytes"]) or DEFAULTS["max_record_bytes"]),
            max_decompressed_bytes=int(
                env.get(ENV["max_decompressed_bytes"]) or DEFAULTS["max_decompressed_bytes"]
            ),
            max_gzip_ratio=float(env.get(ENV["max_gzip_ratio"]) or DEFAULTS["max_gzip_ratio"]),
            max_chunks=int(env.get(ENV["max_chunks"]) or DEFAULTS["max_chunks"]),
            failure_topic_arn=env.get(ENV["failure_topic_arn"]) or None,
            memory_mb=int(env[MEMORY_ENV]) if env.get(MEMORY_ENV) else None,
        )


@dataclass
class Runtime:
    settings: Settings
    s3: Any = None
    dynamodb: Any = None
    _schemas: OrderedDict[tuple[str, str], tuple[str, Schema]] = field(
        default_factory=OrderedDict, repr=False
    )

    def __post_init__(self) -> None:
        config = Config(
            retries={"mode": "standard", "max_attempts": 5},
            max_pool_connections=S3_MAX_CONNECTIONS,
        )
        self.s3 = self.s3 or boto3.client("s3", config=config)
        self.dynamodb = self.dynamodb or boto3.resource("dynamodb", config=config)

    @cached_property
    def notifications(self) -> Any:
        """An SNS client (only mark_failed publishes, for the execution-ended rule)."""
        if not self.settings.failure_topic_arn:
            raise RuntimeError(
                f"missing environment variable {ENV['failure_topic_arn']}: the function is "
                "deployed without the configuration Terraform sets"
            )
        return boto3.client("sns", config=Config(retries={"mode": "standard", "max_attempts": 5}))

    @cached_property
    def status(self) -> StatusStore:
        return StatusStore(self.dynamodb.Table(self.settings.status_table))

    def pin_schema(self, dataset: str) -> tuple[SchemaIdentity, Schema]:
        """Split: the dataset's current schema object, read once, and its identity (the
        object's version id and the sha256 of its bytes) for every later step to pin."""
        key = CONTRACT.schema_object_key(dataset)
        try:
            obj = self.s3.get_object(Bucket=self.settings.bucket, Key=key)
        except ClientError as exc:
            code = exc.response["Error"].get("Code")
            if code in _UNREADABLE:
                raise SchemaConfigError(
                    f"the schema object s3://{self.settings.bucket}/{key} of dataset "
                    f"{dataset!r} cannot be read ({code}): deploy it (terraform apply writes it "
                    "from the dataset's schema_file in `datasets`) and check the function's "
                    "read access to config/"
                ) from exc
            raise
        body = obj["Body"].read()
        schema = load_schema(body)
        identity = SchemaIdentity.pinned(
            dataset, schema.name, schema.version, body, obj.get("VersionId") or "null"
        )
        self._remember(identity, schema)
        return identity, schema

    def schema(self, identity: SchemaIdentity) -> Schema:
        """The schema version a file is pinned to: exactly that object version, with the
        pinned sha256; SchemaVersionUnavailable if it cannot be read or differs."""
        cached = self._schemas.get((identity.dataset, identity.object_version_id))
        if cached and cached[0] == identity.sha256:
            return cached[1]
        key = CONTRACT.schema_object_key(identity.dataset)
        where = (
            f"schema {identity.name!r} version {identity.version} of dataset "
            f"{identity.dataset!r} (s3://{self.settings.bucket}/{key}, object version "
            f"{identity.object_version_id}), which this file was pinned to when it was "
            "registered,"
        )
        action = (
            ": the file is never typed by another schema version instead. Upload the file "
            "again to process it with the current schema (and keep noncurrent versions of "
            "config/ for as long as files may be in flight)"
        )
        try:
            obj = self.s3.get_object(
                Bucket=self.settings.bucket, Key=key, VersionId=identity.object_version_id
            )
        except ClientError as exc:
            code = exc.response["Error"].get("Code")
            if code in _UNREADABLE:
                raise SchemaVersionUnavailable(f"{where} cannot be read ({code}){action}") from exc
            raise
        body = obj["Body"].read()
        digest = hashlib.sha256(body).hexdigest()
        if digest != identity.sha256:
            raise SchemaVersionUnavailable(
                f"{where} has sha256 {digest}, not the pinned {identity.sha256}{action}"
            )
        schema = load_schema(body)
        self._remember(identity, schema)
        return schema

    def _remember(self, identity: SchemaIdentity, schema: Schema) -> None:
        self._schemas[(identity.dataset, identity.object_version_id)] = (identity.sha256, schema)
        while len(self._schemas) > SCHEMA_CACHE_SIZE:
            self._schemas.popitem(last=False)


_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    """The container's runtime. Every handler calls this first, so it also starts the
    invocation's metrics without a dataset left over from the previous invocation."""
    global _runtime
    _forget_dataset_dimension()
    if _runtime is None:
        _runtime = Runtime(Settings.from_env())
    return _runtime


def set_runtime(runtime: Runtime | None) -> None:
    """For tests: inject a runtime (or reset to build one from the environment)."""
    global _runtime
    _runtime = runtime
