"""IAM policies in modules/: no wildcards where a narrower grant exists, and the grants a
Distributed Map needs (which no local run exercises) pinned statically.

Over 500 lines on purpose: every role's grants are checked here against one derivation of
what the handlers call, so a drift shows in one file (tests/test_contract_names.py reuses it)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import pytest
from tfhcl import (
    MODULES,
    MODULES_DIR,
    REPO,
    as_list,
    contract,
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
# Allowed on "*" only with this condition key (none today: cloudwatch:PutMetricData was the
# one, and Powertools writes the metrics as EMF through the logs instead).
CONDITIONED_STAR_ACTIONS: dict[str, str] = {}
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
    # (test, variable, values) of each condition, and (type, identifiers) of each principal.
    condition_details: list[tuple[str, str, list[str]]] = field(default_factory=list)
    principals: list[tuple[str, list[str]]] = field(default_factory=list)

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
                    condition_details=[
                        (
                            unquote(c["test"]),
                            unquote(c["variable"]),
                            [unquote(v) for v in as_list(c["values"])],
                        )
                        for c in s.get("condition", [])
                    ],
                    principals=[
                        (unquote(p["type"]), [unquote(i) for i in as_list(p["identifiers"])])
                        for p in s.get("principals", [])
                    ],
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
    assert {
        "function",
        "state_machine",
        "events",
        "events_dlq",
        "results_queue",
        "failure_topic",
        "bucket",
        "kms_key",
    } <= names
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
    stmt = _one("orchestration", "events_dlq", actions=["sqs:SendMessage"], effect="Allow")
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
    compute_locals = locals_of(MODULES_DIR / "compute")
    arns = expr(compute_locals["s3_object_arns"])
    for kind in ("write", "delete"):
        assert (
            f'{kind} = [for p in f.s3_{kind} : "${{var.bucket_arn}}/${{var.prefixes[p]}}*"]' in arns
        )
    # Reads: a prefix whole, except config: only the schema objects below it.
    assert (
        'read = [for p in f.s3_read : "${var.bucket_arn}/${var.prefixes[p]}'
        '${lookup(local.read_below_prefix, p, "*")}"]' in arns
    )
    assert {k: expr(v) for k, v in compute_locals["read_below_prefix"].items()} == {
        "config": 'trimprefix(replace(var.schema_object_key_pattern, "{dataset}", "*"),'
        ' var.prefixes["config"])'
    }


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
    assert stmt.actions == ["${var.dynamodb_actions[each.key]}"]
    assert {a for actions in _dynamodb_grants().values() for a in actions} <= allowed


# --- Functions: grants are exactly what the handlers call (issue 10, items 8 and 15) ------

LAMBDAS = REPO / "lambdas"
FUNCTION_NAMES = tuple(contract()["functions"])
# boto3 Table methods -> the DynamoDB action each needs.
TABLE_CALLS = {
    "get_item": "dynamodb:GetItem",
    "put_item": "dynamodb:PutItem",
    "update_item": "dynamodb:UpdateItem",
    "delete_item": "dynamodb:DeleteItem",
    "query": "dynamodb:Query",
    "scan": "dynamodb:Scan",
    "batch_writer": "dynamodb:BatchWriteItem",
}
# TransactWriteItems needs the permission of each kind of item it holds.
TRANSACTION_ITEMS = {
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Update": "dynamodb:UpdateItem",
    "Put": "dynamodb:PutItem",
    "Delete": "dynamodb:DeleteItem",
}


def _status_store_actions() -> dict[str, set[str]]:  # noqa: C901 (one AST walk; cases are node kinds)
    """StatusStore method -> DynamoDB actions it needs, following self.<method>() calls."""
    tree = ast.parse((LAMBDAS / "etl" / "status.py").read_text(encoding="utf-8"))
    (store,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "StatusStore"]
    direct: dict[str, set[str]] = {}
    calls: dict[str, set[str]] = {}
    for fn in store.body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        direct[fn.name], calls[fn.name] = set(), set()
        for node in ast.walk(fn):
            if isinstance(node, ast.Dict):  # a transaction item built here
                for key in node.keys:
                    if isinstance(key, ast.Constant) and key.value in TRANSACTION_ITEMS:
                        direct[fn.name].add(TRANSACTION_ITEMS[key.value])
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            target = node.func.value
            if (
                isinstance(target, ast.Attribute)
                and target.attr == "table"
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
            ):
                assert node.func.attr in TABLE_CALLS, f"StatusStore.{fn.name}: {node.func.attr}?"
                direct[fn.name].add(TABLE_CALLS[node.func.attr])
            elif isinstance(target, ast.Name) and target.id == "self":
                calls[fn.name].add(node.func.attr)

    def resolve(name: str, seen: frozenset = frozenset()) -> set[str]:
        out = set(direct[name])
        for callee in calls[name] - seen:
            if callee in direct:
                out |= resolve(callee, seen | {name})
        return out

    return {name: resolve(name) for name in direct}


# The core's AWS adapters: a handler reaches AWS through them, so they are not its own code.
AWS_ADAPTERS = {"runtime", "s3io", "status"}


def _etl_imports(path) -> set[str]:
    """The etl modules (by file stem) that `path` imports, anywhere in its body."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("etl."):
            found.add(node.module.removeprefix("etl.").split(".")[0])
    return found


