"""A file's failure: record it (name and reason), remove what the file version left, and
build the SNS message. The mark_failed handler is its adapter.

Its event is `{"execution_id": $$.Execution.Id, "input": <the failed state's input with
"error">}`. Only the execution that owns the file (the one that registered it) may fail it:
- owner, file not COMPLETE/FAILED (or no item yet): mark FAILED, delete everything the file
  version may have left under work/, staging/, processed/ and rejected/, return the failure
  message (status FAILED);
- owner, file already FAILED (a retried MarkFailed): clean up again, return the recorded
  failure;
- file COMPLETE (a step failed after the finalizer committed): nothing is marked, the
  success message is returned and the state machine sends it instead;
- another execution owns the file (e.g. a duplicate event's Split failed while the owner
  works): nothing is changed or deleted; status NOT_OWNER ends the execution in
  OwnedByAnotherExecution.

It is also the target of the execution-ended rule (modules/orchestration): EventBridge's
`Step Functions Execution Status Change` event (etl.events.ExecutionEnded) for an execution
of this state machine that ended FAILED, TIMED_OUT or ABORTED, which no Catch sees (an
execution timeout, StopExecution, States.DataLimitExceeded, a failed NotifyFailure). Then the
same clean-up runs for the file the execution owns, and the function publishes the failure
message itself:
- execution ended in the `FileFailed` Fail state: MarkFailed and NotifyFailure already ran;
  nothing is done again and no second message is sent (`already_reported`); the same for a
  redelivered event whose message was published (the file item's `ended_notice`);
- file COMPLETE: the outputs stay; if this execution committed it and did not end in
  `SuccessMessageNotSent`, its success message may be unsent (a timeout or stop during
  NotifySuccess), so the function puts it on the failure topic once (`complete_notified`),
  else nothing (`complete`);
- another execution owns the file: nothing
  (`not_owner`); the input names no file of this pipeline: nothing (`outside_pipeline`);
- otherwise: the file is marked FAILED (or found FAILED by this execution: MarkFailed ran but
  the execution failed after it), its outputs are removed, and the failure message goes to
  the failure topic (`notified`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import unquote_plus

from etl.contract import PREFIXES
from etl.errors import InputOutsidePipeline, named_errors
from etl.events import (
    ExecutionEnded,
    ExecutionEndedOutcome,
    FailureMessage,
    MarkFailedInput,
    NotOwner,
    ObjectCreated,
    RefusedInputMessage,
    SchemaIdentity,
    StepError,
    SuccessMessage,
)
from etl.finalize import chunk_failure, success_message
from etl.keys import S3_MAX_KEY_BYTES, FileRef
from etl.runtime import Runtime, add_dataset_dimension, logger, metrics
from etl.s3io import delete_prefix
from etl.status import COMPLETE, FAILED

EXECUTION_ENDED = ExecutionEnded.detail_type
# The Fail state an execution reaches after MarkFailed and NotifyFailure did their work.
REPORTED_FAILURE = "FileFailed"
# The Fail state after the state machine put an unsent success message on the failure topic.
SUCCESS_NOT_SENT = "SuccessMessageNotSent"
SUCCESS_MAYBE_UNSENT = "CSV ETL: file COMPLETE, success message may not have been sent"
# Errors that only say "something failed below me": the chunk items say what.
GENERIC_ERRORS = ("States.", "ConservationError")
# Names Step Functions and Lambda give to failures of their own: published as they are.
SERVICE_ERRORS = ("States.", "Lambda.", "Sandbox.", "Runtime.")


def describe_error(error: StepError) -> tuple[str, str]:
    """(name, reason) from a Step Functions `{Error, Cause}`; Lambda causes are JSON."""
    name = error.Error or "UnknownError"
    cause = error.Cause or ""
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict):
            name = parsed.get("errorType") or name
            cause = parsed.get("errorMessage") or cause
    except (TypeError, ValueError):
        pass
    return name, cause or name


def published_name(name: str, reason: str) -> tuple[str, str]:
    """A raw Python/botocore/pyarrow exception (`KeyError`, `ClientError`, `ArrowInvalid`,
    `Exception`) is never published as the error name: it becomes `UnexpectedError` and the
    reason keeps the original type and message."""
    if name in named_errors() or name.startswith(SERVICE_ERRORS):
        return name, reason
    return "UnexpectedError", (
        f"{name}: {reason} (an error the pipeline has no name for: look up the execution's "
        "function logs; if the file is at fault fix it, otherwise report it; then upload "
        "the file again)"
    )


def candidates(state: Mapping[str, Any]) -> list[FileRef]:
    """The file ids this failure may belong to. After Split, the state names it; a failed
    Split left only the raw S3 event, whose key Split may have URL-decoded. Raises
    InputOutsidePipeline when the state is neither."""
    if isinstance(state.get("file_id"), str):
        return [FileRef.from_file_id(state["file_id"])]
    raw = ObjectCreated.from_dict(state.get("detail", state)).ref
    decoded = FileRef(raw.bucket, unquote_plus(raw.key), raw.version_id)
    return [raw] if decoded == raw else [raw, decoded]


def choose(rt: Runtime, refs: list[FileRef], execution_id: str) -> tuple[FileRef, dict | None]:
    """The candidate owned by this execution, else the first that exists, else the first."""
    items = [(ref, rt.status.get_file(ref.file_id)) for ref in refs]
    for ref, item in items:
        if item and item.get("execution_id") == execution_id:
            return ref, item
    for ref, item in items:
        if item:
            return ref, item
    return refs[0], None


def inside_pipeline(rt: Runtime, ref: FileRef) -> bool:
    return ref.bucket == rt.settings.bucket and ref.key.startswith(PREFIXES["incoming"])


def remove_outputs(rt: Runtime, ref: FileRef, schema: SchemaIdentity | None) -> int:
    """Everything a failed file version may have left: unpublished chunk outputs (work/),
    the staged gzip copy (staging/) and anything a finalizer published before it failed
    (the version's processed/ and rejected/ prefixes under the major of its pinned schema;
    a file that never pinned a schema never got that far)."""
    published = ref.outputs(schema.major).published_prefixes if schema else ()
    prefixes = (ref.work_prefix, ref.staging_prefix, *published)
    # a prefix past S3's key limit (a KeyTooLong file) holds nothing and cannot be listed
    fit = [p for p in prefixes if len(p.encode()) <= S3_MAX_KEY_BYTES]
    return sum(delete_prefix(rt.s3, ref.bucket, p) for p in fit)


def _subject(name: str) -> str:
    return f"CSV ETL failed: {name}"[:100]


def _body(message: FailureMessage | RefusedInputMessage) -> str:
    """The SNS message: the JSON of every field but `subject` and `message`."""
    body = message.to_dict()
    del body["subject"], body["message"]
    return json.dumps(body, indent=2)


def failure_message(ref: FileRef, name: str, reason: str) -> FailureMessage:
    draft = FailureMessage(
        **ref.identity(), error=name, reason=reason, subject=_subject(name), message=""
    )
    return replace(draft, message=_body(draft))


def refused_input_message(
    ref: FileRef | None, name: str, reason: str
) -> FailureMessage | RefusedInputMessage:
    """The failure message for an execution whose input names no pipeline object: nothing
    is recorded in the status table and nothing is deleted."""
    if ref is not None:
        return failure_message(ref, name, reason)
    draft = RefusedInputMessage(name, reason, _subject(name), "")
    return replace(draft, message=_body(draft))


def mark_file_failed(
    rt: Runtime, failed: MarkFailedInput
) -> FailureMessage | RefusedInputMessage | SuccessMessage | NotOwner:
    """MarkFailed's verdict for the failed state ``failed`` (see the module docstring for
    each outcome)."""
    execution_id, state = failed.execution_id, failed.input
    name, reason = describe_error(failed.error)
    try:
        refs = candidates(state)
    except InputOutsidePipeline:
        refs = []
    if not refs or not inside_pipeline(rt, refs[0]):
        # a refused execution input (InputOutsidePipeline): no file of ours to mark or clean
        name, reason = published_name(name, reason)
        logger.error("execution input refused", extra={"error": name, "reason": reason})
        return refused_input_message(refs[0] if refs else None, name, reason)
    ref, _ = choose(rt, refs, execution_id)
    logger.append_keys(file_id=ref.file_id)
    if name.startswith(GENERIC_ERRORS) and state.get("file_id"):
        cause = chunk_failure(rt.status.chunks(ref.file_id))
        if cause is not None:
            name, reason = cause.name, str(cause)
    name, reason = published_name(name, reason)

    changed = rt.status.fail_file(ref.file_id, execution_id, name, reason)
    item = rt.status.get_file(ref.file_id) or {}
    schema = SchemaIdentity.from_item(item)
    if schema is not None:
        add_dataset_dimension(schema.dataset)
    if not changed:
        if item.get("status") == COMPLETE:  # registered, so its schema is recorded
            logger.warning(
                "failure after the file was committed: sending its success message",
                extra={"error": name, "reason": reason},
            )
            return success_message(ref, schema, item)
        if item.get("execution_id") != execution_id:
            logger.warning(
                "the file belongs to another execution: nothing changed",
                extra={"error": name, "reason": reason, "owner": item.get("execution_id")},
            )
            metrics.add_metric(name="NotOwnerFailures", unit="Count", value=1)
            return NotOwner(ref.file_id, item.get("status"), item.get("execution_id"), name, reason)
        # already FAILED by this execution (a retried MarkFailed): report what was recorded
        name, reason = item.get("error", name), item.get("reason", reason)
    removed = remove_outputs(rt, ref, schema)
    if changed:
        metrics.add_metric(name="FilesFailed", unit="Count", value=1)
    logger.error(
        "file failed",
        extra={"error": name, "reason": reason, "recorded": changed, "removed": removed},
    )
    return failure_message(ref, name, reason)


# -- the execution-ended rule ---------------------------------------------------------------------
def ended_error(ended: ExecutionEnded) -> tuple[str, str]:
    """(name, reason) of an execution that ended without MarkFailed's verdict."""
    if ended.status == "TIMED_OUT":
        return "ExecutionTimedOut", (
            "the execution ran past the state machine's timeout (timeout_seconds) and Step "
            "Functions ended it; nothing of the file stays published. Upload the file again; "
            "if it is large, raise max_concurrency or timeout_seconds"
        )
    if ended.status == "ABORTED":
        why = f" ({ended.cause})" if ended.cause else ""
        return "ExecutionAborted", (
            f"the execution was stopped before it finished{why}; nothing of the file stays "
            "published. Upload the file again to process it"
        )
    return published_name(ended.error or "States.Runtime", ended.cause or "")


