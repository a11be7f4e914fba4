"""The schema workflow: `check` and `release` (buildtools/schemas.py, `nox -s schemas`), the
build and the deploy sessions refusing an incompatible change, and what the rules protect:
old and new outputs of a compatible change read back through the newest columns."""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from etl.schema_check import parse_schema
from etl.transform import process_stream

from buildtools import schemas as tool
from tests.fake_nox import FakeSession, Stop

REPO = Path(__file__).resolve().parents[1]
V1 = {
    "name": "orders",
    "version": 1,
    "fields": [
        {"name": "id", "type": "string", "constraints": {"required": True}},
        {
            "name": "amount",
            "type": "number",
            "precision": 10,
            "scale": 2,
            "constraints": {"required": True},
        },
        {"name": "day", "type": "date", "constraints": {"required": True}},
        {"name": "note", "type": "string"},
    ],
}


def v1_1() -> dict:
    """A compatible v1.1: wider amount, day in another format and optional, one more field,
    a new constraint, "NA" as missing."""
    doc = copy.deepcopy(V1)
    doc["version"] = "1.1"
    doc["missingValues"] = ["", "NA"]
    doc["fields"][1]["precision"] = 14
    doc["fields"][2].update(format="%d.%m.%Y", constraints={"required": False})
    doc["fields"][3]["constraints"] = {"maxLength": 20}
    doc["fields"].append({"name": "channel", "type": "string"})
    return doc


