"""etl.compat: each compatibility rule's exact finding, versions, and a schema file against
its released baselines (the CLI and the build are in tests/test_schema_release.py)."""

from __future__ import annotations

import copy
import json

import pyarrow as pa
import pytest
from etl.compat import (
    RULES,
    Finding,
    Version,
    check_file,
    column_type,
    compare,
    parse_version,
    released_majors,
)
from etl.errors import SchemaConfigError
from etl.schema_check import parse_schema

BASE = {
    "name": "orders",
    "version": "1.2",
    "fields": [
        {"name": "id", "type": "string", "constraints": {"required": True}},
        {
            "name": "amount",
            "type": "number",
            "precision": 18,
            "scale": 2,
            "constraints": {"required": True},
        },
        {"name": "n", "type": "integer", "constraints": {"maximum": 1000}},
        {"name": "day", "type": "date"},
        {"name": "note", "type": "string"},
    ],
}
NEW_MAJOR = 'or declare a new major version ("version": "2")'


def edited(edit) -> dict:
    doc = copy.deepcopy(BASE)
    edit(doc)
    return doc


def field(doc: dict, name: str) -> dict:
    return next(f for f in doc["fields"] if f["name"] == name)


def findings(edit) -> list[Finding]:
    found = compare(parse_schema(BASE), parse_schema(edited(edit)), next_major=2)
    assert {f.rule for f in found} <= set(RULES)  # each rule is one of the documented ones
    return found


# ---------------------------------------------------------------------------- compatible


def _add_optional(doc):
    doc["fields"].append({"name": "memo", "type": "string"})


def _add_explicitly_optional(doc):
    doc["fields"].append({"name": "memo", "type": "integer", "constraints": {"required": False}})


def _relax_required(doc):
    field(doc, "id")["constraints"]["required"] = False


def _add_constraints(doc):
    field(doc, "note")["constraints"] = {"pattern": "[a-z]+", "maxLength": 10}
    field(doc, "n")["constraints"] = {"minimum": 0, "maximum": 10}
    field(doc, "id")["constraints"]["enum"] = ["a", "b"]


def _widen_an_integer_range(doc):
    field(doc, "n")["constraints"]["maximum"] = 10**15  # the column stays a 64-bit bigint


def _add_missing_values(doc):
    doc["missingValues"] = ["", "NA", "n/a"]
    field(doc, "note")["missingValues"] = ["-"]


def _widen_precision(doc):
    field(doc, "amount")["precision"] = 38


def _change_dialect_and_share(doc):
    doc["dialect"] = {"delimiter": ";"}
    doc["maxRejectedShare"] = 0.5


def _describe(doc):
    doc["description"] = "orders"
    doc["name"] = "orders_renamed"
    field(doc, "note")["title"] = "Note"


def _change_date_format(doc):
    field(doc, "day")["format"] = "%d.%m.%Y"


def _number_marks(doc):
    field(doc, "amount").update(decimalChar=",", groupChar=".")


def _reorder(doc):
    doc["fields"].reverse()


@pytest.mark.parametrize(
    "edit",
    [
        _add_optional,
        _add_explicitly_optional,
        _relax_required,
        _add_constraints,
        _widen_an_integer_range,
        _add_missing_values,
        _widen_precision,
        _change_dialect_and_share,
        _describe,
        _change_date_format,
        _number_marks,
        _reorder,
    ],
)
def test_a_compatible_change_has_no_findings(edit):
    assert findings(edit) == []


def test_removing_constraints_is_compatible_too():
    baseline = edited(_add_constraints)
    assert compare(parse_schema(baseline), parse_schema(BASE)) == []


def test_a_datetime_format_with_its_timezone_keeps_the_timestamp_column():
    with_format = edited(lambda d: d["fields"].append({"name": "at", "type": "datetime"}))
    field(with_format, "at").update(format="%Y-%m-%d %H:%M", timezone="UTC")
    baseline = edited(lambda d: d["fields"].append({"name": "at", "type": "datetime"}))
    assert compare(parse_schema(baseline), parse_schema(with_format)) == []


# ---------------------------------------------------------------------------- refused, by rule


def test_a_removed_field_is_refused():
    assert findings(lambda d: d["fields"].pop()) == [
        Finding(
            "note",
            "FIELD_NO_DELETE",
            "removed: queries that select it fail and its published values become unreachable "
            f"through the table; keep it (make it optional), {NEW_MAJOR}",
        )
    ]


