"""One warm "container" for one Lambda function: runs as its own process.

Started by :mod:`localrun.lambda_layer` as ``python FLAGS _worker.py ZIP HANDLER REQ_FD RESP_FD
[PATH...]`` with the function's environment. It is deliberately standalone (stdlib only, no
import of ``localrun``): like Lambda it extracts the function zip to a task root and puts that
root first on ``sys.path``, then the PATHs (in the python3.12 runtime mode: the extracted layer
and the runtime's boto3, on an interpreter started with ``-S``, so nothing else; in the host
mode none, and pyarrow and powertools come from the host's site-packages), imports the handler
once and then answers invocations over a pipe. A handler that cannot be imported fails every
invocation with ``Runtime.ImportModuleError`` and Lambda's message ("Unable to import module
'<module>': <error>").

Wire format on the pipes: a 4-byte big-endian length, then a UTF-8 JSON object.
Request:  {"request_id", "payload" (str, the raw invoke body), "fault": null | "before" |
           "after" | "after_upload:<key part>", "deadline_ms"}
First, once the handler module is imported (or failed to import): {"ready": true}.
Response: {"ok": true, "payload": str} or {"ok": false, "errorType", "errorMessage",
           "stackTrace": [...]}
"""

from __future__ import annotations

import importlib
import json
import os
import struct
import sys
import tempfile
import time
import traceback
import zipfile


def _read_message(fd: int) -> dict | None:
    header = _read_exact(fd, 4)
    if header is None:
        return None
    (size,) = struct.unpack(">I", header)
    body = _read_exact(fd, size)
    if body is None:
        return None
    return json.loads(body.decode("utf-8"))


def _read_exact(fd: int, size: int) -> bytes | None:
    parts = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            return None
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)


def _write_message(fd: int, message: dict) -> None:
    body = json.dumps(message).encode("utf-8")
    data = struct.pack(">I", len(body)) + body
    while data:
        written = os.write(fd, data)
        data = data[written:]


class InjectedFault(Exception):
    """Raised by the harness's test-only fault injection (never by real code)."""


class LambdaContext:
    """The attributes of the Lambda context object that handlers and powertools read."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        self.function_version = "$LATEST"
        self.invoked_function_arn = os.environ.get("LOCALRUN_FUNCTION_ARN", "")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"))
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/{os.getpid()}"
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


_upload_fault: dict[str, str | None] = {"key_contains": None}


def _arm_upload_fault(key_contains: str | None) -> None:
    """Test-only: raise InjectedFault right after the handler's first successful S3 upload
    (PutObject / CompleteMultipartUpload) of a key containing ``key_contains``. Wraps the
    SDK's one call path (botocore's ``BaseClient._make_api_call``) the first time it is
    needed, so the handler's own code is unchanged and runs as deployed."""
    import botocore.client

    _upload_fault["key_contains"] = key_contains
    if getattr(botocore.client.BaseClient, "_localrun_fault_hook", False):
        return
    original = botocore.client.BaseClient._make_api_call

    def make_api_call(self, operation_name, api_params):
        result = original(self, operation_name, api_params)
        part = _upload_fault["key_contains"]
        key = str(api_params.get("Key", ""))
        if part and operation_name in ("PutObject", "CompleteMultipartUpload") and part in key:
            _upload_fault["key_contains"] = None  # once per invocation
            raise InjectedFault(f"injected fault after uploading {key}")
        return result

    botocore.client.BaseClient._make_api_call = make_api_call
    botocore.client.BaseClient._localrun_fault_hook = True


def _error(exc: BaseException) -> dict:
    return {
        "ok": False,
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def _init_error(module_name: str, exc: BaseException) -> dict:
    """What Lambda's python runtime answers when the handler module does not import."""
    response = _error(exc)
    response["errorType"] = "Runtime.ImportModuleError"
    response["errorMessage"] = f"Unable to import module '{module_name}': {exc}"
    return response


def main() -> int:
    zip_path, handler_spec, req_fd, resp_fd = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:5])
    task_root = tempfile.mkdtemp(prefix="localrun-task-")
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(task_root)
    os.environ["LAMBDA_TASK_ROOT"] = task_root
    os.chdir(task_root)
    sys.path[0:0] = [task_root, *sys.argv[5:]]
    module_name, _, function_name = handler_spec.rpartition(".")

    init_error = None
    handler = None
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # an init error is reported on every invocation, like Lambda
        init_error = exc
        traceback.print_exc()
    init_response = _init_error(module_name, init_error) if init_error else None
    sys.stdout.flush()
    _write_message(resp_fd, {"ready": True})  # the init is over: the harness may time it

    while True:
        request = _read_message(req_fd)
        if request is None:  # the harness closed the pipe: the sandbox goes away
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)  # no interpreter teardown (pyarrow's takes ~0.5-3 s), as Lambda does
        sys.stdout.flush()
        if init_response is not None:
            _write_message(resp_fd, init_response)
            continue
        fault = request.get("fault") or ""
        upload_part = fault.partition(":")[2] if fault.startswith("after_upload:") else None
        if upload_part or _upload_fault["key_contains"]:
            _arm_upload_fault(upload_part)  # armed for this invocation, or disarmed
        try:
            if fault == "before":
                raise InjectedFault(f"injected fault before the handler ({request['request_id']})")
            event = json.loads(request["payload"] or "null")
            context = LambdaContext(request["request_id"], request["deadline_ms"])
            result = handler(event, context)
            if fault == "after":
                raise InjectedFault(f"injected fault after the handler ({request['request_id']})")
            response = {"ok": True, "payload": json.dumps(result)}
        except Exception as exc:
            traceback.print_exc()
            response = _error(exc)
        sys.stdout.flush()
        sys.stderr.flush()
        _write_message(resp_fd, response)


if __name__ == "__main__":
    sys.exit(main())
