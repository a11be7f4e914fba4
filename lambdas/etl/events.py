"""The events between the state machine's states, as types the handlers and the tests share.

Over 500 lines on purpose: every event of the contract in one module, so the generated
docs/contracts.md table and the JSONPath checks read one place.

docs/contracts.md ("Events between states") documents each one; its field table is generated
from these classes (tools/events_table.py, run by `nox -s docs`; tests/test_events.py fails when the
document and the classes disagree). A field's name is the JSON key the state machine's
JSONPath reads (modules/orchestration/templates/pipeline.asl.json: `$.duplicate`,
`$.manifest_key`, the Map's ItemSelector, `$.status`, `$.subject`, `$.message_group_id`, ...):
never rename one. `from_dict` checks that every field is present with the documented type and
otherwise raises a named error that says which field, what was expected and what to do
(`InputOutsidePipeline` for an execution input that is no S3 event, `MalformedEvent` for the
others); keys it does not know are ignored (the state machine adds `error` on a failure).
`to_dict` gives the exact JSON the handlers returned before these types existed.

Why frozen stdlib dataclasses rather than Powertools' parser: the parser is built on pydantic,
which the layer does not carry (build.py installs `[project.optional-dependencies].layer`:
pyarrow, numpy, aws-lambda-powertools), and adding it would eat the margin between the layer
and Lambda's direct-upload cap (the sizes, and how to measure them: docs/decisions.md, "Lambda
layer"). These events are flat JSON with a handful of scalar fields: a check per field is
all the validation they need.
"""

from __future__ import annotations

import hashlib
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, TypeVar

from .errors import EtlError, InputOutsidePipeline, MalformedEvent, SchemaConfigError
from .keys import FileRef
from .schema_version import schema_major
from .status_model import COMPLETE, FAILED, NOT_OWNER

E = TypeVar("E", bound="Event")


def _at(*path: str, omit_none: bool = False) -> dict[str, Any]:
    """Field metadata: where the field sits in the JSON (default: its own name at the top)."""
    return {"path": path, "omit_none": omit_none}


def _const(value: Any, *, check: bool = True) -> Any:
    """A field whose value is fixed by the event's kind (not an argument)."""
    return field(default=value, init=False, metadata={"check": check})


def _describe(tp: Any) -> str:
    """A type as the documentation names it."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is tuple:
        return f"list of {_describe(args[0])}"
    if isinstance(tp, type) and issubclass(tp, Event):
        return tp.__name__
    if origin is not None and issubclass(origin, Mapping):
        return "object"
    return {str: "string", int: "integer", bool: "boolean", type(None): "null"}.get(tp, "any")


class Event:
    """from_dict / to_dict over the fields of a frozen dataclass."""

    @classmethod
    def _malformed(cls, where: str, problem: str) -> EtlError:
        return MalformedEvent(
            f"{cls.__name__} event: {where} {problem} (docs/contracts.md, 'Events between "
            "states'). The state machine and the functions must come from the same "
            "deployment: deploy both from one version; a manual invocation must send this shape"
        )

    @classmethod
    def json_fields(cls) -> list[tuple[str, str]]:
        """(JSON key or dotted path, type) of every field, in order."""
        hints = typing.get_type_hints(cls)
        return [
            (
                ".".join(f.metadata.get("path", (f.name,))),
                _describe(hints[f.name]) if f.init else json.dumps(f.default),
            )
            for f in fields(cls)  # type: ignore[arg-type]
        ]

    @classmethod
    def from_dict(cls: type[E], data: Any, where: str = "") -> E:
        if not isinstance(data, Mapping):
            raise cls._malformed(
                where.rstrip(".") or "the event", f"is {_kind(data)}, not a JSON object"
            )
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            path = f.metadata.get("path", (f.name,))
            label = where + ".".join(path)
            found, value = _lookup(data, path)
            if not f.init:
                if found and f.metadata.get("check", True) and value != f.default:
                    raise cls._malformed(f"field {label!r}", f"is {value!r}, not {f.default!r}")
                continue
            if not found:
                if f.default is not MISSING or f.default_factory is not MISSING:
                    continue
                raise cls._malformed(
                    f"field {label!r}", f"is missing (expected {_describe(hints[f.name])})"
                )
            kwargs[f.name] = cls._convert(value, hints[f.name], label)
        return cls(**kwargs)

    @classmethod
    def _convert(cls, value: Any, tp: Any, label: str) -> Any:
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin in (typing.Union, types.UnionType):
            if value is None and type(None) in args:
                return None
            (inner,) = [a for a in args if a is not type(None)]
            return cls._convert(value, inner, label)
        if origin is tuple and isinstance(value, list | tuple):
            return tuple(cls._convert(v, args[0], f"{label}[{i}]") for i, v in enumerate(value))
        if isinstance(tp, type) and issubclass(tp, Event):
            return tp.from_dict(value, f"{label}.")
        if origin is not None and issubclass(origin, Mapping) and isinstance(value, Mapping):
            return dict(value)
        if tp is Any or (tp is int and isinstance(value, int) and not isinstance(value, bool)):
            return value
        if tp in (str, bool) and isinstance(value, tp):
            return value
        raise cls._malformed(f"field {label!r}", f"is {_kind(value)} (expected {_describe(tp)})")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = _plain(getattr(self, f.name))
            if value is None and f.metadata.get("omit_none"):
                continue
            *parents, last = f.metadata.get("path", (f.name,))
            node = out
            for p in parents:
                node = node.setdefault(p, {})
            node[last] = value
        return out


def _lookup(data: Mapping, path: tuple[str, ...]) -> tuple[bool, Any]:
    node: Any = data
    for p in path:
        if not isinstance(node, Mapping) or p not in node:
            return False, None
        node = node[p]
    return True, node


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {str: "a string", bool: "a boolean", int: "an integer", list: "a list"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Event):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


# -- execution input and Split ------------------------------------------------------------------
@dataclass(frozen=True)
class ObjectCreated(Event):
    """The execution input: the `detail` of EventBridge's S3 `Object Created` event."""

    version: str = _const("0", check=False)
    bucket: str = field(metadata=_at("bucket", "name"))
    key: str = field(metadata=_at("object", "key"))
    size: int | None = field(default=None, metadata=_at("object", "size", omit_none=True))
    etag: str | None = field(default=None, metadata=_at("object", "etag", omit_none=True))
    version_id: str | None = field(
        default=None, metadata=_at("object", "version-id", omit_none=True)
    )
    sequencer: str | None = field(default=None, metadata=_at("object", "sequencer", omit_none=True))
    reason: str | None = field(default=None, metadata=_at("reason", omit_none=True))

    @classmethod
    def _malformed(cls, where: str, problem: str) -> EtlError:
        return InputOutsidePipeline(
            f"the execution input is not an S3 Object Created event ({where} {problem}): start "
            "executions only through the pipeline's EventBridge rule, with the event's detail"
        )

    @property
    def ref(self) -> FileRef:
        return FileRef(self.bucket, self.key, self.version_id)


