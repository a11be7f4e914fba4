"""Schema versions on the emulator: docs/schema-versions.md's workflow followed on a deployed
stack (issue 19, "Done when").

A compatible change is checked, released and applied with `terraform apply`: the files written
before and after it read back through the one Glue table, as Athena reads a table without
partitions (every object below its location, its columns by name and type). An incompatible
change is refused by the check, one line per field and rule, before anything is applied;
declared as a new major it gets its own tables and prefixes, and the older table and its files
stay exactly as they were.

The stack is this test's own (dataset `orders`, its schema in the test's folder with
`released/orders/` next to it, as `schemas/` holds them), so nothing of it reaches the session's
stack. The reader is DuckDB: Athena does not run here (docs/failure-modes.md).
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from buildtools import schemas as tool

pytestmark = pytest.mark.e2e

V1 = {
    "name": "orders",
    "version": 1,
    "fields": [
        {"name": "order_id", "type": "string", "constraints": {"required": True}},
        {
            "name": "amount",
            "type": "number",
            "precision": 18,
            "scale": 2,
            "constraints": {"required": True},
        },
    ],
}


def v1_1() -> dict:
    """Compatible: a wider amount at the same scale and an optional field."""
    doc = copy.deepcopy(V1)
    doc["version"] = "1.1"
    doc["fields"][1]["precision"] = 20
    doc["fields"].append({"name": "channel", "type": "string"})
    return doc


def with_amount_scale_3(doc: dict, version: str) -> dict:
    """`doc` with amount at scale 3 (refused within a major) and without `channel`."""
    changed = copy.deepcopy(doc)
    changed["version"] = version
    changed["fields"][1]["scale"] = 3
    changed["fields"] = [f for f in changed["fields"] if f["name"] != "channel"]
    return changed


def _write(path: Path, doc: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def _tool(capsys, *argv: str) -> tuple[int, list[str], list[str]]:
    """`python3 noxfile.py -s schemas -- <argv>`, in-process."""
    code = tool.main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


@pytest.fixture
def orders(tmp_path):
    """(schema file, deployment, pipeline): envs/dev applied with the one dataset `orders` at
    version 1, the harness attached."""
    from localrun.pipeline import Deployment, LocalPipeline, dev_variables

    schema = _write(tmp_path / "schemas" / "orders.json", V1)
    variables = dev_variables(prefix="etl-evolve", schema_paths=[schema], max_concurrency=2)
    deployment = Deployment(variables, work_dir=tmp_path / "deployment")
    try:
        deployment.start()
        with LocalPipeline(deployment=deployment, work_dir=tmp_path / "pipeline") as pipeline:
            yield schema, deployment, pipeline
    finally:
        deployment.close()


def _run(pipeline, tmp_path: Path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    result = pipeline.run_file(path)
    assert result.status == "SUCCEEDED", result.error
    return result


def _tables(pipeline) -> dict[str, dict]:
    """{name: StorageDescriptor} of every table in the stack's Glue database."""
    database = pipeline.deployment.outputs["catalog_database_name"]
    listed = pipeline.client("glue").get_tables(DatabaseName=database)["TableList"]
    return {t["Name"]: t["StorageDescriptor"] for t in listed}


def _objects(pipeline, location: str) -> dict[str, str]:
    """{key: ETag} of every object below a table's location."""
    prefix = location.removeprefix(f"s3://{pipeline.bucket}/")
    s3 = pipeline.client("s3")
    return {
        k: s3.head_object(Bucket=pipeline.bucket, Key=k)["ETag"] for k in pipeline.list_keys(prefix)
    }


def _read_table(pipeline, descriptor: dict, into: Path) -> list[tuple]:
    """The table's rows as Athena reads a table without partitions: every object below the
    location, each column by name (NULL where a file lacks it) as the table's type."""
    s3 = pipeline.client("s3")
    files = []
    for key in _objects(pipeline, descriptor["Location"]):
        local = into / key
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(s3.get_object(Bucket=pipeline.bucket, Key=key)["Body"].read())
        files.append(str(local))
    columns = ", ".join(
        f'CAST("{c["Name"]}" AS {c["Type"].replace("string", "VARCHAR")})'
        for c in descriptor["Columns"]
    )
    source = f"read_parquet({files!r}, union_by_name = true, hive_partitioning = false)"
    return duckdb.sql(f"SELECT {columns} FROM {source} ORDER BY ALL").fetchall()