def ended_file(rt: Runtime, ended: ExecutionEnded) -> FileRef | None:
    """The pipeline file the ended execution was started for, or None."""
    try:
        state = json.loads(ended.input or "null")
        refs = candidates(state) if isinstance(state, dict) else []
    except (InputOutsidePipeline, ValueError):
        return None
    if not refs or not inside_pipeline(rt, refs[0]):
        return None
    return choose(rt, refs, ended.execution_arn)[0]


def _complete_file_ended(
    rt: Runtime, ref: FileRef, ended: ExecutionEnded, item: dict
) -> ExecutionEndedOutcome:
    """A COMPLETE file whose own execution then ended without succeeding: the outputs stay.
    Unless the state machine already put the success message on the failure topic
    (`SuccessMessageNotSent`), NotifySuccess may never have sent it (a timeout or a stop
    during its retries), so it goes to the failure topic now, once per execution."""
    if (
        item.get("execution_id") != ended.execution_arn
        or ended.error == SUCCESS_NOT_SENT
        or item.get("ended_notice") == ended.execution_arn
    ):
        return ExecutionEndedOutcome(ended.execution_arn, ref.file_id, "complete")
    message = success_message(ref, SchemaIdentity.from_item(item), item)
    rt.notifications.publish(
        TopicArn=rt.settings.failure_topic_arn,
        Subject=SUCCESS_MAYBE_UNSENT,
        Message=json.dumps(message.to_dict(), indent=2),
    )
    rt.status.claim_ended_notice(ref.file_id, ended.execution_arn)
    logger.warning("execution ended after the file was committed: success message on SNS")
    return ExecutionEndedOutcome(ended.execution_arn, ref.file_id, "complete_notified")