def handler_sources(function: str) -> list:
    """The handler module and the core modules it runs its work in: every etl module it
    imports, transitively, except the AWS adapters (issue 22: the logic moved out of the
    handlers into etl/, and what it calls is still the handler's)."""
    seen, todo, paths = set(), [LAMBDAS / f"{function}.py"], []
    while todo:
        path = todo.pop()
        paths.append(path)
        for stem in sorted(_etl_imports(path) - AWS_ADAPTERS - seen):
            seen.add(stem)
            todo.append(LAMBDAS / "etl" / f"{stem}.py")
    return sorted(paths)


def _handler_text(function: str) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in handler_sources(function))


def _handler_nodes(function: str):
    for path in handler_sources(function):
        yield from ast.walk(ast.parse(path.read_text(encoding="utf-8")))


def test_handler_sources_follow_the_core_modules_a_handler_uses():
    """The derivation below sees the calls wherever the handler's work lives (else the exact
    grant checks would pass on an empty set)."""
    names = {p.relative_to(LAMBDAS).as_posix() for p in handler_sources("processor")}
    assert {"processor.py", "etl/chunk.py", "etl/transform.py"} <= names
    assert not {f"etl/{m}.py" for m in AWS_ADAPTERS} & names
    assert "start_chunk" in _runtime_calls("processor", "status")


def _runtime_calls(function: str, attribute: str) -> set[str]:
    """Names called as rt.<attribute>.<name>(...) in the handler's code (handler_sources)."""
    found = set()
    for node in _handler_nodes(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if (
                isinstance(owner, ast.Attribute)
                and owner.attr == attribute
                and isinstance(owner.value, ast.Name)
                and owner.value.id == "rt"
            ):
                found.add(node.func.attr)
    return found


def _calls_rt_method(function: str, method: str) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == method
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "rt"
        for node in _handler_nodes(function)
    )


def _dynamodb_grants() -> dict[str, list[str]]:
    """The grants as modules/pipeline/contract passes them: contract functions.*.dynamodb."""
    return {
        name: [f"dynamodb:{a}" for a in fn["dynamodb"]]
        for name, fn in contract()["functions"].items()
    }


