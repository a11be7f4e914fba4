"""The Distributed Map's result stays under Step Functions' payload limit (issue 18, item 3).

Without a ResultWriter, a Distributed Map's result is the JSON array of its child executions'
outputs, and a result past 256 KiB fails the execution with States.DataLimitExceeded, which
no Catch sees. moto cannot run 10,000 child executions, nor does it enforce the limit; so
this test computes the worst case from the real pieces: the child's output is what moto's
ASL interpreter makes of the rendered template's ItemProcessor when the processor returns
its real output (the processor handler run on a chunk of a file with a 1,000-character key,
the longest output it gives), and the Map's result is `max_chunks` such outputs, with
max_chunks at the largest value Terraform accepts (modules/pipeline/variables.tf).
"""

from __future__ import annotations

import json
import re
import time

import hcl2
import pytest
from conftest import HEADER, row
from etl.contract import CONTRACT
from test_reliability_handlers import _process, _split_validate

from localrun import moto_patches
from localrun.asl import render_asl
from localrun.pipeline import ASL_TEMPLATE
from localrun.zips import REPO_ROOT

# Step Functions' limit on a state's input or output (the Map's result is its output).
PAYLOAD_LIMIT_BYTES = 256 * 1024
SAMPLE = {
    **{
        f"{name}_arn": f"arn:aws:lambda:us-east-1:123456789012:function:etl-test-{name}"
        for name in CONTRACT.functions
    },
    "results_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/etl-test-results.fifo",
    "failure_topic_arn": "arn:aws:sns:us-east-1:123456789012:etl-test-failures",
    "max_concurrency": 10,
    "retry_interval_seconds": 1,
    "retry_max_attempts": 0,
    "retry_backoff_rate": 1.0,
    "timeout_seconds": 300,
}


def largest_max_chunks() -> int:
    """The largest max_chunks modules/pipeline accepts (its validation's upper bound)."""
    with (REPO_ROOT / "modules" / "pipeline" / "variables.tf").open(encoding="utf-8") as fh:
        variables = {n.strip('"'): b for v in hcl2.load(fh)["variable"] for n, b in v.items()}
    (bound,) = [
        b
        for validation in variables["limits"]["validation"]
        for b in re.findall(r"var\.limits\.max_chunks <= (\d+)", validation["condition"])
    ]
    return int(bound)


def child_output(processor_output: dict) -> object:
    """What moto's ASL interpreter makes of the ItemProcessor of the rendered template when
    the processor returns `processor_output`: the child execution's output."""
    import boto3
    from moto.awslambda.models import LambdaBackend

    definition = json.loads(render_asl(ASL_TEMPLATE.read_text(encoding="utf-8"), SAMPLE))
    processor = definition["States"]["ProcessChunks"]["ItemProcessor"]
    child = {"StartAt": processor["StartAt"], "States": processor["States"]}
    answer = json.dumps(processor_output).encode()
    original = LambdaBackend.invoke
    LambdaBackend.invoke = lambda self, *args, **kwargs: answer
    try:
        sfn = boto3.client("stepfunctions")
        machine = sfn.create_state_machine(
            name="child", definition=json.dumps(child), roleArn="arn:aws:iam::123456789012:role/x"
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        deadline = time.monotonic() + 60
        while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "the child execution did not end"
            time.sleep(0.05)
    finally:
        LambdaBackend.invoke = original
    assert described["status"] == "SUCCEEDED", described
    return json.loads(described["output"])


@pytest.fixture
def longest_processor_output(aws):
    """The processor's real output for a chunk of a file whose key is as long as Split accepts (978 characters with the dataset)
    (the file id, which the output carries, grows with the key)."""
    key = (
        "incoming/transactions/"
        + "k" * (978 - len("incoming/transactions/") - len(".csv"))
        + ".csv"
    )
    body = ("\n".join([HEADER] + [row(i) for i in range(5)]) + "\n").encode()
    detail = aws.s3.put_object(Bucket=aws.settings.bucket, Key=key, Body=body)
    checked, manifest = _split_validate(
        aws,
        {
            "version": "0",
            "bucket": {"name": aws.settings.bucket},
            "object": {"key": key, "size": len(body), "version-id": detail["VersionId"]},
        },
    )
    output = _process(checked, manifest[0])
    assert len(json.dumps(output)) > 1000  # the long file id is in it
    return output


def test_the_maps_worst_case_result_at_max_chunks_stays_under_the_payload_limit(
    longest_processor_output,
):
    from moto.core.config import default_user_config

    saved = default_user_config.get("stepfunctions", {}).get("execute_state_machine")
    moto_patches.enable_step_functions_execution()
    try:
        output = child_output(longest_processor_output)
    finally:
        default_user_config["stepfunctions"]["execute_state_machine"] = saved
    chunks = largest_max_chunks()
    assert chunks >= CONTRACT.defaults["max_chunks"]
    result = json.dumps([output] * chunks, separators=(",", ":")).encode()
    assert len(result) < PAYLOAD_LIMIT_BYTES, (len(result), output)
    # the child's output does not depend on what the processor returns
    assert output == {}


def test_the_processors_output_would_not_fit_at_max_chunks(longest_processor_output):
    """Why the child's output must not be the processor's: the same arithmetic over the
    processor's own output is far past the limit (the bound above is not vacuous)."""
    per_child = len(json.dumps(longest_processor_output, separators=(",", ":"))) + 1
    assert per_child * CONTRACT.defaults["max_chunks"] > PAYLOAD_LIMIT_BYTES