@dataclass(frozen=True)
class SplitInput(Event):
    """What the state machine invokes Split with."""

    detail: ObjectCreated  # first: an input that is no S3 event is InputOutsidePipeline
    execution_id: str


@dataclass(frozen=True)
class SplitDuplicate(Event):
    """Split's answer for an object version another execution registered first: the
    execution ends in `AlreadyProcessed`."""

    execution_id: str
    file_id: str
    bucket: str
    key: str
    version_id: str | None
    duplicate: bool = _const(True)
    status: str | None = None


@dataclass(frozen=True)
class SchemaIdentity(Event):
    """The schema version a file is pinned to when Split registers it: every later step
    reads exactly this object version (`object_version_id`) and checks its `sha256`, so a
    file is typed by one schema even if a new one is deployed while it runs."""

    dataset: str
    name: str  # the schema's `name`
    version: str  # the schema's `version` as text ("1", "2.1")
    major: int
    sha256: str  # of the schema object's bytes
    object_version_id: str  # the S3 version id of config/schemas/<dataset>.json

    # the file status item holds the identity under these attribute names
    ITEM_FIELDS: typing.ClassVar[dict[str, str]] = {
        "dataset": "dataset",
        "name": "schema_name",
        "version": "schema_version",
        "sha256": "schema_sha256",
        "object_version_id": "schema_object_version_id",
    }

    @classmethod
    def pinned(
        cls, dataset: str, name: str, version: int | str, body: bytes, object_version_id: str
    ) -> SchemaIdentity:
        """The identity of the schema object `body` (its `name` and `version` as parsed);
        SchemaConfigError for a version without a major (`nox -s schemas -- check` refuses
        it too)."""
        major = schema_major(version)
        if major is None:
            raise SchemaConfigError(
                f"the schema of dataset {dataset!r} has version {version!r}: write N or "
                '"N", "N.M", "N.M.P" (N >= 1, the major version), then deploy it again'
            )
        sha256 = hashlib.sha256(body).hexdigest()
        return cls(dataset, name, str(version), major, sha256, object_version_id)

    def parquet_metadata(self) -> dict[str, str]:
        """The schema part of the `etl.*` key-value metadata of every Parquet output: which
        dataset and which schema version (by its bytes' sha256) typed the rows."""
        return {
            "etl.dataset": self.dataset,
            "etl.schema.name": self.name,
            "etl.schema.version": self.version,
            "etl.schema.sha256": self.sha256,
        }

    def item_attributes(self) -> dict[str, str]:
        """The status item attributes that record this identity."""
        return {attr: getattr(self, name) for name, attr in self.ITEM_FIELDS.items()}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> SchemaIdentity | None:
        """The identity recorded on a file status item (None if it has none yet)."""
        values = {name: item.get(attr) for name, attr in cls.ITEM_FIELDS.items()}
        if not all(isinstance(v, str) for v in values.values()):
            return None
        major = schema_major(values["version"])
        return None if major is None else cls(**values, major=major)


