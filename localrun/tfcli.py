"""Which hashicorp/aws provider Terraform uses here, and the CLI settings that make it so.

Shared by the local run and the tests (plan tests, `terraform test`, validate). Real deploys
(`nox -s deploy-dev`, `plan-prod`, `apply-prod`) never come through here: they use the exact
pin in `envs/*/versions.tf` and the registry, as any Terraform user would.

The rule, decided once per process by `provider_setup()`:
1. `ETL_TF_PROVIDER=registry` forces the registry and the envs' exact pin.
2. A filesystem mirror holding the pinned version: use it, no override.
3. A filesystem mirror holding another hashicorp/aws >= the modules' floor (the machine
   image here carries 5.100.0 in /opt/tf-plugins): use it through a **test-only** override
   file written into a temporary copy of a root (never into the repo's own envs/).
4. No mirror: the registry and the pin (fails offline with Terraform's own message).

Mirrors are looked for in `$ETL_TF_PROVIDER_MIRROR` (a folder holding `registry.terraform.io/`)
and Terraform's usual implied local mirror folders.

A caller that runs many roots (the tests) passes `plugin_cache_dir` to `env()`: a provider
fetched from the registry is then downloaded once, not once per root. A mirror in Terraform's
unpacked layout needs no cache: `terraform init` links its folder instead of copying it.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROVIDER = "registry.terraform.io/hashicorp/aws"
FLOOR = (5, 100, 0)  # the modules' `version = ">= 5.100"`
MIRROR_ENV = "ETL_TF_PROVIDER_MIRROR"
FORCE_ENV = "ETL_TF_PROVIDER"
OVERRIDE_FILE = "zz_test_provider_override.tf"
_MIRROR_FOLDERS = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def pinned_version(env: str = "dev") -> str:
    """The exact hashicorp/aws version `envs/<env>/versions.tf` pins."""
    text = (REPO / "envs" / env / "versions.tf").read_text()
    block = re.search(r"aws\s*=\s*\{[^}]*\}", text, re.S)
    found = block and re.search(r'version\s*=\s*"([^"]+)"', block.group(0))
    if not found or not _VERSION.match(found.group(1)):
        raise ValueError(f"envs/{env}/versions.tf does not pin hashicorp/aws to an exact version")
    return found.group(1)


def _platform() -> str:
    machine = os.uname().machine
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{os.uname().sysname.lower()}_{arch}"


def mirror_versions(folders: tuple[str, ...] | None = None) -> dict[str, Path]:
    """{version: mirror root} for every hashicorp/aws build for this platform found."""
    if folders is None:
        folders = tuple(filter(None, (os.environ.get(MIRROR_ENV),))) + _MIRROR_FOLDERS
    found: dict[str, Path] = {}
    for folder in folders:
        root = Path(folder).expanduser()
        for version_dir in sorted((root / PROVIDER).glob("*/")):
            if _VERSION.match(version_dir.name) and (version_dir / _platform()).is_dir():
                found.setdefault(version_dir.name, root)
    return found


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


@dataclass(frozen=True)
class ProviderSetup:
    """The provider a Terraform run here gets, and why."""

    version: str
    pinned: str
    mirror: Path | None  # None: the registry

    @property
    def overridden(self) -> bool:
        return self.version != self.pinned

    def describe(self) -> str:
        where = f"filesystem mirror {self.mirror}" if self.mirror else "the registry"
        how = f" (test-only override of the envs' pin {self.pinned})" if self.overridden else ""
        return f"hashicorp/aws {self.version} from {where}{how}"

    def cli_config(self, plugin_cache_dir: Path | None = None) -> str:
        """The CLI configuration text ("" when Terraform's defaults already do).

        `plugin_cache_dir` only applies to registry downloads: from an unpacked mirror
        Terraform links the provider folder, and a cache would only copy the whole provider."""
        text = ""
        if plugin_cache_dir is not None and self.mirror is None:
            # The temporary roots have no lock file yet; without the second setting Terraform
            # would not use the cache for them (and download the provider per root).
            text += (
                f'plugin_cache_dir = "{plugin_cache_dir}"\n'
                "plugin_cache_may_break_dependency_lock_file = true\n"
            )
        if self.mirror is not None:
            text += (
                "provider_installation {\n"
                "  filesystem_mirror {\n"
                f'    path    = "{self.mirror}"\n'
                f'    include = ["{PROVIDER}"]\n'
                "  }\n"
                "  direct {\n"
                f'    exclude = ["{PROVIDER}"]\n'
                "  }\n"
                "}\n"
            )
        return text

    def env(
        self,
        workdir: Path,
        base: dict[str, str] | None = None,
        plugin_cache_dir: Path | None = None,
    ) -> dict[str, str]:
        """Environment for a terraform subprocess: the CLI config written under `workdir`,
        no AWS_* variables from the caller (a test must never reach a real account)."""
        base = dict(os.environ if base is None else base)
        env = {k: v for k, v in base.items() if not k.startswith("AWS_")}
        env.update(TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
        text = self.cli_config(plugin_cache_dir)
        if text:
            workdir.mkdir(parents=True, exist_ok=True)
            if plugin_cache_dir is not None and self.mirror is None:
                plugin_cache_dir.mkdir(parents=True, exist_ok=True)
            config = workdir / "terraformrc"
            config.write_text(text)
            env["TF_CLI_CONFIG_FILE"] = str(config)
        return env

    def write_override(self, root: Path) -> Path | None:
        """In a *copy* of a root module: require the version this setup provides."""
        if not self.overridden:
            return None
        path = root / OVERRIDE_FILE
        path.write_text(
            "# Test-only (localrun/tfcli.py): this machine's provider mirror holds "
            f"hashicorp/aws {self.version}, not the pinned {self.pinned}.\n"
            "terraform {\n  required_providers {\n    aws = {\n"
            f'      source  = "hashicorp/aws"\n      version = "{self.version}"\n'
            "    }\n  }\n}\n"
        )
        return path


@functools.lru_cache(maxsize=1)
def provider_setup() -> ProviderSetup:
    pinned = pinned_version()
    if os.environ.get(FORCE_ENV) == "registry":
        return ProviderSetup(pinned, pinned, None)
    mirrors = mirror_versions()
    if pinned in mirrors:
        return ProviderSetup(pinned, pinned, mirrors[pinned])
    usable = sorted((v for v in mirrors if _key(v) >= FLOOR), key=_key)
    if usable:
        return ProviderSetup(usable[-1], pinned, mirrors[usable[-1]])
    return ProviderSetup(pinned, pinned, None)


def terraform_binary() -> str | None:
    return shutil.which("terraform")


@functools.lru_cache(maxsize=1)
def terraform_version() -> str | None:
    """The installed Terraform's version ("1.11.4"), or None when terraform is not on PATH."""
    binary = terraform_binary()
    if binary is None:
        return None
    proc = subprocess.run(
        [binary, "version", "-json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
    )
    return json.loads(proc.stdout)["terraform_version"]
