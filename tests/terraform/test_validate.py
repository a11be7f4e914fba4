"""`terraform validate` on every module and env: valid, and not one warning.

Runs in the session's temporary copy of the tree with the provider tfcli chose (the mirror's
5.100.0 here, the envs' pinned 6.66.0 where that is installable). Deprecated attributes show
up as warnings here, so a module that is valid but deprecated on the provider in use fails.
"""

from __future__ import annotations

import json

import pytest
from tfrun import ENVS, MODULES, provider_text, run_terraform, selected

pytest_plugins = ["tfplugin"]
pytestmark = pytest.mark.tftest

ROOTS = [f"modules/{m}" for m in MODULES] + [f"envs/{e}" for e in ENVS]


def validate(rel: str, tf_root, tf_env) -> tuple[str, dict, int]:
    root = tf_root(rel)
    proc = run_terraform(["validate", "-json", "-no-color"], root, tf_env, check=False)
    return rel, json.loads(proc.stdout), proc.returncode


@pytest.fixture(scope="module")
def validations(request, tf_jobs, tf_root, tf_env):
    return {rel: tf_jobs.submit(validate, rel, tf_root, tf_env) for rel in selected(request, "rel")}


@pytest.mark.parametrize("rel", ROOTS)
def test_validate_is_clean(rel, validations):
    _, result, returncode = validations[rel].result()
    problems = [
        f"{d['severity']}: {d['summary']}: {d.get('detail', '')}"
        f" ({d.get('range', {}).get('filename', '?')}:{d.get('range', {}).get('start', {}).get('line', '?')})"
        for d in result["diagnostics"]
    ]
    assert (result["valid"], result["error_count"], result["warning_count"]) == (True, 0, 0), (
        f"{rel} with {provider_text()}:\n" + "\n".join(problems)
    )
    assert returncode == 0
