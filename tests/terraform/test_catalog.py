"""The Glue catalog: one table pair per dataset and major schema version, typed from the same
schema JSON as the Parquet, located on that dataset's prefixes, and readable as it stands.

The tables (names, prefixes, columns) live in a provider-free file
(modules/storage/catalog_columns.tf; catalog.tf only adds the bucket to the prefixes, which
modules/storage/tests/storage.tftest.hcl checks), so they are evaluated here with
`terraform console`, no provider needed. The reader test follows each table exactly as Athena
would without partitions: every object below its location, columns by name, no crawler, no
MSCK REPAIR, over outputs written under the designed key layout by the real chunk processor.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from etl import compat
from etl.schema import REJECTS_SCHEMA
from etl.schema_check import load_schema
from etl.transform import process_stream
from tfhcl import CONTRACT_PATH
from tfrun import require_terraform

ROOT = Path(__file__).resolve().parents[2]
COLUMNS_TF = ROOT / "modules" / "storage" / "catalog_columns.tf"
TRANSACTIONS = ROOT / "schemas" / "transactions.json"
# A dataset at major 2 whose major 1 was released before (released/orders/v1.json next to it).
ORDERS = ROOT / "modules" / "storage" / "tests" / "schemas" / "orders.json"
PREFIXES = json.loads(CONTRACT_PATH.read_text())["prefixes"]

# What Athena calls each Arrow type our Parquet carries.
ATHENA = {
    pa.string(): "string",
    pa.int64(): "bigint",
    pa.timestamp("us", tz="UTC"): "timestamp",
    pa.date32(): "date",
    pa.bool_(): "boolean",
    pa.int32(): "int",
    pa.time64("us"): "bigint",  # Hive has no time type: microseconds after midnight
}
# What DuckDB reports for the Parquet behind each Glue type (Athena reads the UTC-adjusted
# Parquet timestamps as `timestamp`).
DUCKDB = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "date": "DATE",
    "boolean": "BOOLEAN",
    "array<struct<column:string,rule:string,value:string>>": (
        'STRUCT("column" VARCHAR, "rule" VARCHAR, "value" VARCHAR)[]'
    ),
}


@pytest.fixture(autouse=True)
def _terraform():
    """`terraform console` needs terraform: skip where it is missing, fail in CI."""
    require_terraform()


def athena_type(t: pa.DataType) -> str:
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_list(t):
        return f"array<{athena_type(t.value_type)}>"
    if pa.types.is_struct(t):
        return "struct<" + ",".join(f"{f.name}:{athena_type(f.type)}" for f in t) + ">"
    return ATHENA[t]


def duckdb_type(glue_type: str) -> str:
    decimal = re.fullmatch(r"decimal\((\d+),(\d+)\)", glue_type)
    return f"DECIMAL({decimal[1]},{decimal[2]})" if decimal else DUCKDB[glue_type]


def evaluate(tmp_path: Path, datasets: dict[str, Path], expression: str):
    """`expression` in a root holding only catalog_columns.tf and its two variables."""
    shutil.copy(COLUMNS_TF, tmp_path / "catalog_columns.tf")
    (tmp_path / "variables.tf").write_text(
        'variable "datasets" {\n  type = map(object({ schema_file = string }))\n}\n\n'
        'variable "prefixes" {\n  type = map(string)\n}\n'
    )
    values = {
        "datasets": {name: {"schema_file": str(path)} for name, path in datasets.items()},
        "prefixes": PREFIXES,
    }
    (tmp_path / "case.tfvars.json").write_text(json.dumps(values))
    out = (
        subprocess.run(
            ["terraform", "console", "-var-file=case.tfvars.json"],
            input=f"jsonencode({expression})\n",
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    return json.loads(json.loads(out))


@pytest.mark.parametrize(
    "schema_doc",
    [
        None,  # the default transactions schema
        {
            "name": "all",
            "version": "3.2.1",
            "fields": [
                {"name": "i", "type": "integer", "constraints": {"required": True}},
                {
                    "name": "d",
                    "type": "number",
                    "precision": 38,
                    "scale": 0,
                    "constraints": {"required": True},
                },
                {"name": "t", "type": "datetime"},
                {
                    "name": "day",
                    "type": "date",
                    "format": "%d.%m.%Y",
                    "constraints": {"required": True},
                },
                {"name": "b", "type": "boolean", "trueValues": ["yes"], "falseValues": ["no"]},
                {"name": "s"},
            ],
        },
        {
            "name": "published",  # the types a published Table Schema has (issue 20)
            "fields": [
                {"name": "n", "type": "number"},
                {"name": "y", "type": "year", "constraints": {"required": True}},
                {"name": "ym", "type": "yearmonth"},
                {"name": "t", "type": "time"},
                {"name": "a", "type": "any"},
            ],
        },
    ],
)
def test_glue_columns_match_the_parquet_schema(tmp_path, schema_doc):
    if schema_doc is None:
        schema_file, table = TRANSACTIONS, "transactions_v1"
    else:
        major = str(schema_doc.get("version", 1)).split(".")[0]  # none means 1
        schema_file, table = tmp_path / "all.json", f"all_v{major}"
        schema_file.write_text(json.dumps(schema_doc))
    parquet = load_schema(schema_file).arrow_schema
    columns = evaluate(tmp_path, {table.rsplit("_v", 1)[0]: schema_file}, "local.processed_columns")
    assert list(columns) == [table]
    assert [(c["name"], c["type"]) for c in columns[table]] == [
        (f.name, athena_type(f.type)) for f in parquet
    ]
    assert [c["comment"] for c in columns[table]] == [
        "optional" if f.nullable else "required" for f in parquet
    ]


def test_rejected_table_columns_match_the_rejects_schema(tmp_path):
    columns = evaluate(tmp_path, {"transactions": TRANSACTIONS}, "local.rejected_columns")
    assert [(c["name"], c["type"]) for c in columns] == [
        (f.name, athena_type(f.type)) for f in REJECTS_SCHEMA
    ]


def test_a_table_pair_per_dataset_and_major_on_the_datasets_prefixes(tmp_path):
    tables = evaluate(
        tmp_path, {"transactions": TRANSACTIONS, "orders": ORDERS}, "local.catalog_tables"
    )
    released = ORDERS.parent / "released" / "orders" / "v1.json"
    assert tables == {
        "orders_v1": {
            "dataset": "orders",
            "major": 1,
            "file": str(released),
            "valid_prefix": "processed/orders/v1/",
            "rejected_prefix": "rejected/orders/v1/",
        },
        "orders_v2": {
            "dataset": "orders",
            "major": 2,
            "file": str(ORDERS),
            "valid_prefix": "processed/orders/v2/",
            "rejected_prefix": "rejected/orders/v2/",
        },
        "transactions_v1": {
            "dataset": "transactions",
            "major": 1,
            "file": str(TRANSACTIONS),
            "valid_prefix": "processed/transactions/v1/",
            "rejected_prefix": "rejected/transactions/v1/",
        },
    }


def test_terraform_and_the_schema_check_read_a_datasets_releases_from_one_folder(tmp_path):
    """Dataset orders with its schema at feeds/orders-v1.json (outside schemas/, another
    name), at major 2 with major 1 released: Terraform keeps orders_v1 from the released
    file of the folder the check compares major 2 with, feeds/released/orders/ (the dataset's
    key, not the file's name)."""
    v2 = json.loads(ORDERS.read_text())
    v1 = json.loads((ORDERS.parent / "released" / "orders" / "v1.json").read_text())
    schema = tmp_path / "feeds" / "orders-v1.json"
    for path, doc in {
        schema: v2,
        tmp_path / "feeds" / "released" / "orders" / "v1.json": v1,
        tmp_path / "feeds" / "released" / "orders" / "v2.json": v2,
    }.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc))
    tables = evaluate(tmp_path, {"orders": schema}, "local.catalog_tables")
    check = compat.check_file(schema, "orders")  # what the deploy sessions run per dataset
    assert sorted(tables) == ["orders_v1", "orders_v2"]
    assert (check.status, check.baseline) == (
        "unchanged",
        Path(tables["orders_v1"]["file"]).parent / "v2.json",
    )
    assert compat.released_dir(schema, "orders") == Path(tables["orders_v1"]["file"]).parent


