"""Every gap of moto (5.2.5) the local run works around, in one place.

(Over 500 lines on purpose: one concern -- "what moto lacks" -- whose patches a reader
compares side by side; each is short and listed in the table below.)

``envs/dev`` is applied unchanged to an in-process moto server (see ``localrun.emulator``).
Each patch below covers one thing moto does not do, names exactly what it changes, and has
a test in ``tests/localrun/test_moto_patches.py`` that asserts the gap still exists without
the patch: when moto catches up that test fails and the patch can be dropped.

:func:`apply` installs them all (idempotent); :func:`applied` installs some for a ``with``
block and restores moto afterwards (tests). Patches change moto's classes, so they hold
for the whole process.

=============================  ===============================================================
patch                          what moto does / what the patch does
=============================  ===============================================================
sfn_missing_operations         ``ValidateStateMachineDefinition`` and
                               ``ListStateMachineVersions`` are not implemented (the provider
                               retries the 500 for minutes). Added: validation runs moto's
                               own ASL static analyser (``OK``, or ``FAIL`` with its message
                               as the diagnostic); versions answers an empty
                               list (the modules publish no versions).
lifecycle_newer_noncurrent     ``NoncurrentVersionExpiration.NewerNoncurrentVersions`` is
                               dropped, so the provider's read-back waiter never sees it.
                               Stored and returned.
resource_policy_conditions     a bucket-policy statement with a ``Condition`` (e.g.
                               ``aws:SecureTransport``, ``s3:x-amz-server-side-encryption-
                               aws-kms-key-id``) is evaluated without any request context, so
                               every such *Deny* denies every request. Relaxed: statements that
                               carry a ``Condition`` are ignored; unconditional statements are
                               still enforced as moto enforces them. SQS queue and SNS topic
                               policies are not evaluated by moto at all (a test pins that).
notification_eventbridge       ``EventBridgeConfiguration`` of a bucket notification is
                               stored but not returned by GetBucketNotificationConfiguration
                               (a perpetual diff). Returned.
lambda_logging_config          ``LoggingConfig`` of a function is not stored (a perpetual
                               diff). Stored on create/update and returned.
lambda_create_retry            an SDK retry of a CreateFunction whose first answer was lost
                               (seen twice under load: the function exists, the retry gets
                               409 ``Function already exist``, the provider retries a 409 for
                               5 minutes, terraform-provider-aws #29263, then fails the apply).
                               A request identical to the one that created the function is
                               answered as that one was (201, its configuration); any other
                               create of an existing name still gets moto's 409.
delete_marker_dispose          deleting a delete marker by version id (the provider's
                               ``force_destroy`` does) crashes: ``'FakeDeleteMarker' object has
                               no attribute 'dispose'``. A delete marker holds no data, so
                               disposing of it does nothing.
s3_event_shape                 the S3 ``Object Created`` event sent to EventBridge says
                               ``eTag`` (AWS: ``etag``), ``reason`` ``ObjectCreated`` (AWS:
                               ``PutObject``/``CompleteMultipartUpload``...) and one constant
                               ``sequencer`` for every object. The AWS shape is sent.
s3_ranged_get                  a ranged GetObject reads the whole object out of its (spooled,
                               on disk above 5 MiB) buffer and then slices it: the processor's
                               4 MiB ranged reads of a 256 MiB input copied 64 x 256 MiB. A
                               GET with one ``bytes=A-B`` / ``bytes=A-`` range reads only the
                               range; everything else (headers, 206, Content-Range, errors) is
                               moto's own code.
eventbridge_to_stepfunctions   a rule target that is a Step Functions state machine or a
                               Lambda function makes delivery raise (not implemented).
                               Delivered: StartExecution with the target's ``InputPath`` (or
                               ``Input``) applied, as EventBridge does; a Lambda function is
                               invoked asynchronously (``Event``) with the event, through the
                               server like moto's own Step Functions Lambda calls.
sfn_status_events              an execution that ends sends no "Step Functions Execution
                               Status Change" event to EventBridge. Sent to the default bus of
                               the execution's account and region when it ends (SUCCEEDED,
                               FAILED, TIMED_OUT, ABORTED), in the documented shape.
=============================  ===============================================================

Not a patch but part of the same setup, :func:`enable_step_functions_execution`: moto only
runs state machines when ``{"stepfunctions": {"execute_state_machine": true}}`` is set, and
state machines created before it was set live in another backend (they cannot be executed):
it must be set before Terraform creates the state machine.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class _Patch:
    name: str
    install: Callable[[], list[tuple[Any, str, Any]]]  # [(owner, attribute, new value)]
    saved: list[tuple[Any, str, Any]] | None = None

    def apply(self) -> None:
        if self.saved is not None:
            return
        saved = []
        for owner, attribute, value in self.install():
            saved.append((owner, attribute, owner.__dict__.get(attribute, _MISSING)))
            setattr(owner, attribute, value)
        self.saved = saved

    def revert(self) -> None:
        if self.saved is None:
            return
        for owner, attribute, old in reversed(self.saved):
            if old is _MISSING:
                delattr(owner, attribute)
            else:
                setattr(owner, attribute, old)
        self.saved = None


_MISSING = object()
_lock = threading.Lock()


# -- Step Functions ------------------------------------------------------------------------
def _sfn_missing_operations() -> list[tuple[Any, str, Any]]:
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def validate_state_machine_definition(self):
        """moto's own ASL static analyser, the check its parser backend runs on create."""
        from moto.stepfunctions.parser.asl.static_analyser.static_analyser import (
            StaticAnalyser,
        )

        try:
            StaticAnalyser().analyse(self._get_param("definition"))
        except Exception as exc:  # the analyser raises parser errors of several kinds
            diagnostic = {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED"}
            diagnostic["message"] = repr(exc)[:1000]
            return ActionResult({"result": "FAIL", "diagnostics": [diagnostic], "truncated": False})
        return ActionResult({"result": "OK", "diagnostics": [], "truncated": False})

    def list_state_machine_versions(self):
        return ActionResult({"stateMachineVersions": []})

    return [
        (
            StepFunctionResponse,
            "validate_state_machine_definition",
            validate_state_machine_definition,
        ),
        (StepFunctionResponse, "list_state_machine_versions", list_state_machine_versions),
    ]


def enable_step_functions_execution() -> None:
    """Run state machines (moto's interpreter). Call before any state machine is created."""
    from moto.core.config import default_user_config

    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True


# -- S3 ------------------------------------------------------------------------------------
def _lifecycle_newer_noncurrent() -> list[tuple[Any, str, Any]]:
    from moto.s3.models import FakeBucket
    from moto.s3.responses import S3Response

    original_set = FakeBucket.set_lifecycle
    original_get = S3Response.get_bucket_lifecycle

    def set_lifecycle(self, rules):
        original_set(self, rules)
        for rule, stored in zip(rules, self.rules, strict=True):
            nve = rule.get("NoncurrentVersionExpiration") or {}
            stored.nve_newer_versions = nve.get("NewerNoncurrentVersions")

    def get_bucket_lifecycle(self):
        bucket = self.backend.get_bucket(self.bucket_name)
        return _with_result(
            self,
            original_get,
            lambda result: _add_newer_versions(result["Rules"], bucket.rules),
        )

    return [
        (FakeBucket, "set_lifecycle", set_lifecycle),
        (S3Response, "get_bucket_lifecycle", get_bucket_lifecycle),
    ]


def _add_newer_versions(out_rules: list[dict], rules: list) -> None:
    for out, rule in zip(out_rules, rules, strict=True):
        newer = getattr(rule, "nve_newer_versions", None)
        if newer is not None and "NoncurrentVersionExpiration" in out:
            out["NoncurrentVersionExpiration"]["NewerNoncurrentVersions"] = newer


def _with_result(response, original: Callable, edit: Callable[[dict], None]):
    """Call a moto response method and edit the result dict it serialises."""
    serialized = response.serialized

    def edited(action_result):
        result = getattr(action_result, "result", None)
        if isinstance(result, dict):
            edit(result)
        return serialized(action_result)

    response.serialized = edited
    try:
        return original(response)
    finally:
        del response.serialized


def _resource_policy_conditions() -> list[tuple[Any, str, Any]]:
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self, action, resource):
        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy.decode())
        statements = document.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        document["Statement"] = [s for s in statements if "Condition" not in s]
        if not document["Statement"]:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps(document)).is_action_permitted(action, resource)

    return [(FakeBucket, "get_permission", get_permission)]


