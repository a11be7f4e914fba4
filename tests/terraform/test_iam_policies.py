"""IAM policies in modules/: no wildcards where a narrower grant exists, and the grants a
Distributed Map needs (which no local run exercises) pinned statically."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from tfhcl import (
    MODULES,
    MODULES_DIR,
    as_list,
    expr,
    locals_of,
    module_blocks,
    unquote,
    variables_of,
)

# Actions that have no resource-level permissions: AWS requires Resource "*".
STAR_RESOURCE_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
    # CloudWatch Logs vended-log delivery (Step Functions logging_configuration).
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
# Allowed on "*" only with this condition key.
CONDITIONED_STAR_ACTIONS = {"cloudwatch:PutMetricData": "cloudwatch:namespace"}
POLICY_ARGS = ("policy", "assume_role_policy")


@dataclass
class Statement:
    module: str
    document: str
    sid: str
    effect: str
    actions: list[str]
    resources: list[str]
    conditions: list[str] = field(default_factory=list)
    has_principals: bool = False

    def __str__(self) -> str:
        doc = f"data.aws_iam_policy_document.{self.document}"
        return f"modules/{self.module} {doc} statement {self.sid or '?'}"


def _resolve_strings(value, variables) -> list[str]:
    """Literal strings as written; ``${var.x[...]}`` becomes the strings of var.x's default
    (so action lists kept in a variable are checked too)."""
    out: list[str] = []
    for item in as_list(value):
        text = unquote(item)
        ref = re.fullmatch(r"\$\{var\.(\w+)(\[.*\])?\}", text) if isinstance(text, str) else None
        if ref and variables.get(ref.group(1), {}).get("default") is not None:
            out += _flatten(variables[ref.group(1)]["default"])
        else:
            out.append(text)
    return out


def _flatten(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _flatten(v)]
    if isinstance(value, list):
        return [s for v in value for s in _flatten(v)]
    return [unquote(value)] if isinstance(value, str) else []


def _statement_bodies(doc: dict) -> list[dict]:
    bodies = list(doc.get("statement", []))
    for dyn in doc.get("dynamic", []):
        for label, body in dyn.items():
            if unquote(label) == "statement":
                bodies += body["content"]
    return bodies


def _documents() -> dict[tuple[str, str], tuple[dict, list[Statement]]]:
    docs = {}
    for module in MODULES:
        variables = variables_of(MODULES_DIR / module)
        for _, rtype, name, body in module_blocks(MODULES_DIR / module, "data"):
            if rtype != "aws_iam_policy_document":
                continue
            statements = [
                Statement(
                    module=module,
                    document=name,
                    sid=unquote(s.get("sid", "")),
                    effect=unquote(s.get("effect", '"Allow"')),
                    actions=_resolve_strings(s.get("actions"), variables),
                    resources=_resolve_strings(s.get("resources"), variables),
                    conditions=[unquote(c["variable"]) for c in s.get("condition", [])],
                    has_principals=bool(s.get("principals")),
                )
                for s in _statement_bodies(body)
            ]
            docs[(module, name)] = (body, statements)
    return docs


DOCS = _documents()
ALL_STATEMENTS = [s for _, stmts in DOCS.values() for s in stmts]


def _key_policy_documents() -> set[tuple[str, str]]:
    """Documents used as KMS key policies: there Resource "*" means "this key"."""
    found = set()
    for module in MODULES:
        for _, rtype, _, body in module_blocks(MODULES_DIR / module, "resource"):
            if rtype == "aws_kms_key" and "policy" in body:
                found |= {
                    (module, n)
                    for n in re.findall(
                        r"data\.aws_iam_policy_document\.(\w+)", expr(body["policy"])
                    )
                }
    return found


KEY_POLICIES = _key_policy_documents()


def _statements(module: str, document: str) -> list[Statement]:
    return DOCS[(module, document)][1]


def _one(module: str, document: str, **match) -> Statement:
    found = [
        s
        for s in _statements(module, document)
        if all(getattr(s, k) == v for k, v in match.items())
    ]
    assert len(found) == 1, f"expected one statement {match} in {module}/{document}, found {found}"
    return found[0]


def test_policy_documents_were_found():
    names = {name for _, name in DOCS}
    assert {"function", "state_machine", "events", "events_dlq", "bucket", "kms_key"} <= names
    assert {("storage", "kms_key")} == KEY_POLICIES


@pytest.mark.parametrize("stmt", [s for s in ALL_STATEMENTS if s.effect == "Allow"], ids=str)
def test_no_wildcard_actions_in_allow(stmt):
    if (
        stmt.module,
        stmt.document,
    ) in KEY_POLICIES and stmt.sid == "EnableRootAccountAdministration":
        return  # AWS's default key policy: the account root delegates key administration to IAM
    assert stmt.actions, f"{stmt}: no actions"
    wild = [a for a in stmt.actions if a == "*" or a.endswith(":*")]
    assert not wild, f"{stmt}: wildcard actions {wild}"


@pytest.mark.parametrize("stmt", [s for s in ALL_STATEMENTS if s.effect == "Allow"], ids=str)
def test_star_resource_only_for_actions_that_require_it(stmt):
    if "*" not in stmt.resources:
        return
    if (stmt.module, stmt.document) in KEY_POLICIES:
        return  # in a key policy, "*" is the key itself
    for action in stmt.actions:
        if action in STAR_RESOURCE_ACTIONS:
            continue
        needed = CONDITIONED_STAR_ACTIONS.get(action)
        assert needed, f'{stmt}: {action} on Resource "*" although it supports narrower resources'
        assert needed in stmt.conditions, f'{stmt}: {action} on "*" needs a {needed} condition'


def test_no_not_action_or_not_resource():
    for (module, name), (body, _) in DOCS.items():
        for s in _statement_bodies(body):
            assert not ({"not_actions", "not_resources"} & set(s)), f"{module}/{name} uses not_*"


def test_every_policy_argument_is_a_checked_policy_document():
    """Inline JSON (jsonencode/heredoc) would escape the checks above: use documents."""
    for module in MODULES:
        for _, rtype, name, body in module_blocks(MODULES_DIR / module, "resource"):
            assert "inline_policy" not in body, (
                f"{rtype}.{name}: use aws_iam_role_policy + a policy document"
            )
            for arg in POLICY_ARGS:
                if arg in body:
                    assert re.fullmatch(
                        r"data\.aws_iam_policy_document\.\w+(\[each\.key\])?\.json", expr(body[arg])
                    ), f"modules/{module} {rtype}.{name}.{arg}: use an aws_iam_policy_document"


# --- Distributed Map: the state machine role ---------------------------------------------


def test_state_machine_may_start_child_executions_of_itself_only():
    stmt = _one("orchestration", "state_machine", actions=["states:StartExecution"])
    assert stmt.resources == ["${local.state_machine_arn}"]
    arn = expr(locals_of(MODULES_DIR / "orchestration")["state_machine_arn"])
    assert arn.endswith(":stateMachine:${local.state_machine_name}")
    assert "aws_sfn_state_machine" not in arn, (
        "build the ARN from the name (role <-> machine cycle)"
    )


def test_state_machine_may_describe_and_stop_its_executions():
    stmt = _one(
        "orchestration",
        "state_machine",
        actions=["states:DescribeExecution", "states:StopExecution"],
    )
    assert stmt.resources == ["${local.execution_arns}"]
    arns = [unquote(a) for a in locals_of(MODULES_DIR / "orchestration")["execution_arns"]]
    assert any(a.endswith(":execution:${local.state_machine_name}/*") for a in arns)
    assert any(a.endswith(":execution:${local.state_machine_name}:*") for a in arns)


def test_state_machine_reads_manifests_prefix_only():
    stmt = _one("orchestration", "state_machine", actions=["s3:GetObject"])
    assert stmt.resources == ["${var.bucket_arn}/${var.manifests_prefix}*"]
    s3_actions = {
        a
        for s in _statements("orchestration", "state_machine")
        for a in s.actions
        if a.startswith("s3:")
    }
    assert s3_actions == {"s3:GetObject"}, "no ResultWriter is used: the map writes nothing to S3"


def test_state_machine_invokes_the_functions_and_their_qualifiers():
    stmt = _one("orchestration", "state_machine", actions=["lambda:InvokeFunction"])
    assert stmt.resources == ["${local.invoked_function_arns}"]
    assert '[arn, "${arn}:*"]' in expr(
        locals_of(MODULES_DIR / "orchestration")["invoked_function_arns"]
    )


def test_state_machine_uses_this_policy_and_role():
    resources = {
        (t, n): b for _, t, n, b in module_blocks(MODULES_DIR / "orchestration", "resource")
    }
    policy = resources[("aws_iam_role_policy", "state_machine")]
    assert expr(policy["policy"]) == "data.aws_iam_policy_document.state_machine.json"
    assert expr(policy["role"]) == "aws_iam_role.state_machine.id"
    assert (
        expr(resources[("aws_sfn_state_machine", "this")]["role_arn"])
        == "aws_iam_role.state_machine.arn"
    )


def test_event_rule_role_only_starts_the_pipeline():
    assert [(s.actions, s.resources) for s in _statements("orchestration", "events")] == [
        (["states:StartExecution"], ["${local.state_machine_arn}"])
    ]


def test_events_dlq_accepts_only_this_rule():
    stmt = _one("orchestration", "events_dlq", actions=["sqs:SendMessage"])
    assert stmt.has_principals and "aws:SourceArn" in stmt.conditions


# --- Functions ------------------------------------------------------------------------------


def test_every_function_role_denies_deleting_the_bucket_and_table():
    deny = [s for s in _statements("compute", "function") if s.effect == "Deny"]
    assert len(deny) == 1
    assert sorted(deny[0].actions) == ["dynamodb:DeleteTable", "s3:DeleteBucket"]
    assert sorted(deny[0].resources) == ["${var.bucket_arn}", "${var.table_arn}"]
    body, _ = DOCS[("compute", "function")]
    assert any(unquote(s.get("effect")) == "Deny" for s in body.get("statement", [])), (
        "the Deny must not be dynamic"
    )
    resources = {(t, n): b for _, t, n, b in module_blocks(MODULES_DIR / "compute", "resource")}
    assert expr(body["for_each"]) == "var.functions"
    for key in (
        ("aws_iam_role", "function"),
        ("aws_iam_role_policy", "function"),
        ("aws_lambda_function", "this"),
    ):
        assert expr(resources[key]["for_each"]) == "var.functions"
    assert (
        expr(resources[("aws_iam_role_policy", "function")]["policy"])
        == "data.aws_iam_policy_document.function[each.key].json"
    )
    assert (
        expr(resources[("aws_lambda_function", "this")]["role"])
        == "aws_iam_role.function[each.key].arn"
    )


def test_function_s3_access_is_scoped_to_contract_prefixes():
    by_sid = {s.sid: s for s in _statements("compute", "function")}
    assert by_sid["ReadObjectsByPrefix"].actions == ["s3:GetObject", "s3:GetObjectVersion"]
    assert by_sid["WriteObjectsByPrefix"].actions == [
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    ]
    assert by_sid["DeleteObjectsByPrefix"].actions == ["s3:DeleteObject"]
    assert by_sid["ListOnlyOwnPrefixes"].conditions == ["s3:prefix"]
    arns = expr(locals_of(MODULES_DIR / "compute")["s3_object_arns"])
    for kind in ("read", "write", "delete"):
        assert (
            f'{kind} = [for p in f.s3_{kind} : "${{var.bucket_arn}}/${{var.prefixes[p]}}*"]' in arns
        )


def test_function_dynamodb_actions_are_item_level():
    stmt = _one("compute", "function", sid="StatusTableItems")
    assert stmt.resources == ["${var.table_arn}"]
    allowed = {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "dynamodb:BatchWriteItem",
        "dynamodb:ConditionCheckItem",  # the processor's chunk writes (a transaction)
    }
    assert set(stmt.actions) <= allowed
