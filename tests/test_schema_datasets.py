"""A dataset's schema is checked against that dataset's own releases, wherever its file is and
whatever it is named: `<dir of schema_file>/released/<dataset>/`, the folder Terraform reads
(docs/schema-versions.md, "Where a dataset's releases live"). The deploy sessions' own check,
on a real `terraform console`, is tests/terraform/test_env_datasets.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from etl import compat

from buildtools import schemas as tool
from tests.test_compat import BASE
from tests.test_schema_release import V1, cli, repo, v1_1, write

__all__ = ["repo"]  # the fixture, shared with tests/test_schema_release.py


def test_a_dataset_is_checked_against_its_own_releases_whatever_its_file_is_named(tmp_path):
    """The baselines are the dataset's (Terraform's `datasets` key), next to its file:
    feeds/orders-v1.json of dataset orders is checked against feeds/released/orders/, as
    modules/storage/catalog_columns.tf reads them, not against released/orders-v1/."""
    path = tmp_path / "feeds" / "orders-v1.json"
    write(path, BASE)
    write(tmp_path / "feeds" / "released" / "orders" / "v1.json", BASE)
    write(path, {**BASE, "version": "1.3", "fields": BASE["fields"][:-1]})
    check = compat.check_file(path, "orders")
    assert (check.dataset, check.baseline, check.status) == (
        "orders",
        tmp_path / "feeds" / "released" / "orders" / "v1.json",
        "refused",
    )
    assert [(f.field, f.rule) for f in check.findings] == [("note", "FIELD_NO_DELETE")]
    assert compat.released_majors(path, "orders") == [1]
    # without the dataset the file's name is the dataset: no release of "orders-v1" yet
    assert (compat.check_file(path).dataset, compat.check_file(path).status) == (
        "orders-v1",
        "new major",
    )


FEED = Path("feeds/orders-v1.json")  # dataset orders, outside schemas/, named otherwise
NOTE_REMOVED = (
    "note: FIELD_NO_DELETE: removed: queries that select it fail and its published values "
    "become unreachable through the table; keep it (make it optional), or declare a new major "
    'version ("version": "2")'
)


@pytest.fixture
def feed(repo):
    """Dataset orders with its schema at feeds/orders-v1.json, released as v1 where Terraform
    reads the dataset's releases: feeds/released/orders/v1.json."""
    schema = write(repo / FEED, V1)
    baseline = repo / "feeds" / "released" / "orders" / "v1.json"
    baseline.parent.mkdir(parents=True)
    baseline.write_bytes(schema.read_bytes())
    return repo / FEED


def test_check_and_release_a_dataset_whose_file_has_another_name(feed, repo, capsys):
    write(feed, {**V1, "fields": V1["fields"][:-1], "version": "1.1"})
    assert cli(capsys, repo, "check", f"orders={FEED}") == (
        1,
        [],
        [f"{FEED} (dataset orders): {NOTE_REMOVED}"],
    )
    write(feed, v1_1())
    assert cli(capsys, repo, "release", f"orders={FEED}") == (
        0,
        [
            f"{FEED}: orders version 1.1: compatible with feeds/released/orders/v1.json; "
            f"release it: python3 noxfile.py -s schemas -- release orders={FEED}",
            "wrote feeds/released/orders/v1.json (version 1.1): commit it",
        ],
        [],
    )
    assert (repo / "feeds" / "released" / "orders" / "v1.json").read_bytes() == feed.read_bytes()
    assert not (repo / "feeds" / "released" / "orders-v1").exists()


def test_a_dataset_is_checked_against_its_own_releases_not_its_files_name(feed, repo):
    write(feed, {**V1, "fields": V1["fields"][:-1], "version": "1.1"})
    assert tool.dataset_problems({"orders": repo / FEED}) == [
        f"{FEED} (dataset orders): {NOTE_REMOVED}"
    ]
    write(feed, v1_1())
    assert tool.dataset_problems({"orders": repo / FEED}) == []
    assert tool.dataset_problems({"orders": repo / FEED}, released=True) == [
        f"{FEED} (dataset orders): $.version: SCHEMA_RELEASED: version 1.1 is not released "
        "(feeds/released/orders/v1.json): run `python3 noxfile.py -s schemas -- release "
        f"orders={FEED}` and commit the baseline before deploying to prod"
    ]


@pytest.mark.parametrize("missing", ["file", "folder"])
def test_a_dataset_whose_schema_cannot_be_read_is_refused_by_name(repo, missing):
    path = repo / "feeds" / "gone.json"
    if missing == "folder":
        path.mkdir(parents=True)
    why = "No such file or directory" if missing == "file" else "Is a directory"
    assert tool.dataset_problems({"orders": path}) == [
        f"feeds/gone.json (dataset orders): cannot read the schema file ({why}): dataset orders "
        "cannot be checked, so it is not deployed; create the file, or point "
        "datasets.orders.schema_file at the dataset's Table Schema (null: schemas/orders.json)"
    ]


def test_the_local_run_checks_each_schema_against_its_datasets_releases(feed, repo, capsys):
    from localrun.__main__ import main

    write(feed, {**V1, "fields": V1["fields"][:-1], "version": "1.1"})
    assert main(["--deploy-only", "--schema", str(FEED)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: schema check failed (docs/schema-versions.md):",
        f"{FEED} (dataset orders): {NOTE_REMOVED}",
    ]
