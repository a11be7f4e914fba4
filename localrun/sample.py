r"""Fast synthetic transactions CSV generator (numpy-vectorised, bounded memory).

The file follows ``schemas/transactions.json``: a header, then one record per
transaction in schema column order.  A small, exactly counted fraction of the
records is invalid, one defect per record, of these kinds:

==================  ==========================================================
kind                example
==================  ==========================================================
bad_amount          ``12.345``, ``abc``, ``1e5``, ``NaN``, 19 integer digits
bad_timestamp       ``2024-13-01T00:00:00Z``, ``yesterday``, naive
                    ``2024-03-01 12:00:00``, non-UTC ``...+02:00``
bad_currency        ``usd``, ``XYZ`` (not in the allowed list)
bad_status          ``posted``, ``UNKNOWN``
bad_pattern         transaction_id ``TX 0001`` / ``-TX0001`` / 65 characters
missing_required    one required field empty (transaction_id, amount, ...)
too_few_fields      the last field dropped (7 fields)
too_many_fields     one extra field appended (9 fields)
==================  ==========================================================

Valid records exercise the parser: merchants quoted because they contain a
comma (``"ACME, Inc."``), escaped quotes (``Joe "The Plumber"`` written
as ``"Joe ""The Plumber""\x22``), UTF-8 (``Café Zürich``), empty optional
fields, amounts with 0, 1 or 2 fraction digits and negatives, timestamps
with and without ``.ffffff`` fractions and, with ``quoted_newlines=True``,
merchants holding a line break inside quotes.

How it is fast: each block of rows is laid out in a ``uint8`` matrix, one
fixed-width slot per field, padded with NUL bytes (never part of a value);
digits are written arithmetically; dropping the NULs (``buf[buf != 0]``)
yields the CSV bytes.  Only the few invalid rows are built in Python.  The
output is a pure function of the seed and the options; in ``size_bytes``
mode a smaller file is a prefix of a larger one with the same seed.  With
``rows=N`` the invalid count is ``N * invalid_fraction`` rounded down (to within one).

CLI: ``python -m localrun.sample OUT.csv --size-mb N [--seed S]`` (N MiB).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "transactions.json"
COLUMNS = (
    "transaction_id",
    "account_id",
    "timestamp",
    "amount",
    "currency",
    "merchant",
    "category",
    "status",
)
INVALID_KINDS = (
    "bad_amount",
    "bad_timestamp",
    "bad_currency",
    "bad_status",
    "bad_pattern",
    "missing_required",
    "too_few_fields",
    "too_many_fields",
)
BLOCK_ROWS = 65_536
BOM = b"\xef\xbb\xbf"

_COMMON_CURRENCIES = {"USD": 0.45, "EUR": 0.20, "GBP": 0.10, "JPY": 0.05, "CAD": 0.04}
_STATUS_WEIGHTS = {
    "POSTED": 0.40,
    "SETTLED": 0.40,
    "PENDING": 0.12,
    "DECLINED": 0.05,
    "REVERSED": 0.03,
}
_MERCHANTS_PLAIN = [
    "Blue Harbor Coffee",
    "Northwind Traders",
    "Contoso Market",
    "City Parking",
    "Green Leaf Grocers",
    "Metro Transit",
    "Sunset Cinema",
    "Rivera Pharmacy",
    "Atlas Airlines",
    "Pixel Electronics",
    "Oak & Stone Furniture",
    "Harbor Fuel",
    "Lighthouse Books",
    "Summit Outdoor",
    "Café Zürich",
    "Müller Bäckerei",
    "Tokyo Ramen House",
    "Golden Gate Hotel",
    "Evergreen Utilities",
    "QuickMart 24",
    "The Daily Grind",
    "Cloud Nine Bakery",
    "Iron Gym",
    "Bright Smile Dental",
]
_MERCHANTS_COMMA = ["ACME, Inc.", "Smith, Jones & Co.", "Bread, Butter, Jam Ltd"]
_MERCHANTS_QUOTE = ['Joe "The Plumber"', 'The "Best" Diner, Ltd.']
_MERCHANTS_NEWLINE = ["Corner Shop\nUnit 4", "Main St. Deli\n2nd floor, back"]
_CATEGORIES = [
    "groceries",
    "dining",
    "travel",
    "transport",
    "utilities",
    "entertainment",
    "health",
    "shopping",
    "fees",
    "transfer",
    "education",
    "",
]

_BAD_VALUES = {
    "bad_amount": [
        b"12.345",
        b"abc",
        b"1e5",
        b"NaN",
        b'"1,5"',
        b"--5.00",
        b"$12.00",
        b"1234567890123456789.00",
        b"12.3.4",
        b".",
    ],
    "bad_timestamp": [
        b"2024-13-01T00:00:00Z",
        b"yesterday",
        b"2024-03-01 12:00:00",
        b"2024-03-01T12:00:00+02:00",
        b"2024-02-30T10:00:00Z",
        b"2024-03-01T25:00:00Z",
        b"01/03/2024 12:00",
    ],
    "bad_currency": [b"usd", b"XYZ", b"EURO", b"US", b"eur"],
    "bad_status": [b"posted", b"UNKNOWN", b"CANCELLED", b"Settled"],
    "bad_pattern": [b"TX 0001", b"-TX0001", b"TX/0001", b"X" * 65],
}
# Required columns a missing_required row may blank (cycled by the row index).
_REQUIRED_IDX = (0, 1, 2, 3, 4, 7)

_EPOCH_START = int(np.datetime64("2023-01-01T00:00:00", "s").astype(np.int64))
_EPOCH_END = int(np.datetime64("2025-01-01T00:00:00", "s").astype(np.int64))


@dataclass
class SampleStats:
    """What was written: data records (header excluded), bytes, invalid records by kind."""

    rows: int = 0
    bytes: int = 0
    invalid_rows: int = 0
    invalid_by_kind: dict = field(default_factory=lambda: {k: 0 for k in INVALID_KINDS})

    @property
    def valid_rows(self) -> int:
        return self.rows - self.invalid_rows


def _load_schema(path: Path = SCHEMA_PATH) -> dict:
    schema = json.loads(path.read_text(encoding="utf-8"))
    names = tuple(c["name"] for c in schema["fields"])
    if names != COLUMNS:
        raise ValueError(f"generator knows columns {COLUMNS}, schema {path} declares {names}")
    return schema


def _csv_field(value: str) -> bytes:
    """One value as a CSV field (RFC 4180 quoting when needed)."""
    if any(ch in value for ch in ',"\r\n'):
        value = '"' + value.replace('"', '""') + '"'
    return value.encode("utf-8")


def _pool(values: list[bytes]) -> np.ndarray:
    """Fixed-width NUL-padded matrix of byte strings (one row per value)."""
    width = max(1, max(len(v) for v in values))
    out = np.zeros((len(values), width), dtype=np.uint8)
    for i, v in enumerate(values):
        out[i, : len(v)] = np.frombuffer(v, dtype=np.uint8)
    return out


def _digits(values: np.ndarray, width: int, *, pad_zero: bool) -> np.ndarray:
    """ASCII digits of non-negative ints, right-aligned in ``width`` slots.

    Leading zeros become '0' (pad_zero) or NUL (dropped later); the last digit
    is always written so 0 prints as "0".
    """
    pow10 = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    v = values.astype(np.int64)[:, None]
    out = ((v // pow10) % 10 + 48).astype(np.uint8)
    if not pad_zero:
        lead = v < pow10
        lead[:, -1] = False
        out[lead] = 0
    return out


class _Generator:
    def __init__(
        self, seed: int, invalid_fraction: float, quoted_newlines: bool, crlf: bool
    ) -> None:
        if not 0.0 <= invalid_fraction <= 1.0:
            raise ValueError("invalid_fraction must be within [0, 1]")
        schema = _load_schema()
        cols = {c["name"]: c for c in schema["fields"]}
        self.rng = np.random.default_rng(seed)
        self.invalid_fraction = invalid_fraction
        self.term = b"\r\n" if crlf else b"\n"
        self.invalid_carry = 0.0
        self.next_index = 0

        currencies = list(cols["currency"]["constraints"]["enum"])
        weights = np.full(len(currencies), 0.0)
        rest = 1.0 - sum(_COMMON_CURRENCIES.values())
        others = [i for i, c in enumerate(currencies) if c not in _COMMON_CURRENCIES]
        for i, c in enumerate(currencies):
            weights[i] = _COMMON_CURRENCIES.get(c, rest / len(others))
        self.cur_pool = _pool([c.encode() for c in currencies])
        self.cur_p = weights / weights.sum()

        statuses = list(cols["status"]["constraints"]["enum"])
        sw = np.array([_STATUS_WEIGHTS.get(s, 0.01) for s in statuses])
        self.status_pool = _pool([s.encode() for s in statuses])
        self.status_p = sw / sw.sum()

        merchants = [(m, 1.0) for m in _MERCHANTS_PLAIN]
        merchants += [(m, 1.2) for m in _MERCHANTS_COMMA]  # ~5% quoted for a comma
        merchants += [(m, 0.3) for m in _MERCHANTS_QUOTE]  # ~1% with escaped quotes
        merchants += [("", 0.6)]  # ~2% empty (optional column)
        if quoted_newlines:
            merchants += [(m.replace("\n", self.term.decode()), 0.15) for m in _MERCHANTS_NEWLINE]
        mw = np.array([w for _, w in merchants])
        self.merchant_pool = _pool([_csv_field(m) for m, _ in merchants])
        self.merchant_p = mw / mw.sum()
        self.category_pool = _pool([_csv_field(c) for c in _CATEGORIES])

        # Slot layout of one row in the block matrix.
        self.layout: list[tuple[str, int, int]] = []  # (column, start, stop)
        widths = {
            "transaction_id": 12,
            "account_id": 9,
            "timestamp": 27,
            "amount": 1 + 9 + 1 + 2,
            "currency": self.cur_pool.shape[1],
            "merchant": self.merchant_pool.shape[1],
            "category": self.category_pool.shape[1],
            "status": self.status_pool.shape[1],
        }
        pos = 0
        for name in COLUMNS:
            self.layout.append((name, pos, pos + widths[name]))
            pos += widths[name] + 1  # comma or terminator slot
        self.width = pos - 1 + len(self.term)

    # -- one block ---------------------------------------------------------
    def block(self, n: int) -> tuple[bytes, np.ndarray, list[tuple[int, str]]]:
        """n records -> (bytes, per-row byte lengths, [(row in block, invalid kind)])."""
        rng = self.rng
        m = np.zeros((n, self.width), dtype=np.uint8)
        slot = {name: (a, b) for name, a, b in self.layout}
        for _, _start, b in self.layout[:-1]:
            m[:, b] = ord(",")
        a, b = slot["status"]
        m[:, b:] = np.frombuffer(self.term, dtype=np.uint8)

        # transaction_id: TX + 10-digit global row number (unique within a file)
        a, b = slot["transaction_id"]
        m[:, a] = ord("T")
        m[:, a + 1] = ord("X")
        idx = np.arange(self.next_index, self.next_index + n, dtype=np.int64)
        m[:, a + 2 : b] = _digits(idx, 10, pad_zero=True)
        # account_id: ACC + 6 digits
        a, b = slot["account_id"]
        m[:, a : a + 3] = np.frombuffer(b"ACC", dtype=np.uint8)
        m[:, a + 3 : b] = _digits(rng.integers(0, 1_000_000, n), 6, pad_zero=True)
        # timestamp: YYYY-MM-DDTHH:MM:SS[.ffffff]Z
        a, b = slot["timestamp"]
        secs = rng.integers(_EPOCH_START, _EPOCH_END, n)
        days = (secs // 86400).astype("datetime64[D]")
        years = days.astype("datetime64[Y]")
        months = days.astype("datetime64[M]")
        year = years.astype(np.int64) + 1970
        month = (months - years.astype("datetime64[M]")).astype(np.int64) + 1
        day = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
        sod = secs % 86400
        m[:, a : a + 4] = _digits(year, 4, pad_zero=True)
        m[:, a + 4] = ord("-")
        m[:, a + 5 : a + 7] = _digits(month, 2, pad_zero=True)
        m[:, a + 7] = ord("-")
        m[:, a + 8 : a + 10] = _digits(day, 2, pad_zero=True)
        m[:, a + 10] = ord("T")
        m[:, a + 11 : a + 13] = _digits(sod // 3600, 2, pad_zero=True)
        m[:, a + 13] = ord(":")
        m[:, a + 14 : a + 16] = _digits(sod // 60 % 60, 2, pad_zero=True)
        m[:, a + 16] = ord(":")
        m[:, a + 17 : a + 19] = _digits(sod % 60, 2, pad_zero=True)
        frac = rng.random(n) < 0.2
        m[frac, a + 19] = ord(".")
        m[frac, a + 20 : a + 26] = _digits(
            rng.integers(0, 1_000_000, int(frac.sum())), 6, pad_zero=True
        )
        m[:, a + 26] = ord("Z")
        # amount: [-]digits[.d[d]]
        a, b = slot["amount"]
        cents = np.clip(np.exp(rng.normal(3.5, 1.6, n)) * 100, 0, 99_999_999_99).astype(np.int64)
        form = rng.choice(3, n, p=[0.90, 0.05, 0.05])  # 2, 1 or 0 fraction digits
        cents -= np.where(form == 1, cents % 10, np.where(form == 2, cents % 100, 0))
        neg = (rng.random(n) < 0.08) & (cents > 0)
        m[neg, a] = ord("-")
        m[:, a + 1 : a + 10] = _digits(cents // 100, 9, pad_zero=False)
        has_dot = form != 2
        m[has_dot, a + 10] = ord(".")
        fr = _digits(cents % 100, 2, pad_zero=True)
        fr[form == 2, 0] = 0
        fr[form != 0, 1] = 0
        m[:, a + 11 : b] = fr
        # currency, merchant, category, status from pools
        for name, pool, p in (
            ("currency", self.cur_pool, self.cur_p),
            ("merchant", self.merchant_pool, self.merchant_p),
            ("category", self.category_pool, None),
            ("status", self.status_pool, self.status_p),
        ):
            a, b = slot[name]
            m[:, a:b] = pool[rng.choice(len(pool), n, p=p)]

        # invalid rows: exact count by error diffusion, random positions and kinds
        self.invalid_carry += n * self.invalid_fraction
        k = min(n, int(self.invalid_carry))
        self.invalid_carry -= k
        positions = np.sort(rng.choice(n, k, replace=False)) if k else np.empty(0, np.int64)
        kinds = rng.integers(0, len(INVALID_KINDS), k)
        picks = rng.integers(0, 1 << 30, k)
        invalid: list[tuple[int, str]] = []
        invalid_bytes: list[bytes] = []
        for pos, kind_i, pick in zip(
            positions.tolist(), kinds.tolist(), picks.tolist(), strict=True
        ):
            kind = INVALID_KINDS[kind_i]
            row = m[pos]
            fields = [row[a:b][row[a:b] != 0].tobytes() for _, a, b in self.layout]
            if kind in _BAD_VALUES:
                col = {
                    "bad_amount": 3,
                    "bad_timestamp": 2,
                    "bad_currency": 4,
                    "bad_status": 7,
                    "bad_pattern": 0,
                }[kind]
                choices = _BAD_VALUES[kind]
                fields[col] = choices[pick % len(choices)]
            elif kind == "missing_required":
                fields[_REQUIRED_IDX[pick % len(_REQUIRED_IDX)]] = b""
            elif kind == "too_few_fields":
                fields = fields[:-1]
            else:  # too_many_fields
                fields.append(b"EXTRA")
            invalid.append((pos, kind))
            invalid_bytes.append(b",".join(fields) + self.term)
            m[pos] = 0

        lengths = np.count_nonzero(m, axis=1)
        flat = m.ravel()
        data = flat[flat != 0].tobytes()
        if invalid:
            ends = np.cumsum(lengths)
            pieces, prev = [], 0
            for (pos, _), raw in zip(invalid, invalid_bytes, strict=True):
                cut = int(ends[pos])
                pieces.append(data[prev:cut])
                pieces.append(raw)
                lengths[pos] = len(raw)
                prev = cut
            pieces.append(data[prev:])
            data = b"".join(pieces)
        self.next_index += n
        return data, lengths, invalid


def write_transactions(
    path: str | os.PathLike,
    *,
    rows: int | None = None,
    size_bytes: int | None = None,
    invalid_fraction: float = 0.005,
    seed: int = 0,
    quoted_newlines: bool = False,
    crlf: bool = False,
    bom: bool = False,
) -> SampleStats:
    """Write a synthetic transactions CSV; give ``rows`` (records) or ``size_bytes``.

    With ``size_bytes`` the file ends at the last whole record that fits
    (header included, so the file is at most ``size_bytes``).  The write goes
    to ``<path>.tmp`` first and is renamed into place.
    """
    if (rows is None) == (size_bytes is None):
        raise ValueError("give exactly one of rows= or size_bytes=")
    gen = _Generator(seed, invalid_fraction, quoted_newlines, crlf)
    stats = SampleStats()
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    header = (BOM if bom else b"") + ",".join(COLUMNS).encode() + gen.term
    with open(tmp, "wb") as out:
        out.write(header)
        stats.bytes = len(header)
        while True:
            want = BLOCK_ROWS if rows is None else min(BLOCK_ROWS, rows - stats.rows)
            if want <= 0:
                break
            data, lengths, invalid = gen.block(want)
            keep = want
            if size_bytes is not None and stats.bytes + len(data) > size_bytes:
                keep = int(
                    np.searchsorted(np.cumsum(lengths), size_bytes - stats.bytes, side="right")
                )
                data = data[: int(lengths[:keep].sum())]
            out.write(data)
            stats.rows += keep
            stats.bytes += len(data)
            for pos, kind in invalid:
                if pos < keep:
                    stats.invalid_by_kind[kind] += 1
                    stats.invalid_rows += 1
            if keep < want:
                break
    os.replace(tmp, path)
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localrun.sample",
        description="Write a synthetic transactions CSV (schemas/transactions.json).",
    )
    parser.add_argument("out", help="output CSV path")
    size = parser.add_mutually_exclusive_group(required=True)
    size.add_argument("--size-mb", type=float, help="target size in MiB (2**20 bytes)")
    size.add_argument("--rows", type=int, help="number of records instead of a size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--invalid-fraction", type=float, default=0.005)
    parser.add_argument("--quoted-newlines", action="store_true")
    parser.add_argument("--crlf", action="store_true")
    parser.add_argument("--bom", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    stats = write_transactions(
        args.out,
        rows=args.rows,
        size_bytes=None if args.size_mb is None else int(args.size_mb * 2**20),
        invalid_fraction=args.invalid_fraction,
        seed=args.seed,
        quoted_newlines=args.quoted_newlines,
        crlf=args.crlf,
        bom=args.bom,
    )
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "path": str(args.out),
                "rows": stats.rows,
                "bytes": stats.bytes,
                "invalid_rows": stats.invalid_rows,
                "invalid_by_kind": stats.invalid_by_kind,
                "seconds": round(seconds, 3),
                "mb_per_s": round(stats.bytes / 1e6 / seconds, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
