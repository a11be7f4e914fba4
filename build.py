"""Build the Lambda artifacts: one zip per function and the pyarrow layer.

    python build.py [--arch arm64|x86_64] [--functions-only] [--out dist]

* A function zip holds its entry module (``lambdas/<module>.py``, from the handler in
  ``lambdas/etl/contract.json``) plus the whole shared ``etl/`` package.
* The layer zip holds the pinned ``[project.optional-dependencies].layer`` requirements of
  pyproject.toml under ``python/``, installed by pip for CPython 3.12 on Amazon Linux 2023
  (manylinux_2_28 / manylinux2014 wheels) for the chosen architecture, from any host, then
  trimmed of dead weight (headers, Cython sources, tests, unused Arrow Flight, ...).
* Zips are byte-reproducible: sorted entries, fixed timestamps (1980-01-01), normalised
  permissions (0644 files, 0755 executables and directories), no bytecode, a fixed
  compression level. Two builds of the same inputs give the same sha256.
* A build is skipped when the content hash of its inputs and build parameters equals the
  one stored next to the artifact (``<artifact>.inputs.json``). Writes are atomic.
* ``<out>/manifest.json`` lists every artifact with sha256, base64sha256 (what Terraform's
  ``source_code_hash`` expects) and size; paths are relative to the repository root.

The module is importable: ``plan_*`` functions are pure, ``write_zip`` is the one writer,
``build_all`` composes them. Errors are ``BuildError`` subclasses with actionable messages.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent
RUNTIME_PYTHON = "3.12"
ARCHITECTURES = {"arm64": "aarch64", "x86_64": "x86_64"}
DEFAULT_ARCH = "arm64"
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 9
FILE_MODE = 0o644
EXEC_MODE = 0o755
DIR_MODE = 0o755
MB = 1024 * 1024
MANIFEST_NAME = "manifest.json"
STAMP_SUFFIX = ".inputs.json"
DEFAULT_INDEX_PROBE = "https://pypi.org/simple"

# Never packaged, in our code or in the layer.
EXCLUDED_DIR_NAMES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
EXCLUDED_FILE_SUFFIXES = (".pyc", ".pyo", ".swp", "~")
EXCLUDED_FILE_NAMES = frozenset({".DS_Store"})


# ----------------------------------------------------------------------------- errors
class BuildError(Exception):
    """Base class: a build failed for a reason the message explains."""


class MissingInputError(BuildError):
    """A source file or directory the build needs does not exist."""


class PackageIndexUnreachable(BuildError):
    """pip could not connect to the package index."""


class PipInstallError(BuildError):
    """pip ran but could not install the layer requirements."""


class ArtifactTooLarge(BuildError):
    """An artifact exceeds an AWS Lambda size limit."""


# ----------------------------------------------------------------------------- types
@dataclasses.dataclass(frozen=True)
class Limits:
    """AWS Lambda deployment package quotas, in bytes."""

    unzipped_total: int = 250 * MB  # function + all layers, unzipped
    direct_upload_zipped: int = 50 * MB  # zip uploaded directly (not via S3)


@dataclasses.dataclass(frozen=True)
class ZipEntry:
    """One file in a zip: where it goes, where it comes from, whether it is executable."""

    arcname: str
    source: Path
    executable: bool = False


@dataclasses.dataclass(frozen=True)
class ArtifactPlan:
    """What to build: the output path, its entries, and the digest of all inputs."""

    name: str
    output: Path
    entries: tuple[ZipEntry, ...]
    inputs_digest: str


@dataclasses.dataclass(frozen=True)
class ArtifactRecord:
    """A built artifact, as written to the manifest (plus its unzipped size)."""

    name: str
    path: Path
    sha256: str
    base64sha256: str
    size: int
    unzipped_size: int
    rebuilt: bool

    def manifest_entry(self, root: Path) -> dict:
        return {
            "path": display_path(self.path, root),
            "sha256": self.sha256,
            "base64sha256": self.base64sha256,
            "size": self.size,
        }


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    """Everything that determines the layer's content."""

    requirements: tuple[str, ...]
    arch: str = DEFAULT_ARCH
    python_version: str = RUNTIME_PYTHON

    def platforms(self) -> tuple[str, ...]:
        machine = ARCHITECTURES[self.arch]
        # Both tags: current pyarrow wheels are manylinux_2_28 only; without the 2014 tag
        # pip would silently fall back to an old release that still ships manylinux2014.
        return (f"manylinux_2_28_{machine}", f"manylinux2014_{machine}")

    def as_params(self) -> dict:
        return {
            "requirements": list(self.requirements),
            "arch": self.arch,
            "python_version": self.python_version,
            "platforms": list(self.platforms()),
        }


