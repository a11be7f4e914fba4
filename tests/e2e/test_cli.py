"""The command line (`python -m localrun`, what `python3 noxfile.py -s local` runs).

Two tests start it as users do, in a fresh process that deploys envs/dev with Terraform
(about a minute each); the others run its main() on the session's deployed stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import localrun.__main__ as cli
from localrun.lambda_runtime import default_runtime
from localrun.pipeline import LocalPipeline
from localrun.sample import write_transactions

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _descendants(pid: int) -> list[int]:
    found = []
    for child in _children(pid):
        found += [child, *_descendants(child)]
    return found


def _port_closed(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_cli_deploys_runs_the_sample_keeps_running_and_stops_on_ctrl_c(tmp_path):
    """The front door, whole: a fresh process deploys envs/dev with Terraform (progress per
    resource), runs the generated sample, prints the summary, keeps the emulator up; Ctrl-C
    then stops it with the run's exit status and leaves no worker or port behind. The
    summary and the exit follow each other without a pause."""
    import re
    import signal
    import time

    env = {k: v for k, v in os.environ.items() if k != "MOTO_PORT"}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.Popen(
        [sys.executable, "-m", "localrun", "--out", "out", "--keep-running"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stderr_lines = []
    try:
        port = None
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            stderr_lines.append(line)
            match = re.search(r"moto on http://127\.0\.0\.1:(\d+)", line)
            port = int(match.group(1)) if match else port
            if line.startswith("keeping the emulator up"):
                break
        workers = _children(proc.pid)
        assert port and len(workers) >= 3, "".join(stderr_lines)
        stopped = time.monotonic()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
        stop_s = time.monotonic() - stopped
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = "".join(stderr_lines) + stderr

    assert proc.returncode == 0, stdout + stderr
    progress = [ln for ln in stderr.splitlines() if ln.startswith("terraform apply envs/dev: ")]
    done = re.match(r"terraform apply envs/dev: (\d+)/(\d+) ", progress[-1])
    # every planned resource created (65 today; the count grows with the Terraform)
    assert done and done.group(1) == done.group(2) and len(progress) >= int(done.group(1)) >= 60
    assert "deployed envs/dev in" in stderr and "hashicorp/aws" in stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "SUCCEEDED" and summary["chunks"] > 1
    assert summary["rows_valid"] + summary["rows_rejected"] == summary["rows_total"] == 20_000
    assert pq.read_table(tmp_path / "out" / "valid").num_rows == summary["rows_valid"]
    assert pq.read_table(tmp_path / "out" / "rejected").num_rows == summary["rows_rejected"]
    assert "rows valid" in stdout and "SUCCEEDED" in stdout
    # the summary names the runtime the handlers ran on (python3.12 + the real layer here)
    lambda_row = re.compile(rf"^  lambda +{re.escape(default_runtime().describe())}$", re.M)
    assert lambda_row.search(stdout), stdout
    assert "stopping the emulator" in stderr
    assert stop_s < 4, f"{stop_s:.1f} s from Ctrl-C to exit"
    assert [pid for pid in workers if Path(f"/proc/{pid}").exists()] == []
    assert _port_closed(port)


def test_cli_interrupted_during_apply_leaves_no_terraform_or_port_behind(tmp_path):
    import re
    import signal
    import time

    env = {k: v for k, v in os.environ.items() if k != "MOTO_PORT"}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.Popen(
        [sys.executable, "-m", "localrun"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen, children = [], []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line)
            if re.match(r"terraform apply envs/dev: [5-9]/", line):
                children = _descendants(proc.pid)
                break
        assert len(children) >= 2, "".join(seen)  # terraform and its aws provider plugin
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert proc.returncode == 130, stdout + stderr
    assert "interrupted" in stderr
    assert [pid for pid in children if Path(f"/proc/{pid}").exists()] == []


def test_cli_exits_1_with_the_reason_when_the_file_fails(deployment, tmp_path, capsys):
    path = tmp_path / "empty.csv"
    path.write_text("")

    code = cli.main([str(path), "--out", str(tmp_path / "out")], deployment=deployment)

    captured = capsys.readouterr()
    assert code == 1, captured.out + captured.err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "FAILED" and summary["error"].startswith("EmptyFile")
    assert "FAILED: EmptyFile" in captured.err


def test_cli_input_and_out_are_relative_to_the_working_directory(
    deployment, tmp_path, monkeypatch, capsys
):
    (tmp_path / "odd").mkdir()
    write_transactions(tmp_path / "odd" / "x.csv", rows=50, seed=4)
    monkeypatch.chdir(tmp_path)

    code = cli.main(["odd/x.csv", "--out", "result"], deployment=deployment)

    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    assert json.loads((tmp_path / "result" / "summary.json").read_text())["rows_total"] == 50


def test_cli_names_the_folder_a_missing_input_was_looked_for_in(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        cli.main(["odd/x.csv"])
    assert exited.value.code == 2
    assert f"input file not found: odd/x.csv (relative to {tmp_path})" in capsys.readouterr().err


def test_cli_without_terraform_stops_at_once_saying_how_to_install_it(
    tmp_path, monkeypatch, capsys
):
    import time

    monkeypatch.setenv("PATH", str(tmp_path))  # no terraform here
    began = time.monotonic()
    code = cli.main([])
    err = capsys.readouterr().err
    assert code == 2
    assert time.monotonic() - began < 1  # before any build, sample or emulator
    assert "terraform is not installed" in err
    assert "https://developer.hashicorp.com/terraform/install" in err and "~> 1.11" in err


def test_interrupting_a_run_stops_its_executions_and_workers(deployment, tmp_path):
    """Ctrl-C mid-run (here: from the progress callback) stops the running execution and
    every worker; the deployment stays usable."""
    path = tmp_path / "big.csv"
    write_transactions(path, rows=6000, seed=2)
    seen = {}

    def interrupt(progress):
        if progress.chunks_total and "workers" not in seen:
            seen["workers"] = pipeline.worker_pids()
            if len(seen["workers"]) >= 2:
                raise KeyboardInterrupt

    pipeline = LocalPipeline(deployment=deployment)
    with pytest.raises(KeyboardInterrupt), pipeline:
        pipeline.run_file(path, progress=interrupt, timeout=120)
    assert len(seen["workers"]) >= 2
    assert [pid for pid in seen["workers"] if Path(f"/proc/{pid}").exists()] == []
    # StopExecution was sent; moto's interpreter then ends the in-flight Map (its workers are
    # gone) and records FAILED over ABORTED. Either way nothing is left running.
    sfn = pipeline.client("stepfunctions")
    (execution,) = pipeline.executions("incoming/transactions/big.csv")
    status = sfn.describe_execution(executionArn=execution.execution_arn)["status"]
    assert status in ("ABORTED", "FAILED")


def test_cli_uploads_under_the_chosen_dataset_and_reports_its_schema(deployment, tmp_path, capsys):
    """Every --schema is a dataset named by the schema's name; --dataset picks the upload
    prefix; the summary and summary.json name the dataset and the pinned schema."""
    import hashlib
    import re

    from conftest import SCHEMA_PATH, TRADES_SCHEMA_PATH

    path = tmp_path / "fills.csv"
    path.write_text("trade_id;price;side\nTR1;10.5;BUY\nTR2;11;SELL\n")
    argv = [str(path), "--schema", str(SCHEMA_PATH), "--schema", str(TRADES_SCHEMA_PATH)]

    code = cli.main(
        [*argv, "--dataset", "trades", "--out", str(tmp_path / "out")], deployment=deployment
    )

    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    sha = hashlib.sha256(TRADES_SCHEMA_PATH.read_bytes()).hexdigest()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["dataset"] == "trades"
    assert {k: summary["schema"][k] for k in ("name", "version", "sha256")} == {
        "name": "trades",
        "version": "2.1",
        "sha256": sha,
    }
    assert "uploading s3://" in captured.err and "/incoming/trades/fills.csv" in captured.err
    assert re.search(r"^  dataset +trades$", captured.out, re.M), captured.out
    assert f"trades version 2.1 (sha256 {sha})" in captured.out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--dataset", "sales"], "--dataset sales: no --schema names it (datasets: transactions)"),
        (
            ["--schema", "{repo}/schemas/transactions.json"],
            "schemas/transactions.json both name the dataset 'transactions'",
        ),
    ],
)
def test_cli_refuses_a_dataset_no_schema_names_before_deploying(tmp_path, capsys, extra, message):
    path = tmp_path / "x.csv"
    path.write_text("a\n1\n")
    extra = [e.replace("{repo}", str(REPO)) for e in extra]

    code = cli.main([str(path), "--schema", str(REPO / "schemas" / "transactions.json"), *extra])

    assert code == 2
    assert message in capsys.readouterr().err
