"""Datasets and schema pinning at handler level (in-process moto): routing by
`incoming/<dataset>/`, one schema version per file, the `v<major>` output layout, and the
schema identity in the events, the status item, the success message and the Parquet files."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import BUCKET, HEADER, SCHEMA_PATH, row
from etl.contract import CONTRACT
from test_handlers import (
    Ctx,
    mark_failed_event,
    read_prefix,
    run_pipeline,
    run_pipeline_checked,
    split_event,
    upload,
)

TRADES_SCHEMA = Path(__file__).resolve().parent / "schemas" / "trades.json"
TRADES_HEADER = "trade_id;price;side"


def _trades_body(n: int, bad: set[int] = frozenset()) -> bytes:
    """`n` trades; rows in `bad` have a side the schema does not allow."""
    lines = [TRADES_HEADER] + [
        f"TR{i};{i}.{i % 10000:04d};{'HOLD' if i in bad else 'BUY'}" for i in range(n)
    ]
    return ("\n".join(lines) + "\n").encode()


def _transactions_body(n: int, bad: set[int] = frozenset()) -> bytes:
    lines = [HEADER] + [row(i, status="LOST") if i in bad else row(i) for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def two(aws):
    """The `aws` world with a second dataset, trades (its own schema, major 2)."""
    aws.s3.put_object(
        Bucket=BUCKET, Key=CONTRACT.schema_object_key("trades"), Body=TRADES_SCHEMA.read_bytes()
    )
    aws.settings = dataclasses.replace(aws.settings, datasets=("trades", "transactions"))
    return aws


def _identity(dataset: str, path: Path, version_id: str) -> dict:
    doc = json.loads(path.read_bytes())
    version = str(doc["version"])
    return {
        "dataset": dataset,
        "name": doc["name"],
        "version": version,
        "major": int(version.split(".")[0]),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "object_version_id": version_id,
    }


def _schema_version_id(rt, dataset: str) -> str:
    key = CONTRACT.schema_object_key(dataset)
    return rt.s3.head_object(Bucket=BUCKET, Key=key)["VersionId"]


# -- two datasets in one deployment ---------------------------------------------------------------
def test_two_datasets_in_one_deployment(two):
    # trades: 4 of 10 rows rejected, within its own maxRejectedShare 0.5
    trades = run_pipeline(
        two, upload(two, "incoming/trades/2024/day1.csv", _trades_body(10, bad={1, 4, 6, 8}))
    )
    # the same share in transactions breaks its maxRejectedShare 0.1
    from etl.errors import TooManyRejects

    with pytest.raises(TooManyRejects, match=r"4 of 10 rows rejected \(40\.0%\), more than the "):
        run_pipeline(
            two,
            upload(two, "incoming/transactions/day1.csv", _transactions_body(10, bad={1, 4, 6, 8})),
            "exec-2",
        )
    clean = run_pipeline(
        two, upload(two, "incoming/transactions/day2.csv", _transactions_body(10)), "exec-3"
    )

    trades_schema = _identity("trades", TRADES_SCHEMA, _schema_version_id(two, "trades"))
    assert trades["dataset"] == "trades" and trades["schema"] == trades_schema
    assert (trades["rows_valid"], trades["rows_rejected"]) == (6, 4)
    run = trades["dedup_id"][:16]
    assert trades["valid_prefix"] == f"processed/trades/v2/2024/day1/version={run}/"
    assert trades["rejected_prefix"] == f"rejected/trades/v2/2024/day1/version={run}/"
    assert trades["message_group_id"] == "trades/2024/day1"
    keys, rows = read_prefix(two, trades["valid_prefix"])
    assert rows == [
        {"trade_id": f"TR{i}", "price": Decimal(f"{i}.{i:04d}"), "side": "BUY"}
        for i in (0, 2, 3, 5, 7, 9)
    ]
    transactions_schema = _identity(
        "transactions", SCHEMA_PATH, _schema_version_id(two, "transactions")
    )
    assert clean["dataset"] == "transactions" and clean["schema"] == transactions_schema
    assert clean["valid_prefix"].startswith("processed/transactions/v1/day2/version=")
    _, rows = read_prefix(two, clean["valid_prefix"])
    assert [r["transaction_id"] for r in rows] == [f"T{i:06d}" for i in range(10)]
    # nothing of the failed transactions file, nothing of one dataset under the other
    published = [
        o["Key"]
        for p in ("processed/", "rejected/")
        for o in two.s3.list_objects_v2(Bucket=BUCKET, Prefix=p).get("Contents", [])
    ]
    assert sorted(published) == sorted(
        keys
        + read_prefix(two, trades["rejected_prefix"])[0]
        + read_prefix(two, clean["valid_prefix"])[0]
    )


# -- routing --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "found"),
    [
        (
            "incoming/sales/x.csv",
            "its first segment below incoming/ ('sales') is no declared dataset",
        ),
        ("incoming/x.csv", "it is directly under incoming/, not under incoming/<dataset>/"),
        (
            "incoming/Trades/x.csv",
            "its first segment below incoming/ ('Trades') is no declared dataset",
        ),
    ],
)
def test_an_unknown_dataset_fails_by_name_listing_the_declared_ones(two, key, found):
    import mark_failed
    import splitter
    from etl.errors import UnknownDataset

    detail = upload(two, key, _trades_body(3))
    with pytest.raises(UnknownDataset) as raised:
        splitter.handler(split_event(detail, "exec-1"), Ctx())
    assert str(raised.value) == (
        f"s3://{BUCKET}/{key}: {found}; the declared datasets are trades, transactions. "
        "Upload the file under incoming/<dataset>/ (e.g. incoming/trades/x.csv) or declare "
        "the dataset in the Terraform input `datasets`"
    )
    file_id = f"s3://{BUCKET}/{key}?versionId={detail['object']['version-id']}"
    assert two.status.get_file(file_id) is None  # refused before anything was recorded
    cause = json.dumps({"errorType": "UnknownDataset", "errorMessage": str(raised.value)})
    out = mark_failed.handler(
        mark_failed_event(
            {**detail, "error": {"Error": "UnknownDataset", "Cause": cause}}, "exec-1"
        ),
        Ctx(),
    )
    assert (out["status"], out["error"], out["reason"]) == (
        "FAILED",
        "UnknownDataset",
        str(raised.value),
    )
    assert two.status.get_file(file_id)["error"] == "UnknownDataset"


# -- pinning: one schema version per file (issue 18 item 1) ---------------------------------------
def _valid_files(rt, prefix: str) -> list[pq.ParquetFile]:
    keys, _ = read_prefix(rt, prefix)
    return [
        pq.ParquetFile(io.BytesIO(rt.s3.get_object(Bucket=BUCKET, Key=k)["Body"].read()))
        for k in keys
    ]


def test_a_schema_deployed_mid_file_does_not_change_the_typing_of_later_chunks(aws):
    """Issue 18 item 1: 3 of 6 chunks processed, a schema with amount decimal(20,4) (and a
    new required field, a tighter enum, another threshold) deployed, the rest processed. Before
    pinning, chunks 3-5 were typed decimal(20,4) under the same version= prefix."""
    import finalizer
    import processor
    import splitter
    import validator
    from etl.events import ChunkItem, ChunkRange, Validated
    from etl.runtime import Runtime, set_runtime

    body = _transactions_body(28)
    detail = upload(aws, "incoming/transactions/pinned.csv", body)
    split = splitter.handler(split_event(detail, "exec-1"), Ctx())
    checked = Validated.from_dict(validator.handler(split, Ctx()))
    manifest = json.loads(aws.s3.get_object(Bucket=BUCKET, Key=checked.manifest_key)["Body"].read())
    assert len(manifest) == 6
    items = [ChunkItem.of(checked, ChunkRange.from_dict(c), "exec-1") for c in manifest]
    for item in items[:3]:
        processor.handler(item.to_dict(), Ctx())

    doc = json.loads(SCHEMA_PATH.read_bytes())
    amount = next(f for f in doc["fields"] if f["name"] == "amount")
    amount.update(precision=20, scale=4)
    status = next(f for f in doc["fields"] if f["name"] == "status")
    status["constraints"]["enum"] = ["SETTLED"]  # every row of the file would be rejected
    doc["fields"].append({"name": "region", "type": "string", "constraints": {"required": True}})
    doc["maxRejectedShare"] = 0.0
    aws.s3.put_object(
        Bucket=BUCKET, Key=CONTRACT.schema_object_key("transactions"), Body=json.dumps(doc).encode()
    )
    processor.handler(items[3].to_dict(), Ctx())  # the warm container
    set_runtime(Runtime(aws.settings, s3=aws.s3, dynamodb=aws.dynamodb))  # a cold one
    for item in items[4:]:
        processor.handler(item.to_dict(), Ctx())
    summary = finalizer.handler(checked.to_dict(), Ctx())

    assert (summary["status"], summary["rows_valid"], summary["rows_rejected"]) == (
        "COMPLETE",
        28,
        0,
    )
    files = _valid_files(aws, summary["valid_prefix"])
    assert len(files) == 6
    assert {str(f.schema_arrow.field("amount").type) for f in files} == {"decimal128(18, 2)"}
    assert {f.schema_arrow.names.count("region") for f in files} == {0}
    pinned = split["schema"]
    assert summary["schema"] == pinned
    assert {f.metadata.metadata[b"etl.schema.sha256"].decode() for f in files} == {pinned["sha256"]}
    # the next upload is registered with the new schema
    later = splitter.handler(
        split_event(upload(aws, "incoming/transactions/later.csv", body), "exec-2"), Ctx()
    )
    assert later["schema"]["sha256"] == hashlib.sha256(json.dumps(doc).encode()).hexdigest()
    assert later["schema"]["object_version_id"] != pinned["object_version_id"]


def test_a_retried_split_keeps_the_schema_version_the_file_was_registered_with(aws):
    import splitter

    detail = upload(aws, "incoming/transactions/retried.csv", _transactions_body(3))
    first = splitter.handler(split_event(detail, "exec-1"), Ctx())
    doc = {**json.loads(SCHEMA_PATH.read_bytes()), "version": "1.1"}
    aws.s3.put_object(
        Bucket=BUCKET, Key=CONTRACT.schema_object_key("transactions"), Body=json.dumps(doc).encode()
    )
    again = splitter.handler(split_event(detail, "exec-1"), Ctx())  # Lambda retried Split
    assert again["schema"] == first["schema"] and first["schema"]["version"] == "1"


def test_a_pinned_schema_whose_bytes_differ_is_schema_version_unavailable(aws):
    from etl.errors import SchemaVersionUnavailable
    from etl.events import SchemaIdentity
    from etl.runtime import Runtime

    pinned, _ = aws.pin_schema("transactions")
    forged = dataclasses.replace(pinned, sha256="0" * 64)
    cold = Runtime(aws.settings, s3=aws.s3, dynamodb=aws.dynamodb)
    with pytest.raises(SchemaVersionUnavailable) as raised:
        cold.schema(forged)
    assert str(raised.value) == (
        f"schema 'transactions' version 1 of dataset 'transactions' (s3://{BUCKET}/"
        f"config/schemas/transactions.json, object version {pinned.object_version_id}), which "
        f"this file was pinned to when it was registered, has sha256 {pinned.sha256}, not the "
        f"pinned {'0' * 64}: the file is never typed by another schema version instead. Upload "
        "the file again to process it with the current schema (and keep noncurrent versions of "
        "config/ for as long as files may be in flight)"
    )
    assert isinstance(SchemaIdentity.from_dict(pinned.to_dict()), SchemaIdentity)
    assert cold.schema(pinned).name == "transactions"  # the real identity still reads


def test_the_schema_is_read_once_per_container_and_version(aws, monkeypatch):
    pinned, _ = aws.pin_schema("transactions")
    calls = []
    real = aws.s3.get_object
    monkeypatch.setattr(aws.s3, "get_object", lambda **kw: calls.append(kw) or real(**kw))
    assert aws.schema(pinned) is aws.schema(pinned)
    assert calls == []  # pin_schema already holds it


# -- what records the identity (issue 18 item 2) --------------------------------------------------
def test_published_parquet_files_carry_the_schema_identity_and_their_origin(two):
    summary = run_pipeline(
        two, upload(two, "incoming/trades/meta.csv", _trades_body(12, bad={2, 9}))
    )
    version_id = two.s3.head_object(Bucket=BUCKET, Key="incoming/trades/meta.csv")["VersionId"]
    sha = hashlib.sha256(TRADES_SCHEMA.read_bytes()).hexdigest()
    for prefix in (summary["valid_prefix"], summary["rejected_prefix"]):
        files = _valid_files(two, prefix)
        assert files, prefix
        for chunk, f in enumerate(files):
            key_value = {k.decode(): v.decode() for k, v in f.metadata.metadata.items()}
            key_value.pop("ARROW:schema", None)  # the rejects keep their Arrow schema
            assert key_value == {
                "etl.dataset": "trades",
                "etl.schema.name": "trades",
                "etl.schema.version": "2.1",
                "etl.schema.sha256": sha,
                "etl.file_id": summary["file_id"],
                "etl.object_version_id": version_id,
                "etl.chunk": str(_chunk_of(prefix, chunk, two)),
            }


def _chunk_of(prefix: str, position: int, rt) -> int:
    keys, _ = read_prefix(rt, prefix)
    return int(keys[position].rsplit("chunk-", 1)[1].removesuffix(".parquet"))


def test_the_status_item_and_the_success_message_carry_the_schema_identity(two):
    import mark_failed

    checked, message = run_pipeline_checked(
        two, upload(two, "incoming/trades/identity.csv", _trades_body(5))
    )
    item = two.status.get_file(message["file_id"])
    version_id = _schema_version_id(two, "trades")
    sha = hashlib.sha256(TRADES_SCHEMA.read_bytes()).hexdigest()
    assert {k: item[k] for k in ("dataset", "schema_name", "schema_version")} == {
        "dataset": "trades",
        "schema_name": "trades",
        "schema_version": "2.1",
    }
    assert (item["schema_sha256"], item["schema_object_version_id"]) == (sha, version_id)
    identity = _identity("trades", TRADES_SCHEMA, version_id)
    assert checked["schema"] == identity
    assert (message["dataset"], message["schema"]) == ("trades", identity)
    # a step failing after COMPLETE: MarkFailed rebuilds the same message from the item
    again = mark_failed.handler(
        mark_failed_event({**checked, "error": {"Error": "States.Timeout"}}, "exec-1"), Ctx()
    )
    assert again == message


# -- metrics per dataset --------------------------------------------------------------------------
def _emf_records(text: str) -> list[dict]:
    return [
        json.loads(line) for line in text.splitlines() if line.startswith("{") and '"_aws"' in line
    ]


def _by_metric(records: list[dict]) -> dict[str, dict]:
    return {m["Name"]: r for r in records for m in r["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


def test_metrics_are_published_pipeline_wide_and_per_dataset(two, capsys):
    import mark_failed

    service, dataset = CONTRACT.metrics.dimension, CONTRACT.metrics.dataset_dimension
    capsys.readouterr()
    checked, _ = run_pipeline_checked(
        two, upload(two, "incoming/trades/metrics.csv", _trades_body(4, bad={1}))
    )
    trades = _by_metric(_emf_records(capsys.readouterr().out))
    # MarkFailed after COMPLETE emits no metric: its dataset must not reach the next file
    mark_failed.handler(
        mark_failed_event({**checked, "error": {"Error": "States.Timeout"}}, "exec-1"), Ctx()
    )
    run_pipeline(two, upload(two, "incoming/transactions/m.csv", _transactions_body(3)), "e2")
    transactions = _by_metric(_emf_records(capsys.readouterr().out))
    for name, by_metric in (("trades", trades), ("transactions", transactions)):
        for metric in ("PlannedChunks", "RowsValid", "RowsRejected", "FilesCompleted"):
            record = by_metric[metric]
            assert record["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
                [service],
                [service, dataset],
            ], (name, metric)
            assert record[dataset] == name, metric
    assert (trades["RowsValid"]["RowsValid"], trades["RowsRejected"]["RowsRejected"]) == (
        [3.0],
        [1.0],
    )


# -- the schema's version -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("version", "major"),
    [
        (1, 1),
        (12, 12),
        ("3", 3),
        ("2.1", 2),
        ("1.0.7", 1),
        (0, None),
        ("0.9", None),
        ("v2", None),
        ("1.2.3.4", None),
        ("", None),
        (True, None),
        (1.5, None),
        (None, None),
    ],
)
def test_a_schema_version_is_n_or_n_m_or_n_m_p_with_a_major_of_at_least_one(aws, version, major):
    from etl.errors import SchemaConfigError
    from etl.schema_version import schema_major

    assert schema_major(version) == major
    doc = {**json.loads(SCHEMA_PATH.read_bytes()), "version": version}
    key = CONTRACT.schema_object_key("transactions")
    aws.s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(doc).encode())
    if major is None:  # deployed anyway: Split refuses to pin it (a bool or float: load_schema)
        with pytest.raises(SchemaConfigError, match=r"version"):
            aws.pin_schema("transactions")
    else:
        assert aws.pin_schema("transactions")[0].major == major
