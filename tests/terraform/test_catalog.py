"""The Glue catalog columns come from the same schema JSON as the Parquet types.

The mapping lives in a provider-free file (modules/storage/catalog_columns.tf) so it can be
evaluated here with `terraform console`, no provider needed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pytest
from etl.schema import load_schema
from tfrun import require_terraform

ROOT = Path(__file__).resolve().parents[2]
COLUMNS_TF = ROOT / "modules" / "storage" / "catalog_columns.tf"

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


def evaluate(tmp_path: Path, schema_file: Path, expression: str):
    shutil.copy(COLUMNS_TF, tmp_path / "catalog_columns.tf")
    (tmp_path / "variables.tf").write_text('variable "schema_file" {\n  type = string\n}\n')
    out = (
        subprocess.run(
            ["terraform", "console", f"-var=schema_file={schema_file}"],
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
        schema_file = ROOT / "schemas" / "transactions.json"
    else:
        schema_file = tmp_path / "schema.json"
        schema_file.write_text(json.dumps(schema_doc))
    parquet = load_schema(schema_file).arrow_schema
    columns = evaluate(tmp_path, schema_file, "local.processed_columns")
    assert [(c["name"], c["type"]) for c in columns] == [
        (f.name, athena_type(f.type)) for f in parquet
    ]
    assert [c["comment"] for c in columns] == [
        "optional" if f.nullable else "required" for f in parquet
    ]


def test_rejected_table_columns_match_the_rejects_schema(tmp_path):
    from etl.schema import REJECTS_SCHEMA

    columns = evaluate(tmp_path, ROOT / "schemas" / "transactions.json", "local.rejected_columns")
    assert [(c["name"], c["type"]) for c in columns] == [
        (f.name, athena_type(f.type)) for f in REJECTS_SCHEMA
    ]