def _notification_eventbridge() -> list[tuple[Any, str, Any]]:
    from moto.s3.responses import S3Response

    original = S3Response.get_bucket_notification

    def get_bucket_notification(self):
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)

        def edit(result: dict) -> None:
            if config is not None and config.event_bridge is not None:
                result["EventBridgeConfiguration"] = {}

        return _with_result(self, original, edit)

    return [(S3Response, "get_bucket_notification", get_bucket_notification)]


def _delete_marker_dispose() -> list[tuple[Any, str, Any]]:
    from moto.s3.models import FakeDeleteMarker

    def dispose(self, garbage: bool = False) -> None:
        """A delete marker holds no data: nothing to release."""

    return [(FakeDeleteMarker, "dispose", dispose)]


def _s3_event_shape() -> list[tuple[Any, str, Any]]:
    from moto.s3 import notifications

    original = notifications._send_event_bridge_message
    counter = iter(range(1, 1 << 62))
    lock = threading.Lock()

    def send(account_id, bucket, event_name, key):
        from moto.events.models import events_backends
        from moto.events.utils import _BASE_EVENT_MESSAGE

        if not bucket.notification_configuration or (
            bucket.notification_configuration.event_bridge is None
        ):
            return original(account_id, bucket, event_name, key)
        with lock:
            sequence = next(counter)
        _, kind, action = (event_name.split(":") + ["", ""])[:3]  # s3:ObjectCreated:Put
        reason = kind
        if kind == "ObjectCreated":
            reason = {
                "Put": "PutObject",
                "Post": "PostObject",
                "Copy": "CopyObject",
                "CompleteMultipartUpload": "CompleteMultipartUpload",
            }.get(action, action)
        obj = {"key": key.name, "size": key.size, "etag": key.etag.replace('"', "")}
        if key.version_id and key.version_id != "null":
            obj["version-id"] = key.version_id
        obj["sequencer"] = f"{time.time_ns():016X}{sequence:08X}"
        event = copy.deepcopy(_BASE_EVENT_MESSAGE)
        event.update(
            {
                "detail-type": notifications._detail_type(event_name),
                "source": "aws.s3",
                "account": account_id,
                "time": time.time(),
                "region": bucket.region_name,
                "resources": [bucket.arn],
                "detail": {
                    "version": "0",
                    "bucket": {"name": bucket.name},
                    "object": obj,
                    "request-id": uuid.uuid4().hex[:16].upper(),
                    "requester": account_id,
                    "source-ip-address": "127.0.0.1",
                    "reason": reason,
                },
            }
        )
        backend = events_backends[account_id][bucket.region_name]
        for event_bus in list(backend.event_buses.values()):
            for rule in list(event_bus.rules.values()):
                rule.send_to_targets(event, transform_input=False)

    return [(notifications, "_send_event_bridge_message", send)]