def test_dynamodb_grants_come_from_the_contract_only():
    """No list of functions in the compute module: a new contract function without a
    dynamodb entry fails the plan (missing key) instead of silently getting no access."""
    variable = variables_of(MODULES_DIR / "compute")["dynamodb_actions"]
    assert "default" not in variable
    contract_locals = locals_of(MODULES_DIR / "pipeline" / "contract")
    assert expr(contract_locals["dynamodb_actions"]) == (
        '{for name, fn in local.contract.functions : name => [for a in fn.dynamodb : "dynamodb:${a}"]}'
    )
    for kind, text in (("iam", (MODULES_DIR / "compute" / "iam.tf").read_text(encoding="utf-8")),):
        assert "lookup(var.dynamodb_actions" not in text, kind
    assert set(_dynamodb_grants()) == set(contract()["functions"])


def test_handlers_reach_dynamodb_only_through_the_status_store():
    for function in FUNCTION_NAMES:
        text = _handler_text(function)
        assert "rt.dynamodb" not in text and "boto3" not in text, function


@pytest.mark.parametrize("function", FUNCTION_NAMES)
def test_dynamodb_grants_are_exactly_what_the_handler_calls(function):
    """Each role holds exactly the table actions its handler calls (issue 10: the splitter lost
    UpdateItem, the processor PutItem); transactions need the action of each item kind."""
    store = _status_store_actions()
    used = {a for m in _runtime_calls(function, "status") for a in store[m]}
    assert sorted(_dynamodb_grants().get(function, [])) == sorted(used)


@pytest.mark.parametrize("function", FUNCTION_NAMES)
def test_functions_read_config_only_when_they_load_the_schema(function):
    """The schema lives under config/; only handlers that call rt.schema() may read it."""
    reads_config = "config" in contract()["functions"][function]["s3_read"]
    assert reads_config == _calls_rt_method(function, "schema")


def test_no_function_may_put_metric_data():
    """Powertools Metrics writes EMF through the log stream: no cloudwatch API is called."""
    assert not [s for s in ALL_STATEMENTS if "cloudwatch:PutMetricData" in s.actions]
    sources = "\n".join(p.read_text(encoding="utf-8") for p in LAMBDAS.rglob("*.py"))
    assert not re.search(r"""client\(\s*["']cloudwatch["']""", sources)
    assert "from aws_lambda_powertools import Logger, Metrics" in sources


def _function_body() -> dict:
    return DOCS[("compute", "function")][0]


def _dynamic_statement(sid: str) -> dict:
    for dyn in _function_body().get("dynamic", []):
        for label, body in dyn.items():
            if unquote(label) == "statement" and unquote(body["content"][0]["sid"]) == sid:
                return body
    raise AssertionError(f"no dynamic statement {sid}")


def _kms_dynamic(module: str, document: str) -> dict:
    """The one dynamic statement of a document that grants the KMS key."""
    (body, _) = DOCS[(module, document)]
    found = [
        b
        for dyn in body.get("dynamic", [])
        for label, b in dyn.items()
        if unquote(label) == "statement" and "kms_grants" in expr(b["for_each"])
    ]
    assert len(found) == 1, f"{module}/{document}: one dynamic statement over local.kms_grants"
    return found[0]


def test_kms_via_service_statement_has_one_shape_in_compute_and_orchestration():
    """Every key grant: the service (kms:ViaService) and the service's encryption context
    for this pipeline's resource, written as the same statement in both modules."""
    compute = _kms_dynamic("compute", "function")
    orchestration = _kms_dynamic("orchestration", "kms_grants")
    assert expr(compute["for_each"]) == "local.kms_grants[each.key]"
    assert expr(orchestration["for_each"]) == "local.role_kms_grants[each.key]"
    assert compute["content"] == orchestration["content"]
    (content,) = compute["content"]
    assert (expr(content["sid"]), unquote(content["effect"]), expr(content["actions"])) == (
        "statement.key",
        "Allow",
        "statement.value.actions",
    )
    assert [expr(r) for r in content["resources"]] == ["var.kms_key_arn"]
    assert [
        (unquote(c["test"]), expr(c["variable"]), [unquote(v) for v in c["values"]])
        for c in content["condition"]
    ] == [
        (
            "StringEquals",
            "kms:ViaService",
            ["${statement.value.service}.${local.region}.${local.dns_suffix}"],
        ),
        ("StringEquals", "statement.value.context_key", ["${statement.value.context}"]),
    ]
    # No other statement in any of these documents touches the key.
    for module, document in (
        ("compute", "function"),
        ("orchestration", "kms_grants"),
        ("orchestration", "state_machine"),
        ("orchestration", "execution_ended_handler"),
    ):
        kms = [s for s in _statements(module, document) if "kms:" in " ".join(s.actions)]
        assert {s.sid for s in kms} <= {"${statement.key}"}, (module, document)


