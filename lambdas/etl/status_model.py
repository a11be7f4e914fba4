"""The status table's vocabulary: key names, item sort keys and the states. No I/O.

One file item (sort key ``FILE``) and one item per chunk (``CHUNK#000007``). A file moves

    REGISTERED -> PROCESSING -> PUBLISHING -> COMPLETE
    (any state but COMPLETE) -> FAILED

and a chunk from RUNNING to DONE. `etl.status` writes these states (conditional writes, so
nothing moves backwards); the typed events (`etl.events`) and the finalizer read them
without importing the AWS SDK.
"""

from __future__ import annotations

from typing import Any

from .contract import CONTRACT

# The key schema and item sort keys come from contract.json `table` (Terraform creates the
# table from the same section).
PARTITION_KEY = CONTRACT.table.partition_key
SORT_KEY = CONTRACT.table.sort_key
FILE = CONTRACT.table.file_item
CHUNK_PREFIX = CONTRACT.table.chunk_item_prefix
REGISTERED, PROCESSING, COMPLETE, FAILED = "REGISTERED", "PROCESSING", "COMPLETE", "FAILED"
PUBLISHING = "PUBLISHING"
NOT_OWNER = "NOT_OWNER"  # MarkFailed's answer (not an item status): another execution owns the file
RUNNING, DONE = "RUNNING", "DONE"


def chunk_id(index: int) -> str:
    """The sort key of chunk ``index``'s item ('CHUNK#000007')."""
    return CONTRACT.table.chunk_id(index)


def chunk_index(item: dict[str, Any]) -> int:
    """The index of a chunk item, read from its sort key ('CHUNK#000007' -> 7)."""
    return CONTRACT.table.chunk_index(item[SORT_KEY])
