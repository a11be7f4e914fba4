"""The layer zip: the pinned ``[project.optional-dependencies].layer`` requirements of
pyproject.toml under ``python/``, installed by pip for CPython 3.12 on Amazon Linux 2023
(manylinux_2_28 / manylinux2014 wheels) for the chosen architecture, from any host, then
trimmed of dead weight (headers, Cython sources, tests, unused Arrow Flight, ...)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
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

from buildtools.artifacts import (
    RUNTIME_PYTHON,
    ArtifactRecord,
    record_artifact,
    save_stamp,
    tool_fingerprint,
    up_to_date,
)
from buildtools.errors import (
    BuildError,
    MissingInputError,
    PackageIndexUnreachable,
    PipInstallError,
)
from buildtools.sizes import MIB
from buildtools.zips import collect_tree, file_digest, is_excluded, write_zip

ARCHITECTURES = {"arm64": "aarch64", "x86_64": "x86_64"}
DEFAULT_ARCH = "arm64"
DEFAULT_INDEX_PROBE = "https://pypi.org/simple"


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
# `import pyarrow.flight` or `pyarrow.fs.S3FileSystem` then fail). Flight is an RPC framework;
# Arrow's own S3 client is unused because the handlers do all S3 I/O with boto3 (ranged
# GETs, puts). Dropping both (the largest parts of pyarrow the handlers never load: build.py
# prints the sizes) keeps the layer zip under the 50 MB upload cap.
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
            log(f"  trimmed {size / MIB:7.1f} MiB in {files:4d} files: {rule}")
        log(
            f"  layer {installed / MIB:.1f} MiB installed -> {tree_size(site) / MIB:.1f} MiB after"
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
