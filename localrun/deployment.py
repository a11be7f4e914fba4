"""The deployed stack: the emulator with ``envs/dev`` applied to it by Terraform.

* :func:`dev_variables`: the ``envs/dev`` variables (``-var-file`` content) for the harness's
  settings.
* :class:`Deployment`: starts the emulator (:mod:`localrun.emulator`: moto in server mode on
  127.0.0.1, patched by :mod:`localrun.moto_patches`), runs ``terraform init`` + ``apply`` of the
  real ``envs/dev`` against it (:mod:`localrun.stack`) with the function zips build.py makes
  (or build.py's manifest: zips, the real layer, the architecture), and stops it again.

Tests share one :class:`Deployment` per session; :class:`localrun.pipeline.LocalPipeline`
attaches to it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from etl.contract import CONTRACT

from localrun.emulator import Emulator
from localrun.stack import DevStack, Step
from localrun.zips import REPO_ROOT, build_with_build_py, zip_functions

DEFAULT_SCHEMA = REPO_ROOT / "schemas" / "transactions.json"
DEFAULT_PREFIX = "etl-local"
DATASET_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")  # as envs/dev's `datasets` validates keys


def schema_datasets(schema_paths: Sequence[str | os.PathLike]) -> dict[str, Path]:
    """Each schema file as a dataset named by the schema's `name`, in the order given (the
    first is the default dataset of uploads). Raises ValueError for a name that is no valid
    dataset name or that two schemas share."""
    from etl.schema_check import load_schema

    datasets: dict[str, Path] = {}
    for path in schema_paths:
        name = load_schema(Path(path)).name
        if not DATASET_NAME.fullmatch(name):
            raise ValueError(
                f"{path}: the schema's name {name!r} names its dataset and must match "
                f"{DATASET_NAME.pattern} (lower-case letters, digits, _): rename it"
            )
        if name in datasets:
            raise ValueError(f"{path} and {datasets[name]} both name the dataset {name!r}")
        datasets[name] = Path(path).resolve()
    return datasets


def dev_variables(
    *,
    prefix: str = DEFAULT_PREFIX,
    chunk_bytes: int | None = None,
    max_record_bytes: int | None = None,
    max_concurrency: int = 10,
    schema_paths: Sequence[str | os.PathLike] = (DEFAULT_SCHEMA,),
    retry_interval_seconds: int = 1,
    retry_max_attempts: int = 3,
    retry_backoff_rate: float = 2.0,
    lambda_timeout_s: int | None = None,
) -> dict:
    """The ``envs/dev`` variables for these settings (``-var-file`` content); every schema
    is a dataset named by its `name` (:func:`schema_datasets`)."""
    limits = {"chunk_bytes": chunk_bytes, "max_record_bytes": max_record_bytes}
    variables: dict = {
        "prefix": prefix,
        "limits": {k: v for k, v in limits.items() if v is not None} or None,
        "max_concurrency": max_concurrency,
        "datasets": {
            name: {"schema_file": str(path)} for name, path in schema_datasets(schema_paths).items()
        },
        "processor_retry": {
            "interval_seconds": retry_interval_seconds,
            "max_attempts": retry_max_attempts,
            "backoff_rate": retry_backoff_rate,
        },
    }
    if lambda_timeout_s is not None:
        variables["function_settings"] = {
            name: {"timeout_s": int(lambda_timeout_s)} for name in CONTRACT.functions
        }
    return {k: v for k, v in variables.items() if v is not None}


class Deployment:
    """The emulator with ``envs/dev`` applied to it. ``close()`` stops the emulator (its
    state goes with it); ``destroy()`` first, to run ``terraform destroy``."""

    def __init__(
        self,
        variables: dict,
        *,
        functions_dir: str | os.PathLike | None = None,
        lambdas_dir: str | os.PathLike | None = None,
        layer_zip: str | os.PathLike | None = None,
        manifest: str | os.PathLike | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        work_dir: str | os.PathLike | None = None,
        env: str = "dev",
    ) -> None:
        """``manifest``: deploy build.py's artifacts (dist/manifest.json: the zips, the real
        layer, the architecture) instead of building the function zips. ``env``: the root
        under ``envs/`` to apply (prod: with local state instead of its S3 backend)."""
        self.env = env
        self.variables = dict(variables)
        self._manifest = Path(manifest) if manifest else None
        self.emulator = Emulator(host, port)
        self.stack: DevStack | None = None
        self.outputs: dict = {}
        self._functions_dir = Path(functions_dir) if functions_dir else None
        self._lambdas_dir = Path(lambdas_dir) if lambdas_dir else None
        self._layer_zip = Path(layer_zip) if layer_zip else None
        self._own_work_dir = work_dir is None
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="localrun-"))
        self.plan_code: int | None = None
        self.plan_output = ""
        self.destroyed = False

    def __enter__(self) -> Deployment:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def endpoint_url(self) -> str | None:
        return self.emulator.endpoint_url

    @property
    def datasets(self) -> tuple[str, ...]:
        """The deployed datasets, the default one (the first schema given) first."""
        return tuple(self.variables.get("datasets") or {"transactions": None})

    def start(self, progress: Callable[[Step], None] | None = None, *, plan: bool = False):
        """Start the emulator, then ``terraform init`` + ``apply`` (+ ``plan`` if asked)."""
        from localrun.stack import require_terraform

        require_terraform()  # before anything slow
        zips, layer_zip, architecture = self._artifacts()
        self.emulator.start()
        self.stack = DevStack(
            self.emulator.endpoint_url,
            zips,
            self.variables,
            layer_zip=layer_zip,
            architecture=architecture,
            work_dir=self.work_dir / "terraform",
            env=self.env,
        )
        self.stack.init()
        self.stack.apply(progress)
        if plan:
            self.plan_code, self.plan_output = self.stack.plan_exit_code()
        self.outputs = self.stack.outputs()
        return self

    def destroy(self, progress: Callable[[Step], None] | None = None) -> None:
        if self.stack is not None and not self.destroyed:
            self.stack.destroy(progress)
            self.destroyed = True

    def close(self) -> None:
        self.emulator.stop()
        if self._own_work_dir and not os.environ.get("LOCALRUN_KEEP_WORK_DIR"):
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def _artifacts(self) -> tuple[dict[str, Path], Path | None, str]:
        if self._manifest is None:
            return self._function_zips(), self._layer_zip, "arm64"
        manifest = json.loads(self._manifest.read_text())
        # build.py writes the paths relative to the repo root
        artifacts = {name: REPO_ROOT / a["path"] for name, a in manifest["artifacts"].items()}
        layer = artifacts.pop("layer", None)
        missing = [str(p) for p in [*artifacts.values(), layer] if p and not p.is_file()]
        if missing:
            raise FileNotFoundError(f"artifacts of {self._manifest} not found: {missing}")
        return artifacts, layer, manifest["architecture"]

    def _function_zips(self) -> dict[str, Path]:
        functions_dir = self._functions_dir
        if functions_dir is None:
            if self._lambdas_dir is not None:
                functions_dir = zip_functions(self._lambdas_dir, self.work_dir / "functions")
            else:
                functions_dir = build_with_build_py()
        zips = {name: functions_dir / f"{name}.zip" for name in CONTRACT.functions}
        missing = [str(p) for p in zips.values() if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"function zips not found: {', '.join(missing)}")
        return zips
