"""Starting executions the way S3 does: an upload to ``incoming/`` (S3 -> EventBridge ->
the rule's Step Functions target, delivered by the emulator), or an ``Object Created`` event
put on EventBridge directly (e.g. a duplicate delivery); and finding the executions that
events started.

:class:`ExecutionEvents` is a part of :class:`localrun.pipeline.LocalPipeline`: it uses the
pipeline's ``client()``, ``bucket``, ``contract``, ``state_machine_arn`` and the
``_executions`` cache (with ``_executions_lock``).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from localrun.emulator import ACCOUNT_ID

_order = iter(range(1 << 62))


@dataclass
class Started:
    """An execution as the harness saw it start: its input (the event detail)."""

    execution_arn: str
    detail: dict
    started: float
    order: int = field(default_factory=lambda: next(_order))


class ExecutionEvents:
    """Uploads, events and the executions they start (a LocalPipeline part)."""

    def incoming_key(self, name: str, dataset: str | None = None) -> str:
        """``incoming/<dataset>/<name>``; the default dataset is the first one deployed."""
        return (
            f"{self.contract.prefixes['incoming']}{dataset or self.deployment.datasets[0]}/{name}"
        )

    def upload(self, path: str | os.PathLike, key: str | None = None) -> dict:
        """Put a file to ``incoming/<dataset>/<basename>`` of the default dataset (or to
        ``key``): the S3 event starts the pipeline."""
        path = Path(path)
        key = key or self.incoming_key(path.name)
        with open(path, "rb") as body:
            response = self.client("s3").put_object(Bucket=self.bucket, Key=key, Body=body)
        return {
            "bucket": self.bucket,
            "key": key,
            "version_id": response.get("VersionId"),
            "etag": response["ETag"].strip('"'),
            "size": path.stat().st_size,
        }

    def put_event(self, detail: dict) -> None:
        """Send an ``Object Created`` event with this ``detail`` to EventBridge (e.g. a
        duplicate delivery). The rule and its target deliver it as for S3's own events."""
        response = self.client("events").put_events(
            Entries=[
                {
                    "Source": "aws.s3",
                    "DetailType": "Object Created",
                    "Detail": json.dumps(detail),
                    "Resources": [f"arn:aws:s3:::{detail['bucket']['name']}"],
                }
            ]
        )
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"put_events failed: {response}")

    def object_created_detail(self, key: str, version_id: str | None = None) -> dict:
        """The ``detail`` of the S3 ``Object Created`` event S3 sends for a PutObject (with
        the sequencer of the event that already started an execution for it, if any)."""
        s3 = self.client("s3")
        kwargs = {"VersionId": version_id} if version_id else {}
        head = s3.head_object(Bucket=self.bucket, Key=key, **kwargs)
        version_id = head.get("VersionId")
        earlier = [
            e.detail["object"].get("sequencer")
            for e in self.executions(key)
            if e.detail["object"].get("version-id") == version_id
        ]
        sequencer = earlier[0] if earlier else f"{time.time_ns():016X}{0:08X}"
        return {
            "version": "0",
            "bucket": {"name": self.bucket},
            "object": {
                "key": key,
                "size": head["ContentLength"],
                "etag": head["ETag"].strip('"'),
                "version-id": version_id,
                "sequencer": sequencer,
            },
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": ACCOUNT_ID,
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        }

    def executions(self, key: str | None = None) -> list[Started]:
        """Executions of the state machine (read back from Step Functions), oldest first."""
        sfn = self.client("stepfunctions")
        listed = []
        for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self.state_machine_arn
        ):
            listed += page["executions"]
        with self._executions_lock:
            for execution in listed:
                arn = execution["executionArn"]
                if arn not in self._executions:
                    described = sfn.describe_execution(executionArn=arn)
                    self._executions[arn] = Started(
                        arn,
                        json.loads(described.get("input") or "{}"),
                        execution["startDate"].timestamp(),
                    )
            found = sorted(self._executions.values(), key=lambda s: (s.started, s.order))
        return [s for s in found if key is None or s.detail.get("object", {}).get("key") == key]

    def wait_for_start(self, key: str, count: int = 1, timeout: float = 30.0) -> list[str]:
        """Wait until ``count`` executions for ``key`` started; their ARNs, oldest first."""
        deadline = time.monotonic() + timeout
        while True:
            started = self.executions(key)
            if len(started) >= count:
                return [s.execution_arn for s in started]
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(started)} of {count} executions started for {key} within"
                    f" {timeout:.0f}s (EventBridge rule -> state machine target)"
                )
            time.sleep(0.1)

    def _stop_running_executions(self) -> None:
        try:
            sfn = self.client("stepfunctions")
            for started in self.executions():
                status = sfn.describe_execution(executionArn=started.execution_arn)["status"]
                if status == "RUNNING":
                    sfn.stop_execution(executionArn=started.execution_arn, cause="localrun stopped")
        except Exception:  # best effort: the server threads are daemons anyway
            pass
