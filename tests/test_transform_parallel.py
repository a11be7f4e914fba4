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
    """Per block prepared: whether the column encodings were fixed before it was ("fixed",
    or "first" for a first block prepared whole to fix them). The first two blocks prepared
    with the encodings fixed wait for each other (a barrier): the run fails unless two threads prepare at once."""
    seen: list[str] = []
    both = threading.Barrier(2, timeout=20)
    original = transform.ChunkProcessor.prepare

    def spy(self, block, index=None):
        seen.append("fixed" if self._valid is not None else "first")
        if seen[-1] == "fixed" and seen.count("fixed") <= 2:
            both.wait()
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
    two = run(schema, data, tmp_path / "two", threads=2, block_bytes=1024 * 1024)
    # every block prepared after the sample fixed the encodings, the first one too
    assert set(threads_seen) == {"fixed"} and len(threads_seen) > 2
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
    # rows than the choice reads: the whole first block is prepared before any other
    first = [bad(i) for i in range(DICTIONARY_SAMPLE_ROWS // 2)]
    data = "\n".join(first).encode("utf-8", "surrogateescape") + b"\n"
    data += lines_with([], DICTIONARY_SAMPLE_ROWS * 2)
    one = run(schema, data, tmp_path / "one", threads=1)
    threads_seen.clear()
    two = run(schema, data, tmp_path / "two", threads=2, block_bytes=1024 * 1024)
    assert threads_seen[0] == "first" and set(threads_seen[1:]) == {"fixed"}
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


def numbered_rows(n: int) -> bytes:
    return lines_with([], n)


def failing_on(monkeypatch, marks: dict[str, float]):
    """prepare() raises ValueError(mark) for a block holding a row with that transaction
    id, after sleeping the given seconds (so a later block can fail first in time)."""
    import time

    original = transform.ChunkProcessor.prepare

    def spy(self, block, index=None):
        for mark, delay in marks.items():
            if mark.encode() in bytes(block):
                time.sleep(delay)
                raise ValueError(mark)
        return original(self, block, index)

    monkeypatch.setattr(transform.ChunkProcessor, "prepare", spy)


def test_the_error_raised_is_the_earliest_failing_blocks_even_when_a_later_one_fails_first(
    schema, tmp_path, monkeypatch
):
    # T000100 (block 1) fails 0.5 s late, T000170 (block 2) at once: one thread would raise
    # T000100's error (both blocks are in flight together: 4096-byte blocks of 60-byte rows)
    failing_on(monkeypatch, {"T000100,": 0.5, "T000170,": 0.0})
    before = threading.active_count()
    with pytest.raises(ValueError, match="^T000100,$"):
        run(schema, numbered_rows(1_000), tmp_path, threads=2, block_bytes=4096)
    assert threading.active_count() == before  # every thread of the run has ended


def test_an_earlier_blocks_error_wins_over_a_later_cut_error(schema, tmp_path, monkeypatch):
    from etl.errors import RecordTooLarge

    data = numbered_rows(1_000) + b"T999999," + b"x" * 5_000 + b"\n"
    with pytest.raises(RecordTooLarge):  # the cut's own error, without an earlier one
        run(schema, data, tmp_path / "a", threads=2, block_bytes=4096, max_record_bytes=2048)
    failing_on(monkeypatch, {"T000990,": 0.3})
    with pytest.raises(ValueError, match="^T000990,$"):
        run(schema, data, tmp_path / "b", threads=2, block_bytes=4096, max_record_bytes=2048)


def test_a_failed_write_stops_the_run_and_is_raised(schema, tmp_path, monkeypatch):
    original = transform.ChunkProcessor.commit
    commits = []

    def spy(self, prepared):
        commits.append(prepared.counts.records)
        if len(commits) == 3:
            raise OSError("disk full")
        return original(self, prepared)

    monkeypatch.setattr(transform.ChunkProcessor, "commit", spy)
    before = threading.active_count()
    with pytest.raises(OSError, match="disk full"):
        run(schema, numbered_rows(5_000), tmp_path, threads=2, block_bytes=4096)
    assert len(commits) == 3  # nothing is written after the failed block
    assert threading.active_count() == before


@pytest.mark.parametrize("threads", [2, 3])
def test_at_most_threads_plus_one_blocks_are_cut_and_not_yet_written(
    schema, tmp_path, monkeypatch, threads
):
    # a slow writer: the threads must wait rather than cut ever more blocks ahead of it
    import time

    state = {"open": 0, "most": 0}
    lock = threading.Lock()
    prepare, commit = transform.ChunkProcessor.prepare, transform.ChunkProcessor.commit

    def counting_prepare(self, block, index=None):
        with lock:
            state["open"] += 1
            state["most"] = max(state["most"], state["open"])
        return prepare(self, block, index)

    def slow_commit(self, prepared):
        time.sleep(0.01)
        commit(self, prepared)
        with lock:
            state["open"] -= 1

    monkeypatch.setattr(transform.ChunkProcessor, "prepare", counting_prepare)
    monkeypatch.setattr(transform.ChunkProcessor, "commit", slow_commit)
    data = numbered_rows(3_000)
    res, valid, _ = run(schema, data, tmp_path, threads=threads, block_bytes=4096 * threads)
    assert res.rows_valid == 3_000
    assert valid.read().column("transaction_id").to_pylist() == [f"T{i:06d}" for i in range(3_000)]
    assert state["most"] == threads + 1


def test_the_first_block_is_prepared_once_even_when_its_hand_over_is_slow(
    schema, tmp_path, monkeypatch
):
    """The first block (sampled: the encodings fixed) goes to the calling thread alone. A
    hand-over that every thread read and then cleared (`item, self.first = self.first,
    None`) let a second thread take it too when the first was switched out in between:
    the block prepared twice and its buffer given back twice. The slow read stands for that
    switch; a driver that hands the block over as an argument never reads it."""
    import time
    from collections import Counter

    from etl import inorder

    held = {}

    def read(self):
        value = held.get(id(self))
        time.sleep(0.2)
        return value

    def write(self, value):
        held[id(self)] = value

    monkeypatch.setattr(inorder._OrderedRun, "first", property(read, write), raising=False)
    prepared: Counter = Counter()
    original = transform.ChunkProcessor.prepare

    def spy(self, block, index=None):
        prepared[bytes(block[:8])] += 1  # each block starts with its own first row's id
        return original(self, block, index)

    monkeypatch.setattr(transform.ChunkProcessor, "prepare", spy)
    n = DICTIONARY_SAMPLE_ROWS + 5_000
    res, valid, _ = run(schema, numbered_rows(n), tmp_path, threads=2, block_bytes=256 * 1024)
    assert len(prepared) > 2 and set(prepared.values()) == {1}
    assert res.rows_valid == n
    assert valid.read().column("transaction_id").to_pylist() == [f"T{i:06d}" for i in range(n)]
