"""Throwaway handlers that follow docs/contracts.md's event shapes, for harness tests.

They prove the harness (ASL rendering, Distributed Map with ItemReader, invocations through
the Lambda layer, named errors reaching Catch, SQS/SNS delivery) without the real handlers.
Written into a temp ``lambdas`` dir by :func:`write_fake_lambdas`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

COMMON = """
import json, os, boto3

s3 = boto3.client("s3")
ddb = boto3.client("dynamodb")
BUCKET = os.environ["ETL_BUCKET"]
TABLE = os.environ["ETL_STATUS_TABLE"]


class SchemaMismatch(Exception):
    pass
"""

SPLITTER = """
from etl.common import *

def handler(event, context):
    event = event.get("detail", event)  # {detail, execution_id} or the bare detail
    key = event["object"]["key"]
    version = event["object"]["version-id"]
    file_id = key.rsplit("/", 1)[-1] + "@" + version
    try:
        ddb.put_item(TableName=TABLE, Item={"file_id": {"S": file_id}, "chunk_id": {"S": "FILE"},
                     "status": {"S": "REGISTERED"}},
                     ConditionExpression="attribute_not_exists(file_id)")
    except ddb.exceptions.ConditionalCheckFailedException:
        return {"file_id": file_id, "duplicate": True}
    size = event["object"]["size"]
    chunks = [{"index": i, "start": i * size // 3, "end": (i + 1) * size // 3} for i in range(3)]
    manifest_key = f"manifests/{file_id}.json"
    s3.put_object(Bucket=BUCKET, Key=manifest_key, Body=json.dumps(chunks).encode())
    return {"file_id": file_id, "bucket": BUCKET, "key": key, "version_id": version, "size": size,
            "data_key": key, "data_version_id": version, "compression": None,
            "manifest_key": manifest_key, "chunk_count": len(chunks), "header_end": 0,
            "duplicate": False, "env_chunk_bytes": os.environ["ETL_CHUNK_BYTES"]}
"""

VALIDATOR = """
from etl.common import *

def handler(event, context):
    if "bad" in event["key"]:
        raise SchemaMismatch("header does not match the schema: expected transaction_id")
    return {**event, "columns": ["a", "b"]}
"""

PROCESSOR = """
import os, time
from etl.common import *

def handler(event, context):
    chunk = event["chunk"]
    time.sleep(float(os.environ.get("FAKE_PROCESSOR_SLEEP", "0.3")))
    body = s3.get_object(Bucket=BUCKET, Key=event["data_key"], VersionId=event["data_version_id"],
                         Range=f"bytes={chunk['start']}-{chunk['end'] - 1}")["Body"].read()
    rows = body.count(b"\\n")
    s3.put_object(Bucket=BUCKET, Key=f"processed/{event['file_id']}/part-{chunk['index']:06d}.txt",
                  Body=body)
    ddb.put_item(TableName=TABLE, Item={"file_id": {"S": event["file_id"]},
                 "chunk_id": {"S": f"CHUNK#{chunk['index']:06d}"}, "status": {"S": "DONE"},
                 "rows_valid": {"N": str(rows)}, "rows_rejected": {"N": "0"},
                 "pid": {"N": str(os.getpid())}})
    return {"file_id": event["file_id"], "chunk_index": chunk["index"], "rows_valid": rows,
            "rows_rejected": 0, "bytes": len(body), "lines": rows}
"""

FINALIZER = """
from etl.common import *

def handler(event, context):
    items = ddb.query(TableName=TABLE, KeyConditionExpression="file_id = :f",
                      ExpressionAttributeValues={":f": {"S": event["file_id"]}})["Items"]
    valid = sum(int(i["rows_valid"]["N"]) for i in items if i["chunk_id"]["S"].startswith("CHUNK#"))
    return {"file_id": event["file_id"], "status": "COMPLETE", "bucket": event["bucket"],
            "key": event["key"], "version_id": event["version_id"], "rows_total": valid,
            "rows_valid": valid, "rows_rejected": 0, "chunks": event["chunk_count"],
            "valid_prefix": f"processed/{event['file_id']}/",
            "rejected_prefix": f"rejected/{event['file_id']}/",
            "message_group_id": event["file_id"], "dedup_id": event["version_id"]}
"""

MARK_FAILED = """
from etl.common import *

def handler(event, context):
    event = event.get("input", event)  # {execution_id, input} as the state machine sends it
    error = event["error"]
    cause = json.loads(error["Cause"])
    ddb.put_item(TableName=TABLE, Item={"file_id": {"S": event["file_id"]}, "chunk_id": {"S": "FILE"},
                 "status": {"S": "FAILED"}, "reason": {"S": cause["errorMessage"]}})
    message = json.dumps({"file_id": event["file_id"], "error": error["Error"],
                          "reason": cause["errorMessage"]})
    return {"file_id": event["file_id"], "status": "FAILED", "error": error,
            "reason": cause["errorMessage"], "subject": f"ETL failed: {error['Error']}",
            "message": message}
"""


def write_fake_lambdas(root: Path) -> Path:
    """A ``lambdas`` dir with the five fake entry modules and an ``etl`` package."""
    lambdas = root / "lambdas"
    (lambdas / "etl").mkdir(parents=True)
    (lambdas / "etl" / "__init__.py").write_text("")
    (lambdas / "etl" / "common.py").write_text(COMMON)
    shutil.copy(REPO / "lambdas" / "etl" / "contract.json", lambdas / "etl" / "contract.json")
    for name, source in {
        "splitter": SPLITTER,
        "validator": VALIDATOR,
        "processor": PROCESSOR,
        "finalizer": FINALIZER,
        "mark_failed": MARK_FAILED,
    }.items():
        (lambdas / f"{name}.py").write_text(source)
    json.loads((lambdas / "etl" / "contract.json").read_text())
    return lambdas
