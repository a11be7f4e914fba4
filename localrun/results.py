"""What an execution did: waiting for it to end, then reading its result back from Step
Functions (history and state outputs), the results queue, the failure topic's observer queue,
the status table and the bucket; progress snapshots while it runs; the summary table the
command lines print (:func:`summary_table`).

:class:`ExecutionResults` is a part of :class:`localrun.pipeline.LocalPipeline`: it uses the
pipeline's ``client()``, ``bucket``, ``table``, ``contract`` and the message sinks set up on
start (``_results_url``, ``_failure_sub_url``, ``_results``, ``_failures``, ``_messages_lock``).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from etl.events import SchemaIdentity

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


@dataclass
class Progress:
    """A snapshot while an execution runs."""

    execution_arn: str
    status: str
    chunks_done: int
    chunks_total: int | None
    rows_done: int
    elapsed_s: float

    @property
    def rows_per_s(self) -> float:
        return self.rows_done / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass
class RunResult:
    """What one execution did, as the summary and the tests see it."""

    status: str  # SUCCEEDED | FAILED (TIMED_OUT / ABORTED are reported as FAILED)
    execution_arn: str
    execution_status: str  # the raw Step Functions status
    key: str
    version_id: str | None
    duration_s: float
    file_id: str | None = None
    rows_total: int | None = None
    rows_valid: int | None = None
    rows_rejected: int | None = None
    chunks: int | None = None
    error: str | None = None
    dataset: str | None = None  # the dataset the upload was routed to
    schema: dict | None = None  # the pinned schema's identity (etl.events.SchemaIdentity)
    duplicate: bool = False  # ended in AlreadyProcessed
    ignored: bool = False  # ended in Ignored (a 0-byte folder marker or placeholder)
    success_message: dict | None = None  # from the results queue
    failure_message: dict | None = None  # the SNS notification (Subject, Message)
    failure: dict | None = None  # MarkFailed's output {error, reason, ...}
    file_item: dict | None = None  # the status table's file item
    output: dict | None = None  # the execution output
    valid_keys: list[str] = field(default_factory=list)
    rejected_keys: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def summary(self) -> dict:
        return {
            "status": self.status,
            "rows_total": self.rows_total,
            "rows_valid": self.rows_valid,
            "rows_rejected": self.rows_rejected,
            "chunks": self.chunks,
            "error": self.error,
            "dataset": self.dataset,
            "schema": self.schema,
            "execution_arn": self.execution_arn,
            "duration_s": round(self.duration_s, 3),
        }


def summary_table(result: RunResult, input_path: Path, out: Path | None, runtime: str = "") -> str:
    """The summary the command line prints after a run (local run, running stack, validate):
    counts, duration and rate, rejects per rule and the first rejected lines, outputs, and
    how the Lambda handlers ran (`runtime`, when they ran)."""
    size = input_path.stat().st_size
    rows = [
        ("status", result.status),
        ("file", f"{result.key} ({size / 1e6:.2f} MB)"),
        *_schema_rows(result),
        ("chunks", _n(result.chunks)),
        ("rows total", _n(result.rows_total)),
        ("rows valid", _n(result.rows_valid)),
        ("rows rejected", _n(result.rows_rejected)),
    ]
    rate = ""
    if result.duration_s > 0 and result.rows_total:
        rate = (
            f"  ({result.rows_total / result.duration_s:,.0f} rows/s,"
            f" {size / 1e6 / result.duration_s:.2f} MB/s)"
        )
    rows.append(("duration", f"{result.duration_s:.1f} s{rate}"))
    rows += _rejects_rows(result.success_message, result.file_item)
    if result.duplicate:
        rows.append(("note", "duplicate event: the object version was already processed"))
    if result.ignored:
        rows.append(("note", "a 0-byte folder marker or placeholder: ignored"))
    if result.error:
        rows.append(("error", result.error))
    if result.failure_message:
        rows.append(("notification", f"SNS: {result.failure_message.get('Subject')}"))
    if result.execution_arn:  # validate runs no execution
        rows.append(("execution", result.execution_arn))
    if runtime:
        rows.append(("lambda", runtime))
    if out is not None:
        rows.append(
            (
                "outputs",
                f"{out / 'summary.json'}; {out / 'valid'} ({len(result.valid_keys)} files);"
                f" {out / 'rejected'} ({len(result.rejected_keys)} files)",
            )
        )
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)


def _schema_rows(result: RunResult) -> list[tuple[str, str]]:
    """The dataset and the pinned schema (`transactions version 1 (sha256 3f2a...)`), when
    the file was routed and pinned (validate runs no pipeline: neither)."""
    rows = [("dataset", result.dataset)] if result.dataset else []
    if result.schema:
        schema = result.schema
        text = f"{schema['name']} version {schema['version']} (sha256 {schema['sha256']})"
        rows.append(("schema", text))
    return rows


def _rejects_rows(message: dict | None, file_item: dict | None) -> list[tuple[str, str]]:
    """Rejects per column and rule, and the first rejected lines, from the success message;
    the lines' raw text from the status table's file item (the message never carries it)."""
    if not message or not message.get("rows_rejected"):
        return []
    rows = [
        ("rejects", f"{int(r['count']):,}  {r.get('column') or '(record)'}  {r['rule']}")
        for r in message.get("rejects_by_rule", [])
    ]
    raw = {int(r["line"]): r.get("raw") for r in (file_item or {}).get("first_rejects") or []}
    for r in message.get("first_rejects", []):
        text = raw.get(int(r["line"]))
        rows.append(
            ("rejected line", f"{r['line']}: {r['reason']}" + (f"  | {text}" if text else ""))
        )
    return [
        (name if i == 0 or name != rows[i - 1][0] else "", v) for i, (name, v) in enumerate(rows)
    ]


def _n(value) -> str:
    return "-" if value is None else f"{value:,}"


class ExecutionResults:
    """Waiting for executions and collecting their results (a LocalPipeline part)."""

    def wait_for(
        self,
        execution_arn: str,
        *,
        timeout: float = 600.0,
        progress: Callable[[Progress], None] | None = None,
        interval: float = 0.1,
    ) -> RunResult:
        """Wait for an execution to end; collect its messages, counts and status items."""
        sfn = self.client("stepfunctions")
        started = time.monotonic()
        deadline = started + timeout
        while True:
            description = sfn.describe_execution(executionArn=execution_arn)
            status = description["status"]
            if progress is not None:
                progress(self._progress(execution_arn, status, started))
            if status in TERMINAL:
                break
            if time.monotonic() > deadline:
                sfn.stop_execution(executionArn=execution_arn, cause="localrun timeout")
                raise TimeoutError(f"{execution_arn} still {status} after {timeout:.0f}s")
            time.sleep(interval)
        return self._result(description)

    def write_outputs(self, result: RunResult, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        s3 = self.client("s3")
        for name, keys in (("valid", result.valid_keys), ("rejected", result.rejected_keys)):
            target = out_dir / name
            shutil.rmtree(target, ignore_errors=True)  # a reused --out DIR holds only this run
            target.mkdir()
            basenames = [k.rsplit("/", 1)[-1] for k in keys]
            flat = len(set(basenames)) == len(basenames)
            for key, base in zip(keys, basenames, strict=True):
                local = base if flat else key.replace("/", "_")
                s3.download_file(self.bucket, key, str(target / local))
        (out_dir / "summary.json").write_text(json.dumps(result.summary(), indent=2) + "\n")

    def status_items(self, file_id: str) -> list[dict]:
        """The status table's items of one file, as plain Python values."""
        table = self.contract.table
        ddb = self.client("dynamodb")
        items, kwargs = [], {}
        while True:
            page = ddb.query(
                TableName=self.table,
                KeyConditionExpression="#pk = :f",
                ExpressionAttributeNames={"#pk": table.partition_key},
                ExpressionAttributeValues={":f": {"S": file_id}},
                **kwargs,
            )
            items += [_plain_item(i) for i in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

    def list_keys(self, prefix: str) -> list[str]:
        s3 = self.client("s3")
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return sorted(keys)

    def drain_messages(self) -> tuple[list[dict], list[dict]]:
        """(success messages, failure notifications) received so far."""
        self._poll_queue(self._results_url, self._results, raw=True)
        self._poll_queue(self._failure_sub_url, self._failures, raw=False)
        with self._messages_lock:
            return list(self._results), list(self._failures)

    def _poll_queue(self, url: str, sink: list[dict], *, raw: bool) -> None:
        sqs = self.client("sqs")
        while True:
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return
            for message in messages:
                body = json.loads(message["Body"])
                if not raw:  # SNS envelope
                    body = {"Subject": body.get("Subject"), "Message": body.get("Message")}
                with self._messages_lock:
                    sink.append(body)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def _history(self, execution_arn: str) -> list[dict]:
        sfn = self.client("stepfunctions")
        events, kwargs = [], {}
        while True:
            page = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000, **kwargs)
            events += page["events"]
            if not page.get("nextToken"):
                return events
            kwargs = {"nextToken": page["nextToken"]}

    def _state_outputs(self, execution_arn: str) -> dict[str, dict]:
        """{state name: its last output} from the execution history."""
        outputs = {}
        for event in self._history(execution_arn):
            details = event.get("stateExitedEventDetails")
            if details:
                try:
                    outputs[details["name"]] = json.loads(details.get("output") or "null")
                except ValueError:
                    outputs[details["name"]] = details.get("output")
        return outputs

    def _progress(self, execution_arn: str, status: str, started: float) -> Progress:
        outputs = self._state_outputs(execution_arn)
        split = outputs.get("Split") if isinstance(outputs.get("Split"), dict) else {}
        table = self.contract.table
        done = rows = 0
        if split.get("file_id"):
            for item in self.status_items(split["file_id"]):
                if (
                    table.is_chunk_id(str(item.get(table.sort_key, "")))
                    and item.get("status") == "DONE"
                ):
                    done += 1
                    rows += int(item.get("rows_valid", 0)) + int(item.get("rows_rejected", 0))
        return Progress(
            execution_arn=execution_arn,
            status=status,
            chunks_done=done,
            chunks_total=split.get("chunk_count"),
            rows_done=rows,
            elapsed_s=time.monotonic() - started,
        )

    def _result(self, description: dict) -> RunResult:
        execution_arn = description["executionArn"]
        status = description["status"]
        detail = json.loads(description.get("input") or "{}")
        obj = detail.get("object", {})
        start, stop = description.get("startDate"), description.get("stopDate")
        result = RunResult(
            status="SUCCEEDED" if status == "SUCCEEDED" else "FAILED",
            execution_arn=execution_arn,
            execution_status=status,
            key=obj.get("key", ""),
            version_id=obj.get("version-id"),
            duration_s=(stop - start).total_seconds() if start and stop else 0.0,
        )
        output = json.loads(description.get("output") or "null")
        result.output = output
        states = self._state_outputs(execution_arn)
        split = states.get("Split") if isinstance(states.get("Split"), dict) else {}
        result.file_id = split.get("file_id")
        result.chunks = split.get("chunk_count")

        if status == "SUCCEEDED" and isinstance(output, dict) and output.get("duplicate"):
            result.duplicate = True
        elif status == "SUCCEEDED" and isinstance(output, dict) and output.get("ignored"):
            result.ignored = True  # no file: no message to wait for
        elif status == "SUCCEEDED":
            message = self._wait_for_message(
                lambda: self._results,
                self._results_url,
                True,
                lambda m: m.get("file_id") == result.file_id,
            )
            source = message or output or {}
            result.success_message = message
            if message is None:
                result.error = "the execution succeeded but no success message reached the queue"
            for name in ("rows_total", "rows_valid", "rows_rejected", "chunks", "file_id"):
                if source.get(name) is not None:
                    setattr(result, name, source[name])
            if source.get("valid_prefix"):
                result.valid_keys = self.list_keys(source["valid_prefix"])
            if source.get("rejected_prefix"):
                result.rejected_keys = self.list_keys(source["rejected_prefix"])
        else:
            failure = states.get("MarkFailed")
            result.failure = failure if isinstance(failure, dict) else None
            if result.failure:
                result.file_id = result.failure.get("file_id") or result.file_id
                subject = result.failure.get("subject")
                result.failure_message = self._wait_for_message(
                    lambda: self._failures,
                    self._failure_sub_url,
                    False,
                    lambda m: (
                        m.get("Subject") == subject
                        and m.get("Message") == result.failure.get("message")
                    ),
                )
                error = result.failure.get("error")
                if isinstance(error, dict):
                    error = error.get("Error")
                reason = result.failure.get("reason")
                result.error = ": ".join(str(p) for p in (error, reason) if p) or "FAILED"
            else:
                result.error = (
                    f"{description.get('error') or status}: {description.get('cause') or ''}"
                ).strip(": ")
        if result.file_id:
            table = self.contract.table
            file_items = [
                i
                for i in self.status_items(result.file_id)
                if i.get(table.sort_key) == table.file_item
            ]
            result.file_item = file_items[0] if file_items else None
        _add_schema(result, split)
        return result

    def _wait_for_message(self, sink, url, raw, match, timeout: float = 10.0) -> dict | None:
        deadline = time.monotonic() + timeout
        while True:
            self._poll_queue(url, sink(), raw=raw)
            with self._messages_lock:
                found = [m for m in sink() if match(m)]
            if found or time.monotonic() > deadline:
                return found[0] if found else None
            time.sleep(0.2)


def _add_schema(result: RunResult, split: dict) -> None:
    """The dataset and pinned schema: Split's output has them, and so does the file item
    (a file refused before Split pinned a schema has neither)."""
    if isinstance(split.get("schema"), dict):
        result.schema = split["schema"]
    elif result.file_item:
        pinned = SchemaIdentity.from_item(result.file_item)
        result.schema = pinned.to_dict() if pinned else None
    result.dataset = result.schema["dataset"] if result.schema else None


def _plain_item(item: dict) -> dict:
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    plain = {}
    for name, value in item.items():
        v = deserializer.deserialize(value)
        if hasattr(v, "as_integer_ratio") and not isinstance(v, (int, float)):  # Decimal
            v = int(v) if v == v.to_integral_value() else float(v)
        plain[name] = v
    return plain
