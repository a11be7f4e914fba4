"""What a local Lambda worker runs on: the python3.12 runtime rebuilt from its parts, or the host.

Lambda's python3.12 runtime starts CPython 3.12 with, in front of the standard library, the task
root (the function zip), the layer (``/opt/python/lib/python3.12/site-packages``, ``/opt/python``)
and the runtime's own site-packages (the boto3 it ships), and nothing else. Rebuilt here:

* the interpreter: ``ETL_LAMBDA_PYTHON`` if set (``host`` forces the host mode), else
  ``python3.12`` on PATH, else a pyenv 3.12; each candidate is asked for its version;
* the layer: ``build.py``'s own layer build (``buildtools.layer``) for the host's architecture,
  into ``.build-cache/layer-<arch>.zip`` in the checkout; rebuilt only when its inputs (the
  pinned requirements and the build code) change, and extracted once into
  ``.build-cache/layers/<sha256>/``;
* the runtime's SDK: :data:`SDK_REQUIREMENTS`, installed for 3.12 once into
  ``.build-cache/sdk-<digest>/`` (see docs/decisions.md for where the version comes from);
* the worker runs ``python3.12 -I -S`` (no site-packages, no PYTHONPATH, no user site) and
  puts those directories on ``sys.path`` itself (``_worker.py``). Unlike Lambda's read-only
  ``/opt``, the extracted layer keeps the bytecode the first workers compile, so later
  workers start faster; ``bench/bench.py --cold-start`` measures without it, as Lambda runs.

Without a 3.12 the workers run on the host interpreter and its site-packages (``host`` mode);
the local run's summary and the pytest header say which mode ran. With ``CI`` set a missing 3.12
is an error: CI must run what Lambda runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from localrun.zips import REPO_ROOT

RUNTIME = "python3.12"
RUNTIME_VERSION = (3, 12)
# The SDK the python3.12 runtime ships (docs/decisions.md, "The local Lambda runtime").
SDK_REQUIREMENTS = ("boto3==1.40.4", "botocore==1.40.4")
CACHE_DIR = REPO_ROOT / ".build-cache"
HOST_ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


class RuntimeUnavailable(RuntimeError):
    """CI needs the python3.12 runtime and it cannot be set up; the message says what to do."""


@dataclasses.dataclass(frozen=True)
class WorkerRuntime:
    """How a worker process is started and what it puts on ``sys.path`` after its task root."""

    mode: str  # RUNTIME or "host"
    python: str
    python_flags: tuple[str, ...]
    sys_path: tuple[str, ...] = ()
    layer_zip: Path | None = None
    layer_sha256: str | None = None
    layer_unzipped_bytes: int | None = None
    sdk: tuple[str, ...] = ()
    reason: str = ""  # why the host mode

    @property
    def lambda_like(self) -> bool:
        return self.mode == RUNTIME

    def describe(self) -> str:
        if self.lambda_like:
            return (
                f"{RUNTIME} runtime: {self.python}, the real layer {self.layer_zip.name}"
                f" (sha256 {self.layer_sha256[:12]}), {' '.join(self.sdk)}, no host site-packages"
            )
        return f"host mode: {self.python} with its own site-packages ({self.reason})"

    def command(self, worker_script: Path) -> list[str]:
        return [self.python, *self.python_flags, str(worker_script)]


def host_runtime(reason: str) -> WorkerRuntime:
    # -I: no PYTHONPATH, no cwd/script dir on sys.path: only the zip and site-packages
    return WorkerRuntime("host", sys.executable, ("-I",), reason=reason)


# ----------------------------------------------------------------------------- interpreter
def python_version(python: str) -> tuple[int, int] | None:
    """(major, minor) of an interpreter, or None if it does not run."""
    try:
        proc = subprocess.run(
            [python, "-I", "-S", "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = proc.stdout.split()
    return (int(parts[0]), int(parts[1])) if proc.returncode == 0 and len(parts) == 2 else None


def _pyenv_candidates() -> list[str]:
    roots = [os.environ.get("PYENV_ROOT"), str(Path.home() / ".pyenv")]
    found = []
    for root in filter(None, roots):
        found += sorted(str(p) for p in Path(root).glob("versions/3.12*/bin/python3.12"))
    return sorted(set(found), reverse=True)  # the newest patch release first


def find_python312() -> str | None:
    """The first CPython 3.12 of: ETL_LAMBDA_PYTHON, python3.12 on PATH, pyenv's versions."""
    chosen = os.environ.get("ETL_LAMBDA_PYTHON")
    if chosen:
        return chosen if python_version(chosen) == RUNTIME_VERSION else None
    candidates = [shutil.which("python3.12"), *_pyenv_candidates()]
    return next((c for c in candidates if c and python_version(c) == RUNTIME_VERSION), None)


def _no_python312_reason() -> str:
    """Why no 3.12 was found; names ``ETL_LAMBDA_PYTHON`` and what it is when it is set."""
    chosen = os.environ.get("ETL_LAMBDA_PYTHON")
    if not chosen:
        return "no CPython 3.12 found: set ETL_LAMBDA_PYTHON, or put python3.12 on PATH"
    version = python_version(chosen)
    what = "does not run" if version is None else "is Python {}.{}, not 3.12".format(*version)
    return (
        f"ETL_LAMBDA_PYTHON={chosen} {what}:"
        " point it at a python3.12, or unset it to search PATH and pyenv"
    )


