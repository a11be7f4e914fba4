"""`terraform validate` on every module and env: valid, and not one warning.

Runs in the session's temporary copy of the tree with the provider tfcli chose (the mirror's
5.100.0 here, the envs' pinned 6.66.0 where that is installable). Deprecated attributes show
up as warnings here, so a module that is valid but deprecated on the provider in use fails.
"""

from __future__ import annotations

import json

import pytest
from tfrun import ENVS, MODULES, provider_text, run_terraform

pytestmark = pytest.mark.tftest

ROOTS = [f"modules/{m}" for m in MODULES] + [f"envs/{e}" for e in ENVS]


@pytest.mark.parametrize("rel", ROOTS)
def test_validate_is_clean(rel, tf_root, tf_env):
    root = tf_root(rel)
    proc = run_terraform(["validate", "-json", "-no-color"], root, tf_env, check=False)
    result = json.loads(proc.stdout)
    problems = [
        f"{d['severity']}: {d['summary']}: {d.get('detail', '')}"
        f" ({d.get('range', {}).get('filename', '?')}:{d.get('range', {}).get('start', {}).get('line', '?')})"
        for d in result["diagnostics"]
    ]
    assert (result["valid"], result["error_count"], result["warning_count"]) == (True, 0, 0), (
        f"{rel} with {provider_text()}:\n" + "\n".join(problems)
    )
    assert proc.returncode == 0
