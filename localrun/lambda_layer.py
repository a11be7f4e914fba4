"""A WSGI layer in front of moto that runs Lambda invocations from the built zips.

(About 500 lines on purpose: one concern -- the Lambda Invoke API on the built zips -- in
three layers a reader follows top to bottom: a warm worker process and its pipe protocol,
a pool per function, the WSGI answer with fault injection; the worker's side is _worker.py.)

moto cannot run Lambda code without Docker. Everything the pipeline does goes to moto's
server app except ``POST /2015-03-31/functions/<name-or-arn>/invocations``, which this
layer answers the way the Lambda service does: it hands the payload to a warm worker
process of that function (see ``_worker.py``) and returns 200 with the JSON result, or
200 with ``X-Amz-Function-Error: Unhandled`` and ``{"errorMessage", "errorType",
"stackTrace"}`` when the handler raised. moto's Step Functions Lambda integration turns
``errorType`` into the state's ``Error`` name, so the ASL's named Retry/Catch work.

Each function has a small pool of long-lived workers (created lazily, at most
``pool_size``), so a Distributed Map's parallel invocations really run in parallel. What a
worker runs on (CPython 3.12 with the real layer, or the host's Python) is a
:class:`~localrun.lambda_runtime.WorkerRuntime`; the variables Lambda sets in a sandbox come
from :func:`lambda_environment`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import select
import struct
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from localrun import lambda_async
from localrun.lambda_runtime import WorkerRuntime, default_runtime

LOG = logging.getLogger(__name__)
WORKER_SCRIPT = Path(__file__).with_name("_worker.py")
_INVOKE_PATH_PREFIX = "/2015-03-31/functions/"
_INVOKE_PATH_SUFFIX = "/invocations"


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function as the local "service" runs it."""

    name: str  # logical name from contract.json, e.g. "mark_failed"
    function_name: str  # deployed name, e.g. "etl-local-mark-failed"
    arn: str
    zip_path: Path
    handler: str  # e.g. "mark_failed.handler"
    environment: dict[str, str]
    timeout_s: float = 900.0
    memory_mb: int = 1024


@dataclass(frozen=True)
class Fault:
    """Test-only: fail an invocation of ``function`` for a chunk index and attempt numbers.

    ``when="before"`` raises in the worker before the handler runs (nothing happened);
    ``when="after"`` raises after the handler returned (all its side effects happened,
    the caller sees a failure anyway: the case that proves retries are idempotent);
    ``when="after_upload"`` raises inside the handler right after its first successful S3
    upload (PutObject / CompleteMultipartUpload) of a key containing ``key_contains``: a
    crash half-way through, e.g. after the processor's valid output and before its rejects.
    ``chunk_index=None`` matches invocations that carry no ``chunk.index``;
    ``payload_contains`` restricts a fault to invocations whose payload holds that text (e.g.
    the execution-ended rule's events, as opposed to the state machine's MarkFailed).
    The production handlers know nothing of this: the worker wraps the SDK's calls.
    """

    function: str
    chunk_index: int | None
    attempts: frozenset[int]
    when: str = "before"
    key_contains: str | None = None
    payload_contains: str | None = None

    def __post_init__(self) -> None:
        if self.when not in ("before", "after", "after_upload"):
            raise ValueError(
                f"Fault.when must be 'before', 'after' or 'after_upload', got {self.when!r}"
            )
        if (self.when == "after_upload") != bool(self.key_contains):
            raise ValueError("Fault.key_contains is required with (and only with) after_upload")

    @property
    def wire(self) -> str:
        """How the worker is told (see _worker.py)."""
        return f"after_upload:{self.key_contains}" if self.when == "after_upload" else self.when


@dataclass
class Invocation:
    """What one invocation did: for progress, tests and the run summary."""

    function: str
    file_id: str | None
    chunk_index: int | None
    attempt: int
    ok: bool
    error_type: str | None
    duration_s: float
    injected: str | None = None
    worker_pid: int | None = None


