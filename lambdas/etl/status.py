"""DynamoDB status items: one file item (chunk_id = "FILE") and one item per chunk.

Every state change is a conditional write, so a late or repeated writer cannot move a
file backwards (a COMPLETE or FAILED file never changes again), and only the execution
that registered a file (its `execution_id`) may move it or write its chunks. The states, key
names and sort keys are `etl.status_model` (no AWS SDK), re-exported here:

    REGISTERED -> PROCESSING -> PUBLISHING -> COMPLETE
    (any state but COMPLETE) -> FAILED

Chunk writes are transactions with a condition on the file item (PROCESSING, same
execution), so a processor cannot write into a FAILED or COMPLETE file or another
execution's chunks.
"""

from __future__ import annotations

import random
import time
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from .errors import FileStateConflict

# tests/test_contract_names.py checks that the Key={...} literals and key expressions below
# use exactly the attribute names of status_model (contract.json `table`).
from .status_model import (
    CHUNK_PREFIX,
    COMPLETE,
    DONE,
    FAILED,
    FILE,
    PROCESSING,
    PUBLISHING,
    REGISTERED,
    RUNNING,
    chunk_id,
)

# Re-exported: the handlers and tests read the vocabulary from the store's module too.
from .status_model import NOT_OWNER as NOT_OWNER
from .status_model import PARTITION_KEY as PARTITION_KEY
from .status_model import SORT_KEY as SORT_KEY
from .status_model import chunk_index as chunk_index

TRANSACTION_ATTEMPTS = 8  # a conflict lasts as long as another chunk's write: milliseconds
TRANSACTION_BACKOFF_S = 0.01


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


def _transaction_refused(exc: ClientError) -> bool:
    """A transaction cancelled because one of its conditions did not hold."""
    reasons = exc.response.get("CancellationReasons") or []
    return exc.response.get("Error", {}).get("Code") == "TransactionCanceledException" and any(
        r.get("Code") == "ConditionalCheckFailed" for r in reasons
    )


def _transaction_conflict(exc: ClientError) -> bool:
    """A transaction cancelled because another one held one of its items (e.g. two chunk
    writes checking the same file item at the same instant): safe to try again."""
    reasons = exc.response.get("CancellationReasons") or []
    return exc.response.get("Error", {}).get("Code") == "TransactionCanceledException" and any(
        r.get("Code") == "TransactionConflict" for r in reasons
    )


