"""Running Terraform in the tests: the provider tfcli chose, one tree, skip/fail messages.

Used by tfplugin.py (fixtures, report lines) and the test modules here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from localrun import tfcli

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = ("splitter", "validator", "processor", "finalizer", "mark_failed")
MODULES = ("storage", "compute", "orchestration", "observability", "pipeline")
ENVS = ("dev", "prod")
# Copied into the temporary tree, keeping the relative paths the roots use.
TREE = ("modules", "envs", "schemas", "lambdas/etl/contract.json", "tests/terraform/fixtures")
PLUGIN_CACHE = Path(
    os.environ.get("TF_PLUGIN_CACHE_DIR")
    or Path.home() / ".cache" / "csv-etl" / "terraform-plugins"
)
BACKEND_OVERRIDE = 'terraform {\n  backend "local" {}\n}\n'
TERRAFORM_TIMEOUT_S = 600

SETUP = tfcli.provider_setup()
INIT_SECONDS: dict[str, float] = {}


def provider_text() -> str:
    return SETUP.describe()


def terraform_unavailable() -> str | None:
    """Why Terraform cannot run here (naming the provider the tests would use), or None."""
    if tfcli.terraform_binary() is None:
        return (
            "terraform is not installed (not on PATH; install it from "
            "https://developer.hashicorp.com/terraform/install); these tests run it with "
            f"{provider_text()}"
        )
    return None


def require_terraform() -> str:
    """The terraform binary; skip (fail in CI) where it is missing."""
    reason = terraform_unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run Terraform: {reason}", pytrace=False)
        pytest.skip(reason)
    return tfcli.terraform_binary()


def selected(request, argname: str) -> set:
    """The values of parameter `argname` among the tests this run selected (so `-k` or one
    test id starts only the terraform commands those tests need)."""
    return {
        item.callspec.params[argname]
        for item in request.session.items
        if hasattr(item, "callspec") and argname in item.callspec.params
    }


# --- running terraform ------------------------------------------------------------------------


def run_model(root: Path, *args: str) -> subprocess.CompletedProcess:
    """terraform ARGS in a provider-less model root (the state-move tests: terraform_data
    resources only), without the AWS_* variables; skips (fails in CI) without terraform."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    return subprocess.run(
        [require_terraform(), *args, "-no-color"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_terraform(
    args: list[str], cwd: Path, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess:
    """terraform ARGS in CWD; on failure the assertion names the command, the provider and
    Terraform's own output."""
    proc = subprocess.run(
        [require_terraform(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TERRAFORM_TIMEOUT_S,
        check=False,
    )
    if check and proc.returncode != 0:
        pytest.fail(
            f"`terraform {' '.join(args)}` failed in {cwd.name} (exit {proc.returncode}, "
            f"{provider_text()}):\n{proc.stdout}\n{proc.stderr}",
            pytrace=False,
        )
    return proc


def aws_constraint(root: Path) -> str:
    """The hashicorp/aws version constraint of a root's versions.tf ("" when none)."""
    text = (root / "versions.tf").read_text()
    block = re.search(r"aws\s*=\s*\{[^}]*\}", text, re.S)
    found = block and re.search(r'version\s*=\s*"([^"]+)"', block.group(0))
    return found.group(1) if found else ""


# --- the fake build the roots read --------------------------------------------------------------


def _fake_zip(path: Path, member: str, text: str) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, text)
    data = path.read_bytes()
    digest = hashlib.sha256(data)
    return {
        "sha256": digest.hexdigest(),
        "base64sha256": base64.b64encode(digest.digest()).decode(),
        "size": len(data),
    }


def write_fixture_build(root: Path) -> None:
    """dist/manifest.json in build.py's format, plus tiny zips (also for the compute fixture)."""
    artifacts = {}
    for name in FUNCTIONS:
        rel = f"dist/functions/{name}.zip"
        artifacts[name] = {
            "path": rel,
            **_fake_zip(root / rel, f"{name}.py", "def handler(e, c):\n    return e\n"),
        }
        shutil.copy2(root / rel, root / "dist" / f"{name}.zip")
    artifacts["layer"] = {
        "path": "dist/layer-arm64.zip",
        **_fake_zip(root / "dist/layer-arm64.zip", "python/x.py", ""),
    }
    shutil.copy2(root / "dist/layer-arm64.zip", root / "dist" / "layer.zip")
    manifest = {"architecture": "arm64", "python": "3.12", "artifacts": artifacts}
    (root / "dist" / "manifest.json").write_text(json.dumps(manifest, indent=2))