def execution_ended(rt: Runtime, ended: ExecutionEnded) -> ExecutionEndedOutcome:
    """MarkFailed's clean-up for an execution no Catch saw end; publishes the failure message
    unless the state machine already did (see the module docstring for each outcome)."""
    ref = ended_file(rt, ended)
    if ref is None:
        logger.warning(
            "execution ended for no file of this pipeline", extra={"status": ended.status}
        )
        return ExecutionEndedOutcome(ended.execution_arn, None, "outside_pipeline")
    logger.append_keys(file_id=ref.file_id)
    if ended.status == "FAILED" and ended.error == REPORTED_FAILURE:
        return ExecutionEndedOutcome(ended.execution_arn, ref.file_id, "already_reported")
    name, reason = ended_error(ended)
    changed = rt.status.fail_file(ref.file_id, ended.execution_arn, name, reason)
    item = rt.status.get_file(ref.file_id) or {}
    if not changed and item.get("status") == COMPLETE:
        return _complete_file_ended(rt, ref, ended, item)
    if item.get("execution_id") != ended.execution_arn or item.get("status") != FAILED:
        logger.warning("the file belongs to another execution: nothing changed")
        return ExecutionEndedOutcome(ended.execution_arn, ref.file_id, "not_owner")
    if item.get("ended_notice") == ended.execution_arn:  # a redelivered event
        return ExecutionEndedOutcome(ended.execution_arn, ref.file_id, "already_reported")
    removed = remove_outputs(rt, ref, SchemaIdentity.from_item(item))
    message = failure_message(ref, item.get("error", name), item.get("reason", reason))
    rt.notifications.publish(
        TopicArn=rt.settings.failure_topic_arn, Subject=message.subject, Message=message.message
    )
    # after publishing: a crash in between sends the message again (at least once), never
    # loses it
    rt.status.claim_ended_notice(ref.file_id, ended.execution_arn)
    if changed:
        metrics.add_metric(name="FilesFailed", unit="Count", value=1)
    logger.error(
        "execution ended: file failed",
        extra={
            "error": message.error,
            "status": ended.status,
            "recorded": changed,
            "removed": removed,
        },
    )
    return ExecutionEndedOutcome(ended.execution_arn, ref.file_id, "notified")
