"""The parallel chunk driver: every block on the workers once the first rows fix the
column encodings, and the same encodings and values as one thread whichever way they
were fixed."""

from __future__ import annotations

import io
import threading

import pyarrow.parquet as pq
import pytest
from conftest import HEADER, row
from etl import transform
from etl.transform import DICTIONARY_SAMPLE_ROWS, process_stream

COLS = HEADER.split(",")


def run(schema, data: bytes, out, **kw):
    out.mkdir(exist_ok=True)
    res = process_stream(
        io.BytesIO(data),
        schema=schema,
        columns=COLS,
        valid_path=out / "v.parquet",
        rejected_path=out / "r.parquet",
        **kw,
    )
    return res, pq.ParquetFile(out / "v.parquet"), pq.read_table(out / "r.parquet")


def encodings(f: pq.ParquetFile) -> dict[str, tuple]:
    rg = f.metadata.row_group(0)
    return {rg.column(i).path_in_schema: rg.column(i).encodings for i in range(rg.num_columns)}


@pytest.fixture
def threads_seen(monkeypatch):
    """Names of the threads that prepared a block ("MainThread" or the pool's "block")."""
    seen: list[str] = []
    original = transform.ChunkProcessor.prepare

    def spy(self, block, index=None):
        seen.append(threading.current_thread().name.split("_")[0])
        return original(self, block, index)

    monkeypatch.setattr(transform.ChunkProcessor, "prepare", spy)
    return seen


def lines_with(first: list[str], total: int) -> bytes:
    rest = [row(i) for i in range(len(first), total)]
    return ("\n".join(first + rest) + "\n").encode()


def test_sampled_encodings_equal_the_one_thread_choice(schema, tmp_path, threads_seen):
    # more records than the sample: the encodings come from the sample alone; account_id
    # repeats (dictionary), transaction_id does not
    n = DICTIONARY_SAMPLE_ROWS * 2
    data = lines_with([], n)
    one = run(schema, data, tmp_path / "one", threads=1)
    threads_seen.clear()
    two = run(schema, data, tmp_path / "two", threads=2, block_bytes=2 * 1024 * 1024)
    assert set(threads_seen) == {"block"} and len(threads_seen) > 1
    assert encodings(one[1]) == encodings(two[1])
    assert "RLE_DICTIONARY" in encodings(two[1])["account_id"]
    assert "RLE_DICTIONARY" not in encodings(two[1])["transaction_id"]
    assert one[1].schema_arrow == two[1].schema_arrow
    assert one[1].read().equals(two[1].read()) and one[0].rows_valid == n


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda i: row(i, merchant="caf\udce9"), id="not-utf8"),
        pytest.param(lambda i: f"T{i:06d},A1", id="short-rows"),
    ],
)
def test_a_first_block_the_sample_cannot_decide_is_prepared_first(
    schema, tmp_path, threads_seen, bad
):
    # not UTF-8 in the first rows, or so many rows skipped that the sample holds fewer
    # rows than the choice reads: the whole first block is prepared on the calling thread
    first = [bad(i) for i in range(DICTIONARY_SAMPLE_ROWS // 2)]
    data = "\n".join(first).encode("utf-8", "surrogateescape") + b"\n"
    data += lines_with([], DICTIONARY_SAMPLE_ROWS * 2)
    one = run(schema, data, tmp_path / "one", threads=1)
    threads_seen.clear()
    two = run(schema, data, tmp_path / "two", threads=2, block_bytes=2 * 1024 * 1024)
    assert threads_seen[0] == "MainThread" and set(threads_seen[1:]) == {"block"}
    assert encodings(one[1]) == encodings(two[1])
    assert one[1].read().equals(two[1].read()) and one[2].equals(two[2])
    assert one[0].rows_rejected == two[0].rows_rejected == len(first)


def mixed_rows(n: int, not_utf8: bool) -> bytes:
    """Valid rows with every kind of reject among them (a bad value, a short row, a
    quoted field with the delimiter and a quote; one record not UTF-8 if `not_utf8`)."""
    rows = [row(i) for i in range(n)]
    rows[3] = row(3, amount="12.x")
    rows[5] = "T000005,A1"
    rows[7] = row(7, merchant='"Bread, ""Butter"" Ltd"')
    if not_utf8:
        rows[9] = row(9, merchant="caf\udce9")
    return ("\n".join(rows) + "\n").encode("utf-8", "surrogateescape")


@pytest.mark.parametrize("not_utf8", [False, True], ids=["fast-path", "slow-path"])
def test_a_prepared_block_does_not_refer_to_its_buffer(schema, tmp_path, not_utf8):
    """The parallel driver reads the next block into a prepared block's buffer
    (`blocks.BlockBuffers`): nothing `prepare()` returns may still point at those bytes."""
    data = mixed_rows(2_000, not_utf8)
    expected = run(schema, data, tmp_path / "one", threads=1)
    out = tmp_path / "reused"
    out.mkdir()
    proc = transform.ChunkProcessor(
        schema=schema,
        columns=COLS,
        valid_path=out / "v.parquet",
        rejected_path=out / "r.parquet",
    )
    buffer = bytearray(data)
    prepared = proc.prepare(memoryview(buffer))
    buffer[:] = b"#" * len(buffer)  # the next block's bytes, read into the same buffer
    proc.commit(prepared)
    proc.close()
    assert pq.read_table(out / "v.parquet").equals(expected[1].read())
    assert pq.read_table(out / "r.parquet").equals(expected[2])
    assert expected[2].num_rows == (3 if not_utf8 else 2)