def test_orchestration_roles_take_their_key_grants_from_one_document():
    """The key statement is written once (kms_grants, one instance per role); the state
    machine's policy merges all of local.kms_grants, the execution-ended function's the SNS
    grant only (it publishes the failure message) and, for Lambda's failure records, the
    events dead-letter queue's."""
    (body, _) = DOCS[("orchestration", "kms_grants")]
    assert expr(body["for_each"]) == "local.role_kms_grants"
    for role in ("state_machine", "execution_ended_handler", "execution_ended_failures"):
        (doc, _) = DOCS[("orchestration", role)]
        assert [expr(d) for d in doc["source_policy_documents"]] == [
            f'data.aws_iam_policy_document.kms_grants["{role}"].json'
        ]
    roles = locals_of(MODULES_DIR / "orchestration")["role_kms_grants"]
    assert {role: expr(grants) for role, grants in roles.items()} == {
        "state_machine": "local.kms_grants",
        "execution_ended_handler": (
            '{for sid, g in local.kms_grants : sid => g if g.service == "sns"}'
        ),
        "execution_ended_failures": expr(roles["execution_ended_failures"]),
    }


def test_function_key_use_goes_through_s3_and_dynamodb_only():
    """GenerateDataKey only for functions that write objects (not validator, mark_failed);
    Decrypt through S3 for functions that read or write; through DynamoDB for the table."""
    compute = locals_of(MODULES_DIR / "compute")
    via = {k: {f: unquote(v) for f, v in e.items()} for k, e in compute["kms_via"].items()}
    assert via == {
        "s3": {
            "service": "s3",
            "context_key": "kms:EncryptionContext:aws:s3:arn",
            "context": "${var.bucket_arn}",
        },
        "dynamodb": {
            "service": "dynamodb",
            "context_key": "kms:EncryptionContext:aws:dynamodb:tableName",
            "context": "${local.table_name}",
        },
    }
    grants = expr(compute["kms_grants"])
    for condition, sid, service, action in (
        ("length(f.s3_read) + length(f.s3_write) > 0", "DecryptThroughS3", "s3", "kms:Decrypt"),
        ("length(f.s3_write) > 0", "GenerateDataKeyThroughS3", "s3", "kms:GenerateDataKey"),
        (
            "length(var.dynamodb_actions[name]) > 0",
            "DecryptThroughDynamoDB",
            "dynamodb",
            "kms:Decrypt",
        ),
    ):
        assert (
            f'{condition} ? {{{sid} = merge(local.kms_via.{service}, {{actions = ["{action}"]}})}} : {{}}'
            in grants
        ), sid
    assert grants.count("merge(local.kms_via.") == 3
    table_name = expr(compute["table_name"])
    assert table_name == 'element(split("/", var.table_arn), 1)'


def test_functions_that_write_objects_are_the_ones_that_need_generate_data_key():
    writers = {n for n, f in contract()["functions"].items() if f["s3_write"]}
    assert writers == {"splitter", "processor", "finalizer"}