# --- a reader that follows the tables -------------------------------------------------------

# CSV records per schema file (header first), valid and invalid ones mixed.
RECORDS = {
    "transactions": (
        "transaction_id,account_id,timestamp,amount,currency,merchant,category,status\n"
        "TX1,AC1,2026-12-01T10:00:00Z,12.50,EUR,Shop,groceries,settled\n"
        "TX2,AC1,2026-12-01T11:00:00Z,not-a-number,EUR,Shop,groceries,settled\n"
        "TX3,AC2,2026-12-02T09:30:00Z,-3.10,USD,Cafe,dining,pending\n"
    ),
    "orders_v1": "order_id,total\nO1,1250\nO2,12.5\nO3,99\n",
    "orders_v2.0": "order_id,placed_on,total\nO4,2026-12-01,12.50\nO5,01.12.2026,1.00\n",
    "orders_v2.1": "order_id,placed_on,total,channel\nO6,2026-12-03,7.25,web\n,2026-12-03,1,app\n",
}


def _publish(bucket: Path, table: dict, schema_file: Path, records: str, path: str) -> tuple:
    """What the finalizer publishes for one file version, through the real chunk processor:
    <prefix><path>/version=<id16>/chunk-000000.parquet below both prefixes of the table."""
    header, body = records.split("\n", 1)
    version = hashlib.sha256(f"{path}{records}".encode()).hexdigest()[:16]
    keys = {
        kind: f"{table[f'{kind}_prefix']}{path}/version={version}/chunk-000000.parquet"
        for kind in ("valid", "rejected")
    }
    for key in keys.values():
        (bucket / key).parent.mkdir(parents=True, exist_ok=True)
    result = process_stream(
        io.BytesIO(body.encode()),
        schema=load_schema(schema_file),
        columns=header.split(","),
        valid_path=bucket / keys["valid"],
        rejected_path=bucket / keys["rejected"],
        first_line=2,
    )
    return keys, result.rows_valid, result.rows_rejected


