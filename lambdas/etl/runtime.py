"""What a handler needs from its environment: settings, AWS clients, logging and metrics.

Created once per container; tests inject their own through `Runtime(...)`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from botocore.config import Config
from botocore.exceptions import ClientError

from .contract import DEFAULTS, ENV, METRICS_NAMESPACE, SCHEMA_OBJECT_KEY
from .errors import SchemaConfigError
from .s3io import S3_MAX_CONNECTIONS
from .schema import Schema
from .schema_check import load_schema
from .status import StatusStore

logger = Logger()
metrics = Metrics(namespace=METRICS_NAMESPACE)


@dataclass(frozen=True)
class Settings:
    bucket: str
    status_table: str
    schema_key: str = SCHEMA_OBJECT_KEY
    chunk_bytes: int = DEFAULTS["chunk_bytes"]
    max_record_bytes: int = DEFAULTS["max_record_bytes"]
    max_decompressed_bytes: int = DEFAULTS["max_decompressed_bytes"]
    max_gzip_ratio: float = DEFAULTS["max_gzip_ratio"]
    max_chunks: int = DEFAULTS["max_chunks"]
    failure_topic_arn: str | None = None  # mark_failed publishes there for the ended-execution rule

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        missing = [ENV[k] for k in ("bucket", "status_table") if not env.get(ENV[k])]
        if missing:
            raise RuntimeError(
                f"missing environment variables {missing}: the function is "
                "deployed without the configuration Terraform sets"
            )
        return cls(
            bucket=env[ENV["bucket"]],
            status_table=env[ENV["status_table"]],
            schema_key=env.get(ENV["schema_key"]) or SCHEMA_OBJECT_KEY,
            chunk_bytes=int(env.get(ENV["chunk_bytes"]) or DEFAULTS["chunk_bytes"]),
            max_record_bytes=int(env.get(ENV["max_record_bytes"]) or DEFAULTS["max_record_bytes"]),
            max_decompressed_bytes=int(
                env.get(ENV["max_decompressed_bytes"]) or DEFAULTS["max_decompressed_bytes"]
            ),
            max_gzip_ratio=float(env.get(ENV["max_gzip_ratio"]) or DEFAULTS["max_gzip_ratio"]),
            max_chunks=int(env.get(ENV["max_chunks"]) or DEFAULTS["max_chunks"]),
            failure_topic_arn=env.get(ENV["failure_topic_arn"]) or None,
        )


@dataclass
class Runtime:
    settings: Settings
    s3: Any = None
    dynamodb: Any = None
    _schema: tuple[str, Schema] | None = field(default=None, repr=False)

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

    def schema(self) -> Schema:
        """The deployed schema, re-read only when its ETag changes."""
        kwargs: dict[str, Any] = {"Bucket": self.settings.bucket, "Key": self.settings.schema_key}
        if self._schema:
            kwargs["IfNoneMatch"] = self._schema[0]
        try:
            obj = self.s3.get_object(**kwargs)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = exc.response["Error"].get("Code")
            if self._schema and (status == 304 or code == "304"):
                return self._schema[1]
            if code in ("NoSuchKey", "404", "AccessDenied", "403"):
                raise SchemaConfigError(
                    f"the schema object s3://{self.settings.bucket}/{self.settings.schema_key} "
                    f"cannot be read ({code}): deploy it (terraform apply writes it from "
                    "schema_file) and check the function's read access to config/"
                ) from exc
            raise
        schema = load_schema(obj["Body"].read())
        self._schema = (obj["ETag"], schema)
        return schema


_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    global _runtime
    if _runtime is None:
        _runtime = Runtime(Settings.from_env())
    return _runtime


def set_runtime(runtime: Runtime | None) -> None:
    """For tests: inject a runtime (or reset to build one from the environment)."""
    global _runtime
    _runtime = runtime