def test_state_machine_key_use_is_per_service_and_resource():
    raw = locals_of(MODULES_DIR / "orchestration")["kms_grants"]
    got = {
        sid: (
            [unquote(a) for a in g["actions"]],
            {
                "kms:ViaService": unquote(g["service"]),
                unquote(g["context_key"]): unquote(g["context"]),
            },
        )
        for sid, g in raw.items()
    }
    assert got == {
        "UsePipelineKeyForResultsQueue": (
            ["kms:Decrypt", "kms:GenerateDataKey"],
            {
                "kms:ViaService": "sqs",
                "kms:EncryptionContext:aws:sqs:arn": "${aws_sqs_queue.results.arn}",
            },
        ),
        "UsePipelineKeyForFailureTopic": (
            ["kms:Decrypt", "kms:GenerateDataKey"],
            {
                "kms:ViaService": "sns",
                "kms:EncryptionContext:aws:sns:topicArn": "${aws_sns_topic.failures.arn}",
            },
        ),
        "DecryptChunkManifests": (
            ["kms:Decrypt"],
            {
                "kms:ViaService": "s3",
                "kms:EncryptionContext:aws:s3:arn": "${var.bucket_arn}",
            },
        ),
    }


def test_splitter_may_list_incoming_so_a_missing_key_is_a_404():
    """Without s3:ListBucket S3 answers a missing key with 403, and the splitter's
    URL-decoded fallback (it retries on 404/NoSuchKey) could never run in AWS."""
    spec = contract()["functions"]
    assert spec["splitter"]["s3_list"] == ["incoming"]
    splitter = _handler_text("splitter")
    assert '("404", "NoSuchKey")' in splitter
    # ListBucket on the bucket, limited by s3:prefix to the listed and the deleted prefixes.
    stmt = _one("compute", "function", sid="ListOnlyOwnPrefixes")
    assert stmt.actions == ["s3:ListBucket"] and stmt.resources == ["${var.bucket_arn}"]
    assert stmt.condition_details == [
        ("StringLike", "s3:prefix", ["${local.s3_object_arns[each.key].list}"])
    ]
    arns = expr(locals_of(MODULES_DIR / "compute")["s3_object_arns"])
    assert (
        'list = [for p in distinct(concat(f.s3_delete, f.s3_list)) : "${var.prefixes[p]}*"]' in arns
    )
    functions = expr(locals_of(MODULES_DIR / "pipeline" / "contract")["functions"])
    assert "s3_list = fn.s3_list" in functions


def test_validator_and_processor_may_list_what_they_read_so_a_deleted_input_is_a_404():
    """An input deleted mid-run must fail InputNotFound, not InputAccessDenied: without
    s3:ListBucket S3 answers the missing key with 403. Both read the input from incoming/
    (or its staged copy under staging/), so they list exactly those."""
    spec = contract()["functions"]
    for name in ("validator", "processor"):
        assert sorted(spec[name]["s3_list"]) == ["incoming", "staging"], name
        assert set(spec[name]["s3_list"]) <= set(spec[name]["s3_read"]), name


def test_functions_that_delete_by_prefix_may_list_it():
    """delete_prefix (finalizer, MarkFailed) lists before it deletes: every s3_delete prefix
    is in the function's ListBucket condition (the locals expression above); pin the use."""
    source = (LAMBDAS / "etl" / "s3io.py").read_text(encoding="utf-8")
    assert 'get_paginator("list_objects_v2")' in source
    for name, spec in contract()["functions"].items():
        handler = _handler_text(name)
        if "delete_prefix(" in handler:
            assert spec["s3_delete"], f"{name} deletes by prefix without s3_delete"


# --- Key policy and bucket policy (issue 10, item 10) ---------------------------------------


def test_key_policy_grants_no_unused_service():
    """SNS never calls KMS for this pipeline (no SQS subscriptions); S3 sends to EventBridge."""
    services = {
        i
        for s in _statements("storage", "kms_key")
        for t, ids in s.principals
        if t == "Service"
        for i in ids
    }
    assert services == {
        "logs.${local.region}.amazonaws.com",
        "events.amazonaws.com",
        "cloudwatch.amazonaws.com",
    }


def _bucket_denies() -> dict[str, Statement]:
    return {s.sid: s for s in _statements("storage", "bucket") if s.effect == "Deny"}


