"""An envs/dev deployment made with the old layout upgrades to modules/pipeline with no
destroy, on the embedded moto with the real provider (issue 13).

Before modules/pipeline, envs/dev called the modules at its root (module.storage,
module.compute, ...). The old layout is rebuilt here from modules/pipeline itself used as the
root (its module calls then sit at exactly those addresses), with envs/dev's values. It is
applied to the emulator; its state then goes to the real envs/dev, whose `moved` blocks must
turn the upgrade into moves only: Plan: 0 to add, 0 to change, 0 to destroy.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

pytestmark = pytest.mark.e2e

# envs/dev's arguments to module "pipeline" that differ from the module's defaults.
DEV_SWITCHES = {
    "force_destroy": True,
    "deletion_protection": False,
    "retain": False,
    "kms_key_deletion_window_days": 7,
    "log_level": "DEBUG",
    "log_retention_days": 30,
}
OLD_LAYOUT = ("storage", "compute", "orchestration", "observability")


def _old_layout_root(stack) -> None:
    """<tree>/envs/old: modules/pipeline's .tf as a root (sources re-pointed), envs/dev's
    provider block and overrides, envs/dev's values."""
    dev, old, pipeline = stack.root, stack.dir / "envs" / "old", stack.dir / "modules" / "pipeline"
    old.mkdir()
    for name in ("main.tf", "variables.tf", "outputs.tf"):
        text = (pipeline / name).read_text()
        text = text.replace('source = "./contract"', 'source = "../../modules/pipeline/contract"')
        text = re.sub(r'source = "\.\./(\w+)"', r'source = "../../modules/\1"', text)
        (old / name).write_text(text)
    # the provider's Environment tag names the env; modules/pipeline has its own
    # local.environment (the functions' variables)
    versions = (dev / "versions.tf").read_text().replace("local.environment", '"dev"')
    (old / "versions.tf").write_text(versions)
    for override in dev.glob("*override*.tf"):
        shutil.copy2(override, old / override.name)
    (old / "env.tf").write_text(
        'variable "region" {\n  type = string\n}\n\n'
        'variable "tags" {\n  type    = map(string)\n  default = {}\n}\n'
    )
    values = json.loads(next(dev.glob("*.tfvars.json")).read_text())
    limits = {**values.get("limits", {}), "chunk_bytes_minimum": 1024}
    (old / "old.auto.tfvars.json").write_text(
        json.dumps({**values, **DEV_SWITCHES, "limits": limits})
    )


def test_an_old_layout_deployment_upgrades_with_moves_only(tmp_path):
    from localrun.pipeline import Deployment, dev_variables
    from localrun.stack import DevStack, require_terraform

    require_terraform()
    deployed = Deployment(dev_variables(prefix="etl-upgrade"), work_dir=tmp_path)
    try:
        zips, layer_zip, architecture = deployed._artifacts()
        deployed.emulator.start()
        stack = DevStack(
            deployed.emulator.endpoint_url,
            zips,
            deployed.variables,
            layer_zip=layer_zip,
            architecture=architecture,
            work_dir=tmp_path / "terraform",
        )
        deployed.stack = stack
        dev = stack.root
        _old_layout_root(stack)
        stack.root = stack.dir / "envs" / "old"
        stack.init()
        stack.apply()
        old_state = [a for a in stack.state_resources() if ".data." not in f".{a}"]
        assert {a.split(".")[1] for a in old_state} == set(OLD_LAYOUT)
        assert len(old_state) > 40

        # The upgrade: the same state under the real envs/dev.
        shutil.copy2(stack.root / "terraform.tfstate", dev / "terraform.tfstate")
        stack.root = dev
        stack.init()
        code, output = stack._run("plan", ok_codes=(0,))
        assert "Plan: 0 to add, 0 to change, 0 to destroy." in output, output[-6000:]
        moved = re.findall(r"# (module\.\S+) has moved to (module\.pipeline\.\S+)", output)
        assert sorted(old for old, _ in moved) == sorted(old_state)
        assert all(new == f"module.pipeline.{old}" for old, new in moved)
        stack.destroy()
        assert stack.state_resources() == []
    finally:
        deployed.close()