# ----------------------------------------------------------------------------- planning (pure)
def display_path(path: Path, root: Path) -> str:
    """Path relative to the repo root (posix), or absolute when outside it."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def is_excluded(rel: Path) -> bool:
    if any(part in EXCLUDED_DIR_NAMES for part in rel.parts[:-1]):
        return True
    return rel.name in EXCLUDED_FILE_NAMES or rel.name.endswith(EXCLUDED_FILE_SUFFIXES)


def collect_tree(src_dir: Path, prefix: str) -> list[ZipEntry]:
    """Every packageable file under src_dir, as entries named ``prefix/<relative path>``."""
    entries = []
    for path in sorted(src_dir.rglob("*")):
        if path.is_dir() or path.is_symlink() and not path.exists():
            continue
        rel = path.relative_to(src_dir)
        if is_excluded(rel):
            continue
        arcname = "/".join(filter(None, [prefix.strip("/"), rel.as_posix()]))
        entries.append(ZipEntry(arcname, path, bool(path.stat().st_mode & stat.S_IXUSR)))
    return entries


def load_contract(lambdas_dir: Path) -> dict:
    path = lambdas_dir / "etl" / "contract.json"
    if not path.is_file():
        raise MissingInputError(
            f"{path} not found: the function list comes from lambdas/etl/contract.json;"
            " restore it (git checkout -- lambdas/etl/contract.json)"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def entry_module(handler: str) -> str:
    """'mark_failed.handler' -> 'mark_failed'."""
    module, _, func = handler.rpartition(".")
    if not module or not func:
        raise BuildError(f"handler {handler!r} is not '<module>.<function>'")
    return module.replace(".", "/")


def tool_fingerprint() -> str:
    """Digest of this file: a change to the build logic invalidates every artifact."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def digest_inputs(entries: Iterable[ZipEntry], params: dict) -> str:
    """Content hash of the entries (name, mode, bytes) and the build parameters."""
    h = hashlib.sha256()
    h.update(json.dumps({"tool": tool_fingerprint(), **params}, sort_keys=True).encode())
    for entry in sorted(entries, key=lambda e: e.arcname):
        h.update(f"\0{entry.arcname}\0{int(entry.executable)}\0".encode())
        h.update(file_digest(entry.source).encode())
    return h.hexdigest()


def plan_function(
    name: str, handler: str, lambdas_dir: Path, out_dir: Path, shared: Sequence[ZipEntry]
) -> ArtifactPlan:
    module = entry_module(handler)
    source = lambdas_dir / f"{module}.py"
    if not source.is_file():
        raise MissingInputError(
            f"function {name!r}: entry module {display_path(source, lambdas_dir.parent)} not"
            f" found (handler {handler!r} in"
            f" lambdas/etl/contract.json); add {source.name} or remove {name!r} from contract.json"
        )
    entries = (ZipEntry(f"{module}.py", source), *shared)
    params = {"kind": "function", "name": name, "handler": handler}
    return ArtifactPlan(
        name, out_dir / "functions" / f"{name}.zip", entries, digest_inputs(entries, params)
    )