class _Worker:
    """One warm "container": a subprocess running ``_worker.py`` for one function."""

    def __init__(self, spec: FunctionSpec, runtime: WorkerRuntime, log_path: Path) -> None:
        self.spec = spec
        req_read, self._req_write = os.pipe()
        self._resp_read, resp_write = os.pipe()
        env = _base_environment() | lambda_environment(spec, runtime) | spec.environment
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    *runtime.command(WORKER_SCRIPT),
                    str(spec.zip_path),
                    spec.handler,
                    str(req_read),
                    str(resp_write),
                    *runtime.sys_path,
                ],
                pass_fds=(req_read, resp_write),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C goes to the harness, which stops us
            )
        os.close(req_read)
        os.close(resp_write)
        self.alive = True
        self.busy = False
        self.ready = False  # the worker's {"ready": true} (its init is over) was read

    def wait_ready(self, deadline: float) -> None:
        """Read the worker's one ready message (sent when its handler module is imported)."""
        if self.ready:
            return
        (size,) = struct.unpack(">I", self._read_exact(4, deadline))
        json.loads(self._read_exact(size, deadline).decode("utf-8"))
        self.ready = True

    @property
    def pid(self) -> int:
        return self.process.pid

    def invoke(self, payload: str, fault: str | None, request_id: str) -> dict:
        deadline = time.monotonic() + self.spec.timeout_s
        message = {
            "request_id": request_id,
            "payload": payload,
            "fault": fault,
            "deadline_ms": int((time.time() + self.spec.timeout_s) * 1000),
        }
        self.busy = True
        try:
            body = json.dumps(message).encode("utf-8")
            _write_all(self._req_write, struct.pack(">I", len(body)) + body)
            self.wait_ready(deadline)
            header = self._read_exact(4, deadline)
            (size,) = struct.unpack(">I", header)
            return json.loads(self._read_exact(size, deadline).decode("utf-8"))
        except TimeoutError:
            self.stop()
            return _runtime_error(
                "Sandbox.Timedout", f"Task timed out after {self.spec.timeout_s:.2f} seconds"
            )
        except (EOFError, OSError, ValueError):
            self.stop()
            return _runtime_error(
                "Runtime.ExitError",
                f"RequestId: {request_id} Error: Runtime exited ({self.process.returncode})",
            )
        finally:
            self.busy = False

    def _read_exact(self, size: int, deadline: float) -> bytes:
        parts = []
        while size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self._resp_read], [], [], remaining)
            if not ready:
                raise TimeoutError
            chunk = os.read(self._resp_read, size)
            if not chunk:
                raise EOFError
            parts.append(chunk)
            size -= len(chunk)
        return b"".join(parts)

    def stop(self) -> None:
        self.begin_stop()
        self.finish_stop()

    def begin_stop(self) -> None:
        """Idle: closing the request pipe makes the worker exit by itself. Busy (the
        harness is stopping mid-invocation): killed at once; the waiting invoke sees EOF."""
        if not self.alive:
            return
        self.alive = False
        if self.busy:
            self.process.kill()
        _close_quietly(self._req_write)

    def finish_stop(self, timeout: float = 2.0) -> None:
        """Wait for the exit begun by :meth:`begin_stop` (kill after ``timeout``)."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        _close_quietly(self._resp_read)


class _FunctionPool:
    """Up to ``size`` warm workers of one function, created on demand."""

    def __init__(
        self, spec: FunctionSpec, runtime: WorkerRuntime, size: int, log_dir: Path
    ) -> None:
        self.spec = spec
        self.runtime = runtime
        self.size = size
        self._log_path = log_dir / f"{spec.name}.log"
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._busy = 0
        self._cond = threading.Condition()
        self._closed = False

    def invoke(self, payload: str, fault: str | None, request_id: str) -> tuple[dict, int]:
        worker = self._acquire()
        try:
            return worker.invoke(payload, fault, request_id), worker.pid
        finally:
            self._release(worker)

    def _acquire(self) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("the local Lambda service is shutting down")
                if self._idle:
                    worker = self._idle.pop()
                    break
                if len(self._all) < self.size:
                    worker = _Worker(self.spec, self.runtime, self._log_path)
                    self._all.append(worker)
                    break
                self._cond.wait()
            self._busy += 1
            return worker

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            self._busy -= 1
            if worker.alive and not self._closed:
                self._idle.append(worker)
            else:
                if worker in self._all:
                    self._all.remove(worker)
            self._cond.notify()

    def prewarm(self, count: int) -> list[_Worker]:
        """Start idle workers until the pool has ``min(count, size)``; the new ones."""
        started = []
        with self._cond:
            while len(self._all) < min(count, self.size) and not self._closed:
                worker = _Worker(self.spec, self.runtime, self._log_path)
                self._all.append(worker)
                self._idle.append(worker)
                started.append(worker)
            self._cond.notify_all()
        return started

    def discard(self, worker: _Worker) -> None:
        worker.stop()
        with self._cond:
            if worker in self._idle:
                self._idle.remove(worker)
            if worker in self._all:
                self._all.remove(worker)
            self._cond.notify()

    def pids(self) -> list[int]:
        with self._cond:
            return [w.pid for w in self._all]

    def close(self) -> list[_Worker]:
        """Stop taking invocations and tell every worker to exit; the caller waits."""
        with self._cond:
            self._closed = True
            workers = list(self._all)
            self._cond.notify_all()
        for worker in workers:
            worker.begin_stop()
        return workers


class LambdaLayer:
    """WSGI app: Lambda Invoke goes to the worker pools, everything else to ``app``."""

    def __init__(
        self,
        app: Callable,
        functions: Iterable[FunctionSpec],
        *,
        pool_size: int,
        log_dir: Path,
        runtime: WorkerRuntime | None = None,
    ) -> None:
        """``runtime``: what the workers run on (default: the python3.12 runtime with the
        real layer if this machine has a 3.12, else the host; see ``lambda_runtime.py``)."""
        self.app = app
        self.runtime = runtime or default_runtime()
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._specs = {spec.function_name: spec for spec in functions}
        self._pools = {
            name: _FunctionPool(spec, self.runtime, pool_size, self.log_dir)
            for name, spec in self._specs.items()
        }
        self._lock = threading.Lock()
        self._attempts: Counter[tuple[str, str | None, int | None]] = Counter()
        self.faults: list[Fault] = []
        self.invocations: list[Invocation] = []
        self._request_ids = (f"{uuid.uuid4().hex[:8]}-{n:06d}" for n in itertools.count(1))

    # -- test-only fault injection -------------------------------------------------------
    def inject_fault(
        self,
        function: str,
        *,
        chunk_index: int | None = None,
        attempts: Iterable[int] = (1,),
        when: str = "before",
        key_contains: str | None = None,
        payload_contains: str | None = None,
    ) -> Fault:
        if not any(spec.name == function for spec in self._specs.values()):
            raise ValueError(f"unknown function {function!r}")
        fault = Fault(
            function, chunk_index, frozenset(attempts), when, key_contains, payload_contains
        )
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    # -- WSGI ----------------------------------------------------------------------------
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if (
            environ.get("REQUEST_METHOD") == "POST"
            and path.startswith(_INVOKE_PATH_PREFIX)
            and path.endswith(_INVOKE_PATH_SUFFIX)
        ):
            target = unquote(path[len(_INVOKE_PATH_PREFIX) : -len(_INVOKE_PATH_SUFFIX)])
            return self._invoke(target, environ, start_response)
        return self.app(environ, start_response)

    def _invoke(self, target: str, environ: dict, start_response: Callable) -> Iterable[bytes]:
        spec = self._specs.get(_function_name(target))
        if spec is None:
            body = json.dumps({"Type": "User", "Message": f"Function not found: {target}"})
            start_response(
                "404 Not Found",
                [
                    ("Content-Type", "application/json"),
                    ("x-amzn-ErrorType", "ResourceNotFoundException"),
                ],
            )
            return [body.encode()]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = environ["wsgi.input"].read(length).decode("utf-8") if length else ""
        invocation_type = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
        if invocation_type == "Event":
            threading.Thread(target=self._invoke_event, args=(spec, payload), daemon=True).start()
            start_response("202 Accepted", [("Content-Type", "application/json")])
            return [b""]
        result = self.invoke(spec, payload)
        headers = [("Content-Type", "application/json"), ("X-Amz-Executed-Version", "$LATEST")]
        if result["ok"]:
            body = result["payload"]
        else:
            headers.append(("X-Amz-Function-Error", "Unhandled"))
            body = json.dumps(
                {
                    "errorMessage": result["errorMessage"],
                    "errorType": result["errorType"],
                    "stackTrace": result.get("stackTrace", []),
                }
            )
        start_response("200 OK", headers)
        return [body.encode("utf-8")]

    def _invoke_event(self, spec: FunctionSpec, payload: str) -> None:
        """An accepted ``Event`` invocation: retries and the OnFailure destination as the
        function's event invoke config says (``lambda_async``)."""
        try:
            lambda_async.run_event(lambda: self.invoke(spec, payload), spec.arn, payload)
        except Exception:  # a thread has no caller: say it, as Lambda's own logs would
            LOG.exception("%s: asynchronous invocation not completed", spec.function_name)

    def invoke(self, spec: FunctionSpec, payload: str) -> dict:
        file_id, chunk_index = _attempt_key(payload)
        with self._lock:
            # Attempts are counted per function, file and chunk: the first invocation for a
            # chunk is attempt 1, its first retry attempt 2, whatever ran before.
            self._attempts[(spec.name, file_id, chunk_index)] += 1
            attempt = self._attempts[(spec.name, file_id, chunk_index)]
            fault = next(
                (
                    f.wire
                    for f in self.faults
                    if f.function == spec.name
                    and f.chunk_index == chunk_index
                    and (f.payload_contains is None or f.payload_contains in payload)
                    and attempt in f.attempts
                ),
                None,
            )
            request_id = next(self._request_ids)
        started = time.monotonic()
        result, pid = self._pools[spec.function_name].invoke(payload, fault, request_id)
        record = Invocation(
            function=spec.name,
            file_id=file_id,
            chunk_index=chunk_index,
            attempt=attempt,
            ok=result["ok"],
            error_type=None if result["ok"] else result["errorType"],
            duration_s=time.monotonic() - started,
            injected=fault,
            worker_pid=pid,
        )
        with self._lock:
            self.invocations.append(record)
        return result

    def prewarm(self, counts: dict[str, int], timeout: float = 120.0) -> None:
        """Start ``counts[name]`` warm workers of each function (by logical name) at once
        and wait until each has imported its handler: the Lambda cold starts (pyarrow's
        import, several at once on a small machine) happen here, not in the run."""
        started = [
            worker
            for pool in self._pools.values()
            for worker in pool.prewarm(counts.get(pool.spec.name, 0))
        ]
        deadline = time.monotonic() + timeout
        for worker in started:
            try:
                worker.wait_ready(deadline)
            except (TimeoutError, EOFError, OSError, ValueError):
                # the first invocation starts a fresh one and reports what goes wrong
                self._pools[worker.spec.function_name].discard(worker)

    def worker_pids(self) -> list[int]:
        return [pid for pool in self._pools.values() for pid in pool.pids()]

    def close(self) -> None:
        """Stop every worker of every function: all are told at once, then awaited (a
        worker with pyarrow loaded is slow to exit; one after the other, a pool of warm
        workers added seconds after the run had ended: docs/decisions.md, "Local end-to-end
        speed")."""
        stopping = [worker for pool in self._pools.values() for worker in pool.close()]
        for worker in stopping:
            worker.finish_stop()


