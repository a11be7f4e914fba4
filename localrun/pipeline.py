"""The local pipeline: moto server + Lambda layer + the dev environment's resources.

    with LocalPipeline(chunk_bytes=64 * 1024) as pipeline:
        result = pipeline.run_file("transactions.csv", out_dir="out")

What it starts (and stops again, also on errors and Ctrl-C):

* moto's WSGI app (``DomainDispatcherApplication(create_backend_app)``, as moto's
  ``ThreadedMotoServer`` builds it) on 127.0.0.1 on a free port, behind
  :class:`~localrun.lambda_layer.LambdaLayer`, served by a threaded werkzeug server;
  Step Functions execution enabled via ``POST /moto-api/config``; ``MOTO_PORT`` set in
  this process because moto's interpreter calls services at ``http://localhost:$MOTO_PORT``.
* The resources of the dev environment, named as in docs/contracts.md: versioned bucket
  with EventBridge notifications, status table, FIFO results queue, failure topic (+ an
  SQS subscription so the harness can read the failure message), the five functions, the
  schema object, the state machine rendered from the one ASL template, the EventBridge rule.
* A relay thread: moto cannot deliver to a Step Functions target, so the rule targets an
  SQS queue and the relay calls StartExecution with the rule's input path (``$.detail``).

One LocalPipeline per process at a time (moto's backends and ``MOTO_PORT`` are global).

The functions run from the function zips that Terraform deploys, but on this interpreter
(CPython 3.11 here) with the harness venv's site-packages standing in for the Lambda
layer: the layer zip build.py makes holds CPython 3.12 manylinux wheels for the Lambda
architecture and cannot be imported on the host. The versions match (pyproject.toml pins
the same pyarrow and powertools for ``layer`` and ``test``).
"""

from __future__ import annotations

import json
import logging
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
from werkzeug.serving import make_server

from localrun.asl import render_asl
from localrun.lambda_layer import Fault, FunctionSpec, Invocation, LambdaLayer
from localrun.zips import REPO_ROOT, build_with_build_py, load_contract, zip_functions

ASL_TEMPLATE = REPO_ROOT / "modules" / "orchestration" / "templates" / "pipeline.asl.json"
DEFAULT_SCHEMA = REPO_ROOT / "schemas" / "transactions.json"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# The rule's target input path in Terraform (EventBridge -> Step Functions gets `detail`).
RULE_INPUT_PATH = "$.detail"
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


@dataclass
class _Started:
    execution_arn: str
    detail: dict
    started: float