def test_a_renamed_field_is_a_removal_named_as_a_likely_rename():
    assert findings(lambda d: field(d, "note").update(name="memo")) == [
        Finding(
            "note",
            "FIELD_NO_DELETE",
            "removed (renamed to 'memo'? a rename is a removal): queries that select it fail "
            "and its published values become unreachable through the table; keep it (make it "
            f"optional), {NEW_MAJOR}",
        )
    ]


def test_a_type_change_is_refused():
    assert findings(lambda d: field(d, "n").update(type="string", constraints={})) == [
        Finding(
            "n",
            "FIELD_SAME_TYPE",
            "integer (bigint) -> string (string): files written before hold bigint values that "
            f"a string column cannot read; keep integer, {NEW_MAJOR}",
        )
    ]


def test_an_integer_made_a_decimal_is_a_type_change():
    def edit(doc):
        field(doc, "n").update(type="number", precision=38, scale=0)

    assert [(f.field, f.rule) for f in findings(edit)] == [("n", "FIELD_SAME_TYPE")]
    assert findings(edit)[0].message.startswith("integer (bigint) -> number (decimal(38,0)): ")


def test_a_date_made_a_datetime_by_its_format_is_a_type_change():
    def edit(doc):
        field(doc, "day").update(type="datetime", format="%Y-%m-%d %H:%M", timezone="UTC")

    assert findings(edit) == [
        Finding(
            "day",
            "FIELD_SAME_TYPE",
            "date (date) -> datetime (timestamp): (the column type follows the type, whatever "
            "the format) files written before hold date values that a timestamp column cannot "
            f"read; keep date, {NEW_MAJOR}",
        )
    ]


def test_a_scale_change_is_refused_even_with_a_wider_precision():
    assert findings(lambda d: field(d, "amount").update(precision=20, scale=4)) == [
        Finding(
            "amount",
            "FIELD_SAME_SCALE",
            "decimal(18,2) -> decimal(20,4): the scale is part of every published value (a "
            "lower one rounds them; a higher one needs each reader to rescale older files, "
            f"which a Parquet reader need not do); keep scale 2, {NEW_MAJOR}",
        )
    ]


def test_a_narrower_precision_is_refused():
    assert findings(lambda d: field(d, "amount").update(precision=10)) == [
        Finding(
            "amount",
            "FIELD_NO_NARROWING",
            "decimal(18,2) -> decimal(10,2): published values with more than 8 integer digits "
            f"do not fit; keep precision 18 or more, {NEW_MAJOR}",
        )
    ]


def test_a_new_required_field_is_refused():
    def edit(doc):
        doc["fields"].append({"name": "memo", "type": "string", "constraints": {"required": True}})

    assert findings(edit) == [
        Finding(
            "memo",
            "FIELD_NO_NEW_REQUIRED",
            "added as required: files written before have no 'memo', so the table shows nulls "
            f"in a required column; add it with required false, {NEW_MAJOR}",
        )
    ]


def test_an_optional_field_made_required_is_refused():
    assert findings(lambda d: field(d, "note").update(constraints={"required": True})) == [
        Finding(
            "note",
            "FIELD_NOT_MADE_REQUIRED",
            "optional -> required: published rows may hold nulls in 'note'; keep it optional, "
            f"{NEW_MAJOR}",
        )
    ]


def test_one_finding_per_field_and_rule_in_field_order():
    def edit(doc):
        field(doc, "amount").update(precision=10, constraints={"required": True})
        field(doc, "n").update(type="boolean", constraints={"required": True})
        field(doc, "note").update(constraints={"required": True})
        doc["fields"].remove(field(doc, "id"))
        doc["fields"].append({"name": "x", "type": "date", "constraints": {"required": True}})

    assert [(f.field, f.rule) for f in findings(edit)] == [
        ("id", "FIELD_NO_DELETE"),
        ("amount", "FIELD_NO_NARROWING"),
        ("n", "FIELD_SAME_TYPE"),  # the type change says it all: no second line for required
        ("note", "FIELD_NOT_MADE_REQUIRED"),
        ("x", "FIELD_NO_NEW_REQUIRED"),
    ]