def test_bucket_denies_objects_under_another_encryption():
    denies = _bucket_denies()
    assert set(denies) == {
        "DenyInsecureTransport",
        "DenyObjectsNotEncryptedWithKms",
        "DenyObjectsUnderAnotherKmsKey",
        "DenyObjectsUnderTheAwsManagedKey",
    }
    for sid in set(denies) - {"DenyInsecureTransport"}:
        stmt = denies[sid]
        assert stmt.actions == ["s3:PutObject"], sid
        assert stmt.resources == ["${local.bucket.arn}/*"], sid
        assert stmt.principals == [("*", ["*"])], sid
    # IfExists: an upload without encryption headers gets the bucket default (the pipeline
    # key) and must pass; only explicit wrong values are denied.
    assert denies["DenyObjectsNotEncryptedWithKms"].condition_details == [
        ("StringNotEqualsIfExists", "s3:x-amz-server-side-encryption", ["aws:kms"])
    ]
    assert denies["DenyObjectsUnderAnotherKmsKey"].condition_details == [
        (
            "StringNotEqualsIfExists",
            "s3:x-amz-server-side-encryption-aws-kms-key-id",
            ["${local.kms_key_arn}"],
        )
    ]
    assert denies["DenyObjectsUnderTheAwsManagedKey"].condition_details == [
        ("StringEquals", "s3:x-amz-server-side-encryption", ["aws:kms"]),
        ("Null", "s3:x-amz-server-side-encryption-aws-kms-key-id", ["true"]),
    ]
    assert denies["DenyInsecureTransport"].condition_details == [
        ("Bool", "aws:SecureTransport", ["false"])
    ]


def test_the_schema_upload_names_the_pipeline_key():
    """The one upload that sets encryption headers must pass DenyObjectsUnderAnotherKmsKey."""
    (schema,) = [
        b
        for _, t, n, b in module_blocks(MODULES_DIR / "storage", "resource")
        if (t, n) == ("aws_s3_object", "schema")
    ]
    assert expr(schema["kms_key_id"]) == "local.kms_key_arn"
    # ... and uses the Bucket Key, so its encryption context is the bucket ARN that the
    # functions' kms:EncryptionContext:aws:s3:arn condition names.
    assert schema["bucket_key_enabled"] is True
    (sse,) = [
        b
        for _, t, _, b in module_blocks(MODULES_DIR / "storage", "resource")
        if t == "aws_s3_bucket_server_side_encryption_configuration"
    ]
    assert sse["rule"][0]["bucket_key_enabled"] is True


# --- Queues and topic: resource policies (issue 10, item 11) --------------------------------

STATE_MACHINE_ROLE = "${aws_iam_role.state_machine.arn}"
ENDED_HANDLER_ROLE = "${var.execution_ended_handler.role_arn}"
# resource address -> (policy resource type, document, the one Allow principal)
MESSAGING = {
    ("aws_sqs_queue", "results"): ("aws_sqs_queue_policy", "results_queue"),
    ("aws_sqs_queue", "events_dlq"): ("aws_sqs_queue_policy", "events_dlq"),
    ("aws_sns_topic", "failures"): ("aws_sns_topic_policy", "failure_topic"),
}


def test_every_queue_and_topic_has_a_resource_policy():
    resources = {
        (t, n): b for _, t, n, b in module_blocks(MODULES_DIR / "orchestration", "resource")
    }
    messaging = {k for k in resources if k[0] in ("aws_sqs_queue", "aws_sns_topic")}
    assert messaging == set(MESSAGING)
    for (rtype, name), (policy_type, document) in MESSAGING.items():
        policies = [
            b
            for (t, _), b in resources.items()
            if t == policy_type
            and expr(b.get("queue_url", b.get("arn")))
            == f"{rtype}.{name}.{'id' if rtype == 'aws_sqs_queue' else 'arn'}"
        ]
        assert len(policies) == 1, f"{rtype}.{name} has no {policy_type}"
        assert expr(policies[0]["policy"]) == f"data.aws_iam_policy_document.{document}.json"


