"""A number field whose precision/scale are invalid and that has a range or enum constraint
was a TypeError (`None - None` in Field.type_pattern) instead of the schema's problem list;
found by comparing the loader before and after its split on 4,000 mutated documents."""

from __future__ import annotations

import json

import pytest
from conftest import SCHEMA_PATH


@pytest.mark.parametrize("constraint", [{"minimum": 0}, {"enum": ["1.00"]}])
def test_a_number_without_valid_precision_and_a_value_constraint_is_a_schema_problem(constraint):
    from etl.errors import SchemaConfigError
    from etl.schema import parse_schema

    doc = json.loads(SCHEMA_PATH.read_text())
    amount = next(f for f in doc["fields"] if f["name"] == "amount")
    amount["precision"] = "18"
    amount["constraints"] = {"required": True, **constraint}
    index = doc["fields"].index(amount)
    with pytest.raises(SchemaConfigError) as raised:
        parse_schema(doc)
    assert raised.value.problems == [
        {
            "path": f"$.fields[{index}]",
            "message": "a number field needs the extensions 'precision' (1..38) and 'scale' "
            "(0..precision) for its exact Parquet DECIMAL, got precision='18' scale=2 (leave "
            "both out for DECIMAL(38, 18))",
            "file": "schema",
        }
    ]
