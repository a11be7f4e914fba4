"""Starting and stopping: nothing the harness started outlives it (workers, port, env).

A module of its own: each test runs its own LocalPipeline, and only one may run per
process (the module-scoped one of test_harness.py is closed before these start).
"""

from __future__ import annotations

import os
import socket
import time

import pytest

from localrun.pipeline import LocalPipeline
from tests.localrun.fake_handlers import write_fake_lambdas

pytestmark = pytest.mark.e2e


def _csv(tmp_path, name: str, rows: int = 30):
    path = tmp_path / name
    path.write_text("a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(rows)))
    return path


def _port_is_free(port: int) -> bool:
    """Nothing listens there and a new server could bind it (as werkzeug does: SO_REUSEADDR,
    so connections in TIME_WAIT from the old server do not count)."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_close_stops_workers_and_frees_the_port(tmp_path):
    lambdas = write_fake_lambdas(tmp_path)
    with LocalPipeline(lambdas_dir=lambdas, max_concurrency=2) as pipeline:
        result = pipeline.run_file(_csv(tmp_path, "x.csv"))
        port, pids = pipeline.port, pipeline.worker_pids()
        assert result.status == "SUCCEEDED"
        assert pids and all(_pid_alive(pid) for pid in pids)
        assert not _port_is_free(port)
    assert _port_is_free(port)
    deadline = time.monotonic() + 5
    while any(_pid_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in pids if _pid_alive(pid)]
    assert os.environ.get("MOTO_PORT") != str(port)


def test_close_after_an_error_mid_run_stops_everything(tmp_path):
    lambdas = write_fake_lambdas(tmp_path)
    with pytest.raises(TimeoutError), LocalPipeline(lambdas_dir=lambdas) as pipeline:
        pipeline.upload(_csv(tmp_path, "slow.csv"))
        arn = pipeline.wait_for_start("incoming/slow.csv")[0]
        port = pipeline.port
        pipeline.wait_for(arn, timeout=0.2, interval=0.05)  # raises while it runs
    pids = [i.worker_pid for i in pipeline.invocations]
    assert _port_is_free(port)
    assert not [pid for pid in pids if _pid_alive(pid)]


def test_a_second_pipeline_in_the_same_process_is_refused(tmp_path):
    lambdas = write_fake_lambdas(tmp_path)
    second = LocalPipeline(lambdas_dir=lambdas)
    with (
        LocalPipeline(lambdas_dir=lambdas),
        pytest.raises(RuntimeError, match="another LocalPipeline is running"),
    ):
        second.start()
    with LocalPipeline(lambdas_dir=lambdas) as again:  # free again after close
        assert again.port
