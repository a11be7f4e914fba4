"""The datasets an environment deploys, read the way its `terraform plan`/`apply` will.

The deploy sessions check every dataset they deploy (buildtools.schemas.env_problems), so
they ask Terraform itself: `terraform console` in the initialised env root, with the session's
own `-var`/`-var-file` arguments, evaluates `var.datasets` with every source Terraform merges
(the variable's default, terraform.tfvars, *.auto.tfvars, TF_VAR_datasets, -var-file, -var, in
Terraform's order). A relative `schema_file` is made absolute by Terraform's `abspath`, which
resolves it as `file()` does: against the root the session runs in (`-chdir=envs/<env>`). A
null `schema_file` is `<repo>/schemas/<dataset>.json`, as modules/pipeline resolves it.

Reading `var.datasets` needs no provider call and no resource. Anything that stops the read
(terraform failing, output that is not the datasets) is an error: no dataset is deployed
unchecked. Stdlib only, like build.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPRESSION = (
    "jsonencode({for name, d in var.datasets : name => "
    "d.schema_file == null ? null : abspath(d.schema_file)})"
)
VAR_FLAGS = ("-var", "-var-file")
TIMEOUT_S = 300


class DatasetsUnreadable(Exception):
    """Terraform could not say which datasets the environment deploys."""


def var_args(tf_args: Sequence[str]) -> list[str]:
    """The `-var`/`-var-file` arguments among a plan/apply command line (`-var=x`, `-var x`,
    and Go's `--var` spellings): the ones `terraform console` takes too."""
    found: list[str] = []
    args = iter(tf_args)
    for arg in args:
        flag = "-" + arg.lstrip("-").split("=", 1)[0] if arg.startswith("-") else ""
        if flag not in VAR_FLAGS:
            continue
        found.append(arg if "=" in arg else f"{flag}={next(args, '')}")
    return found


def read(
    terraform: str,
    env_dir: Path,
    tf_args: Sequence[str] = (),
    root: Path = ROOT,
    env: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """{dataset: its schema file} as the initialised root `env_dir` deploys them with
    `tf_args`; DatasetsUnreadable if Terraform cannot say."""
    proc = subprocess.run(
        [terraform, f"-chdir={env_dir}", "console", "-no-color", *var_args(tf_args)],
        input=EXPRESSION + "\n",
        capture_output=True,
        text=True,
        env={**(os.environ if env is None else env), "TF_INPUT": "0"},
        timeout=TIMEOUT_S,
        check=False,
    )
    declared = _parse(proc.stdout) if proc.returncode == 0 else None
    if declared is None:
        errors = dict.fromkeys(ln for ln in proc.stderr.splitlines() if ln.startswith("Error: "))
        raise DatasetsUnreadable(
            f"cannot read the datasets envs/{env_dir.name} deploys (`terraform console` "
            f"exit {proc.returncode}: {'; '.join(errors) or proc.stdout.strip()[-300:]}), so "
            "their schemas cannot be checked: fix what Terraform reports and deploy again"
        )
    return {
        name: Path(path) if path else root / "schemas" / f"{name}.json"
        for name, path in declared.items()
    }


def _parse(stdout: str) -> dict[str, str | None] | None:
    """The datasets from the console's last line (the quoted JSON), or None."""
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    try:
        value = json.loads(json.loads(lines[-1]))
    except (IndexError, ValueError, TypeError):
        return None
    if not isinstance(value, dict) or not all(isinstance(p, str | None) for p in value.values()):
        return None
    return value