def plan_functions(root: Path, out_dir: Path) -> list[ArtifactPlan]:
    """One plan per function in contract.json, each = entry module + the etl/ package."""
    lambdas_dir = root / "lambdas"
    shared_dir = lambdas_dir / "etl"
    contract = load_contract(lambdas_dir)
    shared = collect_tree(shared_dir, "etl")
    if not any(e.arcname == "etl/__init__.py" for e in shared):
        raise MissingInputError(
            f"{shared_dir / '__init__.py'} not found: lambdas/etl must be a package"
            " (the handlers import it); add lambdas/etl/__init__.py"
        )
    functions = contract.get("functions") or {}
    if not functions:
        raise MissingInputError("lambdas/etl/contract.json declares no functions")
    return [
        plan_function(name, spec["handler"], lambdas_dir, out_dir, shared)
        for name, spec in sorted(functions.items())
    ]


def layer_requirements(root: Path) -> tuple[str, ...]:
    """The pinned requirements of ``[project.optional-dependencies].layer``."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        raise MissingInputError(f"{pyproject} not found: the layer requirements are pinned there")
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    reqs = data.get("project", {}).get("optional-dependencies", {}).get("layer")
    if not reqs:
        raise MissingInputError(
            f"{pyproject} has no [project.optional-dependencies].layer list to build the layer from"
        )
    unpinned = [r for r in reqs if "==" not in r]
    if unpinned:
        raise BuildError(
            f"layer requirements must be pinned with '==' for a reproducible layer: {unpinned}"
        )
    return tuple(reqs)


def layer_output(out_dir: Path, arch: str) -> Path:
    return out_dir / f"layer-{arch}.zip"


def layer_inputs_digest(spec: LayerSpec) -> str:
    return hashlib.sha256(
        json.dumps(
            {"tool": tool_fingerprint(), "kind": "layer", **spec.as_params()}, sort_keys=True
        ).encode()
    ).hexdigest()


def pip_install_command(
    spec: LayerSpec, target: Path, index_url: str | None = None, python: str = sys.executable
) -> list[str]:
    """The pip command that installs the layer for Lambda from any host."""
    cmd = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    for platform in spec.platforms():
        cmd += ["--platform", platform]
    cmd += [
        "--only-binary=:all:",
        "--python-version",
        spec.python_version,
        "--implementation",
        "cp",
        "--no-compile",
        "--target",
        str(target),
    ]
    if index_url:
        cmd += ["--index-url", index_url]
    return [*cmd, *spec.requirements]


# ----------------------------------------------------------------------------- layer trimming
# Each rule: a name (for the report) and a predicate over the path relative to site-packages.
_SO_NAME = re.compile(r"^(lib.+\.so)((?:\.\d+)*)$")
_DEV_SUFFIXES = (
    ".pxd",
    ".pyx",
    ".pxi",
    ".pyi",
    ".h",
    ".hpp",
    ".hh",
    ".c",
    ".cc",
    ".cpp",
    ".cxx",
    ".a",
    ".lib",
    ".cmake",
    ".pc",
)
_DIST_INFO_NOISE = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
# Arrow components a CSV -> Parquet handler never loads; pyarrow imports without them (only
# `import pyarrow.flight` or `pyarrow.fs.S3FileSystem` then fail). Flight is an RPC framework
# (~31 MB); Arrow's own S3 client (~16 MB) is unused because the handlers do all S3 I/O with
# boto3 (ranged GETs, puts). Dropping both keeps the layer zip under the 50 MB upload cap.
_UNUSED_PYARROW = re.compile(
    r"^pyarrow/(_flight\..*\.so|libarrow_flight\.so.*|libarrow_python_flight\.so.*"
    r"|_s3fs\..*\.so|libarrow_s3\.so.*|_pyarrow_cpp_tests\..*\.so|conftest\.py)$"
)


def trim_rule(rel: Path) -> str | None:
    """Why a file in the installed layer is dropped, or None to keep it."""
    posix = rel.as_posix()
    parts = rel.parts
    if is_excluded(rel):
        return "bytecode and caches"
    if parts[0] == "bin":
        return "console scripts (bin/, host-specific shebangs)"
    if "tests" in parts[1:-1]:
        return "package test suites"
    if parts[0] == "pyarrow" and len(parts) > 1 and parts[1] in ("include", "includes", "src"):
        return "pyarrow C++ headers, .pxd includes and sources"
    if rel.name.endswith(_DEV_SUFFIXES):
        return "Cython/C sources, headers, type stubs, static libs"
    if parts[0].endswith(".dist-info") and rel.name in _DIST_INFO_NOISE:
        return "dist-info RECORD/INSTALLER/REQUESTED"
    if _UNUSED_PYARROW.match(posix):
        return "unused Arrow components (Flight, S3 filesystem, C++ test module)"
    return None


def duplicate_shared_libraries(site: Path) -> list[Path]:
    """Byte-identical copies of a shared library under other names (wheels cannot hold
    symlinks, so libX.so, libX.so.N and libX.so.N.M.P are three full copies). Keep the
    soname form ``libX.so.N`` that the extension modules link against."""
    groups: dict[tuple[Path, str], list[Path]] = {}
    for path in site.rglob("lib*.so*"):
        m = _SO_NAME.match(path.name)
        if m and path.is_file():
            groups.setdefault((path.parent, m.group(1)), []).append(path)
    drop = []
    for paths in groups.values():
        sonames = [p for p in paths if _SO_NAME.match(p.name).group(2).count(".") == 1]
        if len(paths) < 2 or len(sonames) != 1:
            continue
        keep = sonames[0]
        keep_digest = file_digest(keep)
        drop += [p for p in paths if p != keep and file_digest(p) == keep_digest]
    return sorted(drop)


def trim_layer_tree(site: Path) -> dict[str, tuple[int, int]]:
    """Delete dead weight from an installed layer tree; return {rule: (files, bytes)}."""
    report: dict[str, tuple[int, int]] = {}

    def drop(path: Path, rule: str) -> None:
        files, size = report.get(rule, (0, 0))
        report[rule] = (files + 1, size + path.stat().st_size)
        path.unlink()

    for path in sorted(site.rglob("*")):
        if path.is_file() or path.is_symlink():
            rule = trim_rule(path.relative_to(site))
            if rule:
                drop(path, rule)
    for path in duplicate_shared_libraries(site):
        drop(path, "duplicate shared-library copies (soname kept)")
    for path in sorted(site.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return report


# ----------------------------------------------------------------------------- writing
def zip_dir_entries(arcnames: Iterable[str]) -> list[str]:
    dirs = set()
    for name in arcnames:
        parts = name.split("/")[:-1]
        dirs.update("/".join(parts[: i + 1]) + "/" for i in range(len(parts)))
    return sorted(dirs)


def write_zip(entries: Sequence[ZipEntry], dest: Path, compresslevel: int = COMPRESS_LEVEL) -> None:
    """The one writer: a byte-reproducible zip, written to a temp file then renamed."""
    names = [e.arcname for e in entries]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise BuildError(f"{dest.name}: duplicate zip entries {dupes}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w") as zf:
            items: list[tuple[str, ZipEntry | None]] = [(d, None) for d in zip_dir_entries(names)]
            items += [(e.arcname, e) for e in entries]
            for arcname, entry in sorted(items, key=lambda item: item[0]):
                info = zipfile.ZipInfo(arcname, date_time=FIXED_DATE_TIME)
                info.create_system = 3  # unix, so external_attr carries the mode
                if entry is None:
                    info.external_attr = (stat.S_IFDIR | DIR_MODE) << 16 | 0x10
                    zf.writestr(info, b"")
                    continue
                mode = EXEC_MODE if entry.executable else FILE_MODE
                info.external_attr = (stat.S_IFREG | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, entry.source.read_bytes(), compresslevel=compresslevel)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(dest: Path, text: str) -> bool:
    """Write text atomically; leave the file (and its mtime) alone when unchanged."""
    if dest.is_file() and dest.read_text(encoding="utf-8") == text:
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def stamp_path(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + STAMP_SUFFIX)


def record_artifact(name: str, path: Path, rebuilt: bool) -> ArtifactRecord:
    digest = hashlib.sha256(path.read_bytes()).digest()
    with zipfile.ZipFile(path) as zf:
        unzipped = sum(i.file_size for i in zf.infolist())
    return ArtifactRecord(
        name,
        path,
        digest.hex(),
        base64.b64encode(digest).decode(),
        path.stat().st_size,
        unzipped,
        rebuilt,
    )


def up_to_date(name: str, output: Path, inputs_digest: str) -> ArtifactRecord | None:
    """The existing artifact if its stamp matches the inputs and the file is intact."""
    stamp = stamp_path(output)
    if not (output.is_file() and stamp.is_file()):
        return None
    try:
        saved = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if saved.get("inputs") != inputs_digest or saved.get("size") != output.stat().st_size:
        return None
    digest = hashlib.sha256(output.read_bytes()).digest()
    if digest.hex() != saved.get("sha256"):
        return None
    return ArtifactRecord(
        name,
        output,
        digest.hex(),
        base64.b64encode(digest).decode(),
        saved["size"],
        saved["unzipped_size"],
        rebuilt=False,
    )


def save_stamp(record: ArtifactRecord, inputs_digest: str, extra: dict | None = None) -> None:
    stamp = {
        "inputs": inputs_digest,
        "sha256": record.sha256,
        "size": record.size,
        "unzipped_size": record.unzipped_size,
        **(extra or {}),
    }
    write_text_atomic(stamp_path(record.path), json.dumps(stamp, indent=2, sort_keys=True) + "\n")


def build_function(plan: ArtifactPlan) -> ArtifactRecord:
    existing = up_to_date(plan.name, plan.output, plan.inputs_digest)
    if existing:
        return existing
    write_zip(plan.entries, plan.output)
    record = record_artifact(plan.name, plan.output, rebuilt=True)
    save_stamp(record, plan.inputs_digest)
    return record


# ----------------------------------------------------------------------------- pip
_CONNECTION_ERRORS = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Connection refused"
    r"|Temporary failure in name resolution|Name or service not known|nodename nor servname"
    r"|ProxyError|ConnectTimeoutError|Read timed out|Network is unreachable|SSLError"
)


def probe_index(url: str, timeout: float = 5.0) -> str | None:
    """None if the index answers at all (any HTTP status), else the connection error."""
    if not url.startswith(("http://", "https://")):
        return None
    try:
        urllib.request.urlopen(url.rstrip("/") + "/", timeout=timeout).close()
    except urllib.error.HTTPError:
        return None
    except (urllib.error.URLError, OSError) as exc:
        return str(getattr(exc, "reason", exc))
    return None


def install_layer_packages(spec: LayerSpec, target: Path, index_url: str | None = None) -> None:
    """Run pip; translate its failures into named errors."""
    cmd = pip_install_command(spec, target, index_url)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode == 0:
        return
    output = proc.stdout + proc.stderr
    if "No module named pip" in output:
        raise BuildError(
            f"pip is not installed for {sys.executable}: run "
            f"'{sys.executable} -m ensurepip --upgrade'"
        )
    looking = re.search(r"Looking in indexes: ([^\s,]+)", output)
    index = index_url or (looking.group(1) if looking else DEFAULT_INDEX_PROBE)
    conn = _CONNECTION_ERRORS.search(output)
    unreachable = conn.group(0) if conn else None
    if not unreachable and "from versions: none" in output:
        unreachable = probe_index(index)
    if unreachable:
        raise PackageIndexUnreachable(
            f"cannot reach the package index {index} ({unreachable}) to install the layer"
            f" {' '.join(spec.requirements)}: check the network/proxy, or point pip at a"
            " reachable mirror with --index-url or PIP_INDEX_URL"
        )
    last = [ln for ln in output.splitlines() if ln.startswith("ERROR")] or output.splitlines()
    raise PipInstallError(
        f"pip could not install the layer for python{spec.python_version}/{spec.arch}"
        f" ({' '.join(spec.platforms())}): {(last[-1] if last else 'no output').strip()}"
    )


def build_layer(
    spec: LayerSpec,
    output: Path,
    index_url: str | None = None,
    log=lambda msg: None,
) -> ArtifactRecord:
    """Install, trim and zip the layer, unless an identical one is already there."""
    inputs = layer_inputs_digest(spec)
    existing = up_to_date("layer", output, inputs)
    if existing:
        return existing
    with tempfile.TemporaryDirectory(prefix="etl-layer-") as tmp:
        site = Path(tmp) / "python"
        started = time.monotonic()
        install_layer_packages(spec, site, index_url)
        drift = unpinned_distributions(distributions_in(site), spec.requirements)
        if drift:
            raise PipInstallError(
                "the layer would hold packages that pyproject.toml does not pin: "
                f"{', '.join(drift)}; pin them in [project.optional-dependencies].layer"
            )
        installed = tree_size(site)
        report = trim_layer_tree(site)
        for rule, (files, size) in sorted(report.items(), key=lambda kv: -kv[1][1]):
            log(f"  trimmed {size / MB:7.1f} MB in {files:4d} files: {rule}")
        log(
            f"  layer {installed / MB:.1f} MB installed -> {tree_size(site) / MB:.1f} MB after"
            f" trimming ({time.monotonic() - started:.1f} s)"
        )
        write_zip(collect_tree(site, "python"), output)
    packages = installed_distributions(output)
    record = record_artifact("layer", output, rebuilt=True)
    save_stamp(
        record,
        inputs,
        {
            "packages": packages,
            "trimmed": {rule: {"files": f, "bytes": b} for rule, (f, b) in sorted(report.items())},
        },
    )
    return record


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


_DIST_INFO = re.compile(r"^([^/]+)-([^-/]+)\.dist-info$")


def _distributions(dist_info_dirs: Iterable[str]) -> dict[str, str]:
    """{distribution: version} from `<name>-<version>.dist-info` directory names."""
    found = dict(m.groups() for d in dist_info_dirs if (m := _DIST_INFO.match(d)))
    return dict(sorted(found.items()))


def distributions_in(site: Path) -> dict[str, str]:
    """{distribution: version} of what pip installed into `site`."""
    return _distributions(meta.parent.name for meta in site.glob("*.dist-info/METADATA"))


def unpinned_distributions(installed: dict[str, str], requirements: Sequence[str]) -> list[str]:
    """Installed `name==version`s that no `name==version` requirement pins exactly: a new or
    moved transitive dependency, which would make the layer depend on the day it was built."""
    pins = {}
    for req in requirements:
        name, _, version = req.partition("==")
        pins[_normalise(name.split("[")[0].strip())] = version.strip()
    return [
        f"{name}=={version}"
        for name, version in sorted(installed.items())
        if pins.get(_normalise(name)) != version
    ]


def installed_distributions(layer_zip: Path) -> dict[str, str]:
    """{distribution: version} from the .dist-info directory names in the layer."""
    with zipfile.ZipFile(layer_zip) as zf:
        names = zf.namelist()
    metadata = [n.split("/") for n in names if n.endswith(".dist-info/METADATA")]
    return _distributions(p[1] for p in metadata if len(p) == 3 and p[0] == "python")


# ----------------------------------------------------------------------------- limits
def check_limits(
    functions: Sequence[ArtifactRecord], layer: ArtifactRecord | None, limits: Limits = Limits()
) -> list[str]:
    """Raise ArtifactTooLarge on a hard Lambda limit; return warnings for soft ones."""
    warnings = []
    layer_unzipped = layer.unzipped_size if layer else 0
    if layer and layer.unzipped_size > limits.unzipped_total:
        raise ArtifactTooLarge(
            f"layer {layer.path.name} is {layer.unzipped_size / MB:.1f} MB unzipped, over the"
            f" Lambda limit of {limits.unzipped_total / MB:.0f} MB: trim more in build.py"
            " (trim_rule) or move packages out of the layer"
        )
    for fn in functions:
        if fn.size > limits.direct_upload_zipped:
            raise ArtifactTooLarge(
                f"function {fn.name!r} zip is {fn.size / MB:.1f} MB, over the"
                f" {limits.direct_upload_zipped / MB:.0f} MB direct-upload limit: move"
                " dependencies into the layer"
            )
        total = fn.unzipped_size + layer_unzipped
        if total > limits.unzipped_total:
            raise ArtifactTooLarge(
                f"function {fn.name!r} + layer are {total / MB:.1f} MB unzipped, over the Lambda"
                f" limit of {limits.unzipped_total / MB:.0f} MB: shrink the function or the layer"
            )
    if layer and layer.size > limits.direct_upload_zipped:
        warnings.append(
            f"layer zip is {layer.size / MB:.1f} MB, over the"
            f" {limits.direct_upload_zipped / MB:.0f} MB direct-upload limit:"
            " it must be uploaded through S3 (the Terraform does)"
        )
    return warnings


# ----------------------------------------------------------------------------- orchestration
def manifest_document(
    arch: str, records: Sequence[ArtifactRecord], root: Path, python_version: str = RUNTIME_PYTHON
) -> dict:
    return {
        "architecture": arch,
        "python": python_version,
        "artifacts": {r.name: r.manifest_entry(root) for r in records},
    }


def check_schemas(root: Path) -> list[Path]:
    """Check every schema under schemas/ completely before anything is packaged: one
    BuildError listing each problem with its file and JSON path (etl.schema, the same
    check the functions and the local run use; it imports without pyarrow)."""
    files = sorted((root / "schemas").glob("*.json"))
    if not files:
        return []
    sys.path.insert(0, str(root / "lambdas"))
    try:
        from etl.errors import SchemaConfigError
        from etl.schema import check_schema_file
    finally:
        sys.path.remove(str(root / "lambdas"))
    problems = []
    for path in files:
        try:
            check_schema_file(path)
        except SchemaConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise BuildError("invalid schema:\n" + "\n".join(problems))
    return files


def build_all(
    root: Path = ROOT,
    out_dir: Path | None = None,
    arch: str = DEFAULT_ARCH,
    functions_only: bool = False,
    index_url: str | None = None,
    limits: Limits = Limits(),
    requirements: Sequence[str] | None = None,
    log=print,
) -> dict:
    """Build (or reuse) every artifact, check limits, write the manifest; return it."""
    if arch not in ARCHITECTURES:
        raise BuildError(f"unknown architecture {arch!r}: use one of {sorted(ARCHITECTURES)}")
    root = root.resolve()
    out_dir = (out_dir or root / "dist").resolve()
    plans = plan_functions(root, out_dir)
    check_schemas(root)
    spec = LayerSpec(tuple(requirements or layer_requirements(root)), arch)
    layer_path = layer_output(out_dir, arch)

    functions = [build_function(plan) for plan in plans]
    if functions_only:
        # Keep a previously built layer in the manifest if it still matches its inputs.
        layer = up_to_date("layer", layer_path, layer_inputs_digest(spec))
    else:
        layer = build_layer(spec, layer_path, index_url, log=log)
    records = [*functions, *([layer] if layer else [])]
    for r in records:
        state = "built    " if r.rebuilt else "unchanged"
        log(
            f"{state} {r.name:<12} {display_path(r.path, root):<34} {r.size / 1024:9.1f} KiB"
            f" zipped {r.unzipped_size / MB:7.2f} MB unzipped sha256={r.sha256[:12]}"
        )
    for warning in check_limits(functions, layer, limits):
        log(f"note: {warning}")
    manifest = manifest_document(arch, records, root)
    write_text_atomic(out_dir / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")
    return manifest


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="build.py", description="Build reproducible Lambda function zips and the layer."
    )
    parser.add_argument(
        "--arch",
        choices=sorted(ARCHITECTURES),
        default=DEFAULT_ARCH,
        help="Lambda architecture (default: %(default)s)",
    )
    parser.add_argument(
        "--functions-only",
        action="store_true",
        help="build only the function zips (what the local run needs)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="output directory (default: dist/ in the repository)"
    )
    parser.add_argument(
        "--index-url",
        default=None,
        help="package index for the layer (default: pip's configuration)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    try:
        build_all(ROOT, args.out, args.arch, args.functions_only, args.index_url)
    except BuildError as exc:
        print(f"build.py: error: {exc}", file=sys.stderr)
        return 1
    out = (args.out or ROOT / "dist").resolve()
    print(f"wrote {display_path(out / MANIFEST_NAME, ROOT)} in {time.monotonic() - started:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
