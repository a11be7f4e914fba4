"""python -m localrun.standing up|run|status|down: a local stack that stays up.

``up`` deploys envs/dev to the embedded emulator once (the one-shot run's deploy path:
:class:`localrun.pipeline.LocalPipeline`, Terraform) in a detached server process and
returns when it is ready, printing the environment for the AWS CLI (``export`` lines on
stdout, so ``eval "$(... up)"`` works); ``run FILE [--dataset NAME]`` uploads a file to the
running stack and prints the usual summary (no deploy: seconds); ``status`` says whether it
is up; ``down`` stops the server and every process it started.

State lives in a folder of the checkout, ignored by git (``.localstack/``, or
``--state-dir``): ``state.json`` (pid, endpoint, resource names; written once the stack is
ready), ``server.pid`` (from the start), ``server.log`` (the server's output: the apply,
errors) and ``work/`` (Terraform's state and the function logs). The emulator keeps its
state in memory, so a stack that is down is gone: ``up`` starts from a clean ``work/``.

Exit codes: ``up`` 0 (up, or already up), 2 if the stack could not be deployed; ``run`` as
the one-shot run (0 SUCCEEDED, 1 FAILED, 2 no stack); ``status`` 0 up, 1 not running;
``down`` 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from localrun.deployment import DEFAULT_PREFIX, DEFAULT_SCHEMA
from localrun.emulator import FAKE_CREDENTIALS, REGION
from localrun.zips import REPO_ROOT

DEFAULT_STATE_DIR = REPO_ROOT / ".localstack"
STATE = "state.json"
PID = "server.pid"
LOG = "server.log"
UP_TIMEOUT_S = 900.0
DOWN_TIMEOUT_S = 60.0


# ---------------------------------------------------------------------------------------
# the state folder and the server process
# ---------------------------------------------------------------------------------------


def read_state(state_dir: Path) -> dict | None:
    """The running stack's state.json, if the server that wrote it is still alive."""
    try:
        state = json.loads((state_dir / STATE).read_text())
    except (OSError, ValueError):
        return None
    return state if is_server(int(state["pid"])) else None


def server_pid(state_dir: Path) -> int | None:
    """The server's pid (from the start, before state.json), if that process still runs."""
    try:
        pid = int((state_dir / PID).read_text())
    except (OSError, ValueError):
        return None
    return pid if is_server(pid) else None


