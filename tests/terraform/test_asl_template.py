"""The one state machine template: rendered like templatefile(), parsed by moto's ASL parser,
and fed by Terraform with exactly the variables it uses."""

from __future__ import annotations

import json
import re

import pytest
from tfhcl import (
    MODULES_DIR,
    REPO,
    TEMPLATE_PATH,
    blocks,
    contract,
    expr,
    load_dir,
    locals_of,
    module_blocks,
)

from localrun.asl import TemplateError, render_asl, template_variables

SAMPLE = {
    "splitter_arn": "arn:aws:lambda:us-east-1:123456789012:function:etl-dev-splitter",
    "validator_arn": "arn:aws:lambda:us-east-1:123456789012:function:etl-dev-validator",
    "processor_arn": "arn:aws:lambda:us-east-1:123456789012:function:etl-dev-processor",
    "finalizer_arn": "arn:aws:lambda:us-east-1:123456789012:function:etl-dev-finalizer",
    "mark_failed_arn": "arn:aws:lambda:us-east-1:123456789012:function:etl-dev-mark-failed",
    "results_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/etl-dev-results.fifo",
    "failure_topic_arn": "arn:aws:sns:us-east-1:123456789012:etl-dev-failures",
    "max_concurrency": 10,
    "retry_interval_seconds": 2,
    "retry_max_attempts": 3,
    "retry_backoff_rate": 2.0,
    "timeout_seconds": 7200,
}


@pytest.fixture(scope="module")
def template() -> str:
    return TEMPLATE_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def definition(template) -> dict:
    return json.loads(render_asl(template, SAMPLE))


def _documented_variables() -> set[str]:
    """Variables in the table of docs/contracts.md (first column, backticked)."""
    text = (REPO / "docs" / "contracts.md").read_text(encoding="utf-8")
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    return names


def _templatefile_keys() -> set[str]:
    """The variables modules/orchestration renders the template with: <name>_arn for every
    contract function (function_arns keys, from modules/pipeline) plus the template_values
    keys selected by contract.json state_machine.variables."""
    calls = [
        body["definition"]
        for _, rtype, _, body in module_blocks(MODULES_DIR / "orchestration", "resource")
        if rtype == "aws_sfn_state_machine"
    ]
    assert len(calls) == 1, "expected one aws_sfn_state_machine"
    assert expr(calls[0]) == (
        'templatefile("${path.module}/templates/pipeline.asl.json", local.template_variables)'
    )
    orchestration = locals_of(MODULES_DIR / "orchestration")
    assert expr(orchestration["template_variables"]) == (
        'merge({for name, arn in var.function_arns : "${name}_arn" => arn}, '
        "{for name in coalesce(var.template_variables, keys(local.template_values)) : "
        "name => lookup(local.template_values, name, null)})"
    )
    spec = contract()
    assert set(orchestration["template_values"]) >= set(spec["state_machine"]["variables"])
    return {f"{f}_arn" for f in spec["functions"]} | set(spec["state_machine"]["variables"])


def test_contract_names_the_template_and_its_variables():
    spec = contract()["state_machine"]
    assert (REPO / spec["template"]).resolve() == TEMPLATE_PATH.resolve()
    pipeline = {
        n: b
        for _, parsed in load_dir(MODULES_DIR / "pipeline")
        for n, b in blocks(parsed, "module")
    }
    call = pipeline["orchestration"]
    assert expr(call["template_variables"]) == "module.contract.state_machine_variables"
    assert expr(call["function_arns"]) == "module.compute.function_arns"


def test_template_uses_exactly_the_documented_variables(template):
    assert template_variables(template) == set(SAMPLE) == _documented_variables()


def test_templatefile_call_passes_exactly_the_template_variables(template):
    assert _templatefile_keys() == template_variables(template)


def test_rendered_template_is_valid_json_with_sample_values(definition):
    assert definition["StartAt"] == "Split"
    assert definition["TimeoutSeconds"] == 7200
    chunks = definition["States"]["ProcessChunks"]
    assert chunks["MaxConcurrency"] == 10
    assert chunks["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",
    }
    retry = chunks["ItemProcessor"]["States"]["ProcessChunk"]["Retry"][-1]
    assert retry == {
        "ErrorEquals": ["States.TaskFailed", "States.Timeout"],
        "IntervalSeconds": 2,
        "MaxAttempts": 3,
        "BackoffRate": 2.0,
    }