def write(path: Path, doc) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A tree like the repository's: lambdas/, schemas/orders.json released as v1; the
    working folder is its root (so lines show relative paths)."""
    (tmp_path / "lambdas").symlink_to(REPO / "lambdas")
    schema = write(tmp_path / "schemas" / "orders.json", V1)
    baseline = tmp_path / "schemas" / "released" / "orders" / "v1.json"
    baseline.parent.mkdir(parents=True)
    baseline.write_bytes(schema.read_bytes())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli(capsys, root, *argv) -> tuple[int, list[str], list[str]]:
    code = tool.main(list(argv), root=root)
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


# ---------------------------------------------------------------------------- check


def test_check_passes_a_released_schema(repo, capsys):
    assert cli(capsys, repo, "check") == (
        0,
        ["schemas/orders.json: orders version 1: released (schemas/released/orders/v1.json)"],
        [],
    )


def test_check_refuses_one_line_per_field_and_rule_and_exits_1(repo, capsys):
    doc = copy.deepcopy(V1)
    doc["fields"][1]["scale"] = 3
    doc["fields"][3]["constraints"] = {"required": True}
    del doc["fields"][2]
    write(repo / "schemas" / "orders.json", doc)
    code, out, err = cli(capsys, repo, "check", "schemas/orders.json")
    assert (code, out) == (1, [])
    assert [line.split(": ")[:3] for line in err] == [
        ["schemas/orders.json", "$.version", "VERSION_GOES_UP"],
        ["schemas/orders.json", "amount", "FIELD_SAME_SCALE"],
        ["schemas/orders.json", "day", "FIELD_NO_DELETE"],
        ["schemas/orders.json", "note", "FIELD_NOT_MADE_REQUIRED"],
    ]
    assert err[1] == (
        "schemas/orders.json: amount: FIELD_SAME_SCALE: decimal(10,2) -> decimal(10,3): the "
        "scale is part of every published value (a lower one rounds them; a higher one needs "
        "each reader to rescale older files, which a Parquet reader need not do); keep scale "
        '2, or declare a new major version ("version": "2")'
    )


def test_check_passes_a_compatible_change_and_says_to_release_it(repo, capsys):
    write(repo / "schemas" / "orders.json", v1_1())
    assert cli(capsys, repo, "check") == (
        0,
        [
            "schemas/orders.json: orders version 1.1: compatible with "
            "schemas/released/orders/v1.json; release it: python3 noxfile.py -s schemas -- "
            "release schemas/orders.json"
        ],
        [],
    )


def test_check_released_refuses_what_is_not_released_yet(repo, capsys):
    write(repo / "schemas" / "orders.json", v1_1())
    assert cli(capsys, repo, "check", "--released") == (
        1,
        [],
        [
            "schemas/orders.json: $.version: SCHEMA_RELEASED: version 1.1 is not released "
            "(schemas/released/orders/v1.json): run `python3 noxfile.py -s schemas -- release "
            "schemas/orders.json` and commit the baseline before deploying to prod"
        ],
    )


def test_check_accepts_a_new_major_and_names_its_table_and_prefix(repo, capsys):
    write(repo / "schemas" / "orders.json", {**V1, "version": "2", "fields": V1["fields"][:1]})
    assert cli(capsys, repo, "check") == (
        0,
        [
            "schemas/orders.json: orders version 2: new major 2 (own table orders_v2 and "
            "prefix processed/orders/v2/; not compared with older majors)"
        ],
        [],
    )


def test_check_prints_an_invalid_schema_with_its_json_path(repo, capsys):
    write(repo / "schemas" / "orders.json", {"fields": [{"name": "a", "type": "integr"}]})
    code, out, err = cli(capsys, repo, "check")
    assert (code, out) == (1, [])
    assert err[0].startswith(f"{Path('schemas/orders.json')}: 1 problem in the schema")
    assert err[1] == "  $.fields[0].type: unknown type 'integr'; use one of " + str(
        [
            "string",
            "integer",
            "number",
            "boolean",
            "date",
            "datetime",
            "time",
            "year",
            "yearmonth",
            "any",
        ]
    )


def test_check_runs_as_a_module_from_any_folder(tmp_path):
    schema = write(tmp_path / "elsewhere" / "orders.json", {**V1, "version": "one"})
    proc = subprocess.run(
        [sys.executable, "-m", "buildtools.schemas", "check", str(schema)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.splitlines() == [
        f"{schema}: $.version: VERSION_FORMAT: version 'one' is not an integer N or a string "
        '"N", "N.M" or "N.M.P": write e.g. "version": "1.2"'
    ]


# ---------------------------------------------------------------------------- release


def test_release_writes_the_baseline_verbatim_once_the_check_passes(repo, capsys):
    schema = write(repo / "schemas" / "orders.json", v1_1())
    schema.write_text(schema.read_text().replace("  ", "   "))  # its own formatting, kept
    assert cli(capsys, repo, "release") == (
        0,
        [
            "schemas/orders.json: orders version 1.1: compatible with "
            "schemas/released/orders/v1.json; release it: python3 noxfile.py -s schemas -- "
            "release schemas/orders.json",
            "wrote schemas/released/orders/v1.json (version 1.1): commit it",
        ],
        [],
    )
    baseline = repo / "schemas" / "released" / "orders" / "v1.json"
    assert baseline.read_bytes() == schema.read_bytes()
    assert cli(capsys, repo, "check")[0] == 0
    assert sorted(p.name for p in baseline.parent.iterdir()) == ["v1.json"]  # no temp file


def test_release_writes_nothing_when_any_file_is_refused(repo, capsys):
    write(repo / "schemas" / "fresh.json", V1)  # would pass: a first release
    bad = copy.deepcopy(v1_1())
    bad["fields"][0]["type"] = "integer"
    write(repo / "schemas" / "orders.json", bad)
    released = sorted(p.relative_to(repo) for p in (repo / "schemas" / "released").rglob("*"))
    before = (repo / "schemas" / "released" / "orders" / "v1.json").read_bytes()
    code, _, err = cli(capsys, repo, "release")
    assert code == 1
    assert err == [
        "schemas/orders.json: id: FIELD_SAME_TYPE: string (string) -> integer (bigint): files "
        "written before hold string values that a bigint column cannot read; keep string, or "
        'declare a new major version ("version": "2")',
        "release: nothing written (see the lines above)",
    ]
    assert sorted(p.relative_to(repo) for p in (repo / "schemas" / "released").rglob("*")) == (
        released
    )
    assert (repo / "schemas" / "released" / "orders" / "v1.json").read_bytes() == before


def test_release_of_a_new_major_keeps_the_older_baseline(repo, capsys):
    v2 = write(
        repo / "schemas" / "orders.json", {**V1, "version": "2.0", "fields": [V1["fields"][0]]}
    )
    code, out, _ = cli(capsys, repo, "release", "schemas/orders.json")
    assert (code, out[-1]) == (0, "wrote schemas/released/orders/v2.json (version 2.0): commit it")
    folder = repo / "schemas" / "released" / "orders"
    assert (folder / "v2.json").read_bytes() == v2.read_bytes()
    assert json.loads((folder / "v1.json").read_text()) == V1


def test_release_of_an_unchanged_schema_writes_nothing(repo, capsys):
    baseline = repo / "schemas" / "released" / "orders" / "v1.json"
    mtime = baseline.stat().st_mtime_ns
    code, out, _ = cli(capsys, repo, "release")
    assert (code, len(out), baseline.stat().st_mtime_ns) == (0, 1, mtime)


# ---------------------------------------------------------------------------- build and nox


def test_build_refuses_to_package_an_incompatible_schema(repo):
    import build

    doc = copy.deepcopy(V1)
    doc["fields"][1]["precision"] = 8
    doc["version"] = "1.1"
    write(repo / "schemas" / "orders.json", doc)
    with pytest.raises(build.BuildError) as err:
        build.build_all(repo, repo / "dist", functions_only=True)
    assert str(err.value) == (
        "schema change refused (docs/schema-versions.md: keep it compatible or declare a new "
        "major):\nschemas/orders.json: amount: FIELD_NO_NARROWING: decimal(10,2) -> "
        "decimal(8,2): published values with more than 6 integer digits do not fit; keep "
        'precision 10 or more, or declare a new major version ("version": "2")'
    )
    assert not (repo / "dist").exists()


def test_build_checks_a_compatible_change_and_a_new_major_without_refusing(repo):
    import build

    write(repo / "schemas" / "orders.json", v1_1())
    write(repo / "schemas" / "fresh.json", {**V1, "version": "3"})
    assert build.check_schemas(repo) == [
        repo / "schemas" / "fresh.json",
        repo / "schemas" / "orders.json",
    ]


@pytest.fixture
def noxfile(noxfile_module):
    return noxfile_module


def test_nox_schemas_runs_the_tool_from_the_callers_folder(noxfile, tmp_path):
    session = FakeSession(tmp_path, ["release", "my/orders.json"])
    noxfile.schemas.func(session)
    assert session.calls == [
        ("chdir", str(tmp_path)),
        (
            "run",
            (sys.executable, "-m", "buildtools.schemas", "release", "my/orders.json"),
            {"PYTHONPATH": str(REPO)},
        ),
    ]
    bare = FakeSession(tmp_path)
    noxfile.schemas.func(bare)
    assert bare.calls[1][1][3:] == ("check",)


@pytest.mark.parametrize(
    ("session_name", "released"),
    [("deploy_dev", False), ("plan_prod", True), ("apply_prod", True)],
)
def test_deploy_sessions_check_the_schemas_before_terraform(
    noxfile, repo, monkeypatch, session_name, released
):
    write(repo / "schemas" / "orders.json", v1_1())  # compatible, not released
    monkeypatch.setattr(
        noxfile.schema_changes, "schema_files", lambda: [repo / "schemas" / "orders.json"]
    )
    reached = []

    def require_terraform(session):
        reached.append(1)
        raise Stop("terraform")

    monkeypatch.setattr(noxfile, "require_terraform", require_terraform)
    session = FakeSession(repo)
    with pytest.raises(Stop) as stop:
        getattr(noxfile, session_name).func(session)
    if released:  # prod deploys only released schemas: stopped before terraform
        assert (reached, str(stop.value).splitlines()[1]) == (
            [],
            "schemas/orders.json: $.version: SCHEMA_RELEASED: version 1.1 is not released "
            "(schemas/released/orders/v1.json): run `python3 noxfile.py -s schemas -- release "
            "schemas/orders.json` and commit the baseline before deploying to prod",
        )
    else:  # dev deploys a compatible change: on to terraform
        assert reached == [1]


def test_deploy_sessions_stop_at_an_incompatible_schema(noxfile, repo, monkeypatch):
    # a field removed within major 1 (not a version the check cannot read)
    write(repo / "schemas" / "orders.json", {**V1, "fields": V1["fields"][:-1], "version": "1.1"})
    monkeypatch.setattr(
        noxfile.schema_changes, "schema_files", lambda: [repo / "schemas" / "orders.json"]
    )
    monkeypatch.setattr(noxfile, "require_terraform", lambda s: pytest.fail("reached terraform"))
    session = FakeSession(repo)
    with pytest.raises(Stop) as stop:
        noxfile.deploy_dev.func(session)
    assert str(stop.value).splitlines() == [
        "schema check failed (docs/schema-versions.md):",
        "schemas/orders.json: note: FIELD_NO_DELETE: removed: queries that select it fail and "
        "its published values become unreachable through the table; keep it (make it "
        'optional), or declare a new major version ("version": "2")',
    ]


# ---------------------------------------------------------------------------- what readers see

OLD_CSV = b"id,amount,day,note\nA1,12345678.90,2024-02-29,first\nA2,-0.05,2024-03-01,\n"
NEW_CSV = b"id,amount,day,note,channel\nB1,123456789012.34,01.04.2024,NA,web\nB2,1.00,NA,x,\n"


def write_parquet(doc: dict, csv: bytes, folder: Path) -> None:
    """The processor's real output for `csv` under the schema `doc` (valid rows only)."""
    schema = parse_schema(doc)
    header, _, body = csv.partition(b"\n")
    folder.mkdir(parents=True)
    result = process_stream(
        io.BytesIO(body),
        schema=schema,
        columns=header.decode().split(","),
        valid_path=folder / "chunk-000000.parquet",
        rejected_path=folder / "rejects.parquet",
    )
    assert result.rows_rejected == 0
    (folder / "rejects.parquet").unlink()