def _guards() -> dict[str, dict[str, str | None]]:
    raw = locals_of(MODULES_DIR / "orchestration")["message_guards"]
    return {k: {f: unquote(v) for f, v in entry.items()} for k, entry in raw.items()}


def test_every_queue_and_topic_policy_starts_from_its_guard():
    """The deny statements are held once (message_guard, one instance per queue/topic) and
    each policy merges its own instance through source_policy_documents."""
    guards = _guards()
    assert set(guards) == {d for _, d in MESSAGING.values()}
    for document in guards:
        body, _ = DOCS[("orchestration", document)]
        assert [expr(d) for d in body["source_policy_documents"]] == [
            f'data.aws_iam_policy_document.message_guard["{document}"].json'
        ]
        assert all(s.effect == "Allow" for s in _statements("orchestration", document))
    assert expr(DOCS[("orchestration", "message_guard")][0]["for_each"]) == "local.message_guards"


def test_queue_and_topic_policies_deny_plain_http():
    deny = _one("orchestration", "message_guard", sid="DenyInsecureTransport")
    assert deny.effect == "Deny" and deny.principals == [("*", ["*"])]
    assert deny.condition_details == [("Bool", "aws:SecureTransport", ["false"])]
    assert deny.actions == ["${each.value.tls_actions}"]
    guards = _guards()
    assert {k: g["tls_actions"] for k, g in guards.items()} == {
        "results_queue": "sqs:*",
        "events_dlq": "sqs:*",
        "failure_topic": "sns:Publish",
    }


def test_queue_and_topic_policies_deny_other_senders():
    deny = _one("orchestration", "message_guard", sid="DenyOtherSenders")
    assert deny.effect == "Deny" and deny.principals == [("*", ["*"])]
    assert deny.actions == ["${each.value.send_action}"]
    assert deny.condition_details == [("Null", "aws:PrincipalServiceName", ["true"])]
    (body, _) = DOCS[("orchestration", "message_guard")]
    (dynamic,) = body["statement"][0]["dynamic"]
    (condition,) = dynamic.values()
    assert expr(condition["for_each"]) == (
        "length(each.value.senders) == 0 ? [] : [each.value.senders]"
    )
    (content,) = condition["content"]
    assert (unquote(content["test"]), unquote(content["variable"])) == (
        "ArnNotEquals",
        "aws:PrincipalArn",
    )


def test_only_the_state_machine_sends_results():
    stmts = _statements("orchestration", "results_queue")
    assert [(s.actions, s.principals) for s in stmts] == [
        (["sqs:SendMessage"], [("AWS", [STATE_MACHINE_ROLE])])
    ]
    guard = _guards()["results_queue"]
    assert (guard["send_action"], guard["senders"], guard["arn"]) == (
        "sqs:SendMessage",
        [STATE_MACHINE_ROLE],
        "${aws_sqs_queue.results.arn}",
    )


def test_only_eventbridge_and_the_ended_rules_handler_send_dead_letters():
    """EventBridge (the queue policy allows it, for this module's rules) and Lambda, which
    records the execution-ended function's failed invocations as that function's role
    (its own policy allows it); the guard denies every other IAM principal."""
    allows = _statements("orchestration", "events_dlq")
    assert [s.principals for s in allows] == [[("Service", ["events.amazonaws.com"])]]
    guard = _guards()["events_dlq"]
    assert (guard["send_action"], guard["senders"], guard["arn"]) == (
        "sqs:SendMessage",
        [ENDED_HANDLER_ROLE],
        "${aws_sqs_queue.events_dlq.arn}",
    )
    grants = _statements("orchestration", "execution_ended_failures")
    assert [(s.sid, s.actions, s.resources) for s in grants] == [
        ("RecordFailedCleanUps", ["sqs:SendMessage"], ["${aws_sqs_queue.events_dlq.arn}"]),
    ]
    # ... and the key through SQS for that queue only (kms_grants["execution_ended_failures"])
    roles = locals_of(MODULES_DIR / "orchestration")["role_kms_grants"]
    ((sid, grant),) = roles["execution_ended_failures"].items()
    assert (sid, expr(grant["context"]), unquote(grant["service"])) == (
        "UsePipelineKeyForEventsDlq",
        "aws_sqs_queue.events_dlq.arn",
        "sqs",
    )
    assert (unquote(grant["context_key"]), [unquote(a) for a in grant["actions"]]) == (
        "kms:EncryptionContext:aws:sqs:arn",
        ["kms:Decrypt", "kms:GenerateDataKey"],
    )