def _without_field(schema_file: Path, field: str, version: str, into: Path) -> Path:
    """The schema as it was before `field` was added (a compatible change within the major)."""
    doc = json.loads(schema_file.read_text())
    doc["version"] = version
    doc["fields"] = [f for f in doc["fields"] if f["name"] != field]
    into.write_text(json.dumps(doc))
    return into


def _published_outputs(bucket: Path, tables: dict, tmp_path: Path):
    """Outputs of every table: two input paths for transactions, both majors of orders, and
    in orders v2 files written before and after `channel` was added (2.0, then 2.1)."""
    orders_2_0 = _without_field(ORDERS, "channel", "2.0", tmp_path / "orders-2.0.json")
    runs = [
        ("transactions_v1", TRANSACTIONS, RECORDS["transactions"], "2026/12/01/cards"),
        ("transactions_v1", TRANSACTIONS, RECORDS["transactions"], "flat"),
        ("orders_v1", Path(tables["orders_v1"]["file"]), RECORDS["orders_v1"], "eu/day1"),
        ("orders_v2", orders_2_0, RECORDS["orders_v2.0"], "eu/day2"),
        ("orders_v2", ORDERS, RECORDS["orders_v2.1"], "eu/day3"),
    ]
    published = {key: {"valid": {}, "rejected": {}} for key in tables}
    for key, schema_file, records, path in runs:
        keys, valid, rejected = _publish(bucket, tables[key], schema_file, records, path)
        published[key]["valid"][keys["valid"]] = valid
        published[key]["rejected"][keys["rejected"]] = rejected
    return published


def _read_like_athena(bucket: Path, prefix: str, columns: list[dict]):
    """Every object below the location, the table's columns by name (files written before a
    column was added read it as NULL), no partitions: {file: rows} and the column types."""
    con = duckdb.connect()
    source = (
        f"read_parquet('{bucket}/{prefix}**/*.parquet', filename = true,"
        " hive_partitioning = false, union_by_name = true)"
    )
    names = ", ".join(f'"{c["name"]}"' for c in columns)
    rows = con.sql(f"SELECT filename, count(*) FROM {source} GROUP BY filename").fetchall()
    types = con.sql(f"DESCRIBE SELECT {names} FROM {source}").fetchall()
    values = con.sql(f"SELECT {names} FROM {source} ORDER BY ALL").fetchall()
    files = {str(Path(f).relative_to(bucket)): n for f, n in rows}
    return files, [(t[0], t[1]) for t in types], values


def test_each_table_reads_every_published_file_of_its_dataset_and_major(tmp_path):
    work = tmp_path / "terraform"
    work.mkdir()
    tables, columns, rejected_columns = evaluate(
        work,
        {"transactions": TRANSACTIONS, "orders": ORDERS},
        "[local.catalog_tables, local.processed_columns, local.rejected_columns]",
    )
    bucket = tmp_path / "bucket"
    published = _published_outputs(bucket, tables, tmp_path)
    every_file = {str(p.relative_to(bucket)) for p in bucket.rglob("*.parquet")}
    read = set()
    for key, table in tables.items():
        for kind, table_columns in (("valid", columns[key]), ("rejected", rejected_columns)):
            files, types, _ = _read_like_athena(bucket, table[f"{kind}_prefix"], table_columns)
            # Empty files (no rejects in that chunk) hold no rows, so list only files with rows.
            want = {k: n for k, n in published[key][kind].items() if n}
            assert files == want, (key, kind)
            assert types == [(c["name"], duckdb_type(c["type"])) for c in table_columns]
            read |= set(published[key][kind])
    assert read == every_file  # every published file lies below exactly one table


def test_old_and_new_outputs_of_a_compatible_change_read_back_through_the_one_table(tmp_path):
    work = tmp_path / "terraform"
    work.mkdir()
    tables, columns = evaluate(
        work,
        {"transactions": TRANSACTIONS, "orders": ORDERS},
        "[local.catalog_tables, local.processed_columns]",
    )
    bucket = tmp_path / "bucket"
    _published_outputs(bucket, tables, tmp_path)
    _, _, values = _read_like_athena(
        bucket, tables["orders_v2"]["valid_prefix"], columns["orders_v2"]
    )
    assert values == [
        ("O4", date(2026, 12, 1), Decimal("12.50"), None),  # written by 2.0: no channel
        ("O6", date(2026, 12, 3), Decimal("7.25"), "web"),
    ]
    _, _, old_major = _read_like_athena(
        bucket, tables["orders_v1"]["valid_prefix"], columns["orders_v1"]
    )
    assert old_major == [("O1", 1250), ("O3", 99)]  # major 1 keeps its own table and types
