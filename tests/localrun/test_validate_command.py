"""`python -m localrun.validate` (what `python3 noxfile.py -s validate` runs): a file against a
schema in-process, in the pipeline's order. That its outputs are the deployed pipeline's is
tested against the local run in tests/e2e/test_validate_matches_local.py; here: the summary,
the exit codes, chunking and cores not changing the result, gzip, progress on a terminal."""

from __future__ import annotations

import gzip
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from localrun import validate
from localrun.sample import write_transactions

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schemas" / "transactions.json"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    path = tmp_path_factory.mktemp("validate") / "sample.csv"
    stats = write_transactions(path, rows=3000, seed=3, quoted_newlines=True)
    return path, stats


def _tables(out: Path, name: str) -> pa.Table:
    files = sorted((out / name).iterdir())
    return pa.concat_tables([pq.read_table(f) for f in files]) if files else None


def test_summary_outputs_and_exit_0(sample, tmp_path, capsys):
    path, stats = sample
    code = validate.main([str(path), "--schema", str(SCHEMA), "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == ""  # not a terminal: no progress
    lines = out.splitlines()
    assert [ln.split() for ln in lines[:6]] == [
        ["status", "SUCCEEDED"],
        ["file", str(path), f"({path.stat().st_size / 1e6:.2f}", "MB)"],
        ["chunks", "1"],
        ["rows", "total", "3,000"],
        ["rows", "valid", f"{3000 - stats.invalid_rows:,}"],
        ["rows", "rejected", f"{stats.invalid_rows:,}"],
    ]
    assert not any(ln.split()[0] == "execution" for ln in lines)  # no execution ran
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert {k: v for k, v in summary.items() if k != "duration_s"} == {
        "status": "SUCCEEDED",
        "rows_total": 3000,
        "rows_valid": 3000 - stats.invalid_rows,
        "rows_rejected": stats.invalid_rows,
        "chunks": 1,
        "error": None,
        "dataset": None,  # validate routes nothing and pins no schema version
        "schema": None,
        "execution_arn": None,
    }
    assert lines[-1].split()[:2] == ["outputs", f"{tmp_path / 'out' / 'summary.json'};"]
    assert "valid (1 files);" in lines[-1] and "rejected (1 files)" in lines[-1]
    assert _tables(tmp_path / "out", "valid").num_rows == 3000 - stats.invalid_rows
    assert _tables(tmp_path / "out", "rejected").num_rows == stats.invalid_rows


def test_chunks_and_cores_do_not_change_the_result(sample, tmp_path):
    """Small chunks on one core, on two, and one chunk: the same rows, the same rejects with
    the same file lines (the finalizer's renumbering)."""
    path, _ = sample
    results = {}
    for name, args in {
        "one-chunk": [],
        "chunks-1-core": ["--chunk-bytes", "8192", "--jobs", "1"],
        "chunks-2-cores": ["--chunk-bytes", "8192", "--jobs", "2"],
    }.items():
        out = tmp_path / name
        assert validate.main([str(path), "--out", str(out), *args]) == 0
        summary = json.loads((out / "summary.json").read_text())
        results[name] = (summary, _tables(out, "valid"), _tables(out, "rejected"))
    base_summary, base_valid, base_rejected = results["one-chunk"]
    assert base_summary["chunks"] == 1
    for name in ("chunks-1-core", "chunks-2-cores"):
        summary, valid, rejected = results[name]
        assert summary["chunks"] > 10
        assert {k: summary[k] for k in ("rows_valid", "rows_rejected", "status")} == {
            k: base_summary[k] for k in ("rows_valid", "rows_rejected", "status")
        }
        assert valid.cast(base_valid.schema).equals(base_valid)
        assert rejected.equals(base_rejected)
    assert base_rejected.column("line").to_pylist() == sorted(
        base_rejected.column("line").to_pylist()
    )


def test_gzip_is_validated_as_its_content(sample, tmp_path):
    path, stats = sample
    packed = tmp_path / "sample.csv.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    result = validate.validate_file(packed, SCHEMA.read_bytes(), out=tmp_path / "out")
    assert (result.status, result.rows_total, result.rows_rejected) == (
        "SUCCEEDED",
        3000,
        stats.invalid_rows,
    )
    not_gzip = tmp_path / "plain.csv.gz"
    not_gzip.write_bytes(path.read_bytes())
    failed = validate.validate_file(not_gzip, SCHEMA.read_bytes())
    assert failed.error == (
        "EncodingError: the object ends in .gz but is not valid gzip (Not a gzipped file "
        "(b'tr')): upload a gzip-compressed CSV or drop the .gz suffix"
    )


def test_a_file_that_fails_exits_1_with_the_named_error(tmp_path, capsys):
    path = tmp_path / "wrong.csv"
    path.write_text("id,name\n1,a\n")
    code = validate.main([str(path), "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 1
    reason = (
        "SchemaMismatch: the header does not match schema 'transactions' v1: missing columns "
        "['transaction_id', 'account_id', 'timestamp', 'amount', 'currency', 'merchant', "
        "'category', 'status']; unknown columns ['id', 'name']. Expected the columns "
        "['transaction_id', 'account_id', 'timestamp', 'amount', 'currency', 'merchant', "
        "'category', 'status'] (any order)"
    )
    assert err == f"FAILED: {reason}\n"
    assert [ln.split()[:2] for ln in out.splitlines()[:3]] == [
        ["status", "FAILED"],
        ["file", str(path)],
        ["chunks", "1"],
    ]
    assert f"  error          {reason}" in out.splitlines()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert {k: v for k, v in summary.items() if k != "duration_s"} == {
        "status": "FAILED",
        "rows_total": None,
        "rows_valid": None,
        "rows_rejected": None,
        "chunks": 1,
        "error": reason,
        "dataset": None,
        "schema": None,
        "execution_arn": None,
    }
    assert list((tmp_path / "out" / "valid").iterdir()) == []
    assert list((tmp_path / "out" / "rejected").iterdir()) == []


def test_too_many_rejects_fails_as_the_finalizer_does(tmp_path):
    path = tmp_path / "bad.csv"
    write_transactions(path, rows=200, invalid_fraction=0.5, seed=4)
    result = validate.validate_file(path, SCHEMA.read_bytes())
    assert result.status == "FAILED"
    assert result.error.startswith("TooManyRejects: ")
    assert "more than the schema's maxRejectedShare" in result.error


def test_an_invalid_schema_exits_2(sample, tmp_path, capsys):
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"name": "x", "version": 1, "fields": []}))
    code = validate.main([str(sample[0]), "--schema", str(schema)])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.startswith("error: SchemaConfigError: ")


def test_outputs_carry_the_schema_part_of_the_etl_metadata(sample, tmp_path):
    """The keys the processor writes for the same schema file deployed by the local run
    (dataset = the schema's name); none that names an S3 object version or its chunk."""
    import hashlib

    out = tmp_path / "out"
    args = [str(sample[0]), "--out", str(out), "--chunk-bytes", "65536", "--jobs", "2"]
    assert validate.main(args) == 0
    expected = {
        b"etl.dataset": b"transactions",
        b"etl.schema.name": b"transactions",
        b"etl.schema.version": str(json.loads(SCHEMA.read_text())["version"]).encode(),
        b"etl.schema.sha256": hashlib.sha256(SCHEMA.read_bytes()).hexdigest().encode(),
    }
    files = sorted((out / "valid").iterdir()) + sorted((out / "rejected").iterdir())
    assert len(files) > 4
    for f in files:
        metadata = pq.read_schema(f).metadata
        assert {k: v for k, v in metadata.items() if k.startswith(b"etl.")} == expected, f


def test_a_schema_version_the_pipeline_cannot_pin_exits_2(sample, tmp_path, capsys):
    schema = json.loads(SCHEMA.read_text())
    path = tmp_path / "schema.json"
    path.write_text(json.dumps({**schema, "version": "draft"}))
    code = validate.main([str(sample[0]), "--schema", str(path)])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == (
        "error: SchemaConfigError: the schema of dataset 'transactions' has version 'draft': "
        'write N or "N", "N.M", "N.M.P" (N >= 1, the major version), then deploy it again\n'
    )


def _cli(args: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "localrun.validate", *args],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        **kwargs,
    )


def test_progress_on_a_terminal_and_quiet_when_piped(sample):
    path, _ = sample
    piped = _cli([str(path), "--chunk-bytes", "8192"], stderr=subprocess.PIPE)
    out, err = piped.communicate(timeout=120)
    assert piped.returncode == 0 and err == b""
    assert out.splitlines()[0].split() == [b"status", b"SUCCEEDED"]

    primary, secondary = pty.openpty()
    terminal = _cli([str(path), "--chunk-bytes", "8192"], stderr=secondary)
    os.close(secondary)
    shown = b""
    while True:
        try:
            data = os.read(primary, 4096)
        except OSError:  # EIO: the process closed the terminal
            break
        if not data:
            break
        shown += data
    os.close(primary)
    out, _ = terminal.communicate(timeout=120)
    assert terminal.returncode == 0
    updates = shown.decode().replace("\r\n", "\n").split("\r")
    final = updates[-1].rstrip()
    size = path.stat().st_size / 1e6
    assert final.startswith(f"validating {size:,.1f}/{size:,.1f} MB  rows 3,000  "), shown
    assert final.endswith(" s") and " MB/s " in final
    assert len(updates) > 2  # it updated as chunks finished
