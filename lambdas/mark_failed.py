"""MarkFailed: record the failure (name and reason) and build the SNS message.

If the file is already COMPLETE (a step failed after the finalizer committed), nothing is
marked: the success message is returned and the state machine sends it instead.
"""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities.typing import LambdaContext
from etl.finalize import chunk_failure, success_message
from etl.keys import FileRef
from etl.runtime import get_runtime, logger, metrics
from etl.s3io import delete_prefix
from etl.status import COMPLETE

# Errors that only say "something failed below me": the chunk items say what.
GENERIC_ERRORS = ("States.", "ConservationError")


def describe_error(error: dict) -> tuple[str, str]:
    """(name, reason) from a Step Functions `{Error, Cause}`; Lambda causes are JSON."""
    name = error.get("Error") or "UnknownError"
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict):
            name = parsed.get("errorType") or name
            cause = parsed.get("errorMessage") or cause
    except (TypeError, ValueError):
        pass
    return name, cause or name


def file_ref(event: dict) -> FileRef:
    if event.get("file_id"):
        return FileRef.from_file_id(event["file_id"])
    return FileRef.from_event(event.get("detail", event))  # Split failed: the raw S3 event


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    rt = get_runtime()
    ref = file_ref(event)
    logger.append_keys(file_id=ref.file_id)
    name, reason = describe_error(event.get("error") or {})
    if name.startswith(GENERIC_ERRORS) and event.get("file_id"):
        cause = chunk_failure(rt.status.chunks(ref.file_id))
        if cause is not None:
            name, reason = cause.name, str(cause)
    changed = rt.status.fail_file(ref.file_id, name, reason)
    if not changed:
        item = rt.status.get_file(ref.file_id) or {}
        if item.get("status") == COMPLETE:
            logger.warning(
                "failure after the file was committed: sending its success message",
                extra={"error": name, "reason": reason},
            )
            return success_message(ref, item)
    # unpublished chunk outputs and a staged gzip copy are scratch: remove them
    removed = delete_prefix(rt.s3, ref.bucket, ref.work_prefix)
    if ref.is_gzip:
        removed += delete_prefix(rt.s3, ref.bucket, ref.staging_key)
    metrics.add_metric(name="FilesFailed", unit="Count", value=1)
    logger.error(
        "file failed",
        extra={"error": name, "reason": reason, "recorded": changed, "removed": removed},
    )
    body = {
        "file_id": ref.file_id,
        "status": "FAILED",
        "bucket": ref.bucket,
        "key": ref.key,
        "version_id": ref.version_id,
        "error": name,
        "reason": reason,
        "input_untouched": True,
    }
    return {
        **body,
        "subject": f"CSV ETL failed: {name}"[:100],
        "message": json.dumps(body, indent=2),
    }