# -- Lambda --------------------------------------------------------------------------------
def _lambda_logging_config() -> list[tuple[Any, str, Any]]:
    from moto.awslambda.models import LambdaFunction

    original_init = LambdaFunction.__init__
    original_get = LambdaFunction.get_configuration
    original_update = LambdaFunction.update_configuration

    def __init__(self, account_id, spec, region, version=1):
        original_init(self, account_id, spec, region, version)
        self.logging_config = _logging_config(self.function_name, spec.get("LoggingConfig"))

    def get_configuration(self, on_create: bool = False):
        config = original_get(self, on_create)
        logging_config = getattr(self, "logging_config", None)
        if logging_config:
            config["LoggingConfig"] = dict(logging_config)
        return config

    def update_configuration(self, config_updates):
        if "LoggingConfig" in config_updates:
            self.logging_config = _logging_config(
                self.function_name, config_updates["LoggingConfig"]
            )
        return original_update(self, config_updates)

    return [
        (LambdaFunction, "__init__", __init__),
        (LambdaFunction, "get_configuration", get_configuration),
        (LambdaFunction, "update_configuration", update_configuration),
    ]


def _logging_config(function_name: str, given: dict | None) -> dict:
    """What Lambda returns: the given settings over its defaults."""
    config = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{function_name}"}
    config.update(given or {})
    if config["LogFormat"] == "JSON":
        config.setdefault("ApplicationLogLevel", "INFO")
        config.setdefault("SystemLogLevel", "INFO")
    return config


# -- S3 ranged GET --------------------------------------------------------------------------
_SIMPLE_RANGE = re.compile(r"bytes=(\d+)-(\d*)")
_ranged = threading.local()  # set while a simple ranged GET is being answered on this thread


