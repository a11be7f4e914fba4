"""The bench's diff jobs: a peer's (or validate's) outputs against the processor's, value by
value (`diff_<peer>` in the job table); untimed, run after the timed jobs."""

from __future__ import annotations

from pathlib import Path


def job_diff(csv: Path, out: Path, *, peer: str, rejects: bool) -> dict:
    """Which records do the processor and `peer` keep differently, and are the kept values
    identical column by column? (untimed; `out` is the run's work directory)"""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    def valid_of(job: str) -> ds.Dataset:
        where = out / job / "valid.parquet"
        return ds.dataset(where if where.exists() else out / job / "valid")

    proc, other = valid_of("processor"), valid_of(peer)
    a = proc.to_table(columns=["transaction_id"]).column(0).combine_chunks()
    b = other.to_table(columns=["transaction_id"]).column(0).combine_chunks().cast(a.type)
    only_proc = a.filter(pc.invert(pc.is_in(a, value_set=b)))
    only_peer = b.filter(pc.invert(pc.is_in(b, value_set=a)))
    data = csv.read_bytes()

    def raw(tx: str) -> str:
        at = data.find(b"\n" + tx.encode() + b",")
        if at < 0:
            return "?"
        end = data.find(b"\n", at + 1)
        return data[at + 1 : end].decode("utf-8", "replace")

    same_values, types = None, {}
    if len(only_proc) == 0 and len(only_peer) == 0 and len(a) == len(b):
        # same rows in the same order: every column's values must be equal (compared in the
        # processor's types; a peer's large_string is the same values as string)
        pt, qt = proc.to_table(), other.to_table()
        same_values = {}
        for name in pt.column_names:
            x = pt.column(name).combine_chunks()
            y = qt.column(name).combine_chunks()
            types[name] = str(y.type)
            same_values[name] = x.equals(y.cast(x.type)) if y.type != x.type else x.equals(y)
        del pt, qt
    return {
        "peer": peer,
        "valid_columns_identical": same_values,
        **(_same_rejects(out / "processor", out / peer) if rejects else {}),
        "peer_types": types,
        "valid_only_in_processor": len(only_proc),
        "valid_only_in_peer": len(only_peer),
        "examples_valid_only_in_processor": {t: raw(t) for t in only_proc[:5].to_pylist()},
        "examples_valid_only_in_peer": {t: raw(t) for t in only_peer[:5].to_pylist()},
    }


def _same_rejects(ours: Path, theirs: Path) -> dict:
    """Are the rejects the same table, row by row (file line, raw text, reason, failures)?
    For the jobs that publish the processor's own rejects (validate: a file per chunk)."""
    import pyarrow.dataset as ds

    mine = ds.dataset(ours / "rejected.parquet").to_table()
    where = theirs / "rejected"
    other = ds.dataset(where).to_table() if any(where.glob("*.parquet")) else mine.slice(0, 0)
    return {
        "rejected_rows": [mine.num_rows, other.num_rows],
        "rejected_identical": mine.schema == other.schema and mine.equals(other),
    }