def is_server(pid: int) -> bool:
    """``pid`` runs (not a zombie) and is a ``localrun.standing serve`` process: a stale
    pid file never makes us signal an unrelated process that reused the number."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and b"localrun.standing" in cmdline and b"serve" in cmdline


def environment(state: dict) -> dict[str, str]:
    """What a shell exports to use the AWS CLI (and boto3) against the stack."""
    return {
        "AWS_ENDPOINT_URL": state["endpoint"],
        **FAKE_CREDENTIALS,
        "AWS_DEFAULT_REGION": REGION,
        "ETL_BUCKET": state["bucket"],
        "ETL_STATUS_TABLE": state["table"],
        "ETL_RESULTS_QUEUE_URL": state["results_queue_url"],
        "ETL_STATE_MACHINE_ARN": state["state_machine_arn"],
    }


def _print_environment(state: dict) -> None:
    for name, value in environment(state).items():
        print(f"export {name}={value}")
    sys.stdout.flush()
    print(
        "# e.g. aws s3 cp data.csv s3://$ETL_BUCKET/incoming/data.csv; the v1 AWS CLI needs\n"
        "# --endpoint-url $AWS_ENDPOINT_URL for sqs (it ignores AWS_ENDPOINT_URL there):\n"
        "# aws sqs receive-message --endpoint-url $AWS_ENDPOINT_URL"
        " --queue-url $ETL_RESULTS_QUEUE_URL --wait-time-seconds 10",
        file=sys.stderr,
    )


# ---------------------------------------------------------------------------------------
# up / serve
# ---------------------------------------------------------------------------------------


def up(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir
    if (state := read_state(state_dir)) is not None:
        print(f"already up: pid {state['pid']}, {state['endpoint']}", file=sys.stderr)
        _print_environment(state)
        return 0
    if (pid := server_pid(state_dir)) is not None:
        print(f"a server is starting (pid {pid}): waiting for it", file=sys.stderr)
        return _wait_until_ready(state_dir, pid, None)
    from localrun.stack import TerraformMissing, require_terraform

    try:
        require_terraform()
    except TerraformMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    state_dir.mkdir(parents=True, exist_ok=True)
    for stale in (STATE, PID):
        (state_dir / stale).unlink(missing_ok=True)
    shutil.rmtree(state_dir / "work", ignore_errors=True)  # the emulator that used it is gone
    command = [sys.executable, "-m", "localrun.standing", "serve", "--state-dir", str(state_dir)]
    command += ["--schema", str(args.schema.resolve()), "--prefix", args.prefix]
    command += ["--max-concurrency", str(args.max_concurrency), "--port", str(args.port)]
    if args.chunk_bytes:
        command += ["--chunk-bytes", str(args.chunk_bytes)]
    pythonpath = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
    with open(state_dir / LOG, "wb") as log:
        server = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # detached: survives this terminal; `down` stops it
            env={**os.environ, "PYTHONPATH": pythonpath, "PYTHONUNBUFFERED": "1"},
        )
    (state_dir / PID).write_text(f"{server.pid}\n")
    print(
        f"deploying envs/dev to a local emulator in the background (pid {server.pid},"
        f" log {state_dir / LOG}; about a minute) ...",
        file=sys.stderr,
    )
    return _wait_until_ready(state_dir, server.pid, server)


def _wait_until_ready(state_dir: Path, pid: int, server: subprocess.Popen | None) -> int:
    """Follow the server's log on stderr until state.json appears (0) or it dies (2)."""
    began, shown = time.monotonic(), 0
    try:
        while True:
            shown = _follow(state_dir / LOG, shown)
            if (state := read_state(state_dir)) is not None:
                ready = f"up in {time.monotonic() - began:.0f} s: {state['endpoint']}"
                print(ready, file=sys.stderr)
                _print_environment(state)
                return 0
            exited = server.poll() is not None if server else not is_server(pid)
            if exited or time.monotonic() - began > UP_TIMEOUT_S:
                _follow(state_dir / LOG, shown)
                _stop(state_dir, pid)
                print(f"error: the stack did not come up (log: {state_dir / LOG})", file=sys.stderr)
                return 2
            time.sleep(0.2)
    except KeyboardInterrupt:
        _stop(state_dir, pid)
        print("\ninterrupted: stopped the server", file=sys.stderr)
        return 130


def _follow(log: Path, shown: int) -> int:
    """Copy the log's new complete lines to stderr; the new offset."""
    try:
        with open(log, "rb") as f:
            f.seek(shown)
            new = f.read()
    except OSError:
        return shown
    complete = new[: new.rfind(b"\n") + 1]
    if complete:
        sys.stderr.write(complete.decode("utf-8", "replace"))
        sys.stderr.flush()
    return shown + len(complete)


