"""DynamoDB status items: one file item (chunk_id = "FILE") and one item per chunk.

Every state change is a conditional write, so a late or repeated writer cannot move a
file backwards (a COMPLETE or FAILED file never changes again).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

FILE = "FILE"
REGISTERED, PROCESSING, COMPLETE, FAILED = "REGISTERED", "PROCESSING", "COMPLETE", "FAILED"
RUNNING, DONE = "RUNNING", "DONE"


def chunk_id(index: int) -> str:
    return f"CHUNK#{index:06d}"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: int(v) if isinstance(v, Decimal) else v for k, v in item.items()}


def _assignments(attrs: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
    """`#a0 = :a0, ...` with placeholder names (DynamoDB reserves words like `lines`)."""
    names = {f"#a{i}": k for i, k in enumerate(attrs)}
    values = {f":a{i}": v for i, v in enumerate(attrs.values())}
    return ", ".join(f"#a{i} = :a{i}" for i in range(len(attrs))), names, values


def _failure_update(error: str, reason: str) -> dict[str, Any]:
    """The update that marks an item FAILED with the error's name and reason."""
    return {
        "UpdateExpression": "SET #s = :f, #e = :e, reason = :r, failed_at = :t",
        "ExpressionAttributeNames": {"#s": "status", "#e": "error"},
        "ExpressionAttributeValues": {
            ":f": FAILED,
            ":e": error,
            ":r": reason[:4000],
            ":t": _now(),
        },
    }


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class StatusStore:
    """Status items in one table (a boto3 `Table` resource is injected)."""

    def __init__(self, table: Any):
        self.table = table

    def register_file(
        self, file_id: str, execution_id: str, attrs: dict[str, Any]
    ) -> tuple[bool, dict]:
        """Register a new file. Returns (is_new, item). Idempotent for the same execution."""
        item = {
            "file_id": file_id,
            "chunk_id": FILE,
            "status": REGISTERED,
            "execution_id": execution_id,
            "registered_at": _now(),
            **attrs,
        }
        try:
            self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(file_id)")
            return True, item
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
        existing = self.get_file(file_id) or {}
        return existing.get("execution_id") == execution_id, existing

    def get_file(self, file_id: str) -> dict | None:
        got = self.table.get_item(
            Key={"file_id": file_id, "chunk_id": FILE}, ConsistentRead=True
        ).get("Item")
        return _plain(got) if got else None

    def set_processing(self, file_id: str, **attrs: Any) -> None:
        sets, names, values = _assignments(attrs)
        self.table.update_item(
            Key={"file_id": file_id, "chunk_id": FILE},
            UpdateExpression=f"SET #s = :p, {sets}",
            ConditionExpression="#s IN (:r, :p)",
            ExpressionAttributeNames={"#s": "status", **names},
            ExpressionAttributeValues={":p": PROCESSING, ":r": REGISTERED, **values},
        )

    def start_chunk(self, file_id: str, index: int) -> int:
        """Mark a chunk RUNNING and count the attempt; returns the attempt number (1-based)."""
        out = self.table.update_item(
            Key={"file_id": file_id, "chunk_id": chunk_id(index)},
            UpdateExpression=(
                "SET #s = :run, started_at = :t, attempts = if_not_exists(attempts, :z) + :one"
            ),
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":run": RUNNING, ":t": _now(), ":z": 0, ":one": 1},
            ReturnValues="UPDATED_NEW",
        )
        return int(out["Attributes"]["attempts"])

    def finish_chunk(self, file_id: str, index: int, result: dict[str, int]) -> None:
        sets, names, values = _assignments(result)
        self.table.update_item(
            Key={"file_id": file_id, "chunk_id": chunk_id(index)},
            UpdateExpression=f"SET #s = :done, finished_at = :t, {sets}",
            ExpressionAttributeNames={"#s": "status", **names},
            ExpressionAttributeValues={":done": DONE, ":t": _now(), **values},
        )

    def fail_chunk(self, file_id: str, index: int, error: str, reason: str) -> None:
        """Record why a chunk attempt failed (a retry sets it RUNNING again)."""
        self.table.update_item(
            Key={"file_id": file_id, "chunk_id": chunk_id(index)},
            **_failure_update(error, reason),
        )

    def chunks(self, file_id: str) -> list[dict]:
        items: list[dict] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "file_id = :f AND begins_with(chunk_id, :c)",
            "ExpressionAttributeValues": {":f": file_id, ":c": "CHUNK#"},
            "ConsistentRead": True,
        }
        while True:
            page = self.table.query(**kwargs)
            items.extend(_plain(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def complete_file(self, file_id: str, summary: dict[str, Any]) -> None:
        sets, names, values = _assignments(summary)
        try:
            self.table.update_item(
                Key={"file_id": file_id, "chunk_id": FILE},
                UpdateExpression=f"SET #s = :c, completed_at = :t, {sets}",
                ConditionExpression="#s IN (:p, :c)",
                ExpressionAttributeNames={"#s": "status", **names},
                ExpressionAttributeValues={
                    ":c": COMPLETE,
                    ":p": PROCESSING,
                    ":t": _now(),
                    **values,
                },
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                raise RuntimeError(
                    f"{file_id} is not PROCESSING; refusing to mark it COMPLETE"
                ) from exc
            raise

    def fail_file(self, file_id: str, error: str, reason: str) -> bool:
        """Mark FAILED unless already COMPLETE. Creates the item if the file never registered."""
        try:
            update = _failure_update(error, reason)
            update["ExpressionAttributeValues"][":c"] = COMPLETE
            self.table.update_item(
                Key={"file_id": file_id, "chunk_id": FILE},
                ConditionExpression="attribute_not_exists(#s) OR #s <> :c",
                **update,
            )
            return True
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
