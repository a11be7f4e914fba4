"""The function policies as Terraform renders them (issue 10, items 8 and 15).

Reads each role's policy JSON from the compute fixture's plan (test_plan.py's `compute_plan`,
planned once per session with the provider `localrun/tfcli.py` picks). The static tests in
test_iam_policies.py check the HCL; this checks what AWS would receive: which statements each
function really gets once the dynamic blocks are evaluated.
"""

from __future__ import annotations

import json

import pytest
from test_iam_policies import _dynamodb_grants, _runtime_calls, _status_store_actions
from test_plan import compute_plan, plans  # noqa: F401  (fixtures shared with the plan tests)
from tfhcl import contract

pytest_plugins = ["tfplugin"]
pytestmark = pytest.mark.tftest

BUCKET = "arn:aws:s3:::etl-test-processing-123456789012"
KEY = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/etl-test-status"


@pytest.fixture(scope="module")
def policies(compute_plan) -> dict[str, dict]:  # noqa: F811 (the imported fixture)
    """{function: {sid: statement}} from the planned aws_iam_role_policy resources."""
    out = {}
    for address, change in compute_plan.resource_changes.items():
        if change["type"] == "aws_iam_role_policy":
            name = address.rsplit('["', 1)[1].rstrip('"]')
            doc = json.loads(change["change"]["after"]["policy"])
            out[name] = {s["Sid"]: s for s in doc["Statement"]}
    return out


def _as_set(value) -> set[str]:
    return set(value) if isinstance(value, list) else {value}


def test_every_function_has_a_rendered_policy(policies):
    assert set(policies) == set(contract()["functions"])


@pytest.mark.parametrize("function", tuple(contract()["functions"]))
def test_rendered_dynamodb_actions_are_the_handler_calls(policies, function):
    store = _status_store_actions()
    used = {a for m in _runtime_calls(function, "status") for a in store[m]}
    stmt = policies[function]["StatusTableItems"]
    assert _as_set(stmt["Action"]) == used == set(_dynamodb_grants()[function])
    assert stmt["Resource"] == TABLE


@pytest.mark.parametrize("function", tuple(contract()["functions"]))
def test_rendered_key_grants_follow_what_the_function_does_with_s3(policies, function):
    spec = contract()["functions"][function]
    sids = {sid for sid, s in policies[function].items() if "kms:" in json.dumps(s["Action"])}
    expected = {"DecryptThroughDynamoDB"}
    if spec["s3_read"] or spec["s3_write"]:
        expected.add("DecryptThroughS3")
    if spec["s3_write"]:
        expected.add("GenerateDataKeyThroughS3")
    assert sids == expected
    s3 = {
        "kms:ViaService": "s3.us-east-1.amazonaws.com",
        "kms:EncryptionContext:aws:s3:arn": BUCKET,
    }
    for sid in sids - {"DecryptThroughDynamoDB"}:
        assert policies[function][sid]["Condition"] == {"StringEquals": s3}
        assert policies[function][sid]["Resource"] == KEY
    assert policies[function]["DecryptThroughDynamoDB"]["Condition"] == {
        "StringEquals": {
            "kms:ViaService": "dynamodb.us-east-1.amazonaws.com",
            "kms:EncryptionContext:aws:dynamodb:tableName": "etl-test-status",
        }
    }


def test_validator_and_mark_failed_cannot_generate_data_keys(policies):
    for function in ("validator", "mark_failed"):
        actions = json.dumps([s["Action"] for s in policies[function].values()])
        assert "GenerateDataKey" not in actions, function


@pytest.mark.parametrize(
    ("function", "prefixes"),
    [
        ("splitter", {"incoming/*"}),
        ("finalizer", {"work/*", "staging/*"}),
        ("mark_failed", {"work/*", "staging/*"}),
        ("validator", {"incoming/*", "staging/*"}),
        ("processor", {"incoming/*", "staging/*"}),
    ],
)
def test_rendered_list_bucket_is_limited_by_prefix(policies, function, prefixes):
    stmt = policies[function]["ListOnlyOwnPrefixes"]
    assert stmt["Action"] == "s3:ListBucket" and stmt["Resource"] == BUCKET
    assert _as_set(stmt["Condition"]["StringLike"]["s3:prefix"]) >= prefixes
    if function in ("splitter", "validator", "processor"):
        assert _as_set(stmt["Condition"]["StringLike"]["s3:prefix"]) == prefixes


def test_validator_and_processor_list_only_their_input_prefixes(policies):
    """A deleted input is a 404 (InputNotFound) only with s3:ListBucket; both get it on
    incoming/ and staging/ only (not on config/, work/ or the outputs)."""
    for function in ("validator", "processor"):
        stmt = policies[function]["ListOnlyOwnPrefixes"]
        assert _as_set(stmt["Condition"]["StringLike"]["s3:prefix"]) == {"incoming/*", "staging/*"}


def test_finalizer_cannot_read_config(policies):
    reads = _as_set(policies["finalizer"]["ReadObjectsByPrefix"]["Resource"])
    assert reads == {f"{BUCKET}/work/*"}


def test_no_rendered_policy_grants_cloudwatch(policies):
    for function, statements in policies.items():
        assert "cloudwatch:" not in json.dumps(statements), function


# -- issue 18, item 11: the key policy names this pipeline's rules and alarms --------------------
ACCOUNT = "123456789012"
SERVICE_SIDS = (
    "AllowPipelineRulesToUseKeyForDeadLetters",
    "AllowPipelineAlarmsToUseKeyForTheTopic",
)


@pytest.fixture(scope="module")
def dev_plan(plans):  # noqa: F811 (the imported fixture)
    return plans["dev"].result()


def _planned(plan, rtype: str) -> list[dict]:
    return [
        c["change"]["after"]
        for c in plan.resource_changes.values()
        if c["type"] == rtype and c.get("mode", "managed") == "managed"
    ]


def test_eventbridge_and_cloudwatch_use_the_key_only_for_this_pipelines_rules_and_alarms(dev_plan):
    """envs/dev as planned: events.amazonaws.com may use the key for the two rules the plan
    creates (their dead letters), cloudwatch.amazonaws.com for the etl-dev- alarms (the
    failure topic), each in this account only; no statement grants either service more."""
    (key,) = _planned(dev_plan, "aws_kms_key")
    statements = json.loads(key["policy"])["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    rules = sorted(r["name"] for r in _planned(dev_plan, "aws_cloudwatch_event_rule"))
    assert rules == ["etl-dev-execution-ended", "etl-dev-s3-incoming"]
    events = by_sid["AllowPipelineRulesToUseKeyForDeadLetters"]
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert events["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {
            "aws:SourceArn": [
                f"arn:aws:events:us-east-1:{ACCOUNT}:rule/etl-dev-s3-incoming",
                f"arn:aws:events:us-east-1:{ACCOUNT}:rule/etl-dev-execution-ended",
            ]
        },
    }
    alarms = by_sid["AllowPipelineAlarmsToUseKeyForTheTopic"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:etl-dev-*"},
    }
    assert all(
        a["alarm_name"].startswith("etl-dev-")
        for a in _planned(dev_plan, "aws_cloudwatch_metric_alarm")
    )
    others = [s for s in statements if s["Sid"] not in SERVICE_SIDS]
    assert "events.amazonaws.com" not in json.dumps(others)
    assert "cloudwatch.amazonaws.com" not in json.dumps(others)
    for sid in SERVICE_SIDS:
        assert sorted(_as_set(by_sid[sid]["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey*"]
