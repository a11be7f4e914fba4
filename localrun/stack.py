"""``envs/dev`` applied by Terraform to the embedded emulator: init, apply, plan, destroy.

The repo's own ``envs/`` is never written to. :class:`DevStack` copies what the root needs
(``envs/dev``, ``modules/``, ``lambdas/etl/contract.json``, ``schemas/`` and the build
artifacts) into a temporary folder and adds two files there only:

* the provider version override from :mod:`localrun.tfcli` when this machine's provider
  mirror holds another version than the envs' pin (test-only, see there);
* ``zz_localrun_endpoints_override.tf``: every endpoint the provider uses pointed at the
  emulator, path-style S3, fake credentials, the ``skip_*`` checks that need AWS, and STS on
  the emulator so the account id is known (Terraform merges it into ``envs/dev``'s provider
  block; nothing else of the configuration changes).

Configuration (chunk size, concurrency, retries, schema...) goes in as ``envs/dev``
variables through a ``-var-file``, as it would for a real deploy.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from etl.contract import PATH as CONTRACT_PATH
from etl.contract import REPO_RELATIVE_PATH

from buildtools.zips import ZipEntry, write_zip
from localrun import tfcli

REPO = tfcli.REPO
TERRAFORM_INSTALL = "https://developer.hashicorp.com/terraform/install"
REQUIRED_TERRAFORM = "~> 1.11"  # envs/*/versions.tf required_version
# Every service envs/dev's resources and data sources call (provider endpoint names).
ENDPOINT_SERVICES = (
    "cloudwatch",
    "dynamodb",
    "events",
    "glue",
    "iam",
    "kms",
    "lambda",
    "logs",
    "s3",
    "sfn",
    "sns",
    "sqs",
    "sts",
)
ENDPOINTS_OVERRIDE = "zz_localrun_endpoints_override.tf"
BACKEND_OVERRIDE = "zz_localrun_backend_override.tf"
VAR_FILE = "localrun.auto.tfvars.json"
_INPUT_COMMANDS = ("init", "apply", "plan", "destroy")
_COMPLETE = re.compile(
    r"^(?P<address>\S+): (?P<what>Creation|Destruction|Modifications) complete after (?P<t>\S+)"
)
_PLAN = re.compile(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy")


class TerraformMissing(RuntimeError):
    """terraform is not on PATH."""

    def __init__(self) -> None:
        super().__init__(
            f"terraform is not installed: the local run deploys envs/dev with Terraform"
            f" {REQUIRED_TERRAFORM}. Install it from {TERRAFORM_INSTALL} (a single binary;"
            " e.g. `sudo apt-get install terraform` from HashiCorp's apt repository, or"
            " unzip the release into ~/.local/bin) and put it on PATH, then run again"
        )


class TerraformFailed(RuntimeError):
    """A terraform command exited non-zero; the message carries the end of its output."""


@dataclass(frozen=True)
class Step:
    """One resource finished during apply/destroy: for progress output."""

    command: str  # apply | destroy
    address: str
    done: int
    total: int | None
    elapsed_s: float


def require_terraform() -> str:
    terraform = tfcli.terraform_binary()
    if not terraform:
        raise TerraformMissing()
    return terraform


def stand_in_layer(path: Path) -> Path:
    """Terraform deploys a layer; when none was given it deploys this small, fixed zip (the
    workers do not read the layer from moto: they run the real one from .build-cache/, see
    ``localrun/lambda_runtime.py``)."""
    with tempfile.TemporaryDirectory(prefix="localrun-layer-") as tmp:
        note = Path(tmp) / "LOCALRUN_STAND_IN_LAYER.txt"
        note.write_text(
            "localrun stand-in: the workers run the real layer from .build-cache/ instead.\n"
            "Build the real layer with `python3 noxfile.py -s package`.\n"
        )
        write_zip([ZipEntry(f"python/{note.name}", note)], path)  # build.py's one writer
    return path


def _artifact(path: Path, root: Path) -> dict:
    data = path.read_bytes()
    digest = hashlib.sha256(data)
    return {
        "path": path.relative_to(root).as_posix(),
        "sha256": digest.hexdigest(),
        "base64sha256": base64.b64encode(digest.digest()).decode(),
        "size": len(data),
    }


class DevStack:
    """A temporary copy of ``envs/<env>`` (dev unless told) pointed at ``endpoint_url``. A root
    with a remote backend (prod's ``backend "s3" {}``) gets ``zz_localrun_backend_override.tf``
    in the copy: local state in the temporary folder, as Terraform's override files allow."""

    def __init__(
        self,
        endpoint_url: str,
        function_zips: dict[str, Path],
        variables: dict,
        *,
        layer_zip: Path | None = None,
        architecture: str = "arm64",
        work_dir: Path | None = None,
        region: str = "us-east-1",
        env: str = "dev",
    ) -> None:
        self.terraform = require_terraform()
        self.endpoint_url = endpoint_url
        self.provider = tfcli.provider_setup()
        self._own_dir = work_dir is None
        self.dir = Path(work_dir or tempfile.mkdtemp(prefix="localrun-tf-"))
        self.env = env
        self.root = self.dir / "envs" / env
        self.variables = {"region": region, "architecture": architecture, **variables}
        self._copy_tree(function_zips, layer_zip, architecture)
        self._env = self.provider.env(self.dir)
        self.timings: dict[str, float] = {}
        self.log_path = self.dir / "terraform.log"

    # -- the copy ------------------------------------------------------------------------
    def _copy_tree(self, zips: dict[str, Path], layer_zip: Path | None, arch: str) -> None:
        ignore = shutil.ignore_patterns(".terraform*", "terraform.tfstate*", "*.tfvars", "*.hcl")
        shutil.copytree(REPO / "envs" / self.env, self.root, ignore=ignore)
        shutil.copytree(REPO / "modules", self.dir / "modules", ignore=ignore)
        shutil.copytree(REPO / "schemas", self.dir / "schemas")
        contract_copy = self.dir / REPO_RELATIVE_PATH
        contract_copy.parent.mkdir(parents=True)
        shutil.copy2(CONTRACT_PATH, contract_copy)
        dist = self.dir / "dist"
        (dist / "functions").mkdir(parents=True)
        artifacts = {}
        for name, path in sorted(zips.items()):
            artifacts[name] = _artifact(
                Path(shutil.copy2(path, dist / "functions" / f"{name}.zip")), self.dir
            )
        layer = dist / f"layer-{arch}.zip"
        if layer_zip is not None:
            shutil.copy2(layer_zip, layer)
        else:
            stand_in_layer(layer)
        artifacts["layer"] = _artifact(layer, self.dir)
        manifest = {"architecture": arch, "python": "3.12", "artifacts": artifacts}
        (dist / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        self.provider.write_override(self.root)
        (self.root / ENDPOINTS_OVERRIDE).write_text(self.endpoints_override())
        if self.remote_backend:
            (self.root / BACKEND_OVERRIDE).write_text(
                "# Written by localrun/stack.py into a temporary copy: local state here instead"
                " of the\n# root's remote backend. Never part of the repo's envs/.\n"
                'terraform {\n  backend "local" {}\n}\n'
            )
        (self.root / VAR_FILE).write_text(json.dumps(self.variables, indent=2) + "\n")

    def endpoints_override(self) -> str:
        endpoints = "\n".join(
            f'    {name:<10} = "{self.endpoint_url}"' for name in ENDPOINT_SERVICES
        )
        return (
            "# Written by localrun/stack.py into a temporary copy of envs/dev: every endpoint\n"
            "# on the embedded emulator (moto). Never part of the repo's envs/.\n"
            'provider "aws" {\n'
            '  access_key                  = "testing"\n'
            '  secret_key                  = "testing"\n'
            "  s3_use_path_style           = true\n"
            "  skip_credentials_validation = true\n"
            "  skip_metadata_api_check     = true\n"
            "  skip_region_validation      = true\n"
            "  skip_requesting_account_id  = false\n\n"
            f"  endpoints {{\n{endpoints}\n  }}\n"
            "}\n"
        )

    # -- terraform -----------------------------------------------------------------------
    def _run(
        self,
        command: str,
        *args: str,
        ok_codes: tuple[int, ...] = (0,),
        on_line: Callable[[str], None] | None = None,
        stop: threading.Event | None = None,
    ) -> tuple[int, str]:
        started = time.monotonic()
        flags = ["-input=false", "-no-color"] if command in _INPUT_COMMANDS else []
        argv = [self.terraform, f"-chdir={self.root}", command, *flags, *args]
        lines: list[str] = []
        with open(self.log_path, "a") as log:
            log.write(f"$ terraform {command} {' '.join(args)}\n")
            proc = subprocess.Popen(
                argv,
                env=self._env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                start_new_session=True,  # Ctrl-C reaches us; we stop terraform and its plugins
            )
            assert proc.stdout is not None
            try:
                for line in proc.stdout:
                    log.write(line)
                    lines.append(line)
                    if on_line is not None:
                        on_line(line.rstrip("\n"))
                code = proc.wait()
            except BaseException:
                _stop_group(proc)
                raise
        self.timings[command] = self.timings.get(command, 0.0) + time.monotonic() - started
        output = "".join(lines)
        if code not in ok_codes:
            errors = [i for i, ln in enumerate(lines) if ln.startswith("Error")]
            tail = "".join(lines[errors[0] :] if errors else lines[-30:]).strip()
            raise TerraformFailed(
                f"terraform {command} failed ({code}) in {self.root}:\n{tail}\n"
                f"(full log: {self.log_path})"
            )
        return code, output

    @property
    def remote_backend(self) -> bool:
        """The root declares a backend (prod: S3), replaced here by a local one."""
        return any(
            re.search(r'^\s*backend\s+"', path.read_text(), re.MULTILINE)
            for path in (REPO / "envs" / self.env).glob("*.tf")
        )

    def init(self) -> None:
        self._run("init", *(() if self.remote_backend else ("-backend=false",)))

    def apply(self, progress: Callable[[Step], None] | None = None) -> None:
        self._resource_run("apply", progress)

    def destroy(self, progress: Callable[[Step], None] | None = None) -> None:
        self._resource_run("destroy", progress)

    def _resource_run(self, command: str, progress: Callable[[Step], None] | None) -> None:
        started = time.monotonic()
        state = {"done": 0, "total": None}
        if progress is not None:  # terraform is silent while it plans (~10-30 s)
            progress(Step(command, "planning: provider start, refresh, data sources", 0, None, 0.0))

        def on_line(line: str) -> None:
            plan = _PLAN.search(line)
            if plan:
                add, change, destroy = map(int, plan.groups())
                state["total"] = destroy if command == "destroy" else add + change
                if progress is not None:
                    progress(
                        Step(
                            command,
                            f"planned: {add} to add, {change} to change, {destroy} to destroy",
                            0,
                            state["total"],
                            time.monotonic() - started,
                        )
                    )
                return
            match = _COMPLETE.match(line)
            if match and progress is not None:
                state["done"] += 1
                progress(
                    Step(
                        command,
                        match["address"],
                        state["done"],
                        state["total"],
                        time.monotonic() - started,
                    )
                )

        self._run(command, "-auto-approve", on_line=on_line)

    def plan_exit_code(self) -> tuple[int, str]:
        """``terraform plan -detailed-exitcode``: 0 no changes, 2 changes (with the plan)."""
        return self._run("plan", "-detailed-exitcode", ok_codes=(0, 2))

    def outputs(self) -> dict:
        _, text = self._run("output", "-json")
        return {name: value["value"] for name, value in json.loads(text).items()}

    def state_values(self) -> dict[str, dict]:
        """{resource address: its attribute values} from ``terraform show -json``."""
        _, text = self._run("show", "-json")
        found: dict[str, dict] = {}
        pending = [json.loads(text).get("values", {}).get("root_module", {})]
        while pending:
            module = pending.pop()
            found.update({r["address"]: r["values"] for r in module.get("resources", [])})
            pending += module.get("child_modules", [])
        return found

    def state_resources(self) -> list[str]:
        code, text = self._run("state", "list", ok_codes=(0, 1))
        return [line for line in text.splitlines() if line.strip()] if code == 0 else []

    def cleanup(self) -> None:
        if self._own_dir and not os.environ.get("LOCALRUN_KEEP_WORK_DIR"):
            shutil.rmtree(self.dir, ignore_errors=True)


def _stop_group(proc: subprocess.Popen, grace_s: float = 5.0) -> None:
    """Interrupt terraform as Ctrl-C would (it stops its provider plugins), then kill the
    whole process group if it is still there after ``grace_s``."""
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


__all__ = [
    "ENDPOINT_SERVICES",
    "DevStack",
    "Step",
    "TerraformFailed",
    "TerraformMissing",
    "require_terraform",
    "stand_in_layer",
]
