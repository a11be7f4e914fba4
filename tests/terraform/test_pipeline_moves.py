"""Deployments made before modules/pipeline keep every resource (issue 13).

Before the composition, envs/dev and envs/prod called the four modules themselves
(module.storage, module.compute, ...); now they call module.pipeline, which calls them. The
`moved` blocks in each env carry the old addresses over. Without them an upgrade plans to
destroy and re-create everything, prod's bucket, table and KMS key included: prevent_destroy
only guards blocks still in the configuration, not the old addresses. Checked twice: statically (every old address has its move, to a module that
exists), and by Terraform itself on a provider-free model of both layouts (terraform_data in
place of the real resources, same module addresses, the envs' moved blocks verbatim).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tfhcl import ENVS, ENVS_DIR, MODULES_DIR, blocks, expr, load_dir, module_blocks
from tfrun import run_model

# The module calls envs/*/main.tf made before modules/pipeline (the "old layout").
OLD_LAYOUT = ("storage", "compute", "orchestration", "observability")


def _moved(env: str) -> set[tuple[str, str]]:
    return {
        (expr(body["from"]), expr(body["to"]))
        for _, parsed in load_dir(ENVS_DIR / env)
        for body in parsed.get("moved", [])
    }


def _pipeline_calls() -> dict[str, str]:
    return {
        name: expr(body["source"])
        for _, parsed in load_dir(MODULES_DIR / "pipeline")
        for name, body in blocks(parsed, "module")
    }


def test_the_old_layout_is_the_pipeline_s_modules_with_resources():
    """Every module the pipeline calls that holds resources was an env module call before
    (the contract reader holds none), so nothing new appears and nothing old is left out."""
    calls = _pipeline_calls()
    assert calls.pop("contract") == "./contract"
    assert calls == {m: f"../{m}" for m in OLD_LAYOUT}
    assert not list(module_blocks(MODULES_DIR / "pipeline" / "contract", "resource"))


@pytest.mark.parametrize("env", ENVS)
def test_every_old_module_address_moves_into_the_pipeline(env):
    assert _moved(env) == {(f"module.{m}", f"module.pipeline.module.{m}") for m in OLD_LAYOUT}


# --- Terraform on a model of the two layouts ----------------------------------------------


def _model_module(path: Path, module: str) -> None:
    """The module's resources as terraform_data at the same addresses (count/for_each left
    out: a move carries every instance key along); prevent_destroy where the module has it."""
    out = []
    for _, rtype, name, body in module_blocks(MODULES_DIR / module, "resource"):
        protected = body.get("lifecycle") and any(
            lc.get("prevent_destroy") for lc in body["lifecycle"]
        )
        lifecycle = "\n  lifecycle {\n    prevent_destroy = true\n  }\n" if protected else ""
        out.append(
            f'resource "terraform_data" "{rtype}_{name}" {{\n'
            f'  input = "{module}.{rtype}.{name}"\n{lifecycle}}}\n'
        )
    path.mkdir(parents=True)
    (path / "main.tf").write_text("\n".join(out))


def _calls(prefix: str) -> str:
    return "\n".join(f'module "{m}" {{\n  source = "{prefix}{m}"\n}}\n' for m in OLD_LAYOUT)


def _env_moved_blocks(env: str) -> str:
    text = "".join(p.read_text(encoding="utf-8") for p in sorted((ENVS_DIR / env).glob("*.tf")))
    found = re.findall(r"^moved \{\n(?:.*\n)*?\}\n", text, flags=re.M)
    assert len(found) == len(OLD_LAYOUT), f"envs/{env}: {len(found)} moved blocks"
    return "\n".join(found)


@pytest.mark.parametrize("env", ENVS)
def test_an_old_layout_state_plans_no_destroy_after_the_upgrade(tmp_path, env):
    for module in OLD_LAYOUT:
        _model_module(tmp_path / "modules" / module, module)
    root = tmp_path / "root"
    root.mkdir()
    # Old layout: the env calls the four modules; apply it to get an old-layout state.
    (root / "main.tf").write_text(_calls("../modules/"))
    assert run_model(root, "init", "-input=false").returncode == 0
    applied = run_model(root, "apply", "-auto-approve", "-input=false")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    created = int(re.search(r"Apply complete! Resources: (\d+) added", applied.stdout).group(1))
    assert created > 40, applied.stdout  # the model holds every resource block of the modules

    # New layout: one pipeline module calling the four, plus this env's moved blocks.
    (tmp_path / "modules" / "pipeline").mkdir()
    (tmp_path / "modules" / "pipeline" / "main.tf").write_text(_calls("../"))
    (root / "main.tf").write_text(
        'module "pipeline" {\n  source = "../modules/pipeline"\n}\n\n' + _env_moved_blocks(env)
    )
    assert run_model(root, "init", "-input=false").returncode == 0
    plan = run_model(root, "plan", "-input=false")
    # Only moves; a missing move would plan destroys (or fail on prevent_destroy).
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in plan.stdout, plan.stdout
    moves = re.findall(
        r"# module\.(\w+)\.\S+ has moved to module\.pipeline\.module\.(\w+)\.", plan.stdout
    )
    assert len(moves) == created and {a for a, b in moves if a == b} == set(OLD_LAYOUT)

    # Without the moves the same upgrade destroys and re-creates everything: prevent_destroy
    # does not guard a resource whose block left the configuration.
    (root / "main.tf").write_text('module "pipeline" {\n  source = "../modules/pipeline"\n}\n')
    bare = run_model(root, "plan", "-input=false")
    assert bare.returncode == 0, bare.stdout + bare.stderr
    assert f"Plan: {created} to add, 0 to change, {created} to destroy." in bare.stdout