def test_failed_clean_ups_are_retried_then_recorded_in_the_dead_letter_queue():
    """Lambda drops an asynchronous event whose retries failed unless a destination is set;
    the destination is checked (and the grant awaited) when the config is put."""
    ((_, _, config),) = [
        (path, name, body)
        for path, kind, name, body in module_blocks(MODULES_DIR / "orchestration", "resource")
        if kind == "aws_lambda_function_event_invoke_config"
    ]
    assert (expr(config["function_name"]), config["maximum_retry_attempts"]) == (
        "local.ended_function_arn",
        2,
    )
    (destinations,) = config["destination_config"]
    (on_failure,) = destinations["on_failure"]
    assert expr(on_failure["destination"]) == "aws_sqs_queue.events_dlq.arn"
    assert [expr(d) for d in config["depends_on"]] == [
        "aws_iam_role_policy.execution_ended_failures"
    ]


def test_only_the_state_machine_the_ended_rules_handler_and_the_alarms_publish_failures():
    allows = {
        s.sid: s for s in _statements("orchestration", "failure_topic") if s.effect == "Allow"
    }
    assert set(allows) == {
        "AllowStateMachineToPublish",
        "AllowExecutionEndedHandlerToPublish",
        "AllowPipelineAlarmsToPublish",
    }
    assert allows["AllowStateMachineToPublish"].principals == [("AWS", [STATE_MACHINE_ROLE])]
    assert allows["AllowExecutionEndedHandlerToPublish"].principals == [
        ("AWS", [ENDED_HANDLER_ROLE])
    ]
    alarms = allows["AllowPipelineAlarmsToPublish"]
    assert alarms.principals == [("Service", ["cloudwatch.amazonaws.com"])]
    assert (
        "ArnLike",
        "aws:SourceArn",
        [
            "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${var.prefix}-*"
        ],
    ) in alarms.condition_details
    assert all(s.actions == ["sns:Publish"] for s in allows.values())
    guard = _guards()["failure_topic"]
    assert (guard["send_action"], guard["senders"], guard["arn"]) == (
        "sns:Publish",
        [STATE_MACHINE_ROLE, ENDED_HANDLER_ROLE],
        "${aws_sns_topic.failures.arn}",
    )


def test_the_pipeline_alarms_are_named_with_the_prefix():
    """The topic policy allows alarm:<prefix>-*: every alarm the observability module makes
    is named "<prefix>-..." (pipeline alarms) or "<function name>-..." where the compute
    module names functions "<prefix>-<name>"."""
    obs = locals_of(MODULES_DIR / "observability")
    pipeline = [unquote(a["name"]) for a in obs["pipeline_alarms"].values()]
    assert pipeline and all(n.startswith("${var.prefix}-") for n in pipeline), pipeline
    assert 'name = "${name}-${lower(metric)}"' in expr(obs["function_alarms"])
    assert "for k, name in var.function_names" in expr(obs["function_alarms"])
    # modules/pipeline passes contract.json names.function, which starts with the prefix.
    assert contract()["names"]["function"].startswith("{prefix}-")
    assert expr(locals_of(MODULES_DIR / "compute")["function_name_pattern"]) == (
        "var.names.function"
    )
