"""localrun/tfcli.py: which hashicorp/aws a Terraform run here gets, and the files that say so.

Unit tests on fake mirror folders; no terraform needed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tfrun
from tfhcl import load, unquote

from localrun import tfcli

PLATFORM = tfcli._platform()


def make_mirror(root: Path, *builds: tuple[str, str]) -> Path:
    """A filesystem mirror in Terraform's unpacked layout holding (version, platform) builds."""
    for version, platform in builds:
        folder = root / tfcli.PROVIDER / version / platform
        folder.mkdir(parents=True)
        (folder / f"terraform-provider-aws_v{version}_x5").write_bytes(b"")
    return root


@pytest.fixture
def only_mirror(monkeypatch):
    """provider_setup() sees only the mirror given in $ETL_TF_PROVIDER_MIRROR (or none)."""
    monkeypatch.setattr(tfcli, "_MIRROR_FOLDERS", ())
    monkeypatch.delenv(tfcli.MIRROR_ENV, raising=False)
    monkeypatch.delenv(tfcli.FORCE_ENV, raising=False)
    tfcli.provider_setup.cache_clear()
    yield monkeypatch
    tfcli.provider_setup.cache_clear()


def test_pinned_version_is_the_envs_exact_pin():
    assert tfcli.pinned_version("dev") == tfcli.pinned_version("prod") == "6.66.0"


def test_pinned_version_refuses_a_range(tmp_path, monkeypatch):
    (tmp_path / "envs" / "dev").mkdir(parents=True)
    (tmp_path / "envs" / "dev" / "versions.tf").write_text(
        'terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
        '      version = ">= 6.0"\n    }\n  }\n}\n'
    )
    monkeypatch.setattr(tfcli, "REPO", tmp_path)
    with pytest.raises(ValueError, match="does not pin hashicorp/aws to an exact version"):
        tfcli.pinned_version("dev")


def test_mirror_versions_lists_this_platforms_builds_first_folder_wins(tmp_path):
    first = make_mirror(
        tmp_path / "a",
        ("5.100.0", PLATFORM),
        ("6.66.0", "plan9_mips"),  # another platform: not usable here
        ("latest", PLATFORM),  # not a version folder
    )
    second = make_mirror(tmp_path / "b", ("5.100.0", PLATFORM), ("5.99.1", PLATFORM))
    missing = tmp_path / "c"
    found = tfcli.mirror_versions((str(first), str(second), str(missing)))
    assert found == {"5.100.0": first, "5.99.1": second}


def test_mirror_env_folder_is_searched_first(tmp_path, monkeypatch):
    mirror = make_mirror(tmp_path / "m", ("5.100.0", PLATFORM))
    monkeypatch.setenv(tfcli.MIRROR_ENV, str(mirror))
    assert tfcli.mirror_versions()["5.100.0"] == mirror


def test_setup_uses_the_pin_when_the_mirror_holds_it(tmp_path, only_mirror):
    mirror = make_mirror(tmp_path, ("6.66.0", PLATFORM), ("5.100.0", PLATFORM))
    only_mirror.setenv(tfcli.MIRROR_ENV, str(mirror))
    setup = tfcli.provider_setup()
    assert setup == tfcli.ProviderSetup("6.66.0", "6.66.0", mirror)
    assert not setup.overridden
    assert setup.write_override(tmp_path) is None
    assert setup.describe() == f"hashicorp/aws 6.66.0 from filesystem mirror {mirror}"


def test_setup_uses_the_newest_mirror_version_above_the_floor(tmp_path, only_mirror):
    mirror = make_mirror(
        tmp_path, ("4.67.0", PLATFORM), ("5.99.0", PLATFORM), ("5.100.0", PLATFORM)
    )
    only_mirror.setenv(tfcli.MIRROR_ENV, str(mirror))
    setup = tfcli.provider_setup()
    assert setup == tfcli.ProviderSetup("5.100.0", "6.66.0", mirror)
    assert setup.overridden
    assert setup.describe() == (
        f"hashicorp/aws 5.100.0 from filesystem mirror {mirror} "
        "(test-only override of the envs' pin 6.66.0)"
    )


def test_setup_ignores_a_mirror_below_the_floor(tmp_path, only_mirror):
    only_mirror.setenv(tfcli.MIRROR_ENV, str(make_mirror(tmp_path, ("5.99.0", PLATFORM))))
    setup = tfcli.provider_setup()
    assert setup == tfcli.ProviderSetup("6.66.0", "6.66.0", None)
    assert setup.describe() == "hashicorp/aws 6.66.0 from the registry"


def test_forced_registry_ignores_the_mirror(tmp_path, only_mirror):
    only_mirror.setenv(tfcli.MIRROR_ENV, str(make_mirror(tmp_path, ("5.100.0", PLATFORM))))
    only_mirror.setenv(tfcli.FORCE_ENV, "registry")
    setup = tfcli.provider_setup()
    assert setup == tfcli.ProviderSetup("6.66.0", "6.66.0", None)
    assert setup.cli_config() == ""


