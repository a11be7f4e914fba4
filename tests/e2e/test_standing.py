"""A local stack that stays up (`python3 noxfile.py -s local -- up | run | status | down`,
localrun/standing.py) and the AWS CLI against it, as a user types it.

One test, one deploy (about a minute): `up` in a fresh process, `up` again, `status`, two
files through `run` (no deploy), the AWS CLI loop (s3 cp, sqs receive-message, dynamodb
get-item, s3 ls), `down`, and nothing left running.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from etl.keys import FileRef

from localrun.sample import write_transactions

REPO = Path(__file__).resolve().parents[2]
AWS = Path(sys.executable).parent / "aws"  # awscli from the test extra (pyproject.toml)
pytestmark = pytest.mark.e2e


def _standing(state_dir: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MOTO_PORT"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "localrun.standing", "--state-dir", str(state_dir), *args],
        cwd=state_dir.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _exports(stdout: str) -> dict[str, str]:
    pairs = [line.removeprefix("export ").split("=", 1) for line in stdout.splitlines()]
    return dict(pairs)


def _descendants(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid:
            child = int(stat.parent.name)
            found += [child, *_descendants(child)]
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _aws(env: dict[str, str], *args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(AWS), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_up_run_status_aws_cli_down(tmp_path):
    assert AWS.is_file(), (
        f"awscli is not installed next to {sys.executable}: pip install -e .[test]"
    )
    state_dir = tmp_path / ".localstack"
    up = _standing(state_dir, "up", "--prefix", "etl-standing", "--chunk-bytes", "65536")
    assert up.returncode == 0, up.stdout + up.stderr
    exports = _exports(up.stdout)
    state = json.loads((state_dir / "state.json").read_text())
    pid = state["pid"]
    assert int((state_dir / "server.pid").read_text()) == pid
    bucket = "etl-standing-processing-123456789012"
    assert exports == {
        "AWS_ENDPOINT_URL": state["endpoint"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "ETL_BUCKET": bucket,
        "ETL_STATUS_TABLE": "etl-standing-status",
        "ETL_RESULTS_QUEUE_URL": f"{state['endpoint']}/123456789012/etl-standing-results.fifo",
        "ETL_STATE_MACHINE_ARN": (
            "arn:aws:states:us-east-1:123456789012:stateMachine:etl-standing-pipeline"
        ),
    }
    assert "terraform apply envs/dev: " in up.stderr and "up in " in up.stderr
    try:
        # up twice: harmless, same stack, same environment
        again = _standing(state_dir, "up")
        assert again.returncode == 0, again.stderr
        assert again.stderr.startswith(f"already up: pid {pid}, {state['endpoint']}\n")
        assert _exports(again.stdout) == exports
        status = _standing(state_dir, "status")
        assert status.returncode == 0 and _exports(status.stdout) == exports
        assert status.stderr.startswith(f"up since {state['started']}: pid {pid}, ")

        _run_two_files(state_dir, tmp_path)
        _aws_cli_loop(exports, tmp_path)
        workers = _descendants(pid)
        assert len(workers) >= 3  # the function workers the server started
    finally:
        down = _standing(state_dir, "down")
    assert down.returncode == 0, down.stderr
    assert down.stderr == f"stopped the stack (pid {pid})\n"
    assert [p for p in [pid, *workers] if _running(p)] == []
    host, port = state["endpoint"].removeprefix("http://").split(":")
    with socket.socket() as probe:
        assert probe.connect_ex((host, int(port))) != 0
    assert sorted(p.name for p in state_dir.iterdir()) == ["server.log"]
    stopped = _standing(state_dir, "status")
    assert (stopped.returncode, stopped.stderr) == (1, "not running\n")
    run = _standing(state_dir, "run", str(tmp_path / "a.csv"))
    assert run.returncode == 2
    assert run.stderr == (
        "error: no local stack is running: start one with `python3 noxfile.py -s local -- up`\n"
    )


def _run_two_files(state_dir: Path, tmp_path: Path) -> None:
    """`run FILE` twice, the second naming its dataset: the one-shot run's summary and
    outputs; without --dataset the file goes under the stack's (first) dataset."""
    stats = write_transactions(tmp_path / "a.csv", rows=3000, seed=1)
    first = _standing(state_dir, "run", "a.csv", "--out", "out-a")
    assert first.returncode == 0, first.stdout + first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].split() == ["status", "SUCCEEDED"]
    assert lines[1].split()[:2] == ["file", "incoming/transactions/a.csv"]
    assert lines[2].split() == ["dataset", "transactions"]
    assert lines[3].split()[:4] == ["schema", "transactions", "version", "1"]
    assert lines[5].split() == ["rows", "total", "3,000"]
    assert lines[7].split() == ["rows", "rejected", f"{stats.invalid_rows:,}"]
    summary = json.loads((tmp_path / "out-a" / "summary.json").read_text())
    assert (summary["status"], summary["rows_total"], summary["rows_rejected"]) == (
        "SUCCEEDED",
        3000,
        stats.invalid_rows,
    )
    assert sorted(p.name for p in (tmp_path / "out-a" / "valid").iterdir()) == [
        f"chunk-{i:06d}.parquet" for i in range(summary["chunks"])
    ]
    second = _standing(state_dir, "run", "a.csv", "--dataset", "transactions")
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.splitlines()[1].split()[:2] == ["file", "incoming/transactions/a.csv"]
    assert "uploading s3://etl-standing-processing-123456789012/incoming/transactions/a.csv\n" in (
        second.stderr
    )


