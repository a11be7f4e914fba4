"""Build the Lambda artifacts: one zip per function and the pyarrow layer.

    python build.py [--arch arm64|x86_64] [--functions-only] [--out dist]

This file is the command line and the composition (:func:`build_all`); the parts live in
``buildtools/``, one concern per module:

* ``buildtools/functions.py``: a function zip holds its entry module (``lambdas/<module>.py``,
  from the handler in the contract, read by ``lambdas/etl/contract.py``) plus the whole
  shared ``etl/`` package.
* ``buildtools/layer.py``: the layer zip holds the pinned
  ``[project.optional-dependencies].layer`` requirements of pyproject.toml under ``python/``,
  installed by pip for CPython 3.12 on Amazon Linux 2023 (manylinux_2_28 / manylinux2014
  wheels) for the chosen architecture, from any host, then trimmed of dead weight.
* ``buildtools/zips.py``: the one zip writer. Zips are byte-reproducible: sorted entries,
  fixed timestamps (1980-01-01), normalised permissions (0644 files, 0755 executables and
  directories), no bytecode, a fixed compression level. Writes are atomic.
* ``buildtools/artifacts.py``: a build is skipped when the content hash of its inputs and
  build parameters equals the one stored next to the artifact (``<artifact>.inputs.json``);
  ``<out>/manifest.json`` lists every artifact with sha256, base64sha256 (what Terraform's
  ``source_code_hash`` expects) and size; paths are relative to the repository root.
* ``buildtools/sizes.py``: the Lambda size quotas (binary units: sizes print as MiB).
* ``buildtools/errors.py``: errors are ``BuildError`` subclasses with actionable messages.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from buildtools import schemas as schema_changes
from buildtools.artifacts import (
    MANIFEST_NAME,
    ArtifactRecord,
    manifest_document,
    up_to_date,
)
from buildtools.errors import (
    ArtifactTooLarge,
    BuildError,
    MissingInputError,
    PackageIndexUnreachable,
)
from buildtools.functions import build_function, plan_functions
from buildtools.layer import (
    ARCHITECTURES,
    DEFAULT_ARCH,
    LayerSpec,
    build_layer,
    layer_inputs_digest,
    layer_output,
    layer_requirements,
)
from buildtools.sizes import MIB, Limits, check_limits
from buildtools.zips import display_path, write_text_atomic

ROOT = Path(__file__).resolve().parent

# The API scripts and tests use as ``build.<name>`` (noxfile.py, tests/test_build.py).
__all__ = [
    "ARCHITECTURES",
    "DEFAULT_ARCH",
    "MANIFEST_NAME",
    "MIB",
    "ROOT",
    "ArtifactRecord",
    "ArtifactTooLarge",
    "BuildError",
    "LayerSpec",
    "Limits",
    "MissingInputError",
    "PackageIndexUnreachable",
    "build_all",
    "check_limits",
    "check_schemas",
    "main",
    "parse_args",
]


def check_schemas(root: Path) -> list[Path]:
    """Check every schema under schemas/ completely before anything is packaged: one
    BuildError listing each problem with its file and JSON path (etl.schema, the same
    check the functions and the local run use; it imports without pyarrow), then each
    change its released baseline refuses, one line per field and rule (etl.compat)."""
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
    refused = schema_changes.problems(files, root=root)
    if refused:
        raise BuildError(
            "schema change refused (docs/schema-versions.md: keep it compatible or declare a"
            " new major):\n" + "\n".join(refused)
        )
    return files


def build_all(
    root: Path = ROOT,
    out_dir: Path | None = None,
    arch: str = DEFAULT_ARCH,
    functions_only: bool = False,
    index_url: str | None = None,
    limits: Limits | None = None,
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
            f" zipped {r.unzipped_size / MIB:7.2f} MiB unzipped sha256={r.sha256[:12]}"
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