def test_a_finding_prints_as_one_line_field_rule_message():
    line = str(findings(lambda d: d["fields"].pop())[0])
    assert line.startswith("note: FIELD_NO_DELETE: removed: ") and "\n" not in line


# ---------------------------------------------------------------------------- types, versions


@pytest.mark.parametrize(
    ("doc", "arrow", "glue"),
    [
        ({"type": "string"}, pa.string(), "string"),
        ({"type": "integer"}, pa.int64(), "bigint"),
        ({"type": "boolean"}, pa.bool_(), "boolean"),
        ({"type": "date"}, pa.date32(), "date"),
        ({"type": "date", "format": "%d/%m/%Y"}, pa.date32(), "date"),
        ({"type": "datetime"}, pa.timestamp("us", tz="UTC"), "timestamp"),
        (
            {"type": "datetime", "format": "%Y-%m-%d %H:%M", "timezone": "UTC"},
            pa.timestamp("us", tz="UTC"),
            "timestamp",
        ),
        ({"type": "number", "precision": 20, "scale": 3}, pa.decimal128(20, 3), "decimal(20,3)"),
        # the types of published Table Schemas (issue 20 item 6)
        ({"type": "number"}, pa.decimal128(38, 18), "decimal(38,18)"),
        ({"type": "time"}, pa.time64("us"), "bigint"),
        ({"type": "year"}, pa.int32(), "int"),
        ({"type": "yearmonth"}, pa.string(), "string"),
        ({"type": "any"}, pa.string(), "string"),
    ],
)
def test_column_type_names_the_arrow_type_the_processor_writes(doc, arrow, glue):
    (f,) = parse_schema({"fields": [{"name": "x", **doc}]}).fields
    assert (f.arrow_type, column_type(f)) == (arrow, glue)


@pytest.mark.parametrize(
    ("value", "version"),
    [
        (1, Version(1)),
        (12, Version(12)),
        ("3", Version(3)),
        ("1.2", Version(1, 2)),
        ("1.2.3", Version(1, 2, 3)),
        ("0010.02", Version(10, 2)),
    ],
)
def test_versions_parse_to_major_minor_patch(value, version):
    assert parse_version(value) == version
    assert str(parse_version(value)) == str(value)


def test_versions_compare_by_number_and_missing_parts_are_zero():
    assert parse_version(2) == parse_version("2") == parse_version("2.0") == parse_version("2.0.0")
    assert parse_version("1.10") > parse_version("1.9") > parse_version("1.2.3")
    assert parse_version("2") > parse_version("1.99.99")


@pytest.mark.parametrize("value", ["v1", "1.2.3.4", "1.", "", "1.x", "0", "0.3", -1, " 1"])
def test_a_version_that_is_not_n_n_m_or_n_m_p_is_a_named_error(value):
    with pytest.raises(SchemaConfigError, match="version"):
        parse_version(value)


# ---------------------------------------------------------------------------- files and baselines


def write(path, doc) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")


@pytest.fixture
def released(tmp_path):
    """schemas/orders.json released as v1 (a verbatim copy under schemas/released/)."""
    path = tmp_path / "schemas" / "orders.json"
    write(path, BASE)
    baseline = tmp_path / "schemas" / "released" / "orders" / "v1.json"
    baseline.parent.mkdir(parents=True)
    baseline.write_bytes(path.read_bytes())
    return path


def test_the_released_schema_itself_is_unchanged(released):
    check = check_file(released)
    assert (check.status, check.findings, check.dataset) == ("unchanged", (), "orders")
    assert check.baseline == released.parent / "released" / "orders" / "v1.json"


def test_a_reformatted_document_is_unchanged(released):
    released.write_text(json.dumps(BASE))  # same JSON, other bytes
    assert check_file(released).status == "unchanged"


def test_a_compatible_change_with_a_higher_version_passes(released):
    write(released, edited(lambda d: (_add_optional(d), d.update(version="1.3"))))
    check = check_file(released)
    assert (check.status, check.findings, check.version) == ("compatible", (), Version(1, 3))


