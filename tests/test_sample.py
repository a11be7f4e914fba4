"""The synthetic transactions generator (localrun.sample): exact, parseable, deterministic."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from localrun.sample import BOM, COLUMNS, INVALID_KINDS, write_transactions

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "schemas" / "transactions.json").read_text()
)
COLS = {c["name"]: c for c in SCHEMA["fields"]}
AMOUNT = re.compile(r"-?\d{1,16}(\.\d{1,2})?")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")


def classify(record: list[str]) -> str | None:
    """An independent oracle: the invalid kind of one parsed record, None when valid."""
    if len(record) < len(COLUMNS):
        return "too_few_fields"
    if len(record) > len(COLUMNS):
        return "too_many_fields"
    row = dict(zip(COLUMNS, record, strict=True))
    if any(row[c["name"]] == "" for c in SCHEMA["fields"] if c["constraints"]["required"]):
        return "missing_required"
    for name in ("transaction_id", "account_id"):
        if not re.fullmatch(COLS[name]["constraints"]["pattern"], row[name]):
            return "bad_pattern"
    ts = row["timestamp"]
    if not TIMESTAMP.fullmatch(ts):
        return "bad_timestamp"
    try:
        datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return "bad_timestamp"
    if not AMOUNT.fullmatch(row["amount"]):
        return "bad_amount"
    if row["currency"] not in COLS["currency"]["constraints"]["enum"]:
        return "bad_currency"
    if row["status"] not in COLS["status"]["constraints"]["enum"]:
        return "bad_status"
    return None


def read_records(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    with open(path, newline="", encoding=encoding) as f:
        return list(csv.reader(f))


def test_invalid_rows_are_counted_exactly_by_kind(tmp_path):
    path = tmp_path / "t.csv"
    stats = write_transactions(path, rows=4000, invalid_fraction=0.05, seed=7)
    header, *records = read_records(path)
    assert header == list(COLUMNS)
    assert stats.rows == len(records) == 4000
    assert stats.invalid_rows == 200
    found = Counter(classify(r) for r in records)
    assert found.pop(None) == 4000 - 200
    assert dict(found) == {k: v for k, v in stats.invalid_by_kind.items() if v}
    assert set(stats.invalid_by_kind) == set(INVALID_KINDS)
    assert all(stats.invalid_by_kind[k] > 0 for k in INVALID_KINDS)


def test_valid_rows_parse_with_stdlib_csv_and_cover_quoting(tmp_path):
    path = tmp_path / "t.csv"
    write_transactions(path, rows=3000, seed=3)
    _, *records = read_records(path)
    valid = [r for r in records if classify(r) is None]
    assert len(valid) == 3000 - 15
    merchants = {r[5] for r in valid}
    assert "ACME, Inc." in merchants
    assert 'Joe "The Plumber"' in merchants
    assert "Café Zürich" in merchants
    assert "" in merchants  # optional column left empty
    amounts = [r[3] for r in valid]
    assert any(a.startswith("-") for a in amounts)
    assert any("." not in a for a in amounts)  # 0 fraction digits
    assert any(re.fullmatch(r"-?\d+\.\d", a) for a in amounts)  # 1 fraction digit
    assert any("." in r[2] for r in valid) and any("." not in r[2] for r in valid)
    raw = path.read_bytes()
    assert b'"ACME, Inc."' in raw and b'"Joe ""The Plumber"""' in raw


def test_same_seed_same_bytes_and_smaller_size_is_a_prefix(tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    write_transactions(a, rows=1000, seed=11)
    write_transactions(b, rows=1000, seed=11)
    write_transactions(c, rows=1000, seed=12)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    stats = write_transactions(small, size_bytes=200_000, seed=11)
    write_transactions(big, size_bytes=300_000, seed=11)
    assert small.stat().st_size == stats.bytes <= 200_000
    assert stats.bytes > 200_000 - 300  # stops at the last whole record that fits
    assert big.read_bytes().startswith(small.read_bytes())


def test_size_bytes_spanning_blocks_counts_only_written_rows(tmp_path):
    path = tmp_path / "t.csv"
    stats = write_transactions(path, size_bytes=9_000_000, seed=5, invalid_fraction=0.01)
    _, *records = read_records(path)
    assert len(records) == stats.rows > 65_536
    found = Counter(classify(r) for r in records)
    assert found[None] == stats.rows - stats.invalid_rows
    assert sum(v for k, v in found.items() if k) == stats.invalid_rows


def test_quoted_newlines_are_valid_records_spanning_lines(tmp_path):
    path = tmp_path / "t.csv"
    stats = write_transactions(path, rows=3000, seed=1, quoted_newlines=True)
    raw = path.read_bytes()
    _, *records = read_records(path)
    assert len(records) == stats.rows == 3000
    assert raw.count(b"\n") > stats.rows + 1  # more lines than records
    with_newline = [r for r in records if "\n" in r[5]]
    assert with_newline and all(classify(r) is None for r in with_newline)
    assert Counter(classify(r) for r in records)[None] == stats.rows - stats.invalid_rows


def test_crlf_terminates_every_record_and_embedded_newline(tmp_path):
    path = tmp_path / "t.csv"
    stats = write_transactions(path, rows=2000, seed=2, crlf=True, quoted_newlines=True)
    raw = path.read_bytes()
    assert raw.endswith(b"\r\n")
    assert raw.count(b"\n") == raw.count(b"\r\n")
    _, *records = read_records(path)
    assert len(records) == stats.rows


def test_bom_prefixes_the_header(tmp_path):
    path = tmp_path / "t.csv"
    stats = write_transactions(path, rows=10, seed=2, bom=True)
    raw = path.read_bytes()
    assert raw.startswith(BOM + b"transaction_id,")
    header, *records = read_records(path, encoding="utf-8-sig")
    assert header == list(COLUMNS) and len(records) == 10
    assert stats.bytes == len(raw)


def test_rows_and_size_are_mutually_exclusive(tmp_path):
    with pytest.raises(ValueError):
        write_transactions(tmp_path / "x.csv")
    with pytest.raises(ValueError):
        write_transactions(tmp_path / "x.csv", rows=1, size_bytes=10)


def test_cli_writes_the_requested_size(tmp_path, capsys):
    from localrun.sample import main

    path = tmp_path / "cli.csv"
    assert main([str(path), "--size-mb", "0.5", "--seed", "4"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["bytes"] == path.stat().st_size <= 2**19
    assert io.BytesIO(path.read_bytes()).readline().startswith(b"transaction_id")
