"""The validator's file-level checks, before any fan-out. Each failure is a named error."""

from __future__ import annotations

import codecs
import csv
from collections import Counter

from .chunking import CR_ONLY_REASON
from .csvscan import unclosed_quote
from .errors import (
    DelimiterMismatch,
    EncodingError,
    HeaderOnly,
    LineEndingError,
    SchemaMismatch,
    UnbalancedQuote,
)
from .schema import Schema

OTHER_DELIMITERS = (";", "\t", "|", ",")


def check_text(sample: bytes, *, complete: bool, offset: int = 0) -> None:
    """Raise EncodingError if `sample` is binary or not UTF-8 (a cut multi-byte tail is fine)."""
    nul = sample.find(b"\x00")
    if nul >= 0:
        raise EncodingError(
            f"binary content: a NUL byte at offset {offset + nul}; upload UTF-8 CSV text"
        )
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=complete)
    except UnicodeDecodeError as exc:
        raise EncodingError(
            f"not UTF-8: invalid byte {sample[exc.start : exc.start + 1]!r} at offset "
            f"{offset + exc.start} ({exc.reason}); re-export the file as UTF-8"
        ) from exc


def parse_header(header: bytes, schema: Schema) -> list[str]:
    """The file's column names in file order, checked against the schema."""
    check_text(header, complete=True)
    text = header.decode("utf-8")
    if not text.strip():
        raise SchemaMismatch(
            "the first line is empty: the file must start with a header line "
            f"naming the columns {schema.names}"
        )
    names = [n.strip() for n in _header_fields(text, schema.delimiter)]
    expected = set(schema.names)
    if len(names) == 1 and names[0] not in expected:
        for other in OTHER_DELIMITERS:
            if other != schema.delimiter and other in text:
                split = {n.strip() for n in next(csv.reader([text], delimiter=other))}
                if split & expected:
                    raise DelimiterMismatch(
                        f"the header is delimited by {other!r} but the schema "
                        f"{schema.name!r} declares {schema.delimiter!r}: re-export the file "
                        "with that delimiter or deploy a schema that declares it"
                    )
    dupes = sorted(n for n, k in Counter(names).items() if k > 1)
    missing = [n for n in schema.names if n not in names]
    unknown = [n for n in names if n not in expected]
    problems = []
    if missing:
        problems.append(f"missing columns {missing}")
    if unknown:
        problems.append(f"unknown columns {unknown}")
    if dupes:
        problems.append(f"duplicate columns {dupes}")
    if problems:
        raise SchemaMismatch(
            f"the header does not match schema {schema.name!r} v{schema.version}: "
            + "; ".join(problems)
            + f". Expected the columns {schema.names} (any order)"
        )
    return names


def _header_fields(text: str, delimiter: str) -> list[str]:
    """The header's fields; a header the csv module cannot read is a named error."""
    try:
        return next(csv.reader([text], delimiter=delimiter))
    except csv.Error as exc:
        if "\r" in text:  # the csv module's "new-line character seen in unquoted field"
            raise LineEndingError(CR_ONLY_REASON) from exc
        raise SchemaMismatch(
            f"the header line is not valid CSV ({exc}): fix the header's quoting and upload "
            "the file again"
        ) from exc


def check_has_data(data_sample: bytes, *, data_bytes: int) -> None:
    """Raise HeaderOnly when nothing but blank lines follows the header."""
    if data_bytes == 0 or (len(data_sample) == data_bytes and not data_sample.strip()):
        raise HeaderOnly("the file has a header but no data rows: nothing to process")


def check_quotes(
    data_sample: bytes,
    *,
    complete: bool,
    delimiter: str,
    offset: int,
    first_line: int,
    max_record_bytes: int,
) -> None:
    """Raise UnbalancedQuote, naming the file line of the opening quote, when a quoted field
    in `data_sample` (the first data bytes: `offset` is their file offset, `first_line`
    their file line) never closes: before the end of the file when the sample is the whole
    data, or within the maximum record size, contradicted by a later quote, otherwise.
    A field still open where a longer sample ends is left to the processors."""
    found = unclosed_quote(data_sample, delimiter=delimiter)
    if found is None:
        return
    if not complete and not (
        found.contradicted and len(data_sample) - found.offset > max_record_bytes
    ):
        return
    line = first_line + found.line - 1
    raise UnbalancedQuote.at(
        f"line {line} (byte offset {offset + found.offset} of the file)",
        offset=offset + found.offset,
        line=line,
    )
