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

import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import boto3
from botocore.config import Config
from etl.contract import CONTRACT

from localrun.deployment import DEFAULT_PREFIX, DEFAULT_SCHEMA, Deployment, dev_variables
from localrun.emulator import ACCOUNT_ID, FAKE_CREDENTIALS, REGION
from localrun.events import ExecutionEvents, Started
from localrun.lambda_layer import Fault, FunctionSpec, Invocation, LambdaLayer
from localrun.results import ExecutionResults, Progress, RunResult
from localrun.stack import Step
from localrun.zips import REPO_ROOT

# The one state machine template (Terraform renders it; tests render it with localrun.asl).
ASL_TEMPLATE = REPO_ROOT / CONTRACT.state_machine.template


class LocalPipeline(ExecutionEvents, ExecutionResults):
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
        prefix: str = DEFAULT_PREFIX,
        chunk_bytes: int | None = None,
        max_record_bytes: int | None = None,
        max_concurrency: int = 10,
        schema_paths: Sequence[str | os.PathLike] = (DEFAULT_SCHEMA,),
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
        self.contract = CONTRACT
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
                    schema_paths=schema_paths,
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
        self._executions: dict[str, Started] = {}
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
        self.max_concurrency = int(variables.get("max_concurrency", 10))
        self.bucket = outputs["bucket_name"]
        self.table = outputs["table_name"]
        self.state_machine_arn = outputs["state_machine_arn"]
        self._results_url = outputs["results_queue_url"]
        self._topic_arn = outputs["failure_topic_arn"]
        self._function_names = dict(outputs["function_names"])
        self.state_machine_name = self.state_machine_arn.rsplit(":", 1)[-1]
        self.prefix = CONTRACT.prefix_of("state_machine", self.state_machine_name)
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

    def run_file(
        self,
        path: str | os.PathLike,
        *,
        out_dir: str | os.PathLike | None = None,
        timeout: float = 600.0,
        progress: Callable[[Progress], None] | None = None,
        dataset: str | None = None,
    ) -> RunResult:
        """Upload ``path`` to incoming/<dataset>/ (default: the first dataset), wait for the
        execution its event starts, and (with ``out_dir``) write summary.json,
        valid/*.parquet and rejected/*.parquet."""
        began = time.monotonic()
        key = self.incoming_key(Path(path).name, dataset)
        before = len(self.executions(key))  # count before the upload: delivery is immediate
        uploaded = self.upload(path, key)
        arns = self.wait_for_start(uploaded["key"], count=before + 1)
        result = self.wait_for(arns[before], timeout=timeout, progress=progress)
        result.duration_s = time.monotonic() - began
        if out_dir is not None:
            self.write_outputs(result, Path(out_dir))
        return result

    def inject_fault(
        self,
        function: str,
        *,
        chunk_index: int | None = None,
        attempts=(1,),
        when: str = "before",
        key_contains: str | None = None,
        payload_contains: str | None = None,
    ) -> Fault:
        """Test-only: make ``function`` fail for ``chunk_index`` on these attempt numbers,
        raising ``InjectedFault`` in the worker: ``before`` the handler ran, ``after`` it
        returned, or ``after_upload`` (right after the handler's first S3 upload whose key
        contains ``key_contains``, e.g. the processor's ``/valid/`` output: a half-done
        chunk); ``payload_contains``: only invocations whose payload holds that text."""
        return self.layer.inject_fault(
            function,
            chunk_index=chunk_index,
            attempts=attempts,
            when=when,
            key_contains=key_contains,
            payload_contains=payload_contains,
        )

    @property
    def invocations(self) -> list[Invocation]:
        return list(self.layer.invocations) if self.layer else []

    def worker_pids(self) -> list[int]:
        return self.layer.worker_pids() if self.layer else []

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


__all__ = [
    "ASL_TEMPLATE",
    "DEFAULT_SCHEMA",
    "Deployment",
    "LocalPipeline",
    "Progress",
    "RunResult",
    "dev_variables",
]