def test_rendered_template_references_every_resource(definition):
    text = json.dumps(definition)
    for value in SAMPLE.values():
        if isinstance(value, str):
            assert value in text


def test_moto_asl_parser_accepts_rendered_template(template):
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    program, _ = AmazonStateLanguageParser.parse(render_asl(template, SAMPLE))
    assert program is not None


def test_moto_asl_parser_rejects_a_broken_definition():
    from moto.stepfunctions.parser.asl.parse.asl_parser import (
        AmazonStateLanguageParser,
        ASLParserException,
    )

    with pytest.raises(ASLParserException):
        AmazonStateLanguageParser.parse('{"StartAt": "X", "States": {"X": {"Type": "Nope"}}}')


def test_renderer_refuses_missing_unknown_and_directives(template):
    missing = dict(SAMPLE)
    del missing["max_concurrency"]
    with pytest.raises(TemplateError):
        render_asl(template, missing)
    with pytest.raises(TemplateError):
        render_asl(template, {**SAMPLE, "not_in_template": 1})
    with pytest.raises(TemplateError):
        render_asl("%{ if true }x%{ endif }", {})


# -- issue 10: data safety in the state machine ------------------------------------------------
THROTTLE_RETRY = {
    "ErrorEquals": ["Lambda.TooManyRequestsException"],
    "IntervalSeconds": 2,
    "MaxAttempts": 10,
    "BackoffRate": 2.0,
    "MaxDelaySeconds": 60,
    "JitterStrategy": "FULL",
}
LAMBDA_SERVICE_RETRY = {
    "ErrorEquals": [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
    ],
    "IntervalSeconds": 2,
    "MaxAttempts": 6,
    "BackoffRate": 2.0,
    "MaxDelaySeconds": 30,
    "JitterStrategy": "FULL",
}
NOTIFY_RETRY = {
    "ErrorEquals": ["States.ALL"],
    "IntervalSeconds": 2,
    "MaxAttempts": 8,
    "BackoffRate": 2.0,
    "MaxDelaySeconds": 60,
    "JitterStrategy": "FULL",
}


def _lambda_tasks(definition) -> dict[str, dict]:
    states = dict(definition["States"])
    states.update(definition["States"]["ProcessChunks"]["ItemProcessor"]["States"])
    return {
        name: s
        for name, s in states.items()
        if s.get("Resource") == "arn:aws:states:::lambda:invoke"
    }


def test_every_lambda_task_retries_throttles_longer_and_with_jitter(definition):
    tasks = _lambda_tasks(definition)
    assert sorted(tasks) == ["Finalize", "MarkFailed", "ProcessChunk", "Split", "Validate"]
    for name, task in tasks.items():
        assert THROTTLE_RETRY in task["Retry"], name
        if name != "MarkFailed":  # MarkFailed retries States.ALL after throttles
            assert LAMBDA_SERVICE_RETRY in task["Retry"], name


def test_notifications_are_retried_with_jitter(definition):
    for name in ("NotifySuccess", "NotifyFailure"):
        assert definition["States"][name]["Retry"] == [NOTIFY_RETRY], name


def test_finalize_retries_transient_failures_and_the_map_never_retries_a_conflict(definition):
    states = definition["States"]
    assert states["Finalize"]["Retry"] == [
        {
            "ErrorEquals": ["States.Timeout", "ClientError", "DeleteIncomplete"],
            "IntervalSeconds": 2,
            "MaxAttempts": 3,
            "BackoffRate": 2.0,
            "MaxDelaySeconds": 30,
            "JitterStrategy": "FULL",
        },
        THROTTLE_RETRY,
        LAMBDA_SERVICE_RETRY,
    ]
    chunk = states["ProcessChunks"]["ItemProcessor"]["States"]["ProcessChunk"]
    assert {
        "ErrorEquals": [
            "RecordTooLarge",
            "UnbalancedQuote",
            "ChunkBoundaryError",
            "FileStateConflict",
            "MalformedEvent",
        ],
        "MaxAttempts": 0,
    } in chunk["Retry"]


