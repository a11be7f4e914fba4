"""Module layout and variable/output hygiene (DESIGN.md "Terraform conventions")."""

from __future__ import annotations

import re

import pytest
from tfhcl import (
    ENVS,
    ENVS_DIR,
    MODULES,
    MODULES_DIR,
    blocks,
    load,
    load_dir,
    locals_of,
    tf_files,
    unquote,
    variables_of,
)

STANDARD_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")
ALL_TF = tf_files(MODULES_DIR, ENVS_DIR)


def _ids(paths):
    return [str(p.relative_to(MODULES_DIR.parent)) for p in paths]


@pytest.mark.parametrize("module", MODULES)
def test_module_has_standard_files_and_readme(module):
    missing = [f for f in STANDARD_FILES if not (MODULES_DIR / module / f).is_file()]
    assert not missing, f"modules/{module} lacks {missing}"


@pytest.mark.parametrize("module", MODULES)
def test_module_readme_documents_inputs_outputs_and_usage(module):
    readme = (MODULES_DIR / module / "README.md").read_text(encoding="utf-8")
    assert "## Inputs" in readme and "## Outputs" in readme
    assert f'source = "../../modules/{module}"' in readme, "README needs one usage block"


SHARED_ROOT_FILES = ("versions.tf", "variables.tf", "outputs.tf", "moved.tf")


@pytest.mark.parametrize("env", ENVS)
def test_env_is_its_main_tf_plus_the_shared_root_files(env):
    """What every root has is written once in envs/shared and linked; an env's own file is
    its main.tf (prod adds its state backend)."""
    own = {"main.tf"} | ({"backend.tf"} if env == "prod" else set())
    root = ENVS_DIR / env
    assert {p.name for p in root.glob("*.tf") if not p.is_symlink()} == own
    for name in SHARED_ROOT_FILES:
        link = root / name
        assert link.is_symlink() and link.resolve() == ENVS_DIR / "shared" / name, link


def test_there_is_terraform_to_check():
    assert len(ALL_TF) >= 4 * len(MODULES) + 4 * len(ENVS)


@pytest.mark.parametrize("path", ALL_TF, ids=_ids(ALL_TF))
def test_every_variable_has_type_and_description(path):
    for name, body in blocks(load(path), "variable"):
        assert "type" in body, f"{path.name}: variable {name} has no type"
        assert unquote(body.get("description", "")).strip(), (
            f"{path.name}: variable {name} has no description"
        )


@pytest.mark.parametrize("path", ALL_TF, ids=_ids(ALL_TF))
def test_every_output_has_description(path):
    for name, body in blocks(load(path), "output"):
        assert unquote(body.get("description", "")).strip(), (
            f"{path.name}: output {name} has no description"
        )


# modules/pipeline validates variables against other variables and the contract: 1.9+.
FLOOR = {"pipeline": ">= 1.9"}


@pytest.mark.parametrize("module", MODULES)
def test_module_versions_are_floor_only(module):
    tf = load(MODULES_DIR / module / "versions.tf")["terraform"][0]
    assert unquote(tf["required_version"]) == FLOOR.get(module, ">= 1.5.7")
    aws = tf["required_providers"][0]["aws"]
    assert unquote(aws["source"]) == "hashicorp/aws"
    assert unquote(aws["version"]) == ">= 5.100"


@pytest.mark.parametrize("env", ENVS)
def test_env_pins_terraform_and_the_provider_tfschema_checks(env):
    tf = load(ENVS_DIR / env / "versions.tf")["terraform"][0]
    assert unquote(tf["required_version"]) == "~> 1.11"
    assert unquote(tf["required_providers"][0]["aws"]["version"]) == "6.66.0"


def test_prod_state_is_remote_with_s3_locking():
    tf = load(ENVS_DIR / "prod" / "backend.tf")["terraform"][0]
    assert "s3" in {unquote(k) for b in tf["backend"] for k in b}
    example = (ENVS_DIR / "prod" / "backend.hcl.example").read_text(encoding="utf-8")
    assert "use_lockfile = true" in example


# `terraform validate` cannot run without the provider; these catch the wiring mistakes it would.
ROOTS = (
    [ENVS_DIR / e for e in ENVS]
    + [MODULES_DIR / "pipeline"]
    + sorted((MODULES_DIR.parent / "tests/terraform/fixtures").iterdir())
)
META = {"source", "version", "providers", "count", "for_each", "depends_on"}


def _module_calls(root):
    for _, parsed in load_dir(root):
        for name, body in blocks(parsed, "module"):
            yield name, body, (root / unquote(body["source"])).resolve()


@pytest.mark.parametrize(
    "root", ROOTS, ids=lambda p: p.name if p.parent.name != "fixtures" else f"fixture-{p.name}"
)
def test_module_calls_pass_known_and_all_required_inputs(root):
    for name, body, source in _module_calls(root):
        variables = variables_of(source)
        passed = {k for k in body if k not in META and not k.startswith("__")}
        assert passed <= set(variables), (
            f"{root.name}: module {name} has no inputs {passed - set(variables)}"
        )
        required = {v for v, b in variables.items() if "default" not in b}
        assert required <= passed, f"{root.name}: module {name} misses required {required - passed}"


@pytest.mark.parametrize(
    "root", ROOTS, ids=lambda p: p.name if p.parent.name != "fixtures" else f"fixture-{p.name}"
)
def test_module_output_references_exist(root):
    outputs = {
        name: {o for _, parsed in load_dir(source) for o, _ in blocks(parsed, "output")}
        for name, _, source in _module_calls(root)
    }
    text = "\n".join(p.read_text(encoding="utf-8") for p in root.glob("*.tf"))
    # moved blocks name module addresses (module.a.module.b), not outputs.
    text = re.sub(r"^moved \{\n(.*\n)*?\}\n", "", text, flags=re.M)
    for module, output in re.findall(r"\bmodule\.(\w+)\.(\w+)", text):
        assert output in outputs[module], f"{root.name}: module.{module}.{output} does not exist"


@pytest.mark.parametrize(
    "root",
    [MODULES_DIR / m for m in MODULES] + [MODULES_DIR / "pipeline" / "contract"] + ROOTS,
    ids=lambda p: p.name,
)
def test_var_and_local_references_are_declared(root):
    text = "\n".join(p.read_text(encoding="utf-8") for p in root.glob("*.tf"))
    variables, local_names = set(variables_of(root)), set(locals_of(root))
    assert set(re.findall(r"\bvar\.(\w+)", text)) <= variables
    assert set(re.findall(r"\blocal\.(\w+)", text)) <= local_names
