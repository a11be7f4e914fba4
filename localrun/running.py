"""Running files through a stack that is already up (``python -m localrun.standing run``).

:class:`RunningStack` is the client side of :class:`localrun.pipeline.LocalPipeline`: the
same uploads, waits and results (:class:`~localrun.events.ExecutionEvents`,
:class:`~localrun.results.ExecutionResults`) against the endpoint and names the server wrote
to state.json, from another process. Like the one-shot run it subscribes its own observer
queue to the failure topic for the run's failure notification, and removes it on exit.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

from etl.contract import CONTRACT

from localrun.events import ExecutionEvents
from localrun.pipeline import LocalPipeline
from localrun.results import ExecutionResults, RunResult, summary_table


class RunningStack(ExecutionEvents, ExecutionResults):
    """The stack described by ``state`` (state.json). Use as a context manager."""

    # the same client and failure observer as the pipeline object in the server
    client = LocalPipeline.client
    _subscribe_observer = LocalPipeline._subscribe_observer
    _unsubscribe_observer = LocalPipeline._unsubscribe_observer

    def __init__(self, state: dict) -> None:
        self.contract = CONTRACT
        self.endpoint_url = state["endpoint"]
        self.bucket = state["bucket"]
        self.table = state["table"]
        self.state_machine_arn = state["state_machine_arn"]
        self._results_url = state["results_queue_url"]
        self._topic_arn = state["failure_topic_arn"]
        self._executions: dict = {}
        self._executions_lock = threading.Lock()
        self._results: list[dict] = []
        self._failures: list[dict] = []
        self._messages_lock = threading.Lock()
        self._subscription_arn: str | None = None
        self._failure_sub_url: str | None = None
        self._clients = threading.local()
        self.datasets = tuple(state.get("datasets") or ("transactions",))

    def __enter__(self) -> RunningStack:
        self._subscribe_observer()
        return self

    def __exit__(self, *exc_info) -> None:
        self._unsubscribe_observer()

    def key_for(self, path: Path, dataset: str | None) -> str:
        """``incoming/<dataset>/<name>``; the default dataset is the stack's first."""
        dataset = (dataset or self.datasets[0]).strip("/")
        return f"{self.contract.prefixes['incoming']}{dataset}/{path.name}"

    def run_file(
        self,
        path: Path,
        *,
        dataset: str | None = None,
        out: Path | None = None,
        timeout: float = 600.0,
        progress=None,
    ) -> RunResult:
        """Upload ``path``, wait for the execution its event starts, collect its result."""
        began = time.monotonic()
        key = self.key_for(path, dataset)
        before = len(self.executions(key))  # count before the upload: delivery is immediate
        self.upload(path, key)
        arns = self.wait_for_start(key, count=before + 1)
        result = self.wait_for(arns[before], timeout=timeout, progress=progress)
        result.duration_s = time.monotonic() - began
        if out is not None:
            self.write_outputs(result, out)
        return result

    def run_cli(
        self, path: Path | None, *, dataset: str | None, out: Path | None, timeout: float
    ) -> int:
        """What ``run`` prints and returns: the one-shot run's summary and exit codes."""
        from localrun.__main__ import SAMPLE_ROWS, _ProgressLine

        progress = _ProgressLine()
        with tempfile.TemporaryDirectory(prefix="localrun-input-") as scratch:
            if path is None:
                from localrun.sample import write_transactions

                path = Path(scratch) / "sample-transactions.csv"
                write_transactions(path, rows=SAMPLE_ROWS, quoted_newlines=True)
                print(f"no INPUT given: generated {path.name}", file=sys.stderr)
            print(f"uploading s3://{self.bucket}/{self.key_for(path, dataset)}", file=sys.stderr)
            try:
                result = self.run_file(
                    path, dataset=dataset, out=out, timeout=timeout, progress=progress
                )
            except TimeoutError as exc:
                progress.done()
                print(f"FAILED: {exc}", file=sys.stderr)
                return 1
            except KeyboardInterrupt:
                progress.done()
                print("\ninterrupted (the stack keeps running)", file=sys.stderr)
                return 130
            progress.done()
            print(summary_table(result, path, out))
        if not result.succeeded:
            print(f"FAILED: {result.error}", file=sys.stderr)
        return 0 if result.succeeded else 1
