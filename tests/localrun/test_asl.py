"""localrun.asl.render_asl: the templatefile() subset the harness renders the ASL with."""

from __future__ import annotations

import json

import pytest
from etl.contract import CONTRACT

from localrun.asl import TemplateError, render_asl, template_variables
from localrun.pipeline import ASL_TEMPLATE

PREFIX, ACCOUNT = "etl-dev", "123456789012"
VALUES = {
    **{
        f"{name}_arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{CONTRACT.function_name(PREFIX, name)}"
        for name in CONTRACT.functions
    },
    "results_queue_url": "https://sqs.us-east-1.amazonaws.com/{}/{}".format(
        ACCOUNT, CONTRACT.resource_name("results_queue", PREFIX)
    ),
    "failure_topic_arn": "arn:aws:sns:us-east-1:{}:{}".format(
        ACCOUNT, CONTRACT.resource_name("failure_topic", PREFIX)
    ),
    "max_concurrency": 10,
    "retry_interval_seconds": 2,
    "retry_max_attempts": 3,
    "retry_backoff_rate": 2.0,
    "timeout_seconds": 7200,
}


def test_the_pipeline_template_renders_to_json_with_typed_numbers():
    definition = json.loads(render_asl(ASL_TEMPLATE.read_text(), VALUES))
    chunk_task = definition["States"]["ProcessChunks"]["ItemProcessor"]["States"]["ProcessChunk"]
    assert definition["TimeoutSeconds"] == 7200
    assert definition["States"]["ProcessChunks"]["MaxConcurrency"] == 10
    assert chunk_task["Retry"][-1] == {
        "ErrorEquals": ["States.TaskFailed", "States.Timeout"],
        "IntervalSeconds": 2,
        "MaxAttempts": 3,
        "BackoffRate": 2.0,
    }
    assert chunk_task["Parameters"]["FunctionName"] == VALUES["processor_arn"]


def test_the_template_uses_exactly_the_documented_variables():
    documented = CONTRACT.state_machine.template_variables(CONTRACT.function_keys)
    assert template_variables(ASL_TEMPLATE.read_text()) == set(VALUES) == set(documented)


def test_missing_variable_raises():
    with pytest.raises(TemplateError, match="'b' has no value"):
        render_asl('{"a": ${a}, "b": "${b}"}', {"a": 1})


def test_unused_value_raises():
    with pytest.raises(TemplateError, match=r"not used by the template: \['extra'\]"):
        render_asl('{"a": ${a}}', {"a": 1, "extra": 2})


def test_directive_raises():
    with pytest.raises(TemplateError, match="directives"):
        render_asl("%{ if x }1%{ endif }", {"x": 1})


def test_expression_interpolation_raises():
    with pytest.raises(TemplateError, match="plain"):
        render_asl('{"a": ${a + 1}}', {"a": 1})


def test_escaped_interpolation_is_literal():
    assert render_asl('{"a": "$${a}", "b": ${b}}', {"b": 3}) == '{"a": "${a}", "b": 3}'
