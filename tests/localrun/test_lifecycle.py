"""Starting and stopping: nothing the harness started outlives it (port, MOTO_PORT, workers),
and only one emulator / one pipeline runs per process (moto's backends are global)."""

from __future__ import annotations

import os
import socket

import pytest

from localrun.emulator import Emulator
from localrun.pipeline import LocalPipeline

pytestmark = pytest.mark.e2e


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


def test_emulator_stop_frees_the_port_and_restores_moto_port(monkeypatch):
    monkeypatch.setenv("MOTO_PORT", "1")
    with Emulator() as emulator:
        port = emulator.port
        assert os.environ["MOTO_PORT"] == str(port) and not _port_is_free(port)
        with pytest.raises(RuntimeError, match="already running in this process"):
            Emulator().start()
    assert _port_is_free(port)
    assert os.environ["MOTO_PORT"] == "1"
    with Emulator() as again:  # free again after stop
        assert again.port


def test_a_second_pipeline_in_the_same_process_is_refused(deployment):
    with LocalPipeline(deployment=deployment) as first:
        pids = first.worker_pids()
        with pytest.raises(RuntimeError, match="another LocalPipeline is running"):
            LocalPipeline(deployment=deployment).start()
    assert [pid for pid in pids if os.path.exists(f"/proc/{pid}")] == []
    with LocalPipeline(deployment=deployment) as again:  # free again after close
        assert again.bucket == deployment.outputs["bucket_name"]