def _function_name(target: str) -> str:
    """``name``, ``name:qualifier``, ``arn:aws:lambda:r:a:function:name[:qualifier]``."""
    if target.startswith("arn:"):
        return target.split(":")[6]
    return target.split(":")[0]


def _attempt_key(payload: str) -> tuple[str | None, int | None]:
    """(file_id, chunk index) of an invocation, as far as its payload says."""
    try:
        event = json.loads(payload)
    except ValueError:
        return None, None
    if not isinstance(event, dict):
        return None, None
    chunk = event.get("chunk")
    index = chunk.get("index") if isinstance(chunk, dict) else None
    file_id = event.get("file_id")
    return (
        file_id if isinstance(file_id, str) else None,
        index if isinstance(index, int) else None,
    )


def _runtime_error(error_type: str, message: str) -> dict:
    return {"ok": False, "errorType": error_type, "errorMessage": message, "stackTrace": []}


def _close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


def lambda_environment(spec: FunctionSpec, runtime: WorkerRuntime) -> dict[str, str]:
    """The variables the Lambda service sets in every sandbox of a function (the worker adds
    ``LAMBDA_TASK_ROOT``; the caller adds region, credentials and the function's own)."""
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "_HANDLER": spec.handler,
    }
    if runtime.lambda_like:
        env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{runtime.mode}"
    return env


def _base_environment() -> dict[str, str]:
    """What a Lambda sandbox has besides the function's own variables."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.setdefault("TZ", "UTC")
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


__all__ = [
    "WORKER_SCRIPT",
    "Fault",
    "FunctionSpec",
    "Invocation",
    "LambdaLayer",
    "lambda_environment",
]