def test_setup_is_decided_once_per_process(tmp_path, only_mirror):
    first = tfcli.provider_setup()
    only_mirror.setenv(tfcli.MIRROR_ENV, str(make_mirror(tmp_path, ("5.100.0", PLATFORM))))
    assert tfcli.provider_setup() is first


def test_override_file_requires_the_mirror_version(tmp_path):
    setup = tfcli.ProviderSetup("5.100.0", "6.66.0", Path("/opt/tf-plugins"))
    path = setup.write_override(tmp_path)
    assert path == tmp_path / "zz_test_provider_override.tf"
    assert path.name.endswith("_override.tf")  # Terraform merges it as an override file
    assert path.read_text() == (
        "# Test-only (localrun/tfcli.py): this machine's provider mirror holds "
        "hashicorp/aws 5.100.0, not the pinned 6.66.0.\n"
        "terraform {\n"
        "  required_providers {\n"
        "    aws = {\n"
        '      source  = "hashicorp/aws"\n'
        '      version = "5.100.0"\n'
        "    }\n"
        "  }\n"
        "}\n"
    )
    aws = load(path)["terraform"][0]["required_providers"][0]["aws"]
    assert (unquote(aws["source"]), unquote(aws["version"])) == ("hashicorp/aws", "5.100.0")


def test_cli_config_installs_only_aws_from_the_mirror():
    setup = tfcli.ProviderSetup("5.100.0", "6.66.0", Path("/opt/tf-plugins"))
    assert setup.cli_config() == (
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        '    path    = "/opt/tf-plugins"\n'
        '    include = ["registry.terraform.io/hashicorp/aws"]\n'
        "  }\n"
        "  direct {\n"
        '    exclude = ["registry.terraform.io/hashicorp/aws"]\n'
        "  }\n"
        "}\n"
    )


def test_env_writes_the_cli_config_and_drops_aws_variables(tmp_path):
    setup = tfcli.ProviderSetup("5.100.0", "6.66.0", Path("/opt/tf-plugins"))
    base = {"PATH": "/usr/bin", "AWS_PROFILE": "prod", "AWS_ACCESS_KEY_ID": "AKIA..."}
    env = setup.env(tmp_path / "cli", base=base, plugin_cache_dir=tmp_path / "cache")
    assert env == {
        "PATH": "/usr/bin",
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
        "TF_CLI_CONFIG_FILE": str(tmp_path / "cli" / "terraformrc"),
    }
    # From an unpacked mirror Terraform links the provider: no cache, nothing copied.
    assert Path(env["TF_CLI_CONFIG_FILE"]).read_text() == setup.cli_config()
    assert not (tmp_path / "cache").exists()


def test_env_for_the_registry_shares_one_plugin_cache(tmp_path):
    setup = tfcli.ProviderSetup("6.66.0", "6.66.0", None)
    env = setup.env(tmp_path / "cli", base={}, plugin_cache_dir=tmp_path / "cache")
    assert Path(env["TF_CLI_CONFIG_FILE"]).read_text() == (
        f'plugin_cache_dir = "{tmp_path / "cache"}"\n'
        "plugin_cache_may_break_dependency_lock_file = true\n"
    )
    assert (tmp_path / "cache").is_dir()


def test_env_for_the_forced_registry_leaves_terraforms_own_config(tmp_path, only_mirror):
    only_mirror.setenv(tfcli.FORCE_ENV, "registry")
    base = {"TF_CLI_CONFIG_FILE": "/home/me/.terraformrc", "AWS_REGION": "eu-west-1"}
    env = tfcli.provider_setup().env(tmp_path, base=base)
    assert env == {
        "TF_CLI_CONFIG_FILE": "/home/me/.terraformrc",
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }
    assert not (tmp_path / "terraformrc").exists()


def test_missing_terraform_skips_and_names_the_provider(monkeypatch):
    monkeypatch.setattr(tfcli, "terraform_binary", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        tfrun.require_terraform()
    assert str(skipped.value) == (
        "terraform is not installed (not on PATH; install it from "
        "https://developer.hashicorp.com/terraform/install); these tests run it with "
        + tfrun.provider_text()
    )


def test_missing_terraform_fails_in_ci(monkeypatch):
    monkeypatch.setattr(tfcli, "terraform_binary", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="^CI must run Terraform: terraform is not"):
        tfrun.require_terraform()


def test_terraform_version_is_reported(monkeypatch):
    tfcli.terraform_version.cache_clear()
    monkeypatch.setattr(tfcli, "terraform_binary", lambda: None)
    assert tfcli.terraform_version() is None
    tfcli.terraform_version.cache_clear()
    monkeypatch.undo()
    if tfcli.terraform_binary():
        assert re.fullmatch(r"\d+\.\d+\.\d+", tfcli.terraform_version())
