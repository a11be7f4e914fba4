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
    with (
        ReadAhead(src, 0, 2000, part_bytes=1000, attempts=3) as r,
        pytest.raises(ShortRead, match="bytes 0-999: got 999 of 1000"),
    ):
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


# ---------------------------------------------------------------------------- S3Sink

MIB = 1024 * 1024


@pytest.fixture
def s3(moto_in_process):
    import boto3

    client = boto3.client("s3")
    client.create_bucket(Bucket="sink-test")
    return client


def _exists(s3, key: str) -> bool:
    return "Contents" in s3.list_objects_v2(Bucket="sink-test", Prefix=key)


def test_a_small_object_is_one_put_and_visible_only_after_complete(s3):
    from etl.s3io import S3Sink

    with S3Sink(s3, "sink-test", "work/x") as sink:
        sink.write(b"hello ")
        sink.write(memoryview(b"world"))
        assert sink.tell() == 11 and not _exists(s3, "work/x")
        sink.complete()
    assert s3.get_object(Bucket="sink-test", Key="work/x")["Body"].read() == b"hello world"
    assert s3.list_multipart_uploads(Bucket="sink-test").get("Uploads", []) == []


def test_a_large_object_streams_as_parts_and_completes_atomically(s3):
    import random

    from etl.s3io import S3Sink

    data = random.Random(1).randbytes(12 * MIB + 12345)
    sink = S3Sink(s3, "sink-test", "work/big", part_bytes=5 * MIB, parts_in_flight=2)
    for i in range(0, len(data), 777_777):
        sink.write(data[i : i + 777_777])
    uploads = s3.list_multipart_uploads(Bucket="sink-test")["Uploads"]
    assert [u["Key"] for u in uploads] == ["work/big"] and not _exists(s3, "work/big")
    sink.complete()
    assert s3.get_object(Bucket="sink-test", Key="work/big")["Body"].read() == data
    head = s3.head_object(Bucket="sink-test", Key="work/big", PartNumber=1)
    assert (
        head["PartsCount"] == 3
        and s3.list_multipart_uploads(Bucket="sink-test").get("Uploads", []) == []
    )


def test_leaving_the_block_by_an_exception_publishes_nothing_and_aborts_the_upload(s3):
    from etl.s3io import S3Sink

    with (
        pytest.raises(RuntimeError, match="boom"),
        S3Sink(s3, "sink-test", "work/y", part_bytes=5 * MIB) as sink,
    ):
        sink.write(b"x" * (6 * MIB))
        raise RuntimeError("boom")
    assert sink.state == "aborted" and not _exists(s3, "work/y")
    assert s3.list_multipart_uploads(Bucket="sink-test").get("Uploads", []) == []
    with S3Sink(s3, "sink-test", "work/z") as forgotten:
        forgotten.write(b"never completed")
    assert forgotten.state == "aborted" and not _exists(s3, "work/z")


def test_a_failed_part_fails_complete_and_aborts(s3):
    from etl.s3io import S3Sink

    class Flaky:
        def __getattr__(self, name):
            return getattr(s3, name)

        def upload_part(self, **kw):
            if kw["PartNumber"] == 2:
                raise ConnectionError("reset")
            return s3.upload_part(**kw)

    sink = S3Sink(Flaky(), "sink-test", "work/f", part_bytes=5 * MIB)
    sink.write(b"a" * (11 * MIB))
    with pytest.raises(ConnectionError, match="reset"):
        sink.complete()
    assert sink.state == "aborted" and not _exists(s3, "work/f")
    assert s3.list_multipart_uploads(Bucket="sink-test").get("Uploads", []) == []
    with pytest.raises(ValueError, match="aborted"):
        sink.write(b"more")


def test_parts_in_flight_are_bounded():
    from etl.s3io import S3Sink

    release, lock = threading.Event(), threading.Lock()
    state = {"running": 0, "peak": 0}

    class Slow:
        def create_multipart_upload(self, **kw):
            return {"UploadId": "u"}

        def upload_part(self, **kw):
            with lock:
                state["running"] += 1
                state["peak"] = max(state["peak"], state["running"])
            release.wait(5)
            with lock:
                state["running"] -= 1
            return {"ETag": f"e{kw['PartNumber']}"}

        def complete_multipart_upload(self, **kw):
            state["parts"] = kw["MultipartUpload"]["Parts"]

    sink = S3Sink(Slow(), "b", "k", part_bytes=10, parts_in_flight=2)
    threading.Timer(0.5, release.set).start()
    sink.write(b"z" * 65)  # 6 full parts, 5 bytes left for the last
    sink.complete()
    assert state["peak"] == 2
    assert state["parts"] == [{"PartNumber": n, "ETag": f"e{n}"} for n in range(1, 8)]


def test_a_parquet_writer_streams_into_the_sink(s3):
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    from etl.s3io import S3Sink

    table = pa.table({"n": list(range(200_000)), "s": [f"v{i}" for i in range(200_000)]})
    with S3Sink(s3, "sink-test", "work/t.parquet", part_bytes=5 * MIB) as sink:
        with pq.ParquetWriter(sink, table.schema, compression="none") as writer:
            for batch in table.to_batches(max_chunksize=50_000):
                writer.write_table(pa.Table.from_batches([batch]))
        sink.complete()
    body = s3.get_object(Bucket="sink-test", Key="work/t.parquet")["Body"].read()
    assert pq.read_table(io.BytesIO(body)).equals(table)


