"""The typed events between states (etl.events): exact JSON both ways, named errors for a
malformed event, the state machine's JSONPath reads only fields the events have, and the
field table of docs/contracts.md is the one generated from the classes.

tools/events_table.py writes that table (`python3 noxfile.py -s docs`)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lambdas"))

from etl.errors import InputOutsidePipeline, MalformedEvent  # noqa: E402
from etl.events import (  # noqa: E402
    EVENTS,
    ChunkItem,
    ChunkOutput,
    ChunkRange,
    ExecutionEnded,
    ExecutionEndedOutcome,
    FailureMessage,
    FirstReject,
    MarkFailedInput,
    NotOwner,
    ObjectCreated,
    RefusedInputMessage,
    RuleCount,
    SchemaIdentity,
    SplitDuplicate,
    SplitIgnored,
    SplitInput,
    SplitOutput,
    StepError,
    SuccessMessage,
    Validated,
    parse_split,
)

from tools.events_table import CONTRACTS, documented, events_table  # noqa: E402

TEMPLATE = ROOT / "modules" / "orchestration" / "templates" / "pipeline.asl.json"

DETAIL = {
    "version": "0",
    "bucket": {"name": "b"},
    "object": {
        "key": "incoming/transactions/x.csv",
        "size": 10,
        "etag": "e",
        "version-id": "v",
        "sequencer": "1",
    },
    "reason": "PutObject",
}
SCHEMA = {
    "dataset": "transactions",
    "name": "transactions",
    "version": "1",
    "major": 1,
    "sha256": "f" * 64,
    "object_version_id": "sv",
}
SPLIT = {
    "execution_id": "arn:exec",
    "file_id": "s3://b/incoming/transactions/x.csv?versionId=v",
    "bucket": "b",
    "key": "incoming/transactions/x.csv",
    "version_id": "v",
    "duplicate": False,
    "schema": SCHEMA,
    "size": 10,
    "data_key": "incoming/transactions/x.csv",
    "data_version_id": "v",
    "compression": "none",
    "manifest_key": "manifests/0123456789abcdef.json",
    "chunk_count": 1,
    "header_start": 0,
    "header_end": 4,
    "header_newlines": 1,
}
SUCCESS = {
    "file_id": "s3://b/incoming/transactions/x.csv?versionId=v",
    "status": "COMPLETE",
    "bucket": "b",
    "key": "incoming/transactions/x.csv",
    "version_id": None,
    "dataset": "transactions",
    "schema": SCHEMA,
    "rows_total": 3,
    "rows_valid": 2,
    "rows_rejected": 1,
    "chunks": 1,
    "blank_lines": 0,
    "valid_prefix": "processed/transactions/v1/x/version=0123456789abcdef/",
    "rejected_prefix": "rejected/transactions/v1/x/version=0123456789abcdef/",
    "rejects_by_rule": [
        {"column": "amount", "rule": "type", "count": 1},
        {"column": None, "rule": "fieldCount", "count": 1},
    ],
    "first_rejects": [{"line": 3, "reason": "amount: not a decimal"}],
    "message_group_id": "transactions/x",
    "dedup_id": "0" * 64,
}
EXAMPLES = [
    (ObjectCreated, DETAIL),
    (SplitInput, {"detail": DETAIL, "execution_id": "arn:exec"}),
    (
        SplitDuplicate,
        {**{k: SPLIT[k] for k in list(SPLIT)[:5]}, "duplicate": True, "status": "COMPLETE"},
    ),
    (
        SplitIgnored,
        {
            "execution_id": "arn:exec",
            "bucket": SPLIT["bucket"],
            "key": "incoming/transactions/2024/",
            "version_id": SPLIT["version_id"],
            "ignored": True,
            "reason": "a 0-byte folder marker or placeholder holds no data",
        },
    ),
    (SchemaIdentity, SCHEMA),
    (SplitOutput, SPLIT),
    (Validated, {**SPLIT, "columns": ["a", "b"]}),
    (ChunkRange, {"index": 0, "start": 4, "end": 10, "last": True}),
    (
        ChunkItem,
        {
            **{k: SPLIT[k] for k in ("file_id", "bucket", "data_key", "data_version_id")},
            "columns": ["a", "b"],
            "execution_id": "arn:exec",
            "chunk": {"index": 0, "start": 4, "end": 10, "last": True},
            "schema": SCHEMA,
        },
    ),
    (
        ChunkOutput,
        {
            "file_id": SPLIT["file_id"],
            "chunk_index": 0,
            "rows_valid": 2,
            "rows_rejected": 1,
            "records": 3,
            "bytes": 6,
            "lines": 3,
            "blank_lines": 0,
        },
    ),
    (RuleCount, {"column": None, "rule": "fieldCount", "count": 2}),
    (FirstReject, {"line": 3, "reason": "r"}),
    (SuccessMessage, SUCCESS),
    (StepError, {"Error": "States.Timeout", "Cause": "c"}),
    (MarkFailedInput, {"execution_id": "arn:exec", "input": {**DETAIL, "error": {"Error": "E"}}}),
    (
        FailureMessage,
        {
            **{k: SPLIT[k] for k in ("file_id",)},
            "status": "FAILED",
            **{k: SPLIT[k] for k in ("bucket", "key", "version_id")},
            "error": "EmptyFile",
            "reason": "empty",
            "input_untouched": True,
            "subject": "CSV ETL failed: EmptyFile",
            "message": "{}",
        },
    ),
    (
        RefusedInputMessage,
        {
            "file_id": None,
            "status": "FAILED",
            "error": "InputOutsidePipeline",
            "reason": "r",
            "subject": "s",
            "message": "{}",
        },
    ),
    (
        NotOwner,
        {
            "file_id": SPLIT["file_id"],
            "status": "NOT_OWNER",
            "file_status": "PROCESSING",
            "owner_execution_id": "arn:other",
            "error": "States.Timeout",
            "reason": "r",
        },
    ),
    (
        ExecutionEnded,
        {
            "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states",
            "detail": {
                "executionArn": "arn:exec",
                "stateMachineArn": "arn:machine",
                "status": "TIMED_OUT",
                "input": json.dumps(DETAIL),
                "error": None,
                "cause": None,
            },
        },
    ),
    (ExecutionEndedOutcome, {"execution_arn": "arn:exec", "file_id": None, "action": "complete"}),
]


def test_every_event_has_an_example():
    assert [cls for cls, _ in EXAMPLES] == [cls for cls, _ in EVENTS]


def test_to_dict_gives_back_exactly_the_json_it_was_read_from():
    for cls, data in EXAMPLES:
        event = cls.from_dict(data)
        assert json.dumps(event.to_dict()) == json.dumps(data), cls.__name__
        assert cls.from_dict(event.to_dict()) == event


def test_keys_the_events_do_not_know_are_ignored():
    checked = Validated.from_dict({**SPLIT, "columns": ["a"], "error": {"Error": "X"}})
    assert "error" not in checked.to_dict()


def test_split_output_is_told_apart_by_duplicate():
    assert type(parse_split(SPLIT)) is SplitOutput
    assert type(parse_split({**SPLIT, "duplicate": True, "status": None})) is SplitDuplicate


def test_a_missing_field_is_malformed_event_naming_it():
    data = {k: v for k, v in SPLIT.items() if k != "header_end"}
    try:
        SplitOutput.from_dict(data)
    except MalformedEvent as exc:
        assert str(exc) == (
            "SplitOutput event: field 'header_end' is missing (expected integer) "
            "(docs/contracts.md, 'Events between states'). The state machine and the functions "
            "must come from the same deployment: deploy both from one version; a manual "
            "invocation must send this shape"
        )
    else:
        raise AssertionError("no MalformedEvent")


def test_a_field_of_the_wrong_type_is_malformed_event_naming_it_and_the_type():
    cases = [
        (SplitOutput, {**SPLIT, "size": "10"}, "field 'size' is a string (expected integer)"),
        (SplitOutput, {**SPLIT, "duplicate": True}, "field 'duplicate' is True, not False"),
        (SplitOutput, {**SPLIT, "chunk_count": True}, "field 'chunk_count' is a boolean"),
        (
            ChunkItem,
            {**dict(EXAMPLES)[ChunkItem], "chunk": {"index": 0, "start": 4}},
            "ChunkRange event: field 'chunk.end' is missing (expected integer)",
        ),
        (
            Validated,
            {**SPLIT, "columns": ["a", 3]},
            "field 'columns[1]' is an integer (expected string)",
        ),
        (ChunkRange, [1, 2], "the event is a list, not a JSON object"),
        (
            SuccessMessage,
            {**SUCCESS, "status": "FAILED"},
            "field 'status' is 'FAILED', not 'COMPLETE'",
        ),
    ]
    for cls, data, phrase in cases:
        try:
            cls.from_dict(data)
        except MalformedEvent as exc:
            assert phrase in str(exc), (cls.__name__, str(exc))
        else:
            raise AssertionError(f"{cls.__name__}: no MalformedEvent for {phrase}")


def test_an_execution_input_that_is_no_s3_event_is_input_outside_pipeline():
    for detail, phrase in [
        ({"bucket": {}}, "field 'detail.bucket.name' is missing (expected string)"),
        ("incoming/transactions/x.csv", "detail is a string, not a JSON object"),
        ({**DETAIL, "object": {"key": 7}}, "field 'detail.object.key' is an integer"),
    ]:
        try:
            SplitInput.from_dict({"detail": detail, "execution_id": "e"})
        except InputOutsidePipeline as exc:
            assert str(exc).startswith(
                f"the execution input is not an S3 Object Created event ({phrase}"
            )
            assert str(exc).endswith(
                "start executions only through the pipeline's EventBridge rule, with the "
                "event's detail"
            )
        else:
            raise AssertionError(f"no InputOutsidePipeline for {detail!r}")


def test_a_malformed_catch_error_is_still_a_failure_to_record():
    event = MarkFailedInput.from_dict({"execution_id": "e", "input": {"error": "boom"}})
    assert event.error == StepError("MalformedEvent", "the failing state's error was 'boom'")
    assert MarkFailedInput.from_dict({"execution_id": "e", "input": {}}).error == StepError()


# -- the state machine reads only fields the events have --------------------------------------
def _definition() -> dict:
    from localrun.asl import render_asl, template_variables

    text = TEMPLATE.read_text(encoding="utf-8")
    return json.loads(render_asl(text, {v: 1 for v in template_variables(text)}))


def _paths(node) -> set[str]:
    """`$.a` references (first key only) in the values of `node`."""
    text = json.dumps(node)
    return set(re.findall(r'"\$\.([A-Za-z_]+)', text))


def _names(cls) -> set[str]:
    return {name.split(".")[0] for name, _ in cls.json_fields()}


def test_the_state_machine_reads_only_fields_of_the_events():
    states = _definition()["States"]
    assert _paths(states["IsDuplicate"]) == {"duplicate", "ignored"}
    assert "ignored" in _names(SplitIgnored) and "ignored" not in _names(SplitOutput)
    assert {"duplicate"} <= _names(SplitOutput) & _names(SplitDuplicate)
    selector = states["ProcessChunks"]["ItemSelector"]
    assert [k.removesuffix(".$") for k in selector] == [n for n, _ in ChunkItem.json_fields()]
    assert _paths(selector) | _paths(states["ProcessChunks"]["ItemReader"]) <= _names(Validated)
    assert _paths(states["NotifySuccess"]["Parameters"]) == {"message_group_id", "dedup_id"}
    assert {"message_group_id", "dedup_id"} <= _names(SuccessMessage)
    assert _paths(states["WasCommitted"]) == {"status"}
    for cls in (SuccessMessage, FailureMessage, RefusedInputMessage, NotOwner):
        assert "status" in _names(cls)
    assert _paths(states["NotifyFailure"]["Parameters"]) == {"subject", "message"}
    for cls in (FailureMessage, RefusedInputMessage):
        assert {"subject", "message"} <= _names(cls)
    assert states["Split"]["Parameters"]["Payload"] == {
        "detail.$": "$",
        "execution_id.$": "$$.Execution.Id",
    }
    assert [n for n, _ in SplitInput.json_fields()] == ["detail", "execution_id"]
    payload = states["MarkFailed"]["Parameters"]["Payload"]
    assert [k.removesuffix(".$") for k in payload] == [n for n, _ in MarkFailedInput.json_fields()]


# -- docs/contracts.md ------------------------------------------------------------------------
def test_the_contracts_document_lists_exactly_the_fields_of_the_events():
    assert documented(CONTRACTS.read_text(encoding="utf-8")) == events_table(), (
        "docs/contracts.md's events table differs from lambdas/etl/events.py: "
        "run `python3 noxfile.py -s docs`"
    )


def test_the_prose_names_no_field_list_of_its_own():
    """The field lists live in the generated table only: the prose cannot drift."""
    text = CONTRACTS.read_text(encoding="utf-8")
    section = text[text.index("## Events between states") : text.index("## Status items")]
    prose = section.replace(documented(text), "")
    assert re.findall(r"`\{[a-z_]+, [a-z_]+, [a-z_]+", prose) == []


def test_the_named_errors_of_the_contract_are_exactly_the_classes_in_errors_py():
    from etl.errors import named_errors

    text = CONTRACTS.read_text(encoding="utf-8")
    section = text[text.index("## Named errors") :].split("\n## ", 1)[0]
    listed = section.split("\n", 1)[1].split("(every class in", 1)[0]
    assert set(re.findall(r"`([A-Za-z]+)`", listed)) == named_errors()


def test_file_identity_fields_are_event_fields_of_every_file_event():
    """FileRef.identity() is the one place the handlers spell the file's four event fields."""
    from dataclasses import fields

    from etl.events import FailureMessage, SplitDuplicate, SplitOutput, SuccessMessage
    from etl.keys import FileRef

    identity = FileRef("b", "incoming/transactions/x.csv", "v").identity()
    assert identity == {
        "file_id": "s3://b/incoming/transactions/x.csv?versionId=v",
        "bucket": "b",
        "key": "incoming/transactions/x.csv",
        "version_id": "v",
    }
    for event in (SplitDuplicate, SplitOutput, SuccessMessage, FailureMessage):
        names = [f.name for f in fields(event)]
        assert set(identity) <= set(names), event.__name__
