"""The storage module's lifecycle rules and its retain switch (issue 10, items 5, 6 and 16).

Items 5 and 6 as written in modules/storage/main.tf: scratch data really expires (noncurrent
versions with nothing kept back, expired delete markers, incomplete multipart uploads) and
processed/ only moves to a storage class Athena reads. The rendered rules are checked by the
plan tests; the validations by test_input_validation.py.
"""

from __future__ import annotations

import re
from pathlib import Path

from tfhcl import MODULES_DIR, REPO, expr, locals_of, module_blocks, unquote, variables_of
from tfrun import run_model

STORAGE = MODULES_DIR / "storage"
SCRATCH = {"work", "staging", "manifests"}


def _plain(value):
    """Drop python-hcl2's block markers and line numbers so bodies compare as written."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _resource(rtype: str, name: str) -> dict:
    (body,) = [b for _, t, n, b in module_blocks(STORAGE, "resource") if (t, n) == (rtype, name)]
    return _plain(body)


def _lifecycle() -> dict:
    return _resource("aws_s3_bucket_lifecycle_configuration", "this")


def _static_rules() -> dict[str, dict]:
    return {unquote(r["id"]): r for r in _lifecycle().get("rule", [])}


def _dynamic_rules() -> list[dict]:
    return [
        body
        for dyn in _lifecycle().get("dynamic", [])
        for label, body in dyn.items()
        if unquote(label) == "rule"
    ]


def _dynamic_rule(rule_id: str) -> dict:
    (found,) = [d for d in _dynamic_rules() if unquote(d["content"][0]["id"]) == rule_id]
    return found


def _defaults() -> dict:
    body = variables_of(STORAGE)["lifecycle_rules"]
    text = expr(body["type"])
    return dict(re.findall(r"(\w+) = optional\(\w+, ([^)]+)\)", text))


def test_scratch_prefixes_are_work_staging_and_manifests():
    text = expr(locals_of(STORAGE)["transient_prefixes"])
    assert text == ('{for name in ["work", "staging", "manifests"] : name => var.prefixes[name]}')


def test_scratch_noncurrent_versions_expire_with_none_kept():
    rule = _dynamic_rule("expire-${rule.key}")
    assert expr(rule["for_each"]) == "local.transient_prefixes"
    content = rule["content"][0]
    assert expr(content["filter"][0]["prefix"]) == "rule.value"
    assert expr(content["expiration"][0]["days"]) == (
        "var.lifecycle_rules.transient_expire_after_days"
    )
    (noncurrent,) = content["noncurrent_version_expiration"]
    assert expr(noncurrent["noncurrent_days"]) == (
        "var.lifecycle_rules.transient_noncurrent_expire_after_days"
    )
    assert "newer_noncurrent_versions" not in noncurrent, "a kept version would live forever"
    assert _defaults()["transient_noncurrent_expire_after_days"] == "1"


def test_bucket_wide_noncurrent_versions_expire_keeping_none_by_default():
    rule = _static_rules()["expire-noncurrent-versions"]
    assert rule["filter"] == [{}]
    (noncurrent,) = rule["noncurrent_version_expiration"]
    assert expr(noncurrent["noncurrent_days"]) == (
        "var.lifecycle_rules.noncurrent_expire_after_days"
    )
    # newer_noncurrent_versions is only sent when the caller keeps some (0 keeps none).
    assert expr(noncurrent["newer_noncurrent_versions"]) == (
        "var.lifecycle_rules.noncurrent_versions_to_retain > 0 ? "
        "var.lifecycle_rules.noncurrent_versions_to_retain : null"
    )
    assert _defaults()["noncurrent_versions_to_retain"] == "0"


def test_expired_delete_markers_are_removed_everywhere():
    rule = _static_rules()["remove-expired-delete-markers"]
    assert rule["filter"] == [{}]
    assert rule["expiration"] == [{"expired_object_delete_marker": True}]
    assert unquote(rule["status"]) == "Enabled"


def test_incomplete_multipart_uploads_are_aborted_everywhere():
    rule = _static_rules()["abort-incomplete-multipart-uploads"]
    assert rule["filter"] == [{}]
    (abort,) = rule["abort_incomplete_multipart_upload"]
    assert expr(abort["days_after_initiation"]) == "var.abort_incomplete_multipart_days"


def test_every_rule_is_enabled():
    statuses = [unquote(r["status"]) for r in _static_rules().values()]
    statuses += [unquote(d["content"][0]["status"]) for d in _dynamic_rules()]
    assert statuses and set(statuses) == {"Enabled"}


def test_processed_moves_only_to_the_chosen_athena_readable_class():
    rule = _dynamic_rule("processed-storage-class")
    assert expr(rule["for_each"]) == "local.processed_lifecycle ? [1] : []"
    content = rule["content"][0]
    assert expr(content["filter"][0]["prefix"]) == 'var.prefixes["processed"]'
    (transition,) = [
        body
        for dyn in content["dynamic"]
        for label, body in dyn.items()
        if unquote(label) == "transition"
    ]
    assert expr(transition["for_each"]) == (
        'var.lifecycle_rules.processed_storage_class == "STANDARD" ? [] : '
        "[var.lifecycle_rules.processed_transition_after_days]"
    )
    assert expr(transition["content"][0]["storage_class"]) == (
        "var.lifecycle_rules.processed_storage_class"
    )
    assert _defaults()["processed_storage_class"] == '"GLACIER_IR"'


def test_no_storage_class_athena_skips_is_written_anywhere():
    text = "\n".join(p.read_text(encoding="utf-8") for p in STORAGE.glob("*.tf"))
    assert not re.search(r'storage_class\s*=\s*"(GLACIER|DEEP_ARCHIVE)"', text)


def test_athena_trade_off_is_documented_next_to_the_table():
    catalog = (STORAGE / "catalog.tf").read_text(encoding="utf-8")
    assert "GLACIER_IR" in catalog and "Athena" in catalog
    for doc in (
        STORAGE / "README.md",
        REPO / "docs" / "configuration.md",
        REPO / "docs" / "decisions.md",
    ):
        text = doc.read_text(encoding="utf-8")
        assert "GLACIER_IR" in text and "processed_storage_class" in text, doc


# --- retain: two resource sets (item 16) ----------------------------------------------------

PROTECTED = ("aws_s3_bucket", "aws_dynamodb_table", "aws_kms_key")
# Arguments allowed to differ between the two blocks: the switch itself, the protection,
# and the bucket's force_destroy (always false when retained).
SWITCHED = {"count", "lifecycle", "force_destroy"}


def test_retained_blocks_differ_from_the_unprotected_ones_only_in_protection():
    """`terraform state mv this[0] retained[0]` must plan no other change."""
    for rtype in PROTECTED:
        this, retained = _resource(rtype, "this"), _resource(rtype, "retained")
        assert {k: v for k, v in this.items() if k not in SWITCHED} == {
            k: v for k, v in retained.items() if k not in SWITCHED
        }, rtype
        assert retained["lifecycle"] == [{"prevent_destroy": True}], rtype
        assert "lifecycle" not in this, rtype
    counts = {
        rtype: (
            expr(_resource(rtype, "this")["count"]),
            expr(_resource(rtype, "retained")["count"]),
        )
        for rtype in PROTECTED
    }
    assert counts == {
        "aws_s3_bucket": ("var.retain ? 0 : 1", "var.retain ? 1 : 0"),
        "aws_dynamodb_table": ("var.retain ? 0 : 1", "var.retain ? 1 : 0"),
        "aws_kms_key": (
            "local.create_kms_key && !var.retain ? 1 : 0",
            "local.create_kms_key && var.retain ? 1 : 0",
        ),
    }


def test_switching_retain_on_is_documented_as_destroying_without_state_mv():
    """Setting retain = true on a deployment made with retain = false plans to DESTROY the
    unprotected bucket, table and key: prevent_destroy only guards the retained blocks."""
    # The storage README addresses a root calling the module directly; docs/configuration.md the envs,
    # which call it through modules/pipeline.
    for doc, at in (
        (STORAGE / "README.md", "module.storage"),
        (REPO / "docs" / "configuration.md", "module.pipeline.module.storage"),
    ):
        text = doc.read_text(encoding="utf-8")
        flat = " ".join(text.split())
        for rtype in PROTECTED:
            command = f"terraform state mv '{at}.{rtype}.this[0]' '{at}.{rtype}.retained[0]'"
            assert command in flat, f"{doc}: {command}"
        assert "destroy" in flat and "retain = true" in flat, doc
    description = unquote(variables_of(STORAGE)["retain"]["description"])
    assert "DESTROY" in description and "README" in description
    decisions = (REPO / "docs" / "decisions.md").read_text(encoding="utf-8")
    assert "## Keeping data: the retain switch" in decisions


def _model_root(path: Path) -> None:
    """The storage module's protected pairs with their real count expressions and lifecycle,
    as terraform_data (no provider needed), so Terraform itself shows what a switch plans."""
    blocks = []
    for rtype in PROTECTED:
        for name in ("this", "retained"):
            body = _resource(rtype, name)
            lifecycle = (
                "\n  lifecycle {\n    prevent_destroy = true\n  }\n"
                if body.get("lifecycle") == [{"prevent_destroy": True}]
                else ""
            )
            blocks.append(
                f'resource "terraform_data" "{rtype}_{name}" {{\n'
                f"  count = {expr(body['count'])}\n"
                f'  input = "{rtype}"\n{lifecycle}}}\n'
            )
    module = path / "storage"
    module.mkdir()
    (module / "main.tf").write_text(
        'variable "retain" {\n  type = bool\n}\n\n'
        "locals {\n  create_kms_key = true\n}\n\n" + "\n".join(blocks)
    )
    (path / "main.tf").write_text(
        'variable "retain" {\n  type = bool\n}\n\n'
        'module "storage" {\n  source = "./storage"\n  retain = var.retain\n}\n'
    )


def test_switching_retain_on_destroys_unless_the_state_is_moved(tmp_path):
    """What the READMEs say, shown by Terraform on a model of the three pairs: retain
    false -> true plans three destroys; after the documented moves it plans nothing."""
    _model_root(tmp_path)
    assert run_model(tmp_path, "init", "-input=false").returncode == 0
    applied = run_model(tmp_path, "apply", "-auto-approve", "-input=false", "-var", "retain=false")
    assert applied.returncode == 0, applied.stderr
    switched = run_model(tmp_path, "plan", "-input=false", "-var", "retain=true")
    assert switched.returncode == 0, switched.stderr
    assert "Plan: 3 to add, 0 to change, 3 to destroy." in switched.stdout
    for rtype in PROTECTED:
        moved = run_model(
            tmp_path,
            "state",
            "mv",
            f"module.storage.terraform_data.{rtype}_this[0]",
            f"module.storage.terraform_data.{rtype}_retained[0]",
        )
        assert moved.returncode == 0, moved.stderr
    after = run_model(tmp_path, "plan", "-input=false", "-detailed-exitcode", "-var", "retain=true")
    assert after.returncode == 0, after.stdout + after.stderr  # 0: no changes
    # ... and the way back is blocked by prevent_destroy until the moves are reversed.
    back = run_model(tmp_path, "plan", "-input=false", "-var", "retain=false")
    assert back.returncode != 0 and "prevent_destroy" in " ".join(back.stderr.split())