@dataclass(frozen=True)
class SplitIgnored(Event):
    """Split's answer for an object that holds no data to process: a 0-byte folder marker
    (`incoming/2024/`) or placeholder (`.keep`). Nothing is registered, read or written;
    the execution ends in `Ignored`."""

    execution_id: str
    bucket: str
    key: str
    version_id: str | None
    ignored: bool = _const(True)
    reason: str


@dataclass(frozen=True)
class SplitOutput(Event):
    """Split's answer for a registered file: what Validate checks."""

    execution_id: str  # the execution that ran Split: the file's owner
    file_id: str
    bucket: str
    key: str
    version_id: str | None
    duplicate: bool = _const(False)
    schema: SchemaIdentity  # pinned: every later step types the file with exactly this
    size: int  # of the data object (the staged copy for a .gz input)
    data_key: str
    data_version_id: str | None
    compression: str
    manifest_key: str
    chunk_count: int
    header_start: int
    header_end: int
    header_newlines: int


def parse_split(data: Any) -> SplitOutput | SplitDuplicate:
    """Split's output, either kind."""
    dup = isinstance(data, Mapping) and data.get("duplicate") is True
    return (SplitDuplicate if dup else SplitOutput).from_dict(data)


@dataclass(frozen=True)
class Validated(SplitOutput):
    """Validate's output: Split's plus the header's column names in file order. The Map
    reads its items from `manifest_key`; Finalize gets this same event."""

    columns: tuple[str, ...]

    @classmethod
    def of(cls, split: SplitOutput, columns: list[str]) -> Validated:
        return cls(
            **{f.name: getattr(split, f.name) for f in fields(split) if f.init},
            columns=tuple(columns),
        )


# -- the Distributed Map ------------------------------------------------------------------------
@dataclass(frozen=True)
class ChunkRange(Event):
    """One manifest entry: a record-aligned byte range of the data object."""

    index: int
    start: int
    end: int
    last: bool = False  # the last chunk may end without a line terminator


@dataclass(frozen=True)
class ChunkItem(Event):
    """A Map item (the ItemSelector): what one processor invocation gets."""

    file_id: str
    bucket: str
    data_key: str
    data_version_id: str | None
    columns: tuple[str, ...]
    execution_id: str
    chunk: ChunkRange
    schema: SchemaIdentity

    @classmethod
    def of(cls, checked: Validated, chunk: ChunkRange, execution_id: str) -> ChunkItem:
        return cls(
            checked.file_id,
            checked.bucket,
            checked.data_key,
            checked.data_version_id,
            checked.columns,
            execution_id,
            chunk,
            checked.schema,
        )


@dataclass(frozen=True)
class ChunkOutput(Event):
    """A processor's result (the Map drops it: the finalizer sums the chunk items)."""

    file_id: str
    chunk_index: int
    rows_valid: int
    rows_rejected: int
    records: int
    bytes: int
    lines: int
    blank_lines: int


# -- Finalize -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleCount(Event):
    column: str | None  # null for record-level rules
    rule: str
    count: int


@dataclass(frozen=True)
class FirstReject(Event):
    """A rejected line named in the success message: where it is and why, never its text
    (state payloads are logged and kept in the execution history; the row's raw text is in
    the rejects dataset and the status table)."""

    line: int
    reason: str  # never holds a value (etl.rules.rule_reason)


@dataclass(frozen=True)
class SuccessMessage(Event):
    """Finalize's output, sent verbatim to the FIFO results queue."""

    file_id: str
    status: str = _const(COMPLETE)
    bucket: str
    key: str
    version_id: str | None
    dataset: str
    schema: SchemaIdentity  # the schema version that typed every output of the file
    rows_total: int
    rows_valid: int
    rows_rejected: int
    chunks: int
    blank_lines: int
    valid_prefix: str
    rejected_prefix: str
    rejects_by_rule: tuple[RuleCount, ...]
    first_rejects: tuple[FirstReject, ...]  # at most 5
    message_group_id: str
    dedup_id: str


# -- MarkFailed ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class StepError(Event):
    """What a Catch adds as `error`: Step Functions' `{Error, Cause}`."""

    Error: str | None = None
    Cause: str | None = None


