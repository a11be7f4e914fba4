"""Wildcards that test_iam_policies.py lets through.

test_iam_policies.py fails on an Allow action that is ``*`` or ends in ``:*`` and on a
Resource of exactly ``"*"``. These close the remaining gaps of "every IAM policy fails on a
wildcard action, or a wildcard resource where a narrower one exists":

* partial wildcard actions (``s3:Get*``, ``kms:GenerateDataKey*``): only the listed,
  documented key-policy grants may use them;
* wildcard ARNs that are not ``"*"`` (``arn:aws:s3:::*``, ``arn:aws:logs:*:*:*``, the whole
  bucket ``<bucket_arn>/*``), also inside the locals that build statement resources;
* wildcard principals in an Allow (a resource policy open to everyone);
* policy documents in envs/ or as other policy arguments, which would escape the scan.
"""

from __future__ import annotations

import re

import pytest
from test_iam_policies import ALL_STATEMENTS, DOCS, KEY_POLICIES, _statement_bodies
from tfhcl import ENVS, ENVS_DIR, MODULES, MODULES_DIR, locals_of, module_blocks, unquote

# (module, document, sid, action): partial wildcards AWS documents for KMS key policies
# (CloudWatch Logs encryption and service principals writing to encrypted SQS/SNS).
PARTIAL_WILDCARD_ACTIONS = {
    ("storage", "kms_key", "AllowCloudWatchLogs", "kms:ReEncrypt*"),
    ("storage", "kms_key", "AllowCloudWatchLogs", "kms:GenerateDataKey*"),
    ("storage", "kms_key", "AllowPipelineRulesToUseKeyForDeadLetters", "kms:GenerateDataKey*"),
    ("storage", "kms_key", "AllowPipelineAlarmsToUseKeyForTheTopic", "kms:GenerateDataKey*"),
}
# Resource-building locals whose strings end up in Allow statements.
RESOURCE_LOCALS = {
    "compute": ("s3_object_arns", "log_group_arns"),
    "orchestration": ("state_machine_arn", "execution_arns", "invoked_function_arns"),
}
# Arguments that take an IAM policy JSON on some resource type.
POLICY_ARGS = ("policy", "assume_role_policy", "policy_document", "access_policies")
ALLOW = [s for s in ALL_STATEMENTS if s.effect == "Allow"]


def _bad_arn_wildcards(text: str) -> list[str]:
    """Wildcards that widen an ARN beyond what this pipeline owns."""
    problems = []
    for arn in re.findall(r"arn:[^\s\"',\]]+", text):
        fields = arn.split(":", 5)
        if any("*" in f for f in fields[1:5]):
            problems.append(f"{arn}: wildcard partition/service/region/account")
        if len(fields) == 6 and fields[5] in ("*", "/*"):
            problems.append(f"{arn}: every resource of the service")
    # the whole bucket where contract prefixes exist
    problems += [f"{m}: the whole bucket" for m in re.findall(r"\$\{var\.bucket_arn\}/\*", text)]
    problems += [f"{m}: the whole bucket" for m in re.findall(r"\$\{local\.bucket\.arn\}/\*", text)]
    return problems


@pytest.mark.parametrize("stmt", ALLOW, ids=str)
def test_no_partial_wildcard_actions_in_allow(stmt):
    if (
        stmt.module,
        stmt.document,
    ) in KEY_POLICIES and stmt.sid == "EnableRootAccountAdministration":
        return  # kms:* for the account root: AWS's default key policy (pinned by the other file)
    partial = [
        a
        for a in stmt.actions
        if "*" in a and (stmt.module, stmt.document, stmt.sid, a) not in PARTIAL_WILDCARD_ACTIONS
    ]
    assert not partial, f"{stmt}: wildcard actions {partial}: list the actions"


def test_partial_wildcard_allowlist_is_current():
    used = {(s.module, s.document, s.sid, a) for s in ALLOW for a in s.actions if "*" in a}
    assert used >= PARTIAL_WILDCARD_ACTIONS, PARTIAL_WILDCARD_ACTIONS - used
    assert all(m == "storage" and d == "kms_key" for m, d, _, _ in PARTIAL_WILDCARD_ACTIONS)


@pytest.mark.parametrize("stmt", ALLOW, ids=str)
def test_no_wildcard_arns_in_allow_resources(stmt):
    problems = [p for r in stmt.resources for p in _bad_arn_wildcards(str(r))]
    assert not problems, f"{stmt}: {problems}"


@pytest.mark.parametrize(
    ("module", "name"), [(m, n) for m, names in RESOURCE_LOCALS.items() for n in names]
)
def test_no_wildcard_arns_in_resource_locals(module, name):
    value = locals_of(MODULES_DIR / module)[name]
    problems = _bad_arn_wildcards(str(value))
    assert not problems, f"modules/{module} local.{name}: {problems}"


def test_object_arns_are_scoped_to_a_prefix():
    text = str(locals_of(MODULES_DIR / "compute")["s3_object_arns"])
    arns = re.findall(r'"(\$\{var\.bucket_arn\}[^"]*)"', text)
    assert arns, text
    assert all(a.startswith("${var.bucket_arn}/${var.prefixes[p]}") for a in arns), arns


def test_bad_arn_wildcards_detector_catches_known_wide_grants():
    for wide in (
        "arn:aws:s3:::*",
        "arn:aws:logs:*:*:*",
        "arn:${local.partition}:dynamodb:*:${local.account_id}:table/x",
        "${var.bucket_arn}/*",
        "arn:aws:sqs:us-east-1:123456789012:*",
    ):
        assert _bad_arn_wildcards(wide), wide
    for narrow in (
        "${var.bucket_arn}/${var.prefixes[p]}*",
        "${local.log_group_arns[each.key]}:*",
        "arn:${local.partition}:states:${local.region}:${local.account_id}:execution:${local.state_machine_name}/*",
    ):
        assert not _bad_arn_wildcards(narrow), narrow


def test_no_wildcard_principal_in_allow():
    for (module, name), (body, _) in DOCS.items():
        for s in _statement_bodies(body):
            if unquote(s.get("effect", '"Allow"')) != "Allow":
                continue
            for p in s.get("principals", []):
                ids = [unquote(i) for i in p.get("identifiers", [])]
                assert unquote(p.get("type")) != "*" and "*" not in ids, (
                    f"modules/{module} {name}: Allow to every principal"
                )


def test_envs_declare_no_policies_of_their_own():
    """Only modules/ is scanned above: a policy in envs/ would escape every check."""
    for env in ENVS:
        for kind in ("data", "resource"):
            for _, rtype, name, body in module_blocks(ENVS_DIR / env, kind):
                assert rtype != "aws_iam_policy_document", f"envs/{env} {rtype}.{name}"
                assert not rtype.startswith("aws_iam_"), f"envs/{env} {rtype}.{name}"
                assert not set(POLICY_ARGS) & set(body), f"envs/{env} {rtype}.{name}"


def test_every_policy_argument_of_any_name_is_a_checked_document():
    for module in MODULES:
        for _, rtype, name, body in module_blocks(MODULES_DIR / module, "resource"):
            for arg in POLICY_ARGS:
                if arg in body:
                    assert re.fullmatch(
                        r"\$\{data\.aws_iam_policy_document\.\w+(\[each\.key\])?\.json\}",
                        str(body[arg]).strip('"'),
                    ), f"modules/{module} {rtype}.{name}.{arg}: {body[arg]}"