class _RangedValue:
    """Stands in for ``FakeKey.value`` in a ranged GET: moto's range code only takes
    ``len()`` and one slice of it, and the slice reads just those bytes from the buffer."""

    def __init__(self, key) -> None:
        self._key = key

    def __len__(self) -> int:
        return self._key.size

    def __getitem__(self, item: slice) -> bytes:
        start, stop, step = item.indices(len(self))
        if step != 1:
            raise TypeError("only contiguous slices of an object's body are supported")
        with self._key.lock:
            self._key._value_buffer.seek(start)
            return self._key._value_buffer.read(max(0, stop - start))


def _s3_ranged_get() -> list[tuple[Any, str, Any]]:
    from moto.s3.models import FakeKey
    from moto.s3.responses import S3Response

    original_key_response = S3Response.key_response
    original_value = FakeKey.value

    def key_response(self, request, full_url, headers):
        match = _SIMPLE_RANGE.fullmatch(request.headers.get("range") or "")
        simple = (
            request.method == "GET"
            and match is not None
            and (not match[2] or int(match[2]) >= int(match[1]))
        )
        if not simple:
            return original_key_response(self, request, full_url, headers)
        _ranged.active = True
        try:
            return original_key_response(self, request, full_url, headers)
        finally:
            _ranged.active = False

    def value(self):
        if getattr(_ranged, "active", False):
            _ranged.active = False  # once: the body of this GET, nothing else
            return _RangedValue(self)
        return original_value.fget(self)

    return [
        (S3Response, "key_response", key_response),
        (FakeKey, "value", property(value, original_value.fset)),
    ]


# -- EventBridge -> Step Functions ---------------------------------------------------------
def _eventbridge_to_stepfunctions() -> list[tuple[Any, str, Any]]:
    from moto.events.models import Rule
    from moto.utilities.arns import parse_arn

    original = Rule.send_to_targets

    def send_to_targets(self, original_event, transform_input: bool = True):
        ours = {"states": _start_execution, "lambda": _invoke_function}
        delivered = [t for t in self.targets if parse_arn(t["Arn"]).service in ours]
        if not delivered:
            return original(self, original_event, transform_input)
        if self.event_pattern.matches_event(original_event):
            for target in delivered:
                ours[parse_arn(target["Arn"]).service](self, target, original_event)
        others = [t for t in self.targets if t not in delivered]
        if others:
            proxy = copy.copy(self)
            proxy.targets = others
            original(proxy, original_event, transform_input)

    return [(Rule, "send_to_targets", send_to_targets)]


def _start_execution(rule, target: dict, event: dict) -> None:
    from moto.stepfunctions.responses import get_backend
    from moto.utilities.arns import parse_arn

    if "Input" in target:
        payload: Any = json.loads(target["Input"])
    else:
        payload = json_path(_as_aws_event(event), target.get("InputPath") or "$")
    arn = parse_arn(target["Arn"])
    get_backend(arn.account, arn.region).start_execution(
        target["Arn"], name=uuid.uuid4().hex, execution_input=json.dumps(payload)
    )


def _invoke_function(rule, target: dict, event: dict) -> None:
    """EventBridge's Lambda target: an asynchronous invocation with the whole event."""
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
    from moto.utilities.arns import parse_arn

    if "Input" in target:
        payload: Any = json.loads(target["Input"])
    else:
        payload = json_path(_as_aws_event(event), target.get("InputPath") or "$")
    boto_client_for(parse_arn(target["Arn"]).region, "lambda").invoke(
        FunctionName=target["Arn"], InvocationType="Event", Payload=json.dumps(payload).encode()
    )


# -- Step Functions -> EventBridge -----------------------------------------------------------
STATUS_CHANGE = "Step Functions Execution Status Change"


def _sfn_status_events() -> list[tuple[Any, str, Any]]:
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    original = BaseExecutionWorkerCommunication.terminated

    def terminated(self) -> None:
        original(self)
        _put_status_change(self.execution)

    return [(BaseExecutionWorkerCommunication, "terminated", terminated)]


