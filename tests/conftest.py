"""Shared fixtures: a moto-backed AWS world for handler tests and the default schema."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = ROOT / "schemas" / "transactions.json"
HEADER = "transaction_id,account_id,timestamp,amount,currency,merchant,category,status"


def row(i: int, **overrides: str) -> str:
    """One valid transactions record (fields overridable by name)."""
    values = {
        "transaction_id": f"T{i:06d}",
        "account_id": f"A{i % 7}",
        "timestamp": f"2024-03-{1 + i % 28:02d}T12:00:{i % 60:02d}Z",
        "amount": f"{i}.{i % 100:02d}",
        "currency": "USD",
        "merchant": "Shop",
        "category": "food",
        "status": "POSTED",
    }
    values.update(overrides)
    return ",".join(values[k] for k in HEADER.split(","))


@pytest.fixture(scope="session")
def schema():
    from etl.schema import load_schema

    return load_schema(SCHEMA_PATH)


@pytest.fixture
def aws(monkeypatch):
    """moto in-process: a versioned bucket with the schema, the status table, a Runtime."""
    from moto import mock_aws

    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        import boto3
        from etl import runtime
        from etl.contract import SCHEMA_OBJECT_KEY

        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="etl-test-processing")
        s3.put_bucket_versioning(
            Bucket="etl-test-processing", VersioningConfiguration={"Status": "Enabled"}
        )
        s3.put_object(
            Bucket="etl-test-processing", Key=SCHEMA_OBJECT_KEY, Body=SCHEMA_PATH.read_bytes()
        )
        ddb = boto3.resource("dynamodb")
        ddb.create_table(
            TableName="etl-test-status",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[
                {"AttributeName": "file_id", "KeyType": "HASH"},
                {"AttributeName": "chunk_id", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "file_id", "AttributeType": "S"},
                {"AttributeName": "chunk_id", "AttributeType": "S"},
            ],
        )
        rt = runtime.Runtime(
            runtime.Settings(
                bucket="etl-test-processing",
                status_table="etl-test-status",
                chunk_bytes=256,
                max_record_bytes=4096,
            ),
            s3=s3,
            dynamodb=ddb,
        )
        runtime.set_runtime(rt)
        yield rt
        runtime.set_runtime(None)


def s3_event(bucket: str, key: str, version_id: str | None, size: int) -> dict:
    obj = {"key": key, "size": size, "etag": "x", "sequencer": "1"}
    if version_id:
        obj["version-id"] = version_id
    return {"version": "0", "bucket": {"name": bucket}, "object": obj, "reason": "PutObject"}


def dumps(x) -> str:
    return json.dumps(x, default=str)


os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "CsvEtl")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "csv-etl-tests")
