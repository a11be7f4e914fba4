"""The bucket's configuration resources stay linked to the bucket in checkov's graph.

checkov's connection checks (versioning, SSE-KMS, public access block, lifecycle, event
notifications) need an edge from each configuration resource to the bucket. An edge through
a local exists only once checkov has rendered everything behind the local (for the bucket:
its name, from modules/pipeline and contract.json), and its renderer gives up before that
(docs/decisions.md, "checkov and the bucket's links"). A direct reference to the two bucket
blocks is an edge from the start. The `policy` session runs checkov itself; these tests hold
the rule that keeps it passing without inline skips.
"""

from __future__ import annotations

import re

import pytest
from tfhcl import ENVS_DIR, MODULES_DIR, expr, module_blocks, tf_files

STORAGE = MODULES_DIR / "storage"
BUCKET_REFERENCE = "one(concat(aws_s3_bucket.this, aws_s3_bucket.retained)).id"
# The checks that read the links; a skip of one of them would hide a lost link again.
LINK_CHECKS = ("CKV_AWS_21", "CKV_AWS_145", "CKV2_AWS_6", "CKV2_AWS_61", "CKV2_AWS_62")
CONFIGURATION = sorted(
    (rtype, name, body)
    for _, rtype, name, body in module_blocks(STORAGE, "resource")
    if rtype.startswith("aws_s3_bucket_")
)


def test_the_bucket_has_its_configuration_resources():
    types = {rtype for rtype, _, _ in CONFIGURATION}
    assert {
        "aws_s3_bucket_versioning",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_lifecycle_configuration",
        "aws_s3_bucket_notification",
    } <= types


@pytest.mark.parametrize(
    ("rtype", "name", "body"), CONFIGURATION, ids=[f"{t}.{n}" for t, n, _ in CONFIGURATION]
)
def test_configuration_names_both_bucket_blocks_directly(rtype, name, body):
    assert expr(body["bucket"]) == BUCKET_REFERENCE


@pytest.mark.parametrize("path", tf_files(MODULES_DIR, ENVS_DIR), ids=lambda p: p.name)
def test_no_inline_skip_of_a_link_check(path):
    skipped = re.findall(r"checkov:skip=([A-Z0-9_]+)", path.read_text(encoding="utf-8"))
    assert not set(skipped) & set(LINK_CHECKS), f"{path}: {sorted(set(skipped))}"