def _put_status_change(execution) -> None:
    """The event Step Functions sends when an execution ends (AWS's documented shape)."""
    from moto.events.models import events_backends

    def millis(moment) -> int | None:
        return None if moment is None else int(moment.timestamp() * 1000)

    output = None if execution.output is None else json.dumps(execution.output)
    detail = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine.arn,
        "name": execution.name,
        "status": execution.exec_status.value,
        "startDate": millis(execution.start_date),
        "stopDate": millis(execution.stop_date),
        "input": json.dumps(execution.input_data),
        "output": output,
        "inputDetails": {"included": True},
        "outputDetails": None if output is None else {"included": True},
        "error": execution.error,
        "cause": execution.cause,
    }
    events_backends[execution.account_id][execution.region_name].put_events(
        [
            {
                "Source": "aws.states",
                "DetailType": STATUS_CHANGE,
                "Detail": json.dumps(detail),
                "Resources": [execution.exec_arn],
            }
        ]
    )


def _as_aws_event(event: dict) -> dict:
    """The event as EventBridge delivers it: ``time`` as an ISO-8601 string."""
    event = dict(event)
    if isinstance(event.get("time"), int | float):
        event["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event["time"]))
    return event


def json_path(document: Any, path: str) -> Any:
    """EventBridge's ``InputPath``: ``$`` or ``$.a.b`` (dotted names only)."""
    if path == "$":
        return document
    if not path.startswith("$."):
        raise ValueError(f"unsupported InputPath {path!r}: only $ and $.name.name... are")
    value = document
    for part in path[2:].split("."):
        value = value[part]
    return value


def _lambda_create_retry() -> list[tuple[Any, str, Any]]:
    from moto.awslambda.exceptions import UnknownFunctionException
    from moto.awslambda.responses import LambdaResponse

    original = LambdaResponse.create_function

    def digest(body: bytes | str) -> str:
        return hashlib.sha256(body if isinstance(body, bytes) else body.encode()).hexdigest()

    def create_function(self):
        name = self.json_body["FunctionName"].rsplit(":", 1)[-1]
        request = digest(self.body)
        try:
            existing = self.backend.get_function(name, None)
        except UnknownFunctionException:
            existing = None
        if existing is not None and getattr(existing, "create_request", None) == request:
            return 201, {"status": 201}, json.dumps(existing.get_configuration(on_create=True))
        answer = original(self)
        self.backend.get_function(name, None).create_request = request
        return answer

    return [(LambdaResponse, "create_function", create_function)]


PATCHES: dict[str, _Patch] = {
    patch.name: patch
    for patch in (
        _Patch("sfn_missing_operations", _sfn_missing_operations),
        _Patch("lifecycle_newer_noncurrent", _lifecycle_newer_noncurrent),
        _Patch("resource_policy_conditions", _resource_policy_conditions),
        _Patch("notification_eventbridge", _notification_eventbridge),
        _Patch("lambda_logging_config", _lambda_logging_config),
        _Patch("lambda_create_retry", _lambda_create_retry),
        _Patch("delete_marker_dispose", _delete_marker_dispose),
        _Patch("s3_event_shape", _s3_event_shape),
        _Patch("s3_ranged_get", _s3_ranged_get),
        _Patch("eventbridge_to_stepfunctions", _eventbridge_to_stepfunctions),
        _Patch("sfn_status_events", _sfn_status_events),
    )
}


def apply() -> None:
    """Install every patch (idempotent)."""
    with _lock:
        for patch in PATCHES.values():
            patch.apply()


def revert() -> None:
    with _lock:
        for patch in reversed(PATCHES.values()):
            patch.revert()


@contextlib.contextmanager
def applied(*names: str) -> Iterator[None]:
    """Install the named patches (all without names) for a block; restore moto after."""
    chosen = [PATCHES[name] for name in names] if names else list(PATCHES.values())
    with _lock:
        fresh = [p for p in chosen if p.saved is None]
        for patch in fresh:
            patch.apply()
    try:
        yield
    finally:
        with _lock:
            for patch in reversed(fresh):
                patch.revert()


@contextlib.contextmanager
def reverted(*names: str) -> Iterator[None]:
    """Remove the named patches for a block (tests of the unpatched gap); restore after."""
    chosen = [PATCHES[name] for name in names]
    with _lock:
        removed = [p for p in chosen if p.saved is not None]
        for patch in removed:
            patch.revert()
    try:
        yield
    finally:
        with _lock:
            for patch in removed:
                patch.apply()


__all__ = [
    "PATCHES",
    "applied",
    "apply",
    "enable_step_functions_execution",
    "json_path",
    "revert",
    "reverted",
]