def serve(args: argparse.Namespace) -> int:
    """The detached server: deploy, write state.json, serve until SIGTERM, stop all."""
    from localrun.__main__ import PREWARM_PROCESSORS, _ApplyProgress
    from localrun.pipeline import LocalPipeline

    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    state_dir: Path = args.state_dir
    pipeline = LocalPipeline(
        prefix=args.prefix,
        chunk_bytes=args.chunk_bytes,
        max_concurrency=args.max_concurrency,
        schema_paths=[args.schema],
        work_dir=state_dir / "work",
        port=args.port,
        apply_progress=_ApplyProgress(sys.stdout),
        prewarm_processors=PREWARM_PROCESSORS,
    )
    try:
        with pipeline:
            state = {
                "pid": os.getpid(),
                "endpoint": pipeline.endpoint_url,
                "bucket": pipeline.bucket,
                "table": pipeline.table,
                "results_queue_url": pipeline.deployment.outputs["results_queue_url"],
                "failure_topic_arn": pipeline.deployment.outputs["failure_topic_arn"],
                "state_machine_arn": pipeline.state_machine_arn,
                "prefix": pipeline.prefix,
                "schema": str(args.schema),
                "datasets": list(pipeline.deployment.datasets),
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            _write_atomically(state_dir / STATE, json.dumps(state, indent=2) + "\n")
            print(f"serving on {pipeline.endpoint_url}", flush=True)
            threading.Event().wait()  # until SIGTERM
    except KeyboardInterrupt:
        print("stopping: executions, function workers, emulator", flush=True)
    finally:
        (state_dir / STATE).unlink(missing_ok=True)
    return 0


def _write_atomically(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def _raise_keyboard_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


# ---------------------------------------------------------------------------------------
# status / down
# ---------------------------------------------------------------------------------------


def status(args: argparse.Namespace) -> int:
    state = read_state(args.state_dir)
    if state is None:
        pid = server_pid(args.state_dir)
        print(f"starting (pid {pid})" if pid else "not running", file=sys.stderr)
        return 1
    print(
        f"up since {state['started']}: pid {state['pid']}, {state['endpoint']},"
        f" schema {state['schema']}",
        file=sys.stderr,
    )
    _print_environment(state)
    return 0


def down(args: argparse.Namespace) -> int:
    pid = server_pid(args.state_dir)
    if pid is None:
        print("not running", file=sys.stderr)
    else:
        _stop(args.state_dir, pid)
        print(f"stopped the stack (pid {pid})", file=sys.stderr)
    for name in (STATE, PID):
        (args.state_dir / name).unlink(missing_ok=True)
    shutil.rmtree(args.state_dir / "work", ignore_errors=True)
    return 0


def _stop(state_dir: Path, pid: int) -> None:
    """SIGTERM the server (it stops its executions, workers and emulator); its process
    group is killed if it has not exited within DOWN_TIMEOUT_S."""
    if not is_server(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + DOWN_TIMEOUT_S
    while time.monotonic() < deadline:
        _reap(pid)
        if not is_server(pid):
            break
        time.sleep(0.1)
    else:
        os.killpg(pid, signal.SIGKILL)  # the group start_new_session made: its own processes
        _reap(pid)
    (state_dir / PID).unlink(missing_ok=True)


def _reap(pid: int) -> None:
    """Collect the server's exit status when it is our child (``up`` interrupted)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


# ---------------------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    from localrun.running import RunningStack

    state = read_state(args.state_dir)
    if state is None:
        print(
            "error: no local stack is running: start one with `python3 noxfile.py -s local -- up`",
            file=sys.stderr,
        )
        return 2
    with RunningStack(state) as stack:
        return stack.run_cli(args.input, dataset=args.dataset, out=args.out, timeout=args.timeout)


# ---------------------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m localrun.standing",
        description="A local stack that stays up: deploy once, run many files.",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help="where the stack's state lives (default: %(default)s)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "serve"):
        sub = commands.add_parser(name, help="deploy and keep the stack up" if name == "up" else "")
        sub.add_argument("--schema", type=Path, default=DEFAULT_SCHEMA)
        sub.add_argument("--prefix", default=DEFAULT_PREFIX)
        sub.add_argument("--chunk-bytes", type=int)
        sub.add_argument("--max-concurrency", type=int, default=10)
        sub.add_argument("--port", type=int, default=0, help="the endpoint's port (default: any)")
        sub.add_argument("--state-dir", type=Path, default=argparse.SUPPRESS)
    sub = commands.add_parser("run", help="run a file through the running stack")
    sub.add_argument("input", nargs="?", type=Path, help="CSV file (default: a generated sample)")
    sub.add_argument(
        "--dataset", help="upload under incoming/<dataset>/ (default: the schema's dataset)"
    )
    sub.add_argument("--out", type=Path, help="write summary.json, valid/ and rejected/ here")
    sub.add_argument("--timeout", type=float, default=3600)
    sub.add_argument("--state-dir", type=Path, default=argparse.SUPPRESS)
    for name in ("status", "down"):
        commands.add_parser(name).add_argument("--state-dir", type=Path, default=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if getattr(args, "input", None) is not None and not args.input.is_file():
        parser.error(f"input file not found: {args.input} (relative to {Path.cwd()})")
    if getattr(args, "schema", None) is not None and not args.schema.is_file():
        parser.error(f"schema file not found: {args.schema} (relative to {Path.cwd()})")
    args.state_dir = args.state_dir.resolve()
    return args


COMMANDS = {"up": up, "serve": serve, "run": run, "status": status, "down": down}


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    from localrun.exits import exit_now

    exit_now(main())  # no interpreter teardown: localrun/exits.py says why


__all__ = ["DEFAULT_STATE_DIR", "environment", "main", "read_state"]
