"""Progress on long work (issue 20 item 5): bytes, records and rate on a terminal, nothing
when stderr is piped; `describe` through a real pseudo-terminal and through a pipe."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from localrun.progress import ByteProgress

REPO = Path(__file__).resolve().parents[1]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_terminal_sees_bytes_records_and_rate_redrawn_in_place():
    out, clock = Terminal(), Clock()
    progress = ByteProgress("describe", 8 * 1024 * 1024, stream=out, clock=clock)
    clock.now += 1.0
    progress.update(2 * 1024 * 1024, 1500)
    clock.now += 0.1  # within the interval: not redrawn
    progress.update(3 * 1024 * 1024, 2000)
    clock.now += 1.0
    progress.update(8 * 1024 * 1024, 6000)
    progress.done()
    assert out.getvalue() == (
        "\rdescribe: 2.0/8.0 MiB (25%), 1,500 records, 2.0 MiB/s\033[K"
        "\rdescribe: 8.0/8.0 MiB (100%), 6,000 records, 3.8 MiB/s\033[K"
        "\rdescribe: 8.0/8.0 MiB (100%), 6,000 records, 3.8 MiB/s\033[K\n"
    )


def test_a_pipe_sees_nothing():
    out, clock = io.StringIO(), Clock()
    progress = ByteProgress("describe", 100, stream=out, clock=clock)
    clock.now += 1
    progress.update(100, 10)
    progress.done()
    assert out.getvalue() == ""


def _describe_with_stderr(stderr, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "localrun.describe", str(path), "--jobs", "1"],
        stdout=subprocess.PIPE,
        stderr=stderr,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        timeout=120,
    )


def _sample(tmp_path: Path) -> Path:
    from localrun.sample import write_transactions

    path = tmp_path / "s.csv"
    write_transactions(path, rows=20_000, invalid_fraction=0, seed=1)
    return path


def test_describe_shows_progress_on_a_terminal_and_none_through_a_pipe(tmp_path):
    path = _sample(tmp_path)
    size_mib = f"{path.stat().st_size / 1024 / 1024:.1f}"
    leader, follower = os.openpty()
    try:
        done = _describe_with_stderr(follower, path)
        os.close(follower)
        shown = b""
        while True:
            try:
                piece = os.read(leader, 65536)
            except OSError:  # the terminal is closed once everything was read
                break
            if not piece:
                break
            shown += piece
    finally:
        os.close(leader)
    assert done.returncode == 0
    final = f"\rdescribe: {size_mib}/{size_mib} MiB (100%), 20,000 records, "
    assert final.encode() in shown
    assert b"20,000 records, delimiter ','" in shown  # the summary follows the progress line
    piped = _describe_with_stderr(subprocess.PIPE, path)
    assert piped.returncode == 0 and piped.stdout == done.stdout
    assert b"\r" not in piped.stderr and b"MiB" not in piped.stderr
