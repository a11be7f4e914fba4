"""How to store a Table Schema `number` that declares no precision/scale (issue 20 item 6):
a wide DECIMAL(38, 18) against float64 with a reject for any value whose text does not
round-trip. Both do the lexical check and the cast on one realistic column (1,000,000
values, 0-6 fraction digits, magnitudes around 1e4); prints the best of 5 per 1M values.

    PYTHONPATH=lambdas python bench/number_types.py

Result and decision: docs/decisions.md, "A number without precision".
"""

from __future__ import annotations

import timeit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from etl.schema import parse_schema

N = 1_000_000


def realistic_column(n: int = N, seed: int = 0) -> pa.Array:
    rng = np.random.default_rng(seed)
    scales = rng.integers(0, 7, n)
    values = rng.normal(0, 1e4, n)
    return pa.array([f"{v:.{s}f}" for v, s in zip(values, scales, strict=True)])


def wide_decimal(text: pa.Array) -> pa.Array:
    """What the pipeline does: the DECIMAL(38, 18) pattern, then the exact cast."""
    field = parse_schema({"fields": [{"name": "x", "type": "number"}]}).fields[0]
    pc.match_substring_regex(text, field.type_pattern)
    return pc.cast(text, field.arrow_type)


def float_round_trip(text: pa.Array) -> pa.Array:
    """The alternative: a plain decimal form, the cast to float64, the shortest text of each
    double compared with the value's text in canonical form (zeros trimmed). Still
    incomplete: Arrow prints large and small doubles with an exponent."""
    pc.match_substring_regex(text, r"^[+-]?[0-9]+(?:\.[0-9]+)?$")
    as_float = pc.cast(text, pa.float64())
    back = pc.cast(as_float, pa.string())
    canonical = pc.replace_substring_regex(text, r"(\.[0-9]*?)0+$", r"\1")
    canonical = pc.replace_substring_regex(canonical, r"\.$", "")
    canonical = pc.replace_substring_regex(canonical, r"^(-?)0+([0-9])", r"\1\2")
    pc.equal(back, canonical)
    return as_float


def main() -> None:
    text = realistic_column()
    for job in (wide_decimal, float_round_trip):
        best = min(timeit.repeat(lambda job=job: job(text), number=1, repeat=5))
        print(f"{job.__name__}: {best * 1000:.0f} ms per {N:,} values")


if __name__ == "__main__":
    main()
