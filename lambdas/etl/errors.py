"""Named errors. The class name is the `Error` the state machine sees, so keep them stable.

Each message says what is wrong and what the user can do about it.
"""

from __future__ import annotations


class EtlError(Exception):
    """Base of every error the pipeline raises on purpose."""

    @property
    def name(self) -> str:
        return type(self).__name__


class EmptyFile(EtlError):
    """The object has no bytes (or only a byte-order mark)."""


class HeaderOnly(EtlError):
    """The file has a header line but no data records."""


class SchemaMismatch(EtlError):
    """The header does not match the declared schema (missing, unknown or duplicate columns)."""


class EncodingError(EtlError):
    """The file is not UTF-8 text (binary content, or another encoding)."""


class DelimiterMismatch(EtlError):
    """The header is not delimited by the schema's delimiter."""


class RecordTooLarge(EtlError):
    """A record is longer than the configured maximum record size."""


class ChunkBoundaryError(EtlError):
    """A planned chunk does not end on a record boundary (the plan was wrong)."""


class ConservationError(EtlError):
    """Rows were lost or duplicated: valid + rejected != records read."""


class SchemaConfigError(EtlError):
    """The schema file itself is invalid."""


def from_name(name: str, message: str) -> EtlError:
    """An error whose class name (what Step Functions reports) is `name`."""
    cls = globals().get(name)
    if not (isinstance(cls, type) and issubclass(cls, EtlError)):
        cls = type(name, (EtlError,), {})
    return cls(message)