class LocalPipeline:
    """The pipeline on an embedded moto server. Use as a context manager.

    Only one may run per process: moto's backends and ``MOTO_PORT`` are process-global, so a
    second one would reset the first's resources and race its relay for events.
    """

    _active: LocalPipeline | None = None
    _active_lock = threading.Lock()

    def __init__(
        self,
        *,
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
        timeout_seconds: int = 7200,
        lambda_timeout_s: float = 900.0,
        work_dir: str | os.PathLike | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        quiet_moto: bool = True,
    ) -> None:
        """``functions_dir``: a dir of ready ``<name>.zip``; ``lambdas_dir``: zip handlers
        from there (tests with throwaway handlers); neither: ``python build.py
        --functions-only`` (the real zips)."""
        self.contract = load_contract()
        self.prefix = prefix
        self.chunk_bytes = chunk_bytes or self.contract["defaults"]["chunk_bytes"]
        self.max_record_bytes = max_record_bytes or self.contract["defaults"]["max_record_bytes"]
        self.max_concurrency = max_concurrency
        self.schema_path = Path(schema_path)
        self.retry = (retry_interval_seconds, retry_max_attempts, retry_backoff_rate)
        self.timeout_seconds = timeout_seconds
        self.lambda_timeout_s = lambda_timeout_s
        self._functions_dir = Path(functions_dir) if functions_dir else None
        self._lambdas_dir = Path(lambdas_dir) if lambdas_dir else None
        self._host = host
        self._requested_port = port
        self._quiet_moto = quiet_moto
        self._saved_log_level: int | None = None
        self._own_work_dir = work_dir is None
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="localrun-"))

        self.bucket = f"{prefix}-processing"
        self.table = f"{prefix}-status"
        self.queue_name = f"{prefix}-results.fifo"
        self.topic_name = f"{prefix}-failures"
        self.state_machine_name = f"{prefix}-pipeline"
        self.rule_name = f"{prefix}-s3-incoming"

        self.port: int | None = None
        self.endpoint_url: str | None = None
        self.layer: LambdaLayer | None = None
        self._server = None
        self._server_thread: threading.Thread | None = None
        self._relay_thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._started: list[_Started] = []
        self._started_cond = threading.Condition()
        self._sequencers: dict[tuple[str, str | None], str] = {}
        self._results: list[dict] = []
        self._failures: list[dict] = []
        self._messages_lock = threading.Lock()
        self._saved_env: dict[str, str | None] = {}
        self.relay_errors: list[str] = []
        self._clients = threading.local()

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
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        with LocalPipeline._active_lock:
            if LocalPipeline._active is not None:
                raise RuntimeError(
                    "another LocalPipeline is running in this process: close it first (moto's"
                    " backends and MOTO_PORT are process-global)"
                )
            LocalPipeline._active = self
        if self._quiet_moto:
            # moto logs every failed task at ERROR with its whole parse tree; RunResult and
            # the function logs (work_dir/logs) say what failed.
            moto_logger = logging.getLogger("moto")
            self._saved_log_level = moto_logger.level
            moto_logger.setLevel(logging.CRITICAL)
        zips = self._function_zips()
        moto_app = DomainDispatcherApplication(create_backend_app)
        # Bind first (port 0 = a free port), then build the layer: the functions' env
        # needs the port. Until then the server answers nothing (the thread is not started).
        holder: dict[str, Callable] = {}
        self._server = make_server(
            self._host,
            self._requested_port,
            lambda environ, start_response: holder["app"](environ, start_response),
            threaded=True,
            request_handler=_quiet(MotoRequestHandler),
        )
        self.port = self._server.server_port
        self.endpoint_url = f"http://{self._host}:{self.port}"
        self._set_env("MOTO_PORT", str(self.port))
        self.layer = LambdaLayer(
            moto_app,
            self._function_specs(zips),
            pool_size=self.max_concurrency,
            log_dir=self.work_dir / "logs",
        )
        holder["app"] = self.layer
        self._server_thread = threading.Thread(
            target=self._server.serve_forever, name="localrun-moto", daemon=True
        )
        self._server_thread.start()

        self._post_moto_api("reset", None)
        self._post_moto_api("config", {"stepfunctions": {"execute_state_machine": True}})
        self._create_resources()
        self._relay_thread = threading.Thread(
            target=self._relay, name="localrun-relay", daemon=True
        )
        self._relay_thread.start()

    def close(self) -> None:
        """Stop everything this pipeline started: executions, relay, workers, server."""
        self._stop.set()
        if self._server_thread is not None and self._server_thread.is_alive():
            self._stop_running_executions()
        if self._relay_thread is not None:
            self._relay_thread.join(timeout=15)
        if self.layer is not None:
            self.layer.close()
        if self._server is not None:
            if self._server_thread is not None and self._server_thread.is_alive():
                self._server.shutdown()
                self._server_thread.join(timeout=15)
            self._server.server_close()
            self._server = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        if self._saved_log_level is not None:
            logging.getLogger("moto").setLevel(self._saved_log_level)
            self._saved_log_level = None
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
        duplicate delivery). It goes through the rule, the queue and the relay."""
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
        """The ``detail`` of the S3 ``Object Created`` event S3 sends for a PutObject."""
        s3 = self.client("s3")
        kwargs = {"VersionId": version_id} if version_id else {}
        head = s3.head_object(Bucket=self.bucket, Key=key, **kwargs)
        version_id = head.get("VersionId")
        return {
            "version": "0",
            "bucket": {"name": self.bucket},
            "object": {
                "key": key,
                "size": head["ContentLength"],
                "etag": head["ETag"].strip('"'),
                "version-id": version_id,
                "sequencer": self._sequencer(key, version_id),
            },
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": ACCOUNT_ID,
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        }

    def executions(self, key: str | None = None) -> list[_Started]:
        with self._started_cond:
            return [s for s in self._started if key is None or s.detail["object"]["key"] == key]

    def wait_for_start(self, key: str, count: int = 1, timeout: float = 30.0) -> list[str]:
        """Wait until the relay started ``count`` executions for ``key``; their ARNs."""
        deadline = time.monotonic() + timeout
        with self._started_cond:
            while True:
                started = [s for s in self._started if s.detail["object"]["key"] == key]
                if len(started) >= count:
                    return [s.execution_arn for s in started]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    errors = "; ".join(self.relay_errors) or "no event reached the relay"
                    raise TimeoutError(f"no execution started for {key} ({errors})")
                self._started_cond.wait(remaining)

    def wait_for(
        self,
        execution_arn: str,
        *,
        timeout: float = 600.0,
        progress: Callable[[Progress], None] | None = None,
        interval: float = 0.5,
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
        before = len(self.executions(key))  # count before the upload: the relay is fast
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
    ) -> Fault:
        """Test-only: make ``function`` fail for ``chunk_index`` on these attempt numbers,
        raising ``InjectedFault`` in the worker before or after the handler ran."""
        return self.layer.inject_fault(
            function, chunk_index=chunk_index, attempts=attempts, when=when
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
    def _set_env(self, name: str, value: str) -> None:
        self._saved_env.setdefault(name, os.environ.get(name))
        os.environ[name] = value

    def _post_moto_api(self, action: str, body: dict | None) -> None:
        import urllib.request

        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/{action}",
            data=json.dumps(body or {}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    def _function_zips(self) -> dict[str, Path]:
        if self._functions_dir is None:
            if self._lambdas_dir is not None:
                contract = (
                    load_contract(self._lambdas_dir)
                    if (self._lambdas_dir / "etl" / "contract.json").is_file()
                    else self.contract
                )
                self._functions_dir = zip_functions(
                    self._lambdas_dir, self.work_dir / "functions", contract
                )
            else:
                self._functions_dir = build_with_build_py()
        zips = {name: self._functions_dir / f"{name}.zip" for name in self.contract["functions"]}
        missing = [str(p) for p in zips.values() if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"function zips not found: {', '.join(missing)}")
        return zips

    def function_name(self, name: str) -> str:
        return f"{self.prefix}-{name.replace('_', '-')}"

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name(name)}"

    def function_environment(self, name: str) -> dict[str, str]:
        names = self.contract["env"]
        return {
            names["bucket"]: self.bucket,
            names["status_table"]: self.table,
            names["schema_key"]: self.contract["schema_object_key"],
            names["chunk_bytes"]: str(self.chunk_bytes),
            names["max_record_bytes"]: str(self.max_record_bytes),
            "POWERTOOLS_SERVICE_NAME": name,
            "POWERTOOLS_METRICS_NAMESPACE": self.contract["metrics_namespace"],
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            **FAKE_CREDENTIALS,
            "AWS_LAMBDA_FUNCTION_NAME": self.function_name(name),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
            "LOCALRUN_FUNCTION_ARN": self.function_arn(name),
        }

    def _function_specs(self, zips: dict[str, Path]) -> list[FunctionSpec]:
        return [
            FunctionSpec(
                name=name,
                function_name=self.function_name(name),
                arn=self.function_arn(name),
                zip_path=zips[name],
                handler=spec["handler"],
                environment=self.function_environment(name),
                timeout_s=self.lambda_timeout_s,
            )
            for name, spec in self.contract["functions"].items()
        ]

    def _create_resources(self) -> None:
        s3 = self.client("s3")
        s3.create_bucket(Bucket=self.bucket)
        s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_notification_configuration(
            Bucket=self.bucket,
            NotificationConfiguration={"EventBridgeConfiguration": {}},
        )
        s3.put_object(
            Bucket=self.bucket,
            Key=self.contract["schema_object_key"],
            Body=self.schema_path.read_bytes(),
            ContentType="application/json",
        )

        self.client("dynamodb").create_table(
            TableName=self.table,
            KeySchema=[
                {"AttributeName": "file_id", "KeyType": "HASH"},
                {"AttributeName": "chunk_id", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "file_id", "AttributeType": "S"},
                {"AttributeName": "chunk_id", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )

        sqs = self.client("sqs")
        self._results_url = sqs.create_queue(
            QueueName=self.queue_name,
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"},
        )["QueueUrl"]
        sns = self.client("sns")
        self._topic_arn = sns.create_topic(Name=self.topic_name)["TopicArn"]
        self._failure_sub_url = sqs.create_queue(QueueName=f"{self.prefix}-failures-local")[
            "QueueUrl"
        ]
        sns.subscribe(
            TopicArn=self._topic_arn,
            Protocol="sqs",
            Endpoint=_queue_arn(self._failure_sub_url),
        )

        iam = self.client("iam")
        role_arn = iam.create_role(
            RoleName=f"{self.prefix}-local",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {
                                "Service": ["lambda.amazonaws.com", "states.amazonaws.com"]
                            },
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        aws_lambda = self.client("lambda")
        placeholder = _placeholder_zip()
        for name, spec in self.contract["functions"].items():
            # Registration only (so ARNs exist); invocations go to the layer.
            aws_lambda.create_function(
                FunctionName=self.function_name(name),
                Runtime="python3.12",
                Role=role_arn,
                Handler=spec["handler"],
                Code={"ZipFile": placeholder},
                Description=spec.get("description", ""),
                Timeout=int(self.lambda_timeout_s),
                Environment={"Variables": self.function_environment(name)},
            )

        interval, attempts, backoff = self.retry
        values = {
            "splitter_arn": self.function_arn("splitter"),
            "validator_arn": self.function_arn("validator"),
            "processor_arn": self.function_arn("processor"),
            "finalizer_arn": self.function_arn("finalizer"),
            "mark_failed_arn": self.function_arn("mark_failed"),
            "results_queue_url": self._results_url,
            "failure_topic_arn": self._topic_arn,
            "max_concurrency": self.max_concurrency,
            "retry_interval_seconds": interval,
            "retry_max_attempts": attempts,
            "retry_backoff_rate": backoff,
            "timeout_seconds": self.timeout_seconds,
        }
        self.definition = render_asl(ASL_TEMPLATE.read_text(), values)
        self.state_machine_arn = self.client("stepfunctions").create_state_machine(
            name=self.state_machine_name,
            definition=self.definition,
            roleArn=role_arn,
            type="STANDARD",
        )["stateMachineArn"]

        self._relay_url = sqs.create_queue(QueueName=f"{self.rule_name}-relay")["QueueUrl"]
        events = self.client("events")
        events.put_rule(
            Name=self.rule_name,
            EventPattern=json.dumps(
                {
                    "source": ["aws.s3"],
                    "detail-type": ["Object Created"],
                    "detail": {
                        "bucket": {"name": [self.bucket]},
                        "object": {"key": [{"prefix": self.contract["prefixes"]["incoming"]}]},
                    },
                }
            ),
            State="ENABLED",
        )
        events.put_targets(
            Rule=self.rule_name,
            Targets=[{"Id": "local-relay", "Arn": _queue_arn(self._relay_url)}],
        )

    # -- internals: the relay ------------------------------------------------------------
    def _relay(self) -> None:
        """EventBridge -> Step Functions, as the rule's target would: one StartExecution per
        matched event, with the rule's input path applied. Never dies silently."""
        while not self._stop.is_set():
            try:
                self._relay_once()
            except Exception as exc:
                if not self._stop.is_set():
                    self.relay_errors.append(f"{type(exc).__name__}: {exc}")
                    time.sleep(0.2)

    def _relay_once(self) -> None:
        sqs = self.client("sqs")
        messages = sqs.receive_message(
            QueueUrl=self._relay_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        for message in messages:
            try:
                event = json.loads(message["Body"])
                detail = self._normalise_detail(_input_path(event, RULE_INPUT_PATH))
                arn = self.client("stepfunctions").start_execution(
                    stateMachineArn=self.state_machine_arn,
                    name=uuid.uuid4().hex,
                    input=json.dumps(detail),
                )["executionArn"]
                with self._started_cond:
                    self._started.append(_Started(arn, detail, time.monotonic()))
                    self._started_cond.notify_all()
            except Exception as exc:
                self.relay_errors.append(f"start: {exc!r}")
            sqs.delete_message(QueueUrl=self._relay_url, ReceiptHandle=message["ReceiptHandle"])

    def _normalise_detail(self, detail: dict) -> dict:
        """moto 5.2.5 (s3/notifications.py `_send_event_bridge_message`) emits `eTag`
        instead of `etag`, `reason` "ObjectCreated" instead of "PutObject", and one constant
        `sequencer` for every object. Put the AWS shape back; events sent with put_event
        (already in the AWS shape) pass unchanged."""
        detail = json.loads(json.dumps(detail))
        obj = detail.get("object", {})
        if "eTag" in obj and "etag" not in obj:
            obj["etag"] = obj.pop("eTag")
        if detail.get("reason") == "ObjectCreated":
            detail["reason"] = "PutObject"
        if obj.get("sequencer") == "617f08299329d189":
            obj["sequencer"] = self._sequencer(obj.get("key"), obj.get("version-id"))
        return detail

    def _sequencer(self, key: str, version_id: str | None) -> str:
        with self._started_cond:
            return self._sequencers.setdefault(
                (key, version_id), f"{time.time_ns():016X}{len(self._sequencers):04X}"
            )

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


def _quiet(handler_class: type) -> type:
    """moto's request handler without werkzeug's one-line-per-request access log."""

    class QuietRequestHandler(handler_class):
        def log_request(self, *args, **kwargs) -> None:
            pass

    return QuietRequestHandler


def _input_path(event: dict, path: str):
    if path == "$":
        return event
    value = event
    for part in path.removeprefix("$.").split("."):
        value = value[part]
    return value


def _queue_arn(url: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{url.rstrip('/').rsplit('/', 1)[-1]}"


def _placeholder_zip() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# invocations are served by localrun\n")
    return buffer.getvalue()


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


__all__ = ["LocalPipeline", "Progress", "RunResult"]
