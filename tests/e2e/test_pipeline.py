"""End to end: the real handlers on the real state machine, as Terraform deployed them.

The session's stack (tests/conftest.py: envs/dev applied to the embedded moto) serves every
test. Chunks are small (E2E_SETTINGS: 4 KiB) so a few hundred KB fan out into many
Distributed Map items; retries use a 1 s interval and backoff 1.0 so injected faults cost
seconds, not minutes (moto really sleeps).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from conftest import E2E_SETTINGS
from etl.contract import CONTRACT

from localrun.pipeline import LocalPipeline
from localrun.sample import write_transactions

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not all(
            (REPO / "lambdas" / f"{f.module}.py").is_file() for f in CONTRACT.functions.values()
        ),
        reason="the real handlers (lambdas/<function>.py) are not in this checkout",
    ),
]
CHUNK_BYTES = E2E_SETTINGS["chunk_bytes"]
HEADER = "transaction_id,account_id,timestamp,amount,currency,merchant,category,status\n"


def _row(
    i: int, merchant: str = "Harbor Fuel", amount: str = "12.34", status: str = "POSTED"
) -> str:
    if any(ch in merchant for ch in ',"\n'):
        merchant = '"' + merchant.replace('"', '""') + '"'
    return (
        f"TX{i:010d},ACC{i % 997:06d},2024-03-01T12:00:00Z,{amount},EUR,{merchant},food,{status}\n"
    )


def _read_parquet(pipeline: LocalPipeline, keys: list[str]) -> pa.Table:
    s3 = pipeline.client("s3")
    tables = [
        pq.read_table(io.BytesIO(s3.get_object(Bucket=pipeline.bucket, Key=k)["Body"].read()))
        for k in keys
    ]
    return pa.concat_tables(tables) if tables else pa.table({})


def _manifest(pipeline: LocalPipeline, result) -> list[dict]:
    split = pipeline._state_outputs(result.execution_arn)["Split"]
    body = pipeline.client("s3").get_object(Bucket=pipeline.bucket, Key=split["manifest_key"])
    return json.loads(body["Body"].read())


def test_many_chunks_with_quoted_newlines_and_rejects(pipeline, tmp_path):
    path = tmp_path / "transactions.csv"
    stats = write_transactions(path, rows=4000, invalid_fraction=0.02, seed=7, quoted_newlines=True)

    result = pipeline.run_file(path, out_dir=tmp_path / "out")

    assert result.status == "SUCCEEDED", result.error
    assert result.chunks >= 10
    assert (result.rows_total, result.rows_valid, result.rows_rejected) == (
        stats.rows,
        stats.valid_rows,
        stats.invalid_rows,
    )
    assert result.success_message["rows_valid"] == stats.valid_rows
    valid = pq.read_table(tmp_path / "out" / "valid")
    assert valid.num_rows == stats.valid_rows
    assert valid.column_names[:3] == ["transaction_id", "account_id", "timestamp"]
    assert len(set(valid.column("transaction_id").to_pylist())) == stats.valid_rows
    assert any("\n" in (m or "") for m in valid.column("merchant").to_pylist())
    rejected = pq.read_table(tmp_path / "out" / "rejected")
    assert rejected.column_names == ["line", "reason", "raw", "failures"]
    assert rejected.num_rows == stats.invalid_rows
    assert all(rejected.column("reason").to_pylist())
    assert len(set(rejected.column("line").to_pylist())) == stats.invalid_rows
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary == {
        "status": "SUCCEEDED",
        "rows_total": stats.rows,
        "rows_valid": stats.valid_rows,
        "rows_rejected": stats.invalid_rows,
        "chunks": result.chunks,
        "error": None,
        "dataset": "transactions",
        "schema": result.success_message["schema"],
        "execution_arn": result.execution_arn,
        "duration_s": summary["duration_s"],
    }
    schema_sha = hashlib.sha256((REPO / "schemas" / "transactions.json").read_bytes()).hexdigest()
    assert (summary["schema"]["name"], summary["schema"]["sha256"]) == ("transactions", schema_sha)
    chunk_items = [
        i
        for i in pipeline.status_items(result.file_id)
        if CONTRACT.table.is_chunk_id(i[CONTRACT.table.sort_key])
    ]
    assert len(chunk_items) == result.chunks and {i["status"] for i in chunk_items} == {"DONE"}
    assert result.file_item["status"] == "COMPLETE"
    processors = {
        i.worker_pid
        for i in pipeline.invocations
        if i.file_id == result.file_id and i.function == "processor"
    }
    assert len(processors) > 1  # the Map's items ran in parallel warm workers


def test_quoted_newlines_straddling_every_nominal_boundary_are_kept_whole(pipeline, tmp_path):
    # Rows of ~90 bytes; every 150th row carries a 1.5 KB merchant full of line breaks, so
    # with 4 KiB chunks a nominal boundary regularly lands inside a quoted field.
    rows, size = [], len(HEADER)
    long_merchant = "Line\n" * 300
    i = 0
    while size < 12 * CHUNK_BYTES:
        row = _row(i, merchant=long_merchant if i % 150 == 75 else "Harbor Fuel")
        rows.append(row)
        size += len(row.encode())
        i += 1
    path = tmp_path / "newlines.csv"
    path.write_text(HEADER + "".join(rows))

    result = pipeline.run_file(path, out_dir=tmp_path / "out")

    assert result.status == "SUCCEEDED", result.error
    assert (result.rows_valid, result.rows_rejected) == (len(rows), 0)
    valid = pq.read_table(tmp_path / "out" / "valid")
    merchants = valid.column("merchant").to_pylist()
    assert merchants.count(long_merchant) == sum(1 for n in range(len(rows)) if n % 150 == 75)
    expected = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(newlines_in_values=True))
    assert sorted(valid.column("transaction_id").to_pylist()) == sorted(
        expected.column("transaction_id").to_pylist()
    )
    manifest = _manifest(pipeline, result)
    assert len(manifest) == result.chunks >= 10
    data = path.read_bytes()
    for chunk in manifest[1:]:
        assert data[chunk["start"] - 1 : chunk["start"]] == b"\n"  # starts at a record start


def test_rejects_carry_line_reason_and_raw_text(pipeline, tmp_path):
    rows = [_row(i) for i in range(40)]  # 3 of 40 rejected: within maxRejectedShare 0.1
    rows[3] = _row(3, amount="12.345")  # would need rounding
    rows[7] = _row(7, status="posted")  # not an allowed value
    rows[11] = _row(11).replace(",food,POSTED\n", ",food\n")  # too few fields
    path = tmp_path / "rejects.csv"
    path.write_text(HEADER + "".join(rows))

    result = pipeline.run_file(path, out_dir=tmp_path / "out")

    assert result.status == "SUCCEEDED", result.error
    assert (result.rows_total, result.rows_valid, result.rows_rejected) == (40, 37, 3)
    rejected = pq.read_table(tmp_path / "out" / "rejected").sort_by("line").to_pylist()
    assert [r["line"] for r in rejected] == [5, 9, 13]  # file line numbers (header = line 1)
    assert [r["raw"] for r in rejected] == [
        rows[3].rstrip("\n"),
        rows[7].rstrip("\n"),
        rows[11].rstrip("\n"),
    ]
    assert all(r["reason"] for r in rejected)
    valid = pq.read_table(tmp_path / "out" / "valid")
    assert "TX0000000003" not in valid.column("transaction_id").to_pylist()
    amounts = dict(
        zip(
            valid.column("transaction_id").to_pylist(),
            valid.column("amount").to_pylist(),
            strict=True,
        )
    )
    assert str(amounts["TX0000000000"]) == "12.34"


def test_bad_header_fails_fast_marks_the_file_and_notifies_sns(pipeline, tmp_path):
    path = tmp_path / "bad_header.csv"
    path.write_text(HEADER.replace("amount", "amt") + "".join(_row(i) for i in range(5)))

    result = pipeline.run_file(path, out_dir=tmp_path / "out")

    assert result.status == "FAILED"
    assert result.error.startswith("SchemaMismatch: "), result.error
    assert result.failure_message["Subject"] == "CSV ETL failed: SchemaMismatch"
    message = json.loads(result.failure_message["Message"])
    assert (
        message["error"] == "SchemaMismatch"
        and message["key"] == "incoming/transactions/bad_header.csv"
    )
    assert result.file_item["status"] == "FAILED"
    assert not [
        i for i in pipeline.invocations if i.file_id == result.file_id and i.function == "processor"
    ]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "FAILED" and summary["error"] == result.error
    # The input object is never deleted or modified.
    head = pipeline.client("s3").head_object(
        Bucket=pipeline.bucket, Key="incoming/transactions/bad_header.csv"
    )
    assert head["ContentLength"] == path.stat().st_size


def test_duplicate_event_gives_one_set_of_outputs_and_one_success_message(pipeline, tmp_path):
    path = tmp_path / "dup.csv"
    write_transactions(path, rows=600, seed=3)
    first = pipeline.run_file(path)
    assert first.status == "SUCCEEDED", first.error
    outputs_before = _versions(pipeline, "processed/") + _versions(pipeline, "rejected/")

    pipeline.put_event(pipeline.executions("incoming/transactions/dup.csv")[0].detail)
    second = pipeline.wait_for(pipeline.wait_for_start("incoming/transactions/dup.csv", count=2)[1])

    assert second.status == "SUCCEEDED" and second.duplicate
    successes, _ = pipeline.drain_messages()
    assert [m["file_id"] for m in successes].count(first.file_id) == 1
    assert _versions(pipeline, "processed/") + _versions(pipeline, "rejected/") == outputs_before
    processed = [
        i for i in pipeline.invocations if i.file_id == first.file_id and i.function == "processor"
    ]
    assert len(processed) == first.chunks


def _versions(pipeline: LocalPipeline, prefix: str) -> list[tuple[str, str]]:
    s3 = pipeline.client("s3")
    versions = []
    for page in s3.get_paginator("list_object_versions").paginate(
        Bucket=pipeline.bucket, Prefix=prefix
    ):
        versions += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
    return sorted(versions)


def test_retries_after_injected_faults_converge_to_the_same_outputs(pipeline, tmp_path):
    path = tmp_path / "faults.csv"
    stats = write_transactions(path, rows=1500, invalid_fraction=0.02, seed=11)
    pipeline.inject_fault("processor", chunk_index=1, attempts={1}, when="before")
    pipeline.inject_fault("processor", chunk_index=2, attempts={1, 2}, when="after")
    try:
        result = pipeline.run_file(path)
    finally:
        pipeline.layer.clear_faults()

    assert result.status == "SUCCEEDED", result.error
    assert (result.rows_valid, result.rows_rejected) == (stats.valid_rows, stats.invalid_rows)
    runs = [
        i for i in pipeline.invocations if i.file_id == result.file_id and i.function == "processor"
    ]
    assert sorted((i.chunk_index, i.attempt, i.ok) for i in runs if i.chunk_index in (1, 2)) == [
        (1, 1, False),
        (1, 2, True),
        (2, 1, False),
        (2, 2, False),
        (2, 3, True),
    ]
    assert _read_parquet(pipeline, result.valid_keys).num_rows == stats.valid_rows


def test_a_chunk_failing_every_attempt_fails_the_file(pipeline, tmp_path):
    path = tmp_path / "always_fails.csv"
    write_transactions(path, rows=800, seed=5)
    pipeline.inject_fault("processor", chunk_index=0, attempts=range(1, 10), when="before")
    try:
        result = pipeline.run_file(path)
    finally:
        pipeline.layer.clear_faults()

    assert result.status == "FAILED"
    # AWS fails the Map run (States.ExceedToleratedFailureThreshold); moto 5.2.5 never
    # enforces the tolerated failure threshold, so there the finalizer's conservation
    # check is what catches the missing chunk. Both end in MarkFailed + SNS.
    assert result.error.split(":")[0] in (
        "ConservationError",
        "States.ExceedToleratedFailureThreshold",
    )
    assert result.failure_message is not None and result.file_item["status"] == "FAILED"
    runs = [i for i in pipeline.invocations if i.file_id == result.file_id and i.chunk_index == 0]
    assert [i.attempt for i in runs] == [1, 2, 3, 4]  # 1 + retry_max_attempts (3)


# -- datasets ------------------------------------------------------------------------------------
def _trades(path: Path, n: int, bad: set[int]) -> Path:
    lines = ["trade_id;price;side"] + [
        f"TR{i};{i}.5;{'HOLD' if i in bad else 'SELL'}" for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_two_datasets_in_one_deployment_and_an_unknown_one(pipeline, tmp_path):
    """trades and transactions share one stack: each file is typed by its dataset's schema,
    published under its dataset and major, held to its own threshold; an upload under an
    undeclared first segment fails by name."""
    from conftest import TRADES_SCHEMA_PATH

    bad = set(range(0, 600, 3))  # 200 of 600 rows: within trades' 0.5, above transactions' 0.1
    trades = pipeline.run_file(
        _trades(tmp_path / "t.csv", 600, bad), dataset="trades", out_dir=tmp_path / "out"
    )
    assert trades.status == "SUCCEEDED", trades.error
    assert trades.key == "incoming/trades/t.csv" and trades.chunks > 1
    assert (trades.rows_valid, trades.rows_rejected) == (400, 200)
    sha = hashlib.sha256(TRADES_SCHEMA_PATH.read_bytes()).hexdigest()
    assert trades.dataset == "trades"
    assert {k: trades.schema[k] for k in ("dataset", "name", "version", "major", "sha256")} == {
        "dataset": "trades",
        "name": "trades",
        "version": "2.1",
        "major": 2,
        "sha256": sha,
    }
    assert trades.success_message["schema"] == trades.schema
    run = trades.success_message["dedup_id"][:16]
    assert {k.rsplit("/", 1)[0] for k in trades.valid_keys} == {
        f"processed/trades/v2/t/version={run}"
    }
    assert {k.rsplit("/", 1)[0] for k in trades.rejected_keys} == {
        f"rejected/trades/v2/t/version={run}"
    }
    s3 = pipeline.client("s3")
    first = pq.ParquetFile(
        io.BytesIO(s3.get_object(Bucket=pipeline.bucket, Key=trades.valid_keys[0])["Body"].read())
    )
    assert str(first.schema_arrow.field("price").type) == "decimal128(12, 4)"
    assert first.metadata.metadata[b"etl.schema.sha256"] == sha.encode()
    assert first.metadata.metadata[b"etl.dataset"] == b"trades"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (summary["dataset"], summary["schema"]) == ("trades", trades.schema)

    lines = [HEADER] + [_row(i, status="LOST" if i in bad else "POSTED") for i in range(600)]
    (tmp_path / "held.csv").write_text("".join(lines))
    held = pipeline.run_file(tmp_path / "held.csv")  # the default dataset: transactions
    assert held.key == "incoming/transactions/held.csv" and held.dataset == "transactions"
    assert held.status == "FAILED" and held.error.startswith("TooManyRejects: 200 of 600 rows")
    assert held.schema["name"] == "transactions" and held.schema["major"] == 1

    unknown = pipeline.run_file(tmp_path / "held.csv", dataset="sales")
    assert unknown.status == "FAILED" and unknown.dataset is None
    assert unknown.error == (
        f"UnknownDataset: s3://{pipeline.bucket}/incoming/sales/held.csv: its first segment "
        "below incoming/ ('sales') is no declared dataset; the declared datasets are trades, "
        "transactions. Upload the file under incoming/<dataset>/ (e.g. "
        "incoming/trades/held.csv) or declare the dataset in the Terraform input `datasets`"
    )
    assert unknown.failure_message["Subject"] == "CSV ETL failed: UnknownDataset"
    for prefix in ("processed/transactions/v1/held/", "rejected/transactions/v1/held/"):
        assert pipeline.list_keys(prefix) == [], prefix  # TooManyRejects published nothing
    assert [k for k in pipeline.list_keys("") if "sales" in k] == ["incoming/sales/held.csv"]