def test_a_changed_schema_whose_version_did_not_go_up_is_refused(released):
    baseline = released.parent / "released" / "orders" / "v1.json"
    for version in ("1.2", "1.2.0", "1.1.9", "1"):
        write(released, edited(lambda d, v=version: (_add_optional(d), d.update(version=v))))
        assert check_file(released).findings == (
            Finding(
                "$.version",
                "VERSION_GOES_UP",
                f"{version!r} is not above the released '1.2' ({baseline}) but the schema "
                'changed: raise it (e.g. "1.3"), since every output names the version that '
                "typed it",
            ),
        )


def test_a_lower_version_of_the_same_major_is_refused_with_the_incompatible_changes(released):
    write(released, {**BASE, "version": 1, "fields": BASE["fields"][:-1]})
    assert [(f.field, f.rule) for f in check_file(released).findings] == [
        ("$.version", "VERSION_GOES_UP"),
        ("note", "FIELD_NO_DELETE"),
    ]


def test_an_incompatible_change_is_refused_under_the_same_major(released):
    write(
        released,
        edited(
            lambda d: (field(d, "n").update(type="string", constraints={}), d.update(version="1.3"))
        ),
    )
    check = check_file(released)
    assert check.status == "refused"
    assert [str(f) for f in check.findings] == [
        "n: FIELD_SAME_TYPE: integer (bigint) -> string (string): files written before hold "
        "bigint values that a string column cannot read; keep integer, or declare a new major "
        'version ("version": "2")'
    ]


def test_a_new_major_is_not_compared_with_older_majors(released):
    write(released, {**BASE, "version": "2.0", "fields": [{"name": "other", "type": "integer"}]})
    check = check_file(released)
    assert (check.status, check.findings, check.version.major) == ("new major", (), 2)
    assert check.baseline == released.parent / "released" / "orders" / "v2.json"


def test_a_dataset_with_no_release_yet_is_a_new_major(tmp_path):
    path = tmp_path / "schemas" / "fresh.json"
    write(path, BASE)
    assert released_majors(path) == []
    assert (check_file(path).status, check_file(path).findings) == ("new major", ())


def test_going_back_to_an_older_major_is_refused(released):
    v2 = {**BASE, "version": "2"}
    write(released.parent / "released" / "orders" / "v2.json", v2)
    assert released_majors(released) == [1, 2]
    write(released, {**BASE, "version": "1.5"})
    assert check_file(released).findings == (
        Finding(
            "$.version",
            "MAJOR_NO_DECREASE",
            f"'1.5' has major 1 but major 2 is released "
            f"({released.parent / 'released' / 'orders' / 'v2.json'}): a dataset's schema does "
            "not go back to an older major; start from the released one and raise its version",
        ),
    )


def test_an_invalid_version_is_one_finding(released):
    write(released, {**BASE, "version": "v2"})
    assert check_file(released).findings == (
        Finding(
            "$.version",
            "VERSION_FORMAT",
            'version \'v2\' is not an integer N or a string "N", "N.M" or "N.M.P": write '
            'e.g. "version": "1.2"',
        ),
    )


def test_an_invalid_schema_is_the_loaders_error_not_a_finding(released):
    write(released, {**BASE, "fields": [{"name": "a", "type": "integr"}]})
    with pytest.raises(SchemaConfigError, match=r"\$\.fields\[0\]\.type: unknown type 'integr'"):
        check_file(released)


def test_a_hand_edited_baseline_of_another_major_is_a_named_error(released):
    write(released.parent / "released" / "orders" / "v1.json", {**BASE, "version": "3"})
    write(released, {**BASE, "version": "1.3"})
    with pytest.raises(SchemaConfigError, match="declares version '3', not major 1: a baseline"):
        check_file(released)


def test_only_v_n_json_files_count_as_releases(released):
    folder = released.parent / "released" / "orders"
    for name in ("v0.json", "v01.json", "v2.json.bak", "notes.json", "v3.json"):
        (folder / name).write_text("{}")
    assert released_majors(released) == [1, 3]


def test_the_repository_schema_is_its_released_v1():
    from conftest import ROOT

    baseline = ROOT / "schemas" / "released" / "transactions" / "v1.json"
    check = check_file(ROOT / "schemas" / "transactions.json")
    assert (check.status, check.baseline, check.version) == ("unchanged", baseline, Version(1))


def test_every_rule_is_documented_in_the_schema_versions_guide():
    from conftest import ROOT

    guide = (ROOT / "docs" / "schema-versions.md").read_text()
    assert [rule for rule in RULES if f"`{rule}`" not in guide] == []
