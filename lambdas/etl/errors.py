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


class UnbalancedQuote(EtlError):
    """A quoted field opens and never closes (a stray or unescaped `"`): every row after it
    would be read as part of that field. `offset` and `line` locate the opening quote."""

    def __init__(self, message: str, *, offset: int | None = None, line: int | None = None):
        super().__init__(message)
        self.offset = offset
        self.line = line

    @classmethod
    def at(cls, where: str, *, offset: int, line: int) -> UnbalancedQuote:
        """`where` locates the opening quote for the user (`line 5 (byte offset 312 of the
        file)`); `offset` and `line` are the same place, for code."""
        return cls(
            f"{where}: a quoted field opens here and never closes, so every row after it "
            "would be read as part of that field: close the quote, or write a quote that "
            'belongs to the text as two ("") inside a quoted field, then upload the file again',
            offset=offset,
            line=line,
        )


class ChunkBoundaryError(EtlError):
    """A planned chunk does not end on a record boundary (the plan was wrong)."""


class ConservationError(EtlError):
    """Rows were lost or duplicated: valid + rejected != records read."""


class SchemaConfigError(EtlError):
    """The schema file itself is invalid."""


class UnknownDataset(EtlError):
    """The object is not under `incoming/<dataset>/` of a declared dataset (Terraform's
    `datasets`): no schema applies to it."""


class SchemaVersionUnavailable(EtlError):
    """The schema version a file was pinned to when it was registered cannot be read any
    more (deleted, or access refused) or its bytes no longer match the pinned sha256: the
    file is never typed by another version instead."""


class TooManyRejects(EtlError):
    """More of the file's rows were rejected than the schema's maxRejectedShare allows."""


class FileStateConflict(EtlError):
    """The file's status item forbids this write: it is FAILED or COMPLETE, or another
    execution owns it. Nothing was changed by the refused step."""


class DecompressedTooLarge(EtlError):
    """A .gz input decompresses past the configured size or ratio limit."""


class TooManyChunks(EtlError):
    """The file would be planned into more chunks than the configured maximum."""


class LineEndingError(EtlError):
    """The file's lines end in a bare carriage return (classic Mac), which CSV readers here
    do not accept as a record terminator."""


class InputOutsidePipeline(EtlError):
    """The execution was started for an object outside the pipeline bucket's incoming/."""


class InputNotFound(EtlError):
    """The uploaded object version no longer exists (deleted before it was processed)."""


class InputAccessDenied(EtlError):
    """S3 refused to read the uploaded object (bucket policy, KMS key or the role)."""


class DeleteIncomplete(EtlError):
    """S3 kept refusing to delete some objects (per-key errors of DeleteObjects such as
    SlowDown or InternalError): the clean-up did not happen and the step is retried."""


class KeyTooLong(EtlError):
    """The input key is so long that an output key would pass S3's 1,024-byte key limit."""


class MalformedEvent(EtlError):
    """A function was invoked with an event that lacks a documented field or has one of the
    wrong type (docs/contracts.md): a state machine and functions from different versions,
    or a manual invocation."""


class ExecutionTimedOut(EtlError):
    """The execution ran past the state machine's timeout (Step Functions ended it; no Catch
    runs): the execution-ended rule records the file FAILED and removes its outputs."""


class ExecutionAborted(EtlError):
    """The execution was stopped (StopExecution) before it finished: the execution-ended rule
    records the file FAILED and removes its outputs."""


class UnexpectedError(EtlError):
    """A failure the pipeline has no name for (a defect or an AWS problem): the reason
    carries the original exception type and message."""


def named_errors() -> set[str]:
    """Every EtlError subclass name defined in the pipeline (what MarkFailed may publish)."""
    found: set[str] = set()
    todo = [EtlError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if not sub.__dict__.get("_dynamic") and sub.__name__ not in found:
                found.add(sub.__name__)
                todo.append(sub)
    return found


def from_name(name: str, message: str) -> EtlError:
    """An error whose class name (what Step Functions reports) is `name`."""
    cls = globals().get(name)
    if not (isinstance(cls, type) and issubclass(cls, EtlError)):
        cls = type(name, (EtlError,), {"_dynamic": True})
    return cls(message)