def test_a_compatible_change_keeps_old_and_new_outputs_readable_through_the_newest_columns(
    tmp_path,
):
    """What the Glue table gives Athena: one location, the newest schema's columns."""
    new = v1_1()
    assert tool.compat().compare(parse_schema(V1), parse_schema(new)) == []
    write_parquet(V1, OLD_CSV, tmp_path / "processed" / "file1" / "version=a")
    write_parquet(new, NEW_CSV, tmp_path / "processed" / "file2" / "version=b")
    table_schema = parse_schema(new).arrow_schema
    dataset = ds.dataset(tmp_path / "processed", format="parquet", schema=table_schema)
    rows = sorted(dataset.to_table().to_pylist(), key=lambda r: r["id"])
    assert rows == [
        {
            "id": "A1",
            "amount": Decimal("12345678.90"),
            "day": date(2024, 2, 29),
            "note": "first",
            "channel": None,
        },
        {
            "id": "A2",
            "amount": Decimal("-0.05"),
            "day": date(2024, 3, 1),
            "note": None,
            "channel": None,
        },
        {
            "id": "B1",
            "amount": Decimal("123456789012.34"),
            "day": date(2024, 4, 1),
            "note": None,
            "channel": "web",
        },
        {"id": "B2", "amount": Decimal("1.00"), "day": None, "note": "x", "channel": None},
    ]
    # one SQL query over both files, typed by the newest columns
    con = duckdb.connect()
    con.register("orders", dataset)
    assert con.execute(
        "select count(*), sum(amount), count(channel), min(day), "
        "list(distinct typeof(amount)) from orders"
    ).fetchall() == [(4, Decimal("123469134692.19"), 1, date(2024, 2, 29), ["DECIMAL(14,2)"])]


def test_a_narrowed_precision_makes_published_values_unreadable(tmp_path):
    """Why FIELD_NO_NARROWING refuses: the old file's 8 integer digits do not fit 6."""
    narrow = copy.deepcopy(V1)
    narrow["fields"][1]["precision"] = 8
    write_parquet(V1, OLD_CSV, tmp_path / "processed" / "file1")
    dataset = ds.dataset(tmp_path / "processed", schema=parse_schema(narrow).arrow_schema)
    with pytest.raises(pa.ArrowInvalid, match="Decimal value does not fit in precision 8"):
        dataset.to_table()
