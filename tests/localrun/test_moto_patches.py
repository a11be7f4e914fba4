"""Each moto gap localrun.moto_patches works around: still there without the patch, gone with it.

When a test's "unpatched" half fails, moto has caught up: drop that patch (and this test).
moto runs in-process here (``mock_aws``); the patches change the same classes the server uses.

(Over 500 lines on purpose: one test or two per patch of localrun/moto_patches.py, side by
side as the patches are.)
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.config import default_user_config

from localrun import moto_patches
from localrun.moto_patches import applied, reverted

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sfn"
PASS_DEFINITION = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


@pytest.fixture
def aws(moto_in_process):
    saved = json.loads(json.dumps(default_user_config.get("stepfunctions", {})))
    with reverted(*moto_patches.PATCHES):
        yield lambda service: boto3.client(service, region_name=REGION)
    default_user_config["stepfunctions"] = saved


def _bucket(client, name="patch-test-bucket", versioned=False):
    client.create_bucket(Bucket=name)
    if versioned:
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


# -- Step Functions ------------------------------------------------------------------------
def test_validate_and_list_versions(aws):
    sfn = aws("stepfunctions")
    arn = sfn.create_state_machine(name="m", definition=PASS_DEFINITION, roleArn=ROLE)[
        "stateMachineArn"
    ]
    with pytest.raises(NotImplementedError):
        sfn.validate_state_machine_definition(definition=PASS_DEFINITION, type="STANDARD")
    with pytest.raises(NotImplementedError):
        sfn.list_state_machine_versions(stateMachineArn=arn)
    with applied("sfn_missing_operations"):
        check = sfn.validate_state_machine_definition(definition=PASS_DEFINITION, type="STANDARD")
        assert (check["result"], check["diagnostics"]) == ("OK", [])
        assert sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"] == []
        broken = sfn.validate_state_machine_definition(
            definition='{"StartAt": "Nowhere", "States": {}}', type="STANDARD"
        )
        assert broken["result"] == "FAIL"
        assert broken["diagnostics"][0]["code"] == "SCHEMA_VALIDATION_FAILED"


def test_execution_must_be_enabled_before_the_state_machine_is_created(aws):
    sfn = aws("stepfunctions")
    default_user_config["stepfunctions"] = {"execute_state_machine": False}
    early = sfn.create_state_machine(name="early", definition=PASS_DEFINITION, roleArn=ROLE)
    moto_patches.enable_step_functions_execution()
    with pytest.raises(ClientError, match="StateMachineDoesNotExist"):
        sfn.start_execution(stateMachineArn=early["stateMachineArn"])
    late = sfn.create_state_machine(name="late", definition=PASS_DEFINITION, roleArn=ROLE)
    run = sfn.start_execution(stateMachineArn=late["stateMachineArn"], input='{"a": 1}')
    assert _wait(sfn, run["executionArn"])["output"] == '{"a": 1}'


# -- S3 ------------------------------------------------------------------------------------
LIFECYCLE = {
    "Rules": [
        {
            "ID": "noncurrent",
            "Status": "Enabled",
            "Filter": {},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 7, "NewerNoncurrentVersions": 3},
        }
    ]
}


def test_lifecycle_keeps_newer_noncurrent_versions(aws):
    s3 = aws("s3")
    bucket = _bucket(s3)
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=LIFECYCLE)
    rule = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7}
    with applied("lifecycle_newer_noncurrent"):
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=LIFECYCLE)
        rule = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]
        assert rule["NoncurrentVersionExpiration"] == {
            "NoncurrentDays": 7,
            "NewerNoncurrentVersions": 3,
        }


def _policy(bucket: str, *statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_bucket_policy_conditions_are_ignored_and_unconditional_denies_still_apply(aws):
    s3 = aws("s3")
    bucket = _bucket(s3)
    tls_only = {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    wrong_key = {
        "Sid": "DenyOtherKmsKeys",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {
            "StringNotEqualsIfExists": {
                "s3:x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:k"
            }
        },
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket, tls_only, wrong_key))
    with pytest.raises(ClientError, match="AccessDenied|403"):
        s3.put_object(Bucket=bucket, Key="x", Body=b"1")
    with applied("resource_policy_conditions"):
        s3.put_object(Bucket=bucket, Key="x", Body=b"1")
        assert s3.get_object(Bucket=bucket, Key="x")["Body"].read() == b"1"
        deny_all = {k: v for k, v in tls_only.items() if k != "Condition"}
        s3.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket, deny_all))
        with pytest.raises(ClientError, match="AccessDenied|403"):
            s3.put_object(Bucket=bucket, Key="y", Body=b"1")


def test_queue_and_topic_policies_are_not_evaluated_by_moto(aws):
    """Nothing to patch for SQS/SNS: moto ignores their resource policies, even a Deny of
    everything. If this fails, moto started evaluating them: extend the policy patch."""
    sqs, sns = aws("sqs"), aws("sns")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    deny = {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({"Statement": [deny]})})
    sqs.send_message(QueueUrl=url, MessageBody="m")
    topic = sns.create_topic(Name="t")["TopicArn"]
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps({"Statement": [deny]})
    )
    assert sns.publish(TopicArn=topic, Message="m")["MessageId"]


def test_bucket_notification_returns_eventbridge(aws):
    s3 = aws("s3")
    bucket = _bucket(s3)
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket=bucket)
    with applied("notification_eventbridge"):
        got = s3.get_bucket_notification_configuration(Bucket=bucket)
        assert got["EventBridgeConfiguration"] == {}


def test_deleting_from_a_bucket_whose_versioning_was_suspended_with_delete_markers(aws):
    """envs/dev's destroy: aws_s3_bucket_versioning goes first (versioning Suspended), then
    force_destroy empties the bucket, whose keys still hold delete markers."""
    s3 = aws("s3")
    bucket = _bucket(s3, versioned=True)

    def marker_then_suspend(key):
        s3.put_object(Bucket=bucket, Key=key, Body=b"1")
        s3.delete_object(Bucket=bucket, Key=key)  # a delete marker on top
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})

    def delete_all_versions():
        versions = s3.list_object_versions(Bucket=bucket)
        objects = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])
        ]
        return s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})

    marker_then_suspend("a")
    with pytest.raises(
        AttributeError, match="'FakeDeleteMarker' object has no attribute 'dispose'"
    ):
        delete_all_versions()
    with applied("delete_marker_dispose"):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        marker_then_suspend("b")
        assert delete_all_versions().get("Errors", []) == []
        versions = s3.list_object_versions(Bucket=bucket)
        assert [v["Key"] for v in versions.get("Versions", [])] == []
        s3.delete_bucket(Bucket=bucket)


# -- EventBridge ---------------------------------------------------------------------------
def _s3_to_queue(aws):
    s3, events, sqs = aws("s3"), aws("events"), aws("sqs")
    bucket = _bucket(s3, versioned=True)
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    url = sqs.create_queue(QueueName="seen")["QueueUrl"]
    events.put_rule(
        Name="r",
        EventPattern=json.dumps({"source": ["aws.s3"], "detail-type": ["Object Created"]}),
        State="ENABLED",
    )
    events.put_targets(
        Rule="r", Targets=[{"Id": "q", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:seen"}]
    )
    return s3, sqs, bucket, url


def _details(s3, sqs, bucket, url):
    for key in ("a.csv", "b.csv"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    return [json.loads(m["Body"])["detail"] for m in messages]


def test_s3_event_has_the_aws_shape(aws):
    s3, sqs, bucket, url = _s3_to_queue(aws)
    details = _details(s3, sqs, bucket, url)
    assert all("eTag" in d["object"] and d["reason"] == "ObjectCreated" for d in details)
    assert len({d["object"]["sequencer"] for d in details}) == 1
    with applied("s3_event_shape"):
        details = _details(s3, sqs, bucket, url)
    assert [sorted(d["object"]) for d in details] == [
        ["etag", "key", "sequencer", "size", "version-id"]
    ] * 2
    assert [d["reason"] for d in details] == ["PutObject", "PutObject"]
    assert len({d["object"]["sequencer"] for d in details}) == 2


def test_eventbridge_delivers_to_a_state_machine_with_the_input_path(aws):
    sfn, events = aws("stepfunctions"), aws("events")
    moto_patches.enable_step_functions_execution()
    arn = sfn.create_state_machine(name="m", definition=PASS_DEFINITION, roleArn=ROLE)[
        "stateMachineArn"
    ]
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["app"]}), State="ENABLED")
    events.put_targets(
        Rule="r", Targets=[{"Id": "sm", "Arn": arn, "RoleArn": ROLE, "InputPath": "$.detail"}]
    )
    entry = {"Source": "app", "DetailType": "t", "Detail": json.dumps({"n": 1})}
    with pytest.raises(NotImplementedError):
        events.put_events(Entries=[entry])
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []
    with applied("eventbridge_to_stepfunctions"):
        events.put_events(Entries=[entry])
    (execution,) = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert json.loads(_wait(sfn, execution["executionArn"])["input"]) == {"n": 1}


def test_eventbridge_invokes_a_lambda_target_asynchronously_with_the_event(aws, monkeypatch):
    from moto.awslambda.models import LambdaBackend

    lam, events = aws("lambda"), aws("events")
    role, code = _role_and_code(aws)
    arn = lam.create_function(
        FunctionName="f",
        Runtime="python3.12",
        Role=role,
        Handler="h.handler",
        Code={"ZipFile": code},
    )["FunctionArn"]
    invoked = []
    monkeypatch.setattr(
        LambdaBackend,
        "invoke",
        lambda self, name, qualifier, body, headers, response_headers: invoked.append(
            (name, headers.get("X-Amz-Invocation-Type"), json.loads(body))
        ),
    )
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["app"]}), State="ENABLED")
    events.put_targets(Rule="r", Targets=[{"Id": "fn", "Arn": arn}])
    entry = {"Source": "app", "DetailType": "t", "Detail": json.dumps({"n": 1})}
    with pytest.raises(NotImplementedError):
        events.put_events(Entries=[entry])
    assert invoked == []
    with applied("eventbridge_to_stepfunctions"):
        events.put_events(Entries=[entry])
    ((name, invocation_type, event),) = invoked
    assert (name, invocation_type) == (arn, "Event")
    assert (event["source"], event["detail-type"], event["detail"]) == ("app", "t", {"n": 1})


def test_an_ended_execution_sends_its_status_change_to_eventbridge(aws):
    """Read through a rule on the status change whose target is an SQS queue (which moto
    delivers itself)."""
    sfn, events, sqs = aws("stepfunctions"), aws("events"), aws("sqs")
    moto_patches.enable_step_functions_execution()
    failing = json.dumps(
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "c"}}}
    )
    machine = sfn.create_state_machine(name="m", definition=failing, roleArn=ROLE)[
        "stateMachineArn"
    ]
    url = sqs.create_queue(QueueName="ended")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    pattern = {"source": ["aws.states"], "detail-type": [moto_patches.STATUS_CHANGE]}
    events.put_rule(Name="ended", EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule="ended", Targets=[{"Id": "q", "Arn": queue["Attributes"]["QueueArn"]}])

    def run(name: str) -> str:
        arn = sfn.start_execution(stateMachineArn=machine, name=name, input='{"k": 1}')
        assert _wait(sfn, arn["executionArn"])["status"] == "FAILED"
        return arn["executionArn"]

    run("unpatched")
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []
    with applied("sfn_status_events"):
        execution = run("patched")
        # The event is put after the status turns FAILED (as on AWS, where it is asynchronous
        # too): wait for it instead of reading once (a single read raced in CI).
        (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=10)[
            "Messages"
        ]
    event = json.loads(message["Body"])
    assert (event["source"], event["detail-type"], event["resources"]) == (
        "aws.states",
        "Step Functions Execution Status Change",
        [execution],
    )
    detail = event["detail"]
    assert {k: detail[k] for k in ("executionArn", "stateMachineArn", "name", "status")} == {
        "executionArn": execution,
        "stateMachineArn": machine,
        "name": "patched",
        "status": "FAILED",
    }
    assert (json.loads(detail["input"]), detail["error"], detail["cause"]) == (
        {"k": 1},
        "Boom",
        "c",
    )
    assert detail["stopDate"] >= detail["startDate"] > 0


# -- Lambda --------------------------------------------------------------------------------
def _role_and_code(aws) -> tuple[str, bytes]:
    """A role ARN and a one-handler zip (h.handler) to create test functions with."""
    role = aws("iam").create_role(
        RoleName="fn",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    return role, _zip({"h.py": "def handler(e, c):\n    return e\n"})


def test_lambda_logging_config_is_stored(aws):
    lam = aws("lambda")
    role, code = _role_and_code(aws)
    logging_config = {"LogFormat": "JSON", "LogGroup": "/custom/fn"}

    def create(name):
        return lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="h.handler",
            Code={"ZipFile": code},
            LoggingConfig=logging_config,
        )

    create("plain")
    assert "LoggingConfig" not in lam.get_function_configuration(FunctionName="plain")
    with applied("lambda_logging_config"):
        create("logged")
        assert lam.get_function_configuration(FunctionName="logged")["LoggingConfig"] == {
            "LogFormat": "JSON",
            "LogGroup": "/custom/fn",
            "ApplicationLogLevel": "INFO",
            "SystemLogLevel": "INFO",
        }
        lam.update_function_configuration(
            FunctionName="logged", LoggingConfig={"LogFormat": "Text"}
        )
        assert lam.get_function_configuration(FunctionName="logged")["LoggingConfig"] == {
            "LogFormat": "Text",
            "LogGroup": "/aws/lambda/logged",
        }


def test_an_identical_create_function_retry_gets_the_first_answer(aws):
    lam = aws("lambda")
    role, code = _role_and_code(aws)

    def create(name, handler="h.handler"):
        return lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler=handler,
            Code={"ZipFile": code},
        )

    create("plain")
    with pytest.raises(ClientError, match="ResourceConflictException"):
        create("plain")  # moto: the retry of a lost answer fails the apply
    with applied("lambda_create_retry"):
        first = create("retried")
        again = create("retried")
        assert again["FunctionArn"] == first["FunctionArn"]
        assert again["CodeSha256"] == first["CodeSha256"]
        assert again["ResponseMetadata"]["HTTPStatusCode"] == 201
        with pytest.raises(ClientError, match="ResourceConflictException"):
            create("retried", handler="other.handler")  # not a retry: another function
        assert (
            len([f for f in lam.list_functions()["Functions"] if f["FunctionName"] == "retried"])
            == 1
        )


def test_every_patch_is_tested_here():
    source = Path(__file__).read_text()
    assert [name for name in moto_patches.PATCHES if f'"{name}"' not in source] == []


def _zip(files: dict[str, str]) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _wait(sfn, arn: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        description = sfn.describe_execution(executionArn=arn)
        if description["status"] != "RUNNING" or time.monotonic() > deadline:
            return description
        time.sleep(0.1)


def test_a_ranged_get_reads_only_the_range(aws):
    """Unpatched, moto reads the whole body (``FakeKey.value``) for every ranged GET and
    slices it; patched, only the range is read, and the answer is the same."""
    from moto.s3.models import FakeKey

    s3 = aws("s3")
    bucket = _bucket(s3, versioned=True)
    body = bytes(range(256)) * 40_000  # 10 MB: above moto's 5 MiB in-memory buffer
    version = s3.put_object(Bucket=bucket, Key="big", Body=body)["VersionId"]
    whole_reads = []

    def counting(prop):
        def getter(self):
            value = prop.fget(self)
            if isinstance(value, bytes):
                whole_reads.append(len(value))
            return value

        return property(getter, prop.fset)

    def ranged(range_header):
        answer = s3.get_object(Bucket=bucket, Key="big", VersionId=version, Range=range_header)
        return answer["Body"].read(), answer["ContentRange"], answer["ContentLength"]

    saved = FakeKey.__dict__["value"]
    FakeKey.value = counting(saved)
    try:
        assert ranged("bytes=100-4194403") == (
            body[100:4194404],
            f"bytes 100-4194403/{len(body)}",
            4194304,
        )
        assert whole_reads == [len(body)]  # the gap: the whole object for 4 MiB
        whole_reads.clear()
        with applied("s3_ranged_get"):  # wraps the counting getter
            assert ranged("bytes=100-4194403") == (
                body[100:4194404],
                f"bytes 100-4194403/{len(body)}",
                4194304,
            )
            assert ranged(f"bytes={len(body) - 5}-") == (
                body[-5:],
                f"bytes {len(body) - 5}-{len(body) - 1}/{len(body)}",
                5,
            )
            assert ranged(f"bytes=10-{len(body) + 99}") == (
                body[10:],
                f"bytes 10-{len(body) - 1}/{len(body)}",
                len(body) - 10,
            )
            assert whole_reads == []
            # not a simple range: moto's own path, unchanged
            last5 = f"bytes {len(body) - 5}-{len(body) - 1}/{len(body)}"
            assert ranged("bytes=-5") == (body[-5:], last5, 5)
            assert whole_reads == [len(body)]
            with pytest.raises(ClientError, match="InvalidRange"):
                ranged(f"bytes={len(body)}-")
            assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == body
    finally:
        FakeKey.value = saved
