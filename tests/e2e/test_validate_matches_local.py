"""`validate` (localrun/validate.py, in-process) against the local run (`python -m localrun
FILE --out D`: the deployed state machine on the emulator) on the same files, with the same
chunk settings: the same summary.json, the same printed counts and rejects, the same exit
code, and the same outputs, value by value (valid/*.parquet, rejected/*.parquet)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import E2E_SETTINGS

import localrun.__main__ as cli
from localrun import validate
from localrun.sample import write_transactions

pytestmark = pytest.mark.e2e
# the deployed stack's settings (tests/conftest.py): validate is told the same ones
SETTINGS = [
    "--chunk-bytes",
    str(E2E_SETTINGS["chunk_bytes"]),
    "--max-record-bytes",
    str(E2E_SETTINGS["max_record_bytes"]),
]
# rows about the run itself: where the file went, how long, which execution, the SNS
# notification of a failed file (validate runs no execution and sends nothing)
RUN_ONLY = {"file", "duration", "execution", "notification", "outputs", "lambda"}
# What only a deployed run has: the dataset it was routed to and the schema version pinned in
# S3 (summary rows and keys); validate reads a local file and pins nothing (docs/loop.md).
PINNED_ONLY = {"dataset", "schema"}
# The `etl.*` Parquet key-value metadata: the schema part is the local run's, byte for byte
# (the dataset is the schema's name, the sha256 that of the same file); the keys naming the S3
# object version and its chunk only the deployed run writes.
SAME_METADATA = {b"etl.dataset", b"etl.schema.name", b"etl.schema.version", b"etl.schema.sha256"}
DEPLOYED_METADATA = {b"etl.file_id", b"etl.object_version_id", b"etl.chunk"}


def _both(deployment, path: Path, tmp_path: Path, capsys) -> dict:
    """Run the file through the local run and through validate; what each printed and wrote."""
    runs = {}
    for name, main in (
        ("local", lambda argv: cli.main(argv, deployment=deployment)),
        ("validate", lambda argv: validate.main([*argv, *SETTINGS])),
    ):
        out = tmp_path / name
        code = main([str(path), "--out", str(out)])
        stdout, stderr = capsys.readouterr()
        summary = json.loads((out / "summary.json").read_text())
        runs[name] = {
            "code": code,
            "summary": {
                k: v for k, v in summary.items() if k not in ("execution_arn", "duration_s")
            },
            "printed": _counts(stdout),
            "failed": [ln for ln in stderr.splitlines() if ln.startswith("FAILED: ")],
            "outputs": {
                kind: {f.name: pq.read_table(f) for f in sorted((out / kind).iterdir())}
                for kind in ("valid", "rejected")
            },
        }
    return runs


def _counts(stdout: str) -> list[str]:
    """The summary table without the rows that name the run (file, duration, ...)."""
    kept, skipping = [], False
    for line in stdout.splitlines():
        name = line[2:].split("  ")[0].strip()
        if name:
            skipping = name in RUN_ONLY | PINNED_ONLY
        if not skipping:
            kept.append(line)
    return kept


def _assert_same(runs: dict) -> None:
    local, checked = runs["local"], runs["validate"]
    assert checked["code"] == local["code"]
    assert {k: v for k, v in checked["summary"].items() if k not in PINNED_ONLY} == {
        k: v for k, v in local["summary"].items() if k not in PINNED_ONLY
    }
    assert (checked["summary"]["dataset"], checked["summary"]["schema"]) == (None, None)
    assert local["summary"]["dataset"] == "transactions"
    assert checked["printed"] == local["printed"]
    assert checked["failed"] == local["failed"]
    for kind in ("valid", "rejected"):
        assert list(checked["outputs"][kind]) == list(local["outputs"][kind])
        for name, table in local["outputs"][kind].items():
            ours = checked["outputs"][kind][name]
            theirs = _etl_metadata(table)
            assert set(theirs) == SAME_METADATA | DEPLOYED_METADATA, name
            assert theirs[b"etl.dataset"] == b"transactions"
            assert _etl_metadata(ours) == {k: theirs[k] for k in SAME_METADATA}, name
            assert ours.equals(_without_deployed_metadata(table), check_metadata=True), name


def _etl_metadata(table) -> dict[bytes, bytes]:
    return {k: v for k, v in (table.schema.metadata or {}).items() if k.startswith(b"etl.")}


def _without_deployed_metadata(table):
    metadata = table.schema.metadata or {}
    return table.replace_schema_metadata(
        {k: v for k, v in metadata.items() if k not in DEPLOYED_METADATA}
    )


def test_a_file_with_rejects_over_many_chunks(deployment, tmp_path, capsys):
    path = tmp_path / "many-chunks.csv"
    stats = write_transactions(path, rows=1500, seed=11, quoted_newlines=True, crlf=True)
    runs = _both(deployment, path, tmp_path, capsys)
    local = runs["local"]
    assert local["code"] == 0 and local["summary"]["chunks"] > 20
    assert local["summary"]["rows_rejected"] == stats.invalid_rows > 0
    assert len(local["outputs"]["rejected"]) > 1
    _assert_same(runs)


def test_a_file_that_fails_its_schema(deployment, tmp_path, capsys):
    path = tmp_path / "mostly-bad.csv"
    write_transactions(path, rows=300, invalid_fraction=0.6, seed=12)
    runs = _both(deployment, path, tmp_path, capsys)
    assert runs["local"]["code"] == 1
    assert runs["local"]["failed"][0].startswith("FAILED: TooManyRejects: ")
    _assert_same(runs)


def test_a_file_whose_header_does_not_match(deployment, tmp_path, capsys):
    path = tmp_path / "other.csv"
    path.write_text("id,name\n1,a\n2,b\n")
    runs = _both(deployment, path, tmp_path, capsys)
    assert runs["local"]["code"] == 1
    assert runs["local"]["failed"][0].startswith("FAILED: SchemaMismatch: ")
    _assert_same(runs)