def _schema_versions(pipeline, result) -> set[str]:
    """The etl.schema.version every valid Parquet file of a run records."""
    import io

    import pyarrow.parquet as pq

    s3 = pipeline.client("s3")
    return {
        pq.ParquetFile(io.BytesIO(s3.get_object(Bucket=pipeline.bucket, Key=k)["Body"].read()))
        .metadata.metadata[b"etl.schema.version"]
        .decode()
        for k in result.valid_keys
    }


def test_a_schema_evolves_on_a_deployed_stack_as_the_workflow_says(orders, tmp_path, capsys):
    schema, deployment, pipeline = orders
    released = schema.parent / "released" / "orders"
    assert _tool(capsys, "release", str(schema))[0] == 0  # v1 is the first baseline
    first = _run(pipeline, tmp_path, "day1.csv", "order_id,amount\nO1,12.50\nO2,3.10\n")
    assert first.valid_keys[0].startswith("processed/orders/v1/day1/version=")

    # 1. a compatible change: check, release, apply; the table reads old and new files
    _write(schema, v1_1())
    code, out, err = _tool(capsys, "check", str(schema))
    assert (code, err) == (0, []) and "version 1.1: compatible with" in out[0]
    assert _tool(capsys, "release", str(schema))[0] == 0
    assert (released / "v1.json").read_bytes() == schema.read_bytes()
    deployment.stack.apply()
    second = _run(
        pipeline,
        tmp_path,
        "day2.csv",
        "order_id,amount,channel\nO3,123456789012345678.25,web\n",  # 18 integer digits: v1.1
    )
    assert second.schema["version"] == "1.1" and second.valid_keys[0].startswith(
        "processed/orders/v1/day2/"
    )
    assert (_schema_versions(pipeline, first), _schema_versions(pipeline, second)) == (
        {"1"},
        {"1.1"},
    )
    tables = _tables(pipeline)
    assert sorted(tables) == ["orders_v1", "orders_v1_rejected"]
    v1_table = tables["orders_v1"]
    assert v1_table["Location"] == f"s3://{pipeline.bucket}/processed/orders/v1/"
    assert [(c["Name"], c["Type"]) for c in v1_table["Columns"]] == [
        ("order_id", "string"),
        ("amount", "decimal(20,2)"),
        ("channel", "string"),
    ]
    v1_rows = [
        ("O1", Decimal("12.50"), None),  # written under 1: no channel
        ("O2", Decimal("3.10"), None),
        ("O3", Decimal("123456789012345678.25"), "web"),
    ]
    assert _read_table(pipeline, v1_table, tmp_path / "read-1") == v1_rows

    # 2. an incompatible change: refused by the check, one line per field and rule; the
    # release writes nothing
    _write(schema, with_amount_scale_3(v1_1(), "1.2"))
    code, out, err = _tool(capsys, "check", str(schema))
    assert (code, out) == (1, [])
    assert [line.removeprefix(f"{schema}: ").split(": ")[:2] for line in err] == [
        ["amount", "FIELD_SAME_SCALE"],
        ["channel", "FIELD_NO_DELETE"],
    ]
    assert all(line.endswith('or declare a new major version ("version": "2")') for line in err)
    assert _tool(capsys, "release", str(schema))[0] == 1
    assert json.loads((released / "v1.json").read_text())["version"] == "1.1"

    # 3. the same change as a new major: its own tables and prefixes; v1 stays as it was
    _write(schema, with_amount_scale_3(v1_1(), "2"))
    code, out, _ = _tool(capsys, "check", str(schema))
    assert code == 0 and "new major 2 (own table orders_v2 and prefix" in out[0]
    assert _tool(capsys, "release", str(schema))[0] == 0
    v1_objects = _objects(pipeline, v1_table["Location"])
    deployment.stack.apply()
    third = _run(pipeline, tmp_path, "day3.csv", "order_id,amount\nO4,1.125\n")
    assert third.schema["major"] == 2 and third.valid_keys[0].startswith(
        "processed/orders/v2/day3/"
    )
    tables = _tables(pipeline)
    assert sorted(tables) == ["orders_v1", "orders_v1_rejected", "orders_v2", "orders_v2_rejected"]
    assert tables["orders_v1"] == v1_table  # columns, types and location unchanged
    assert _objects(pipeline, v1_table["Location"]) == v1_objects  # no file moved or rewritten
    assert _read_table(pipeline, tables["orders_v1"], tmp_path / "read-2") == v1_rows
    v2_table = tables["orders_v2"]
    assert v2_table["Location"] == f"s3://{pipeline.bucket}/processed/orders/v2/"
    assert tables["orders_v2_rejected"]["Location"] == (
        f"s3://{pipeline.bucket}/rejected/orders/v2/"
    )
    assert _read_table(pipeline, v2_table, tmp_path / "read-3") == [("O4", Decimal("1.125"))]