def _describe(file_id: str, item: dict | None) -> str:
    if not item:
        return f"{file_id} has no status item"
    return f"{file_id} is {item.get('status')} (execution {item.get('execution_id')})"


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

    def set_processing(self, file_id: str, execution_id: str, **attrs: Any) -> None:
        """REGISTERED -> PROCESSING (or stay PROCESSING) for the owning execution only."""
        sets, names, values = _assignments(attrs)
        try:
            self.table.update_item(
                Key={"file_id": file_id, "chunk_id": FILE},
                UpdateExpression=f"SET #s = :p, {sets}",
                ConditionExpression="execution_id = :x AND #s IN (:r, :p)",
                ExpressionAttributeNames={"#s": "status", **names},
                ExpressionAttributeValues={
                    ":p": PROCESSING,
                    ":r": REGISTERED,
                    ":x": execution_id,
                    **values,
                },
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            raise FileStateConflict(
                f"refusing to start processing: {_describe(file_id, self.get_file(file_id))}; "
                "only the execution that registered a file processes it"
            ) from exc

    def _file_owned_check(self, file_id: str, execution_id: str) -> dict[str, Any]:
        """A transaction item: the file is PROCESSING and owned by `execution_id`."""
        return {
            "ConditionCheck": {
                "TableName": self.table.name,
                "Key": {"file_id": file_id, "chunk_id": FILE},
                "ConditionExpression": "#s = :p AND execution_id = :x",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":p": PROCESSING, ":x": execution_id},
            }
        }

    def _chunk_write(
        self, file_id: str, index: int, execution_id: str, update: dict[str, Any]
    ) -> bool:
        """Update a chunk item only while its file is PROCESSING under `execution_id` and the
        chunk is not another execution's. Returns False (nothing written) otherwise."""
        names = {"#s": "status", "#x": "execution_id", **update.pop("names", {})}
        values = {":x": execution_id, **update.pop("values", {})}
        items = [
            self._file_owned_check(file_id, execution_id),
            {
                "Update": {
                    "TableName": self.table.name,
                    "Key": {"file_id": file_id, "chunk_id": chunk_id(index)},
                    "UpdateExpression": update["expression"] + ", #x = :x",
                    "ConditionExpression": "attribute_not_exists(#x) OR #x = :x",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            },
        ]
        attempt = 0
        while True:
            attempt += 1
            try:
                self.table.meta.client.transact_write_items(TransactItems=items)
                return True
            except ClientError as exc:
                if _transaction_refused(exc):
                    return False
                # concurrent chunk writes all check the file item; botocore does not retry
                # the resulting conflicts, so back off (full jitter) and try again
                if not _transaction_conflict(exc) or attempt >= TRANSACTION_ATTEMPTS:
                    raise
                time.sleep(random.uniform(0, TRANSACTION_BACKOFF_S * 2**attempt))

    def _refused(self, file_id: str, index: int, what: str) -> FileStateConflict:
        return FileStateConflict(
            f"chunk {index}: refusing to {what}: {_describe(file_id, self.get_file(file_id))}, "
            "not PROCESSING under this execution: a chunk is written only while its file is "
            "PROCESSING under the execution that owns it. Nothing was written"
        )

    def start_chunk(self, file_id: str, index: int, execution_id: str) -> int:
        """Mark a chunk RUNNING and count the attempt; returns the attempt number (1-based).
        Raises FileStateConflict if the file is not PROCESSING under `execution_id`."""
        started = self._chunk_write(
            file_id,
            index,
            execution_id,
            {
                "expression": (
                    "SET #s = :run, started_at = :t, attempts = if_not_exists(attempts, :z) + :one"
                ),
                "values": {":run": RUNNING, ":t": _now(), ":z": 0, ":one": 1},
            },
        )
        if not started:
            raise self._refused(file_id, index, "start the chunk")
        got = self.table.get_item(
            Key={"file_id": file_id, "chunk_id": chunk_id(index)},
            ConsistentRead=True,
            ProjectionExpression="attempts",
        )
        return int(got["Item"]["attempts"])

    def finish_chunk(
        self, file_id: str, index: int, execution_id: str, result: dict[str, int]
    ) -> None:
        """Record a chunk's counts (DONE); raises FileStateConflict like start_chunk."""
        sets, names, values = _assignments(result)
        done = self._chunk_write(
            file_id,
            index,
            execution_id,
            {
                "expression": f"SET #s = :done, finished_at = :t, {sets}",
                "names": names,
                "values": {":done": DONE, ":t": _now(), **values},
            },
        )
        if not done:
            raise self._refused(file_id, index, "record the chunk's result")

    def fail_chunk(
        self, file_id: str, index: int, execution_id: str, error: str, reason: str
    ) -> bool:
        """Record why a chunk attempt failed (a retry sets it RUNNING again). Returns False
        (nothing written) when the file is no longer PROCESSING under this execution."""
        update = _failure_update(error, reason)
        return self._chunk_write(
            file_id,
            index,
            execution_id,
            {
                "expression": update["UpdateExpression"],
                "names": {"#e": "error"},
                "values": update["ExpressionAttributeValues"],
            },
        )

    def chunks(self, file_id: str) -> list[dict]:
        items: list[dict] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "file_id = :f AND begins_with(chunk_id, :c)",
            "ExpressionAttributeValues": {":f": file_id, ":c": CHUNK_PREFIX},
            "ConsistentRead": True,
        }
        while True:
            page = self.table.query(**kwargs)
            items.extend(_plain(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def begin_publish(self, file_id: str, execution_id: str) -> None:
        """PROCESSING -> PUBLISHING (or stay PUBLISHING) for the owning execution only.

        From here no chunk write is accepted, so the chunk items the finalizer reads next are
        final. Raises FileStateConflict for a FAILED or COMPLETE file or another owner."""
        try:
            self.table.update_item(
                Key={"file_id": file_id, "chunk_id": FILE},
                UpdateExpression="SET #s = :pub, publish_started_at = :t",
                ConditionExpression="execution_id = :x AND #s IN (:p, :pub)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":pub": PUBLISHING,
                    ":p": PROCESSING,
                    ":x": execution_id,
                    ":t": _now(),
                },
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            raise FileStateConflict(
                f"refusing to publish: {_describe(file_id, self.get_file(file_id))}; only the "
                "execution that owns a PROCESSING file publishes it. Nothing was published"
            ) from exc

    def complete_file(self, file_id: str, execution_id: str, summary: dict[str, Any]) -> None:
        """PUBLISHING -> COMPLETE for the owning execution; a file already COMPLETE is left
        as it is (a retried finalizer). Raises FileStateConflict otherwise."""
        sets, names, values = _assignments(summary)
        try:
            self.table.update_item(
                Key={"file_id": file_id, "chunk_id": FILE},
                UpdateExpression=f"SET #s = :c, completed_at = :t, {sets}",
                ConditionExpression="#s = :pub AND execution_id = :x",
                ExpressionAttributeNames={"#s": "status", **names},
                ExpressionAttributeValues={
                    ":c": COMPLETE,
                    ":pub": PUBLISHING,
                    ":x": execution_id,
                    ":t": _now(),
                    **values,
                },
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            item = self.get_file(file_id)
            if item and item.get("status") == COMPLETE:
                return
            raise FileStateConflict(
                f"refusing to mark COMPLETE: {_describe(file_id, item)}, not PUBLISHING under "
                "this execution"
            ) from exc

    def fail_file(self, file_id: str, execution_id: str, error: str, reason: str) -> bool:
        """Mark FAILED if `execution_id` owns the file and it is neither COMPLETE nor FAILED,
        or create the item FAILED and owned by `execution_id` if the file never registered.
        Returns False (nothing changed) otherwise."""
        update = _failure_update(error, reason)
        update["UpdateExpression"] += ", execution_id = if_not_exists(execution_id, :x)"
        update["ExpressionAttributeValues"].update({":c": COMPLETE, ":x": execution_id})
        try:
            self.table.update_item(
                Key={"file_id": file_id, "chunk_id": FILE},
                ConditionExpression=(
                    "attribute_not_exists(#s) OR (execution_id = :x AND NOT #s IN (:c, :f))"
                ),
                **update,
            )
            return True
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise

    def claim_ended_notice(self, file_id: str, execution_id: str) -> None:
        """Record on the file item that the failure message for the ended execution
        `execution_id` was published (mark_failed checks it first: a redelivered
        execution-ended event publishes nothing again)."""
        self.table.update_item(
            Key={"file_id": file_id, "chunk_id": FILE},
            UpdateExpression="SET ended_notice = :x",
            ExpressionAttributeValues={":x": execution_id},
        )