# ----------------------------------------------------------------------------- the cache
@contextlib.contextmanager
def _cache_lock() -> Iterator[None]:
    """One builder at a time across processes (parallel test sessions share the cache)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def host_architecture() -> str | None:
    return HOST_ARCHITECTURES.get(platform.machine().lower())


def ensure_layer(arch: str, log=lambda message: None):
    """The real layer zip for ``arch`` in the cache, built by ``buildtools.layer`` if its
    inputs changed since the last build (an :class:`buildtools.artifacts.ArtifactRecord`)."""
    from buildtools.layer import LayerSpec, build_layer, layer_requirements

    spec = LayerSpec(layer_requirements(REPO_ROOT), arch)
    with _cache_lock():
        return build_layer(spec, CACHE_DIR / f"layer-{arch}.zip", log=log)


def extract_layer(layer_zip: Path, sha256: str) -> Path:
    """``.build-cache/layers/<sha256>/``: the layer's content, as Lambda mounts it on /opt."""
    target = CACHE_DIR / "layers" / sha256
    if target.is_dir():
        return target
    with _cache_lock():
        if not target.is_dir():
            staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=CACHE_DIR))
            with zipfile.ZipFile(layer_zip) as archive:
                archive.extractall(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            staging.rename(target)
            # earlier layers: only the current one is kept (the unpacked size: docs/decisions.md)
            for stale in target.parent.iterdir():
                if stale != target:
                    shutil.rmtree(stale, ignore_errors=True)
    return target


def ensure_sdk(python: str, requirements: tuple[str, ...] = SDK_REQUIREMENTS) -> Path:
    """The runtime's SDK installed for ``python`` into the cache, once per requirement set."""
    key = hashlib.sha256(json.dumps([RUNTIME, *requirements]).encode()).hexdigest()[:16]
    target = CACHE_DIR / f"sdk-{key}"
    if target.is_dir():
        return target
    with _cache_lock():
        if not target.is_dir():
            staging = Path(tempfile.mkdtemp(prefix=".sdk-", dir=CACHE_DIR))
            proc = subprocess.run(
                [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                 "--only-binary=:all:", "--target", str(staging), *requirements],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if proc.returncode != 0:
                shutil.rmtree(staging, ignore_errors=True)
                last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                raise RuntimeUnavailable(
                    f"pip could not install the runtime SDK {' '.join(requirements)} for {python}:"
                    f" {last}; check the network, or point pip at a mirror with PIP_INDEX_URL"
                )
            staging.rename(target)
    return target


def layer_sys_path(layer_dir: Path) -> tuple[str, ...]:
    """Lambda's layer directories for Python, in its order."""
    python = layer_dir / "python"
    return (str(python / "lib" / RUNTIME / "site-packages"), str(python))


# ----------------------------------------------------------------------------- the choice
def lambda_runtime(python: str, arch: str, log=lambda message: None) -> WorkerRuntime:
    """The python3.12 runtime on ``python`` with the real layer for ``arch``."""
    layer = ensure_layer(arch, log)
    layer_dir = extract_layer(layer.path, layer.sha256)
    sdk_dir = ensure_sdk(python)
    return WorkerRuntime(
        RUNTIME,
        python,
        ("-I", "-S"),
        sys_path=(*layer_sys_path(layer_dir), str(sdk_dir)),
        layer_zip=layer.path,
        layer_sha256=layer.sha256,
        layer_unzipped_bytes=layer.unzipped_size,
        sdk=SDK_REQUIREMENTS,
    )


def resolve_runtime(log=lambda message: None) -> WorkerRuntime:
    """The python3.12 runtime if a 3.12 and a Lambda architecture are here and the layer can
    be built, else the host mode (an error under ``CI``); ``ETL_LAMBDA_PYTHON=host`` asks for
    the host mode."""
    if os.environ.get("ETL_LAMBDA_PYTHON") == "host":
        return host_runtime("ETL_LAMBDA_PYTHON=host")
    from buildtools.errors import BuildError

    python = find_python312()
    arch = host_architecture()
    if python and arch:
        try:
            return lambda_runtime(python, arch, log)
        except (BuildError, RuntimeUnavailable) as exc:  # no index to build the layer from
            reason = f"the {RUNTIME} runtime could not be set up: {exc}"
    elif python:
        reason = f"no Lambda architecture for host {platform.machine()}"
    else:
        reason = _no_python312_reason()
    if os.environ.get("CI"):
        raise RuntimeUnavailable(f"CI runs the handlers on the {RUNTIME} runtime, but {reason}")
    return host_runtime(reason)


@functools.cache
def default_runtime() -> WorkerRuntime:
    """:func:`resolve_runtime`, once per process (the local run, one test session)."""
    return resolve_runtime()


__all__ = [
    "RUNTIME",
    "SDK_REQUIREMENTS",
    "RuntimeUnavailable",
    "WorkerRuntime",
    "default_runtime",
    "find_python312",
    "host_runtime",
    "lambda_runtime",
    "resolve_runtime",
]