def test_a_folder_marker_ends_in_ignored_and_other_outputs_never_fail_the_choice(definition):
    """Split's `ignored` answer ends the execution in a Succeed state; the other answers have
    no `ignored` field, so the choice checks it is present first (a missing variable in a
    comparison is a States.Runtime error)."""
    states = definition["States"]
    first = states["IsDuplicate"]["Choices"][0]
    assert first == {
        "And": [
            {"Variable": "$.ignored", "IsPresent": True},
            {"Variable": "$.ignored", "BooleanEquals": True},
        ],
        "Next": "Ignored",
    }
    assert states["Ignored"]["Type"] == "Succeed"


def test_mark_failed_gets_the_execution_id_and_a_non_owner_ends_without_failing(definition):
    states = definition["States"]
    assert states["MarkFailed"]["Parameters"]["Payload"] == {
        "execution_id.$": "$$.Execution.Id",
        "input.$": "$",
    }
    assert states["WasCommitted"]["Choices"] == [
        {"Variable": "$.status", "StringEquals": "COMPLETE", "Next": "NotifySuccess"},
        {"Variable": "$.status", "StringEquals": "NOT_OWNER", "Next": "OwnedByAnotherExecution"},
    ]
    assert states["OwnedByAnotherExecution"]["Type"] == "Succeed"
    # the processors and the finalizer carry the execution that owns the file
    assert states["ProcessChunks"]["ItemSelector"]["execution_id.$"] == "$$.Execution.Id"
    assert states["Split"]["Parameters"]["Payload"]["execution_id.$"] == "$$.Execution.Id"


# -- issue 18: bounded Map result, and no silent end after MarkFailed or NotifySuccess ----------
def test_the_map_child_output_is_empty_whatever_the_processor_returns(definition):
    chunk = definition["States"]["ProcessChunks"]["ItemProcessor"]["States"]["ProcessChunk"]
    assert "OutputPath" in chunk and chunk["OutputPath"] is None
    assert "ResultSelector" not in chunk and "ResultPath" not in chunk
    assert definition["States"]["ProcessChunks"]["ResultPath"] is None


@pytest.mark.parametrize(
    ("state", "result_path", "notify", "subject", "fail", "error"),
    [
        (
            "MarkFailed",
            "$.mark_failed_error",
            "NotifyFailureNotRecorded",
            "CSV ETL failed: the failure could not be recorded",
            "FailureNotRecorded",
            "FailureNotRecorded",
        ),
        (
            "NotifySuccess",
            "$.notify_error",
            "NotifySuccessUndelivered",
            "CSV ETL: file COMPLETE, success message not sent",
            "SuccessMessageNotSent",
            "SuccessMessageNotSent",
        ),
    ],
)
def test_a_failed_mark_failed_or_notify_success_publishes_the_state_and_fails(
    definition, state, result_path, notify, subject, fail, error
):
    """The Catch keeps the state's input (it names the file) and adds the error; the SNS
    message is that whole state; the execution then fails (not in FileFailed, so the
    execution-ended rule runs the clean-up for MarkFailed's case)."""
    states = definition["States"]
    assert states[state]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": result_path, "Next": notify}
    ]
    assert states[notify]["Resource"] == "arn:aws:states:::sns:publish"
    assert states[notify]["Parameters"] == {
        "TopicArn": SAMPLE["failure_topic_arn"],
        "Subject": subject,
        "Message.$": "States.JsonToString($)",
    }
    assert states[notify]["Retry"] == [NOTIFY_RETRY]
    assert (states[notify]["ResultPath"], states[notify]["Next"]) == (None, fail)
    assert states[fail]["Type"] == "Fail" and states[fail]["Error"] == error != "FileFailed"
    assert len(subject) <= 100  # SNS's subject limit


def test_only_notify_failure_reaches_the_file_failed_state(definition):
    """The execution-ended rule treats the FileFailed error as "MarkFailed and NotifyFailure
    ran": no other state may lead there."""
    states = definition["States"]
    leading = [
        name
        for name, s in states.items()
        if s.get("Next") == "Failed" or any(c.get("Next") == "Failed" for c in s.get("Catch", []))
    ]
    assert leading == ["NotifyFailure"] and states["Failed"]["Error"] == "FileFailed"
    from etl.failure import REPORTED_FAILURE

    assert states["Failed"]["Error"] == REPORTED_FAILURE
