"""ReadAhead: parallel ranged reads returned in order, bounded, retried when a body breaks."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError, ResponseStreamingError
from etl.s3io import ReadAhead, ShortRead

DATA = bytes(range(256)) * 40  # 10,240 bytes, every offset distinguishable mod 256


class Source:
    """A read_range over DATA that records every request (and can misbehave)."""

    def __init__(self, faults: dict | None = None):
        self.calls: list[tuple[int, int]] = []
        self.faults = dict(faults or {})  # (a, b) -> list of exceptions / "short" to play first
        self.lock = threading.Lock()

    def __call__(self, a: int, b: int) -> bytes:
        with self.lock:
            self.calls.append((a, b))
            plan = self.faults.get((a, b))
            fault = plan.pop(0) if plan else None
        if fault == "short":
            return DATA[a : b - 1]
        if fault is not None:
            raise fault
        return DATA[a:b]


def drain(reader: ReadAhead, size: int) -> list[bytes]:
    out = []
    while piece := reader.read(size):
        out.append(piece)
    return out


@pytest.mark.parametrize("part", [1, 7, 1000, 4096, 20000])
@pytest.mark.parametrize("size", [1, 333, 4096, 50000])
def test_reads_return_exactly_the_range_in_order(part, size):
    src = Source()
    with ReadAhead(src, 100, 9100, part_bytes=part, parts_in_flight=3) as r:
        pieces = drain(r, size)
    assert b"".join(pieces) == DATA[100:9100]
    assert all(0 < len(p) <= size for p in pieces)
    # every byte requested once, as consecutive parts of `part` bytes
    assert sorted(src.calls) == [(a, min(a + part, 9100)) for a in range(100, 9100, part)]


def test_a_whole_part_is_returned_without_copying():
    src = Source()
    with ReadAhead(src, 0, 4096, part_bytes=1024) as r:
        first = r.read(1024)
        assert first == DATA[:1024] and r.read(5000) == DATA[1024:2048]


def test_read_all_and_an_empty_range():
    with ReadAhead(Source(), 10, 5000, part_bytes=999) as r:
        assert r.read() == DATA[10:5000] and r.read() == b""
    src = Source()
    with ReadAhead(src, 50, 50) as r:
        assert r.read(10) == b"" and src.calls == []


def test_at_most_parts_in_flight_requests_run_at_once():
    release = threading.Event()
    running, peak, lock = 0, 0, threading.Lock()

    def slow(a: int, b: int) -> bytes:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        release.wait(5)
        with lock:
            running -= 1
        return DATA[a:b]

    r = ReadAhead(slow, 0, 10000, part_bytes=1000, parts_in_flight=3)
    threading.Timer(0.5, release.set).start()
    assert b"".join(drain(r, 1000)) == DATA[:10000]
    r.close()
    assert peak == 3


def test_a_broken_body_or_short_read_is_fetched_again():
    broken = ResponseStreamingError(error="Connection broken: IncompleteRead")
    src = Source({(1000, 2000): [broken, "short"]})
    with ReadAhead(src, 0, 3000, part_bytes=1000, attempts=3) as r:
        assert r.read() == DATA[:3000]
        assert r.retries == 2
    assert src.calls.count((1000, 2000)) == 3


def test_a_part_that_keeps_failing_raises_after_the_last_attempt():
    src = Source({(0, 1000): ["short", "short", "short"]})
    with ReadAhead(src, 0, 2000, part_bytes=1000, attempts=3) as r, pytest.raises(ShortRead, match="bytes 0-999: got 999 of 1000"):
        r.read(1000)
    assert src.calls.count((0, 1000)) == 3


def test_client_errors_are_not_retried():
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetObject")
    src = Source({(0, 1000): [denied]})
    with ReadAhead(src, 0, 1000, part_bytes=1000) as r, pytest.raises(ClientError):
        r.read(1000)
    assert src.calls == [(0, 1000)]


def test_close_leaves_no_worker_thread():
    r = ReadAhead(Source(), 0, 10000, part_bytes=100, parts_in_flight=2)
    r.read(100)
    r.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("read-ahead")]


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError):
        ReadAhead(Source(), 0, 10, part_bytes=0)
