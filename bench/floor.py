"""The floor: what no processor that parses, converts and writes can beat.

pyarrow's typed parse of a clean file (every value valid, so nothing to check): the
timestamps and decimals are converted by the CSV parser itself, in the processor's block
size, and each block is written with the processor's Parquet writer settings
(etl.transform: snappy, decimals stored as integers, dictionary pages for repeating
strings, statistics on the typed columns only, no Arrow schema blob). No validation.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from etl.schema import Schema
from etl.transform import (
    DEFAULT_BLOCK_BYTES,
    DICTIONARY_MAX_RATIO,
    DICTIONARY_SAMPLE_ROWS,
    PARQUET_COMPRESSION,
)


def _writer(table: pa.Table, schema: Schema, path: Path) -> pq.ParquetWriter:
    """The processor's writer for this data: dictionary pages for string columns with
    allowed values or few distinct values in the first rows (as ChunkProcessor decides)."""
    repeating = []
    for col in schema.columns:
        if col.type != "string":
            continue
        sample = table.column(col.name).slice(0, DICTIONARY_SAMPLE_ROWS)
        if col.enum is not None or (
            table.num_rows >= 1000
            and pc.count_distinct(sample).as_py() <= len(sample) * DICTIONARY_MAX_RATIO
        ):
            repeating.append(col.name)
    typed = [c.name for c in schema.columns if c.type != "string"]
    return pq.ParquetWriter(
        path,
        schema.arrow_schema,
        compression=PARQUET_COMPRESSION,
        store_decimal_as_integer=True,
        write_statistics=typed or False,
        use_dictionary=sorted(repeating) or False,
        store_schema=False,
    )


def write_floor(csv: str | Path, schema: Schema, valid_path: str | Path) -> int:
    """Parse `csv` (every record valid) with the schema's types and write it; rows written."""
    reader = pacsv.open_csv(
        csv,
        read_options=pacsv.ReadOptions(use_threads=False, block_size=DEFAULT_BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(delimiter=schema.delimiter, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={c.name: c.arrow_type for c in schema.columns},
            include_columns=schema.names,
            null_values=[""],  # an empty optional value is null, as the processor writes it
            strings_can_be_null=True,
        ),
    )
    writer, rows = None, 0
    try:
        for batch in reader:
            table = pa.Table.from_batches([batch]).cast(schema.arrow_schema)
            if writer is None:
                writer = _writer(table, schema, Path(valid_path))
            writer.write_table(table)
            rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    return rows
