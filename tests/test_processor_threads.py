"""The processor runs one block thread per vCPU its memory pays for, not per CPU it sees:
Lambda shows a 1,769 MB function two CPUs but gives it one vCPU of time across them."""

from __future__ import annotations

from types import SimpleNamespace

import pyarrow as pa
import pytest
from etl.chunk import chunk_threads
from etl.contract import ENV
from etl.runtime import MEMORY_ENV, Settings

BASE = {ENV["bucket"]: "b", ENV["status_table"]: "t", ENV["datasets"]: "transactions"}


@pytest.mark.parametrize(
    ("memory", "vcpus"),
    [
        (None, None),
        ("128", 1),
        ("1769", 1),
        ("2600", 1),
        ("3008", 2),
        ("3538", 2),
        ("5307", 3),
        ("10240", 6),
    ],
)
def test_the_vcpus_follow_the_functions_memory(memory, vcpus):
    env = BASE if memory is None else {**BASE, MEMORY_ENV: memory}
    assert Settings.from_env(env).vcpus == vcpus


@pytest.mark.parametrize(
    ("memory_mb", "threads"),
    [(None, pa.cpu_count()), (1769, 1), (10240, min(6, pa.cpu_count()))],
)
def test_a_chunk_gets_a_thread_per_vcpu_never_more_than_the_cpus_shown(memory_mb, threads):
    rt = SimpleNamespace(settings=Settings(bucket="b", status_table="t", memory_mb=memory_mb))
    assert chunk_threads(rt) == threads


def test_the_processor_passes_them_to_the_chunk(monkeypatch):
    from etl import chunk

    seen = []

    def fake(*_args, threads=None, **_kwargs):
        seen.append(threads)
        raise RuntimeError("stop here")

    monkeypatch.setattr(chunk, "process_stream", fake)
    rt = SimpleNamespace(settings=Settings(bucket="b", status_table="t", memory_mb=1769), s3=None)
    monkeypatch.setattr(chunk, "ReadAhead", _Nothing)
    monkeypatch.setattr(chunk, "S3Sink", _Nothing)
    monkeypatch.setattr(chunk, "range_reader", lambda *a: None)
    item = SimpleNamespace(
        chunk=SimpleNamespace(index=0, start=0, end=10, last=True),
        schema=None,
        bucket="b",
        data_key="k",
        data_version_id=None,
        columns=["a"],
    )
    rt.schema = lambda _pin: SimpleNamespace(parquet_metadata=dict)
    monkeypatch.setattr(chunk, "parquet_metadata", lambda *_a: {})
    with pytest.raises(RuntimeError, match="stop here"):
        chunk._process(
            rt, item, SimpleNamespace(bucket="b", work_valid_key=str, work_rejected_key=str), 1
        )
    assert seen == [1]


class _Nothing:
    def __init__(self, *_args, **_kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        return False