def _aws_cli_loop(exports: dict[str, str], tmp_path: Path) -> None:
    """What a user types: s3 cp under incoming/, sqs receive-message for the success
    message, dynamodb get-item for the file's status item, s3 ls for the outputs."""
    env = {**os.environ, **exports}
    env.pop("AWS_PROFILE", None)
    stats = write_transactions(tmp_path / "cli.csv", rows=500, seed=2)
    bucket, key = exports["ETL_BUCKET"], "incoming/transactions/cli.csv"
    copied = _aws(env, "s3", "cp", "cli.csv", f"s3://{bucket}/{key}", cwd=tmp_path)
    assert copied.endswith(f"upload: ./cli.csv to s3://{bucket}/{key}\n")
    # the v1 CLI sends SQS calls to queue.amazonaws.com despite AWS_ENDPOINT_URL: say where
    endpoint = ["--endpoint-url", exports["AWS_ENDPOINT_URL"]]
    received = json.loads(
        _aws(
            env,
            "sqs",
            "receive-message",
            *endpoint,
            "--queue-url",
            exports["ETL_RESULTS_QUEUE_URL"],
            "--wait-time-seconds",
            "20",
        )  # fmt: skip
    )
    head = _aws(env, "s3api", "head-object", "--bucket", bucket, "--key", key)
    version = json.loads(head)["VersionId"]
    ref = FileRef(bucket, key, version)
    message = json.loads(received["Messages"][0]["Body"])
    assert {k: message[k] for k in ("file_id", "status", "rows_total", "rows_rejected")} == {
        "file_id": ref.file_id,
        "status": "COMPLETE",
        "rows_total": 500,
        "rows_rejected": stats.invalid_rows,
    }
    assert (message["valid_prefix"], message["rejected_prefix"]) == ref.outputs(
        1
    ).published_prefixes
    item = json.loads(
        _aws(
            env,
            "dynamodb",
            "get-item",
            "--table-name",
            exports["ETL_STATUS_TABLE"],
            "--key",
            json.dumps({"file_id": {"S": ref.file_id}, "chunk_id": {"S": "FILE"}}),
        )  # fmt: skip
    )["Item"]
    assert (item["status"], item["key"], item["version_id"]) == (
        {"S": "COMPLETE"},
        {"S": key},
        {"S": version},
    )
    assert (item["rows_valid"], item["rows_rejected"]) == (
        {"N": str(500 - stats.invalid_rows)},
        {"N": str(stats.invalid_rows)},
    )
    out = ref.outputs(1)  # transactions' schema is major 1
    listed = {
        prefix: _aws(env, "s3", "ls", f"s3://{bucket}/{prefix}", "--recursive")
        for prefix in out.published_prefixes
    }
    assert {p: [line.split()[-1] for line in text.splitlines()] for p, text in listed.items()} == {
        out.valid_prefix: [out.valid_key(0)],
        out.rejected_prefix: [out.rejected_key(0)],
    }
