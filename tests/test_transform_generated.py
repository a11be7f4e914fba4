"""The processor against files whose every record is known by construction.

Each generated file mixes valid records (quoted commas, escaped quotes, newlines inside
quotes, non-ASCII text, fractions, `+00:00`), invalid ones of many kinds (bad values,
wrong field counts, empty required fields, invalid UTF-8) and blank lines, with LF or
CRLF endings and sometimes no final newline. The generator knows, for every record, its
first line, its exact text and whether it is valid (and then its typed values). Every file
is processed at several block sizes and thread counts, and each run must give exactly that:
the same valid rows in order with the same values, the same rejects (line and raw text), and
counts that add up. This pins the fast paths (block cuts, record index, combined screen,
casts of passing rows only, slices, reject row groups) to one meaning.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from conftest import HEADER
from etl.transform import process_stream

COLS = HEADER.split(",")
CURRENCIES = ["USD", "EUR", "JPY", "GBP"]
STATUSES = ["PENDING", "POSTED", "SETTLED"]


@dataclass
class Record:
    text: str  # exactly as in the file, without its terminator
    valid: bool
    values: dict | None = None  # typed values when valid
    invalid_utf8: bool = False


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _valid(rng: random.Random, i: int, nl: str) -> Record:
    frac = rng.choice(["", ".5", ".05", ".99"])
    amount = f"{rng.choice(['', '-'])}{rng.randint(0, 10**6)}{frac}"
    micros = rng.choice([0, 123456, 500000])
    day = datetime(
        2024,
        rng.randint(1, 12),
        rng.randint(1, 28),
        rng.randint(0, 23),
        rng.randint(0, 59),
        rng.randint(0, 59),
        micros,
        tzinfo=UTC,
    )
    stamp = day.strftime("%Y-%m-%dT%H:%M:%S") + (f".{micros:06d}" if micros else "")
    stamp += rng.choice(["Z", "+00:00"])
    merchant = rng.choice(
        ["Shop", "ACME, Inc.", 'The "Best" Café', f"two{nl}lines", "Zürich ☕", ""]
    )
    category = rng.choice(["food", "", "travel"])
    raw_merchant = _quote(merchant) if any(c in merchant for c in ',"\r\n') else merchant
    if merchant and rng.random() < 0.2:
        raw_merchant = _quote(merchant)  # quoted although it need not be
    values = {
        "transaction_id": f"T{i:07d}",
        "account_id": f"A{rng.randint(0, 9)}",
        "timestamp": day,
        "amount": Decimal(amount),
        "currency": rng.choice(CURRENCIES),
        "merchant": merchant or None,
        "category": category or None,
        "status": rng.choice(STATUSES),
    }
    fields = [
        values["transaction_id"],
        values["account_id"],
        stamp,
        amount,
        values["currency"],
        raw_merchant,
        category,
        values["status"],
    ]
    return Record(",".join(fields), True, values)


def _invalid(rng: random.Random, i: int, nl: str) -> Record:
    fields = _valid(rng, i, nl).text
    good = fields.split(",") if '"' not in fields else None
    if good is None:  # keep the mutations simple: start again from an unquoted record
        good = [f"T{i:07d}", "A1", "2024-03-01T00:00:00Z", "1.00", "USD", "Shop", "food", "POSTED"]
    kind = rng.choice(["amount", "timestamp", "currency", "id", "empty", "short", "long", "utf8"])
    if kind == "amount":
        good[3] = rng.choice(["12.345", "1e5", "abc", "", " 1.00", "12345678901234567"])
    elif kind == "timestamp":
        good[2] = rng.choice(
            [
                "2023-02-29T00:00:00Z",
                "2024-03-01 00:00:00Z",
                "2024-03-01T24:00:00Z",
                "2024-03-01T00:00:00+01:00",
                "yesterday",
            ]
        )
    elif kind == "currency":
        good[4] = rng.choice(["usd", "XXXX", ""])
    elif kind == "id":
        good[0] = rng.choice(["T 1", "-T1", "T!"])
    elif kind == "empty":
        good[rng.choice([0, 1, 7])] = ""
    elif kind == "short":
        good = good[: rng.randint(1, 7)]
    elif kind == "long":
        good = [*good, "extra"]
    else:
        return Record(
            ",".join(good[:5]) + ",caf\udce9," + ",".join(good[6:]), False, invalid_utf8=True
        )
    return Record(",".join(good), False)


def generate(seed: int) -> tuple[bytes, list[tuple[int, Record]]]:
    """(file body without header, [(first line, record)]) with the header on line 1."""
    rng = random.Random(seed)
    nl = rng.choice(["\n", "\r\n"])
    parts: list[bytes] = []
    records: list[tuple[int, Record]] = []
    line = 2
    for i in range(rng.randint(50, 400)):
        if rng.random() < 0.03:
            parts.append(nl.encode())  # a blank line: not a record
            line += 1
            continue
        rec = _invalid(rng, i, nl) if rng.random() < 0.15 else _valid(rng, i, nl)
        data = rec.text.encode("utf-8", "surrogateescape")
        records.append((line, rec))
        parts.append(data + nl.encode())
        line += data.count(b"\n") + 1
    body = b"".join(parts)
    if seed % 3 == 2:
        body = body.rstrip(b"\r\n")  # no final newline (nor trailing blank lines)
    return body, records


def run(schema, body: bytes, tmp_path, **kw):
    v, r = tmp_path / "v.parquet", tmp_path / "r.parquet"
    res = process_stream(
        io.BytesIO(body),
        schema=schema,
        columns=COLS,
        valid_path=v,
        rejected_path=r,
        first_line=2,
        **kw,
    )
    return res, pq.read_table(v).to_pylist(), pq.read_table(r).to_pylist()


@pytest.mark.parametrize("seed", range(12))
def test_generated_files_come_out_exactly_as_constructed(schema, tmp_path, seed):
    body, records = generate(seed)
    want_valid = [rec.values for _, rec in records if rec.valid]
    want_rejects = [
        (line, rec.text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"))
        for line, rec in records
        if not rec.valid
    ]
    for block_bytes, threads in [(8 << 20, 1), (4096, 1), (700, 2), (1500, 3)]:
        res, valid, rejected = run(schema, body, tmp_path, block_bytes=block_bytes, threads=threads)
        where = f"seed {seed}, block {block_bytes}, threads {threads}"
        assert valid == want_valid, where
        assert [(r["line"], r["raw"]) for r in rejected] == want_rejects, where
        assert all(r["reason"] for r in rejected), where
        assert (res.rows_valid, res.rows_rejected) == (len(want_valid), len(want_rejects)), where
        assert res.records == len(records) == res.rows_valid + res.rows_rejected, where
        assert res.bytes == len(body), where