def test_a_failed_part_stops_the_writes_that_follow():
    from etl.s3io import S3Sink

    class Failing:
        calls = 0

        def create_multipart_upload(self, **kw):
            return {"UploadId": "u"}

        def upload_part(self, **kw):
            Failing.calls += 1
            raise ConnectionError("reset")

        def abort_multipart_upload(self, **kw):
            Failing.aborted = True

    sink = S3Sink(Failing(), "b", "k", part_bytes=10, parts_in_flight=1)
    with pytest.raises(ConnectionError, match="reset"):
        for _ in range(100):
            sink.write(b"x" * 10)
    assert Failing.calls < 5  # not 100 parts after the first failure
    sink.abort()
    assert Failing.aborted and sink.state == "aborted"


def test_the_s3_client_pool_covers_every_concurrent_transfer_of_a_processor(monkeypatch):
    from etl import runtime, s3io

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert s3io.S3_MAX_CONNECTIONS >= s3io.READ_AHEAD_PARTS + 2 * s3io.WRITE_PARTS_IN_FLIGHT
    rt = runtime.Runtime(runtime.Settings(bucket="b", status_table="t"), dynamodb=object())
    assert rt.s3.meta.config.max_pool_connections == s3io.S3_MAX_CONNECTIONS


def test_multipart_uploads_declare_crc32_and_complete_with_each_parts_checksum(s3):
    # as boto3's transfer manager does: S3 refuses part checksums the upload did not declare
    from etl.s3io import S3Sink

    calls = {}

    class Spy:
        def __getattr__(self, name):
            method = getattr(s3, name)

            def record(**kw):
                calls[name] = kw
                return method(**kw)

            return record

    with S3Sink(Spy(), "sink-test", "work/c", part_bytes=5 * MIB) as sink:
        sink.write(b"c" * (11 * MIB))
        sink.complete()
    assert calls["create_multipart_upload"]["ChecksumAlgorithm"] == "CRC32"
    parts = calls["complete_multipart_upload"]["MultipartUpload"]["Parts"]
    assert [p["PartNumber"] for p in parts] == [1, 2, 3]
    assert all(p["ChecksumCRC32"] and p["ETag"] for p in parts)


# -- delete_prefix: DeleteObjects' per-key errors (issue 18, item 5) ------------------------------
def _refusing(s3, monkeypatch, refusals: dict[str, int], calls: list | None = None) -> None:
    """DeleteObjects answers 200 but lists `key` in `Errors` (SlowDown) its first
    `refusals[key]` times; every other key is really deleted (moto)."""
    real = s3.delete_objects

    def delete_objects(**kwargs):
        asked = [o["Key"] for o in kwargs["Delete"]["Objects"]]
        if calls is not None:
            calls.append(asked)
        refused = [k for k in asked if refusals.get(k, 0) > 0]
        for k in refused:
            refusals[k] -= 1
        kept = [{"Key": k} for k in asked if k not in refused]
        answer = real(**{**kwargs, "Delete": {**kwargs["Delete"], "Objects": kept}}) if kept else {}
        slow = {"Code": "SlowDown", "Message": "Please reduce your request rate."}
        return {**answer, "Errors": [{"Key": k, **slow} for k in refused]}

    monkeypatch.setattr(s3, "delete_objects", delete_objects)


def _put(s3, keys):
    from conftest import BUCKET

    for k in keys:
        s3.put_object(Bucket=BUCKET, Key=k, Body=b"x")


def _listed(s3, prefix):
    from conftest import BUCKET

    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


def test_keys_a_delete_refused_are_deleted_again_until_they_are_gone(aws, monkeypatch):
    from conftest import BUCKET
    from etl import s3io

    monkeypatch.setattr(s3io.time, "sleep", lambda s: None)
    keys = [f"work/abc/valid/chunk-{i:06d}.parquet" for i in range(4)]
    _put(aws.s3, keys)
    calls: list = []
    _refusing(aws.s3, monkeypatch, {keys[1]: 2, keys[3]: 1}, calls)

    assert s3io.delete_prefix(aws.s3, BUCKET, "work/abc/") == 4

    assert calls == [keys, [keys[1], keys[3]], [keys[1]]]
    assert _listed(aws.s3, "work/") == []


def test_a_delete_refused_every_time_raises_delete_incomplete_naming_the_key(aws, monkeypatch):
    from conftest import BUCKET
    from etl import s3io
    from etl.errors import DeleteIncomplete

    pauses: list = []
    monkeypatch.setattr(s3io.time, "sleep", pauses.append)
    keys = [
        "processed/d/version=1/chunk-000000.parquet",
        "processed/d/version=1/chunk-000001.parquet",
    ]
    _put(aws.s3, keys)
    _refusing(aws.s3, monkeypatch, {keys[0]: 99})

    with pytest.raises(
        DeleteIncomplete,
        match=r"did not delete 1 of 2 objects .* after 5 attempts "
        r"\(first: processed/d/version=1/chunk-000000.parquet: SlowDown",
    ):
        s3io.delete_prefix(aws.s3, BUCKET, "processed/")

    assert pauses == [0.2, 0.4, 0.8, 1.6]  # bounded: 5 calls, doubling pauses
    assert _listed(aws.s3, "processed/") == [keys[0]]