@dataclass(frozen=True)
class MarkFailedInput(Event):
    """MarkFailed's event: the failing state's input (the raw execution input after a failed
    Split, else the Split or Validate output) with the Catch's `error`."""

    execution_id: str
    input: Mapping[str, Any]

    @property
    def error(self) -> StepError:
        raw = self.input.get("error")
        try:
            return StepError.from_dict(raw if raw is not None else {}, "input.error.")
        except MalformedEvent:  # still a failure to record: say what arrived
            return StepError("MalformedEvent", f"the failing state's error was {raw!r}")


@dataclass(frozen=True)
class FailureMessage(Event):
    """MarkFailed's output for a file marked FAILED (or named by a refused input): its
    `subject` and `message` go to the SNS failure topic."""

    file_id: str
    status: str = _const(FAILED)
    bucket: str
    key: str
    version_id: str | None
    error: str
    reason: str
    input_untouched: bool = _const(True)
    subject: str
    message: str  # the JSON of the fields above


@dataclass(frozen=True)
class RefusedInputMessage(Event):
    """MarkFailed's output for an execution input that names no object at all."""

    file_id: None = _const(None)
    status: str = _const(FAILED)
    error: str
    reason: str
    subject: str
    message: str


@dataclass(frozen=True)
class NotOwner(Event):
    """MarkFailed's output when another execution owns the file: nothing changed; the
    execution ends in `OwnedByAnotherExecution`."""

    file_id: str
    status: str = _const(NOT_OWNER)
    file_status: str | None
    owner_execution_id: str | None
    error: str
    reason: str


# -- the execution-ended rule (EventBridge -> mark_failed) -----------------------------------------
EXECUTION_ENDED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")


@dataclass(frozen=True)
class ExecutionEnded(Event):
    """EventBridge's `Step Functions Execution Status Change` event for an execution of this
    state machine that ended FAILED, TIMED_OUT or ABORTED (the rule in modules/orchestration
    sends only those). `input` is the execution input as a JSON string (the S3 event's
    `detail`); Step Functions leaves it null when it is too large to include."""

    detail_type: str = field(
        default="Step Functions Execution Status Change",
        init=False,
        metadata={"check": True, "path": ("detail-type",)},
    )
    source: str = _const("aws.states")
    execution_arn: str = field(metadata=_at("detail", "executionArn"))
    state_machine_arn: str = field(metadata=_at("detail", "stateMachineArn"))
    status: str = field(metadata=_at("detail", "status"))
    input: str | None = field(default=None, metadata=_at("detail", "input"))
    error: str | None = field(default=None, metadata=_at("detail", "error"))
    cause: str | None = field(default=None, metadata=_at("detail", "cause"))


@dataclass(frozen=True)
class ExecutionEndedOutcome(Event):
    """What mark_failed did for an ExecutionEnded event (returned to the asynchronous
    invocation, logged): `action` is `notified` (recorded or found FAILED, cleaned up, failure
    message published), `already_reported` (the execution ended in the `FileFailed` Fail state:
    MarkFailed and NotifyFailure ran; or this event was delivered before and its message
    published: nothing is done again), `complete_notified` (the file was committed by this
    execution, which ended before its success message was surely sent: the message was
    published to the failure topic), `complete` (the file was committed; nothing to do),
    `not_owner` (another execution owns the file) or `outside_pipeline` (the input names no
    file of this pipeline)."""

    execution_arn: str
    file_id: str | None
    action: str


# Every event, in the order the state machine passes them (the documentation's table).
EVENTS: tuple[tuple[type[Event], str], ...] = (
    (ObjectCreated, "execution input (EventBridge `detail`)"),
    (SplitInput, "Split input (ASL Parameters)"),
    (SplitDuplicate, "Split output, duplicate (ends in `AlreadyProcessed`)"),
    (SplitIgnored, "Split output, folder marker or placeholder (ends in `Ignored`)"),
    (SchemaIdentity, "the pinned schema: `schema` of the events below"),
    (SplitOutput, "Split output = Validate input"),
    (Validated, "Validate output = Map input = Finalize input"),
    (ChunkRange, "manifest entry (Map `$$.Map.Item.Value`)"),
    (ChunkItem, "Map item = processor input (ItemSelector)"),
    (ChunkOutput, "processor output"),
    (RuleCount, "entry of `rejects_by_rule`"),
    (FirstReject, "entry of `first_rejects`"),
    (SuccessMessage, "Finalize output = FIFO message"),
    (StepError, "the `error` a Catch adds"),
    (MarkFailedInput, "MarkFailed input (ASL Parameters)"),
    (FailureMessage, "MarkFailed output, file FAILED (to SNS)"),
    (RefusedInputMessage, "MarkFailed output, input names no object (to SNS)"),
    (NotOwner, "MarkFailed output, another execution owns the file"),
    (ExecutionEnded, "mark_failed input from the execution-ended rule (EventBridge event)"),
    (ExecutionEndedOutcome, "mark_failed output for an ExecutionEnded event"),
)
