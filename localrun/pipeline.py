"""The local pipeline: ``envs/dev`` applied by Terraform to an embedded moto server.

    with LocalPipeline(chunk_bytes=64 * 1024) as pipeline:
        result = pipeline.run_file("transactions.csv", out_dir="out")

What it starts (and stops again, also on errors and Ctrl-C):

* :class:`Deployment`: the emulator (:mod:`localrun.emulator`: moto in server mode on
  127.0.0.1, patched by :mod:`localrun.moto_patches`, Step Functions execution enabled) and
  ``terraform apply`` of the real ``envs/dev`` against it (:mod:`localrun.stack`). Every
  resource -- bucket, table, queues, topic, roles, layer, functions, state machine, rule,
  target -- is what Terraform created; the settings (chunk bytes, concurrency, retries,
  schema) are ``envs/dev`` variables.
* What moto lacks, and only that: Lambda ``Invoke`` (:class:`~localrun.lambda_layer.
  LambdaLayer` runs each handler from the zip Terraform uploaded, with the environment
  Terraform set, read back with GetFunctionConfiguration), and EventBridge -> Step
  Functions delivery with the target's input path (a moto patch). To read failure
  notifications the harness subscribes one observer SQS queue to the failure topic.

One LocalPipeline per process at a time (moto's backends and ``MOTO_PORT`` are global). Tests
share one :class:`Deployment` per session: ``LocalPipeline(deployment=...)`` attaches to it.

The functions run on this interpreter with the harness venv's site-packages standing in for
the Lambda layer: the layer zip build.py makes holds CPython 3.12 manylinux wheels for the
Lambda architecture and cannot be imported on the host (the versions match: pyproject.toml
pins the same pyarrow and powertools for ``layer`` and ``test``).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config

from localrun.emulator import ACCOUNT_ID, FAKE_CREDENTIALS, REGION, Emulator
from localrun.lambda_layer import Fault, FunctionSpec, Invocation, LambdaLayer
from localrun.stack import DevStack, Step
from localrun.zips import REPO_ROOT, build_with_build_py, load_contract, zip_functions

DEFAULT_SCHEMA = REPO_ROOT / "schemas" / "transactions.json"
# The one state machine template (Terraform renders it; tests render it with localrun.asl).
ASL_TEMPLATE = REPO_ROOT / "modules" / "orchestration" / "templates" / "pipeline.asl.json"
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def dev_variables(
    *,
    prefix: str = "etl-local",
    chunk_bytes: int | None = None,
    max_record_bytes: int | None = None,
    max_concurrency: int = 10,
    schema_path: str | os.PathLike = DEFAULT_SCHEMA,
    retry_interval_seconds: int = 1,
    retry_max_attempts: int = 3,
    retry_backoff_rate: float = 2.0,
    lambda_timeout_s: int | None = None,
) -> dict:
    """The ``envs/dev`` variables for these settings (``-var-file`` content)."""
    contract = load_contract()
    variables: dict = {
        "prefix": prefix,
        "chunk_bytes": chunk_bytes,
        "max_record_bytes": max_record_bytes,
        "max_concurrency": max_concurrency,
        "schema_file": str(Path(schema_path).resolve()),
        "processor_retry": {
            "interval_seconds": retry_interval_seconds,
            "max_attempts": retry_max_attempts,
            "backoff_rate": retry_backoff_rate,
        },
    }
    if lambda_timeout_s is not None:
        variables["function_settings"] = {
            name: {"timeout_s": int(lambda_timeout_s)} for name in contract["functions"]
        }
    return {k: v for k, v in variables.items() if v is not None}


class Deployment:
    """The emulator with ``envs/dev`` applied to it. ``close()`` stops the emulator (its
    state goes with it); ``destroy()`` first, to run ``terraform destroy``."""

    def __init__(
        self,
        variables: dict,
        *,
        functions_dir: str | os.PathLike | None = None,
        lambdas_dir: str | os.PathLike | None = None,
        layer_zip: str | os.PathLike | None = None,
        manifest: str | os.PathLike | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        work_dir: str | os.PathLike | None = None,
    ) -> None:
        """``manifest``: deploy build.py's artifacts (dist/manifest.json: the zips, the real
        layer, the architecture) instead of building the function zips."""
        self.variables = dict(variables)
        self._manifest = Path(manifest) if manifest else None
        self.emulator = Emulator(host, port)
        self.stack: DevStack | None = None
        self.outputs: dict = {}
        self._functions_dir = Path(functions_dir) if functions_dir else None
        self._lambdas_dir = Path(lambdas_dir) if lambdas_dir else None
        self._layer_zip = Path(layer_zip) if layer_zip else None
        self._own_work_dir = work_dir is None
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="localrun-"))
        self.plan_code: int | None = None
        self.plan_output = ""
        self.destroyed = False

    def __enter__(self) -> Deployment:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def endpoint_url(self) -> str | None:
        return self.emulator.endpoint_url

    def start(self, progress: Callable[[Step], None] | None = None, *, plan: bool = False):
        """Start the emulator, then ``terraform init`` + ``apply`` (+ ``plan`` if asked)."""
        from localrun.stack import require_terraform

        require_terraform()  # before anything slow
        zips, layer_zip, architecture = self._artifacts()
        self.emulator.start()
        self.stack = DevStack(
            self.emulator.endpoint_url,
            zips,
            self.variables,
            layer_zip=layer_zip,
            architecture=architecture,
            work_dir=self.work_dir / "terraform",
        )
        self.stack.init()
        self.stack.apply(progress)
        if plan:
            self.plan_code, self.plan_output = self.stack.plan_exit_code()
        self.outputs = self.stack.outputs()
        return self

    def destroy(self, progress: Callable[[Step], None] | None = None) -> None:
        if self.stack is not None and not self.destroyed:
            self.stack.destroy(progress)
            self.destroyed = True

    def close(self) -> None:
        self.emulator.stop()
        if self._own_work_dir and not os.environ.get("LOCALRUN_KEEP_WORK_DIR"):
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def _artifacts(self) -> tuple[dict[str, Path], Path | None, str]:
        if self._manifest is None:
            return self._function_zips(), self._layer_zip, "arm64"
        manifest = json.loads(self._manifest.read_text())
        # build.py writes the paths relative to the repo root
        artifacts = {name: REPO_ROOT / a["path"] for name, a in manifest["artifacts"].items()}
        layer = artifacts.pop("layer", None)
        missing = [str(p) for p in [*artifacts.values(), layer] if p and not p.is_file()]
        if missing:
            raise FileNotFoundError(f"artifacts of {self._manifest} not found: {missing}")
        return artifacts, layer, manifest["architecture"]

    def _function_zips(self) -> dict[str, Path]:
        contract = load_contract()
        functions_dir = self._functions_dir
        if functions_dir is None:
            if self._lambdas_dir is not None:
                functions_dir = zip_functions(
                    self._lambdas_dir, self.work_dir / "functions", contract
                )
            else:
                functions_dir = build_with_build_py()
        zips = {name: functions_dir / f"{name}.zip" for name in contract["functions"]}
        missing = [str(p) for p in zips.values() if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"function zips not found: {', '.join(missing)}")
        return zips


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
    duplicate: bool = False  # ended in AlreadyProcessed
    success_message: dict | None = None  # from the results queue
    failure_message: dict | None = None  # the SNS notification (Subject, Message)
    failure: dict | None = None  # MarkFailed's output {error, reason, ...}
    file_item: dict | None = None  # the status table's FILE item
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
            "execution_arn": self.execution_arn,
            "duration_s": round(self.duration_s, 3),
        }


_order = iter(range(1 << 62))


@dataclass
class _Started:
    execution_arn: str
    detail: dict
    started: float
    order: int = field(default_factory=lambda: next(_order))


class LocalPipeline:
    """The pipeline on the emulator, deployed by Terraform. Use as a context manager.

    Without ``deployment`` it starts its own (:class:`Deployment` with these settings as
    ``envs/dev`` variables) and stops it on close; with one, it attaches to it (the settings
    are then the deployment's) and leaves it running.
    """

    _active: LocalPipeline | None = None
    _active_lock = threading.Lock()

    def __init__(
        self,
        *,
        deployment: Deployment | None = None,
        prefix: str = "etl-local",
        chunk_bytes: int | None = None,
        max_record_bytes: int | None = None,
        max_concurrency: int = 10,
        schema_path: str | os.PathLike = DEFAULT_SCHEMA,
        functions_dir: str | os.PathLike | None = None,
        lambdas_dir: str | os.PathLike | None = None,
        retry_interval_seconds: int = 1,
        retry_max_attempts: int = 3,
        retry_backoff_rate: float = 2.0,
        lambda_timeout_s: int | None = None,
        work_dir: str | os.PathLike | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        apply_progress: Callable[[Step], None] | None = None,
        prewarm_processors: int = 0,
    ) -> None:
        """``prewarm_processors``: start that many processor workers (at most the Map's
        concurrency) and one of every other function on start, so the run does not pay the
        cold starts (the CLI does; tests that count workers do not).
        ``functions_dir``: a dir of ready ``<name>.zip``; ``lambdas_dir``: zip handlers
        from there (tests with throwaway handlers); neither: ``python build.py
        --functions-only`` (the real zips)."""
        self.contract = load_contract()
        self._own_deployment = deployment is None
        self._own_work_dir = work_dir is None
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="localrun-"))
        if deployment is None:
            deployment = Deployment(
                dev_variables(
                    prefix=prefix,
                    chunk_bytes=chunk_bytes,
                    max_record_bytes=max_record_bytes,
                    max_concurrency=max_concurrency,
                    schema_path=schema_path,
                    retry_interval_seconds=retry_interval_seconds,
                    retry_max_attempts=retry_max_attempts,
                    retry_backoff_rate=retry_backoff_rate,
                    lambda_timeout_s=lambda_timeout_s,
                ),
                functions_dir=functions_dir,
                lambdas_dir=lambdas_dir,
                host=host,
                port=port,
                work_dir=self.work_dir / "deployment",
            )
        self.deployment = deployment
        self._apply_progress = apply_progress
        self.layer: LambdaLayer | None = None
        self.port: int | None = None
        self.endpoint_url: str | None = None
        self._executions: dict[str, _Started] = {}
        self._executions_lock = threading.Lock()
        self._results: list[dict] = []
        self._failures: list[dict] = []
        self._messages_lock = threading.Lock()
        self._subscription_arn: str | None = None
        self._failure_sub_url: str | None = None
        self._clients = threading.local()
        self._prewarm_processors = prewarm_processors

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> LocalPipeline:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def start(self) -> None:
        with LocalPipeline._active_lock:
            if LocalPipeline._active is not None:
                raise RuntimeError(
                    "another LocalPipeline is running in this process: close it first (moto's"
                    " backends and MOTO_PORT are process-global)"
                )
            LocalPipeline._active = self
        if self._own_deployment:
            self.deployment.start(self._apply_progress)
        self.port = self.deployment.emulator.port
        self.endpoint_url = self.deployment.endpoint_url
        outputs = self.deployment.outputs
        variables = self.deployment.variables
        self.prefix = variables.get("prefix", "etl-dev")
        self.max_concurrency = int(variables.get("max_concurrency", 10))
        self.bucket = outputs["bucket_name"]
        self.table = outputs["table_name"]
        self.state_machine_arn = outputs["state_machine_arn"]
        self._results_url = outputs["results_queue_url"]
        self._topic_arn = outputs["failure_topic_arn"]
        self._function_names = dict(outputs["function_names"])
        self.state_machine_name = self.state_machine_arn.rsplit(":", 1)[-1]
        self.definition = self.client("stepfunctions").describe_state_machine(
            stateMachineArn=self.state_machine_arn
        )["definition"]
        self._configs = {
            name: self.client("lambda").get_function_configuration(FunctionName=function)
            for name, function in self._function_names.items()
        }
        self.layer = LambdaLayer(
            self.deployment.emulator.moto_app,
            self._function_specs(),
            pool_size=self.max_concurrency,
            log_dir=self.work_dir / "logs",
        )
        self.deployment.emulator.set_lambda(self.layer)
        if self._prewarm_processors:
            self.layer.prewarm(
                {name: 1 for name in self._function_names}
                | {"processor": min(self._prewarm_processors, self.max_concurrency)}
            )
        self._subscribe_observer()

    def close(self) -> None:
        """Stop what this pipeline started: executions, workers, observer, deployment."""
        emulator = self.deployment.emulator
        if emulator.port is not None and self.layer is not None:
            self._stop_running_executions()
            self._unsubscribe_observer()
        if self.layer is not None:
            emulator.set_lambda(None)
            self.layer.close()
        if self._own_deployment:
            self.deployment.close()
        with LocalPipeline._active_lock:
            if LocalPipeline._active is self:
                LocalPipeline._active = None
        if self._own_work_dir and not os.environ.get("LOCALRUN_KEEP_WORK_DIR"):
            shutil.rmtree(self.work_dir, ignore_errors=True)

    # -- the public API ------------------------------------------------------------------
    def client(self, service: str):
        """A client for the local endpoint. boto3's default session is not thread-safe, so
        each thread gets its own session; clients are cached per thread and service."""
        cache = self._clients.__dict__
        if service not in cache:
            session = cache.setdefault("_session", boto3.session.Session())
            cache[service] = session.client(
                service,
                endpoint_url=self.endpoint_url,
                region_name=REGION,
                aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                config=Config(retries={"max_attempts": 2, "mode": "standard"}),
            )
        return cache[service]

    def upload(self, path: str | os.PathLike, key: str | None = None) -> dict:
        """Put a file to ``incoming/<basename>``: the S3 event starts the pipeline."""
        path = Path(path)
        key = key or self.contract["prefixes"]["incoming"] + path.name
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

    def executions(self, key: str | None = None) -> list[_Started]:
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
                    self._executions[arn] = _Started(
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

    def run_file(
        self,
        path: str | os.PathLike,
        *,
        out_dir: str | os.PathLike | None = None,
        timeout: float = 600.0,
        progress: Callable[[Progress], None] | None = None,
    ) -> RunResult:
        """Upload ``path`` to incoming/, wait for the execution its event starts, and
        (with ``out_dir``) write summary.json, valid/*.parquet and rejected/*.parquet."""
        began = time.monotonic()
        key = self.contract["prefixes"]["incoming"] + Path(path).name
        before = len(self.executions(key))  # count before the upload: delivery is immediate
        uploaded = self.upload(path, key)
        arns = self.wait_for_start(uploaded["key"], count=before + 1)
        result = self.wait_for(arns[before], timeout=timeout, progress=progress)
        result.duration_s = time.monotonic() - began
        if out_dir is not None:
            self.write_outputs(result, Path(out_dir))
        return result

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

    def inject_fault(
        self,
        function: str,
        *,
        chunk_index: int | None = None,
        attempts=(1,),
        when: str = "before",
        key_contains: str | None = None,
    ) -> Fault:
        """Test-only: make ``function`` fail for ``chunk_index`` on these attempt numbers,
        raising ``InjectedFault`` in the worker: ``before`` the handler ran, ``after`` it
        returned, or ``after_upload`` (right after the handler's first S3 upload whose key
        contains ``key_contains``, e.g. the processor's ``/valid/`` output: a half-done
        chunk)."""
        return self.layer.inject_fault(
            function,
            chunk_index=chunk_index,
            attempts=attempts,
            when=when,
            key_contains=key_contains,
        )

    @property
    def invocations(self) -> list[Invocation]:
        return list(self.layer.invocations) if self.layer else []

    def worker_pids(self) -> list[int]:
        return self.layer.worker_pids() if self.layer else []

    def status_items(self, file_id: str) -> list[dict]:
        """The status table's items of one file, as plain Python values."""
        ddb = self.client("dynamodb")
        items, kwargs = [], {}
        while True:
            page = ddb.query(
                TableName=self.table,
                KeyConditionExpression="file_id = :f",
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

    # -- internals: setup ----------------------------------------------------------------

    # -- internals: setup ----------------------------------------------------------------
    def function_name(self, name: str) -> str:
        return self._function_names[name]

    def function_arn(self, name: str) -> str:
        return self._configs[name]["FunctionArn"]

    def function_environment(self, name: str) -> dict[str, str]:
        """The function's environment as Terraform set it (GetFunctionConfiguration)."""
        return dict(self._configs[name].get("Environment", {}).get("Variables", {}))

    def _sandbox_environment(self, name: str) -> dict[str, str]:
        """What the Lambda service adds: region, credentials (here: the emulator's), name,
        memory; plus the emulator's endpoint for the SDK."""
        config = self._configs[name]
        return {
            **self.function_environment(name),
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            **FAKE_CREDENTIALS,
            "AWS_LAMBDA_FUNCTION_NAME": config["FunctionName"],
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config["MemorySize"]),
            "LOCALRUN_FUNCTION_ARN": config["FunctionArn"],
        }

    def _function_specs(self) -> list[FunctionSpec]:
        zips = self.work_dir / "functions"
        zips.mkdir(parents=True, exist_ok=True)
        specs = []
        for name, config in self._configs.items():
            zip_path = zips / f"{name}.zip"
            zip_path.write_bytes(self.deployment.emulator.lambda_code(config["FunctionName"]))
            specs.append(
                FunctionSpec(
                    name=name,
                    function_name=config["FunctionName"],
                    arn=config["FunctionArn"],
                    zip_path=zip_path,
                    handler=config["Handler"],
                    environment=self._sandbox_environment(name),
                    timeout_s=float(config["Timeout"]),
                    memory_mb=int(config["MemorySize"]),
                )
            )
        return specs

    def _subscribe_observer(self) -> None:
        """An SQS queue on the failure topic, so runs can report the SNS message (the
        harness's own observer: not part of envs/dev)."""
        sqs = self.client("sqs")
        name = f"localrun-failure-observer-{uuid.uuid4().hex[:8]}"
        self._failure_sub_url = sqs.create_queue(QueueName=name)["QueueUrl"]
        self._subscription_arn = self.client("sns").subscribe(
            TopicArn=self._topic_arn,
            Protocol="sqs",
            Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}",
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]

    def _unsubscribe_observer(self) -> None:
        try:
            if self._subscription_arn:
                self.client("sns").unsubscribe(SubscriptionArn=self._subscription_arn)
            if self._failure_sub_url:
                self.client("sqs").delete_queue(QueueUrl=self._failure_sub_url)
        except Exception:  # best effort: the emulator may be gone
            pass

    # -- internals: results --------------------------------------------------------------
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
        done = rows = 0
        if split.get("file_id"):
            for item in self.status_items(split["file_id"]):
                if (
                    str(item.get("chunk_id", "")).startswith("CHUNK#")
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
            file_items = [
                i for i in self.status_items(result.file_id) if i.get("chunk_id") == "FILE"
            ]
            result.file_item = file_items[0] if file_items else None
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

    def _stop_running_executions(self) -> None:
        try:
            sfn = self.client("stepfunctions")
            for started in self.executions():
                status = sfn.describe_execution(executionArn=started.execution_arn)["status"]
                if status == "RUNNING":
                    sfn.stop_execution(executionArn=started.execution_arn, cause="localrun stopped")
        except Exception:  # best effort: the server threads are daemons anyway
            pass


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


__all__ = ["Deployment", "LocalPipeline", "Progress", "RunResult", "dev_variables"]
