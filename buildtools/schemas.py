"""Schema versions: check a schema change against its released baseline, release it.

    python -m buildtools.schemas check [--released] [FILES...]
    python -m buildtools.schemas release [FILES...]

(`python3 noxfile.py -s schemas -- check` runs this.) FILES default to every schema under
schemas/. The rules are `etl.compat`'s (docs/schema-versions.md has the workflow):

* ``check`` prints one line per file that passes and, on stderr, one line per field and
  rule that refuses a change (``<file>: <field>: <RULE>: <why and what to do>``); it exits 1
  if any file is refused or invalid. ``--released`` also refuses a schema that differs from
  its baseline (rule SCHEMA_RELEASED): what the prod deploys require, so that every deployed
  schema is one the lock knows.
* ``release`` writes ``released/<dataset>/v<major>.json`` (a verbatim copy) for every file,
  only when every file passes the check: all or nothing, like a lock file.

Stdlib only, like build.py (it runs in nox's interpreter): `etl.compat` imports without
pyarrow.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
SESSION = "python3 noxfile.py -s schemas --"


def compat(root: Path = ROOT) -> ModuleType:
    """`etl.compat` from `<root>/lambdas` (the etl package is not installed here)."""
    sys.path.insert(0, str(root / "lambdas"))
    try:
        import etl.compat
    finally:
        sys.path.remove(str(root / "lambdas"))
    return etl.compat


def schema_files(root: Path = ROOT) -> list[Path]:
    """Every schema under `<root>/schemas/` (not the baselines under schemas/released/)."""
    return sorted((root / "schemas").glob("*.json"))


def shown(path: Path) -> str:
    """A path as the user reads it: relative to the working folder when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def summary(check) -> str:
    """One line saying what passed and what it means for the dataset's tables."""
    name, baseline = f"{shown(check.path)}: {check.dataset}", shown(check.baseline)
    if check.status == "unchanged":
        return f"{name} version {check.version}: released ({baseline})"
    if check.status == "compatible":
        return (
            f"{name} version {check.version}: compatible with {baseline}; release it: "
            f"{SESSION} release {shown(check.path)}"
        )
    return (
        f"{name} version {check.version}: new major {check.version.major} (own table "
        f"{check.dataset}_v{check.version.major} and prefix "
        f"processed/{check.dataset}/v{check.version.major}/; not compared with older majors)"
    )


def problems(files: Sequence[Path], *, released: bool = False, root: Path = ROOT) -> list[str]:
    """Every line that refuses `files`: an invalid schema's message, each finding, and with
    `released` each schema that is not its baseline yet. Empty when all pass."""
    return [line for ok, line in _results(files, released, root) if not ok]


def _results(files: Sequence[Path], released: bool, root: Path):
    """(passed, line) for each file, or for each of its findings."""
    etl_compat = compat(root)
    from etl.errors import SchemaConfigError

    for path in map(Path, map(shown, files)):  # as the user reads them, in messages too
        try:
            check = etl_compat.check_file(path)
        except SchemaConfigError as exc:
            yield False, str(exc)
            continue
        if not check.findings and released and check.status != "unchanged":
            yield (
                False,
                (
                    f"{shown(path)}: $.version: SCHEMA_RELEASED: version {check.version} is not "
                    f"released ({shown(check.baseline)}): run `{SESSION} release {shown(path)}` "
                    "and commit the baseline before deploying to prod"
                ),
            )
            continue
        yield from ((False, f"{shown(path)}: {f}") for f in check.findings)
        if not check.findings:
            yield True, summary(check)


def run_check(files: Sequence[Path], released: bool, root: Path = ROOT) -> int:
    failed = False
    for ok, line in _results(files, released, root):
        print(line, file=sys.stdout if ok else sys.stderr)
        failed |= not ok
    return 1 if failed else 0


def run_release(files: Sequence[Path], root: Path = ROOT) -> int:
    """Write each file's baseline, only when every file passes the check."""
    if run_check(files, False, root):
        print("release: nothing written (see the lines above)", file=sys.stderr)
        return 1
    etl_compat = compat(root)
    for path in files:
        check = etl_compat.check_file(path)
        if check.status == "unchanged":
            continue
        copy_verbatim(path, check.baseline)
        print(f"wrote {shown(check.baseline)} (version {check.version}): commit it")
    return 0


def copy_verbatim(source: Path, dest: Path) -> None:
    """Copy the bytes atomically (temp file, then rename): a baseline is never half written."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: Sequence[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m buildtools.schemas",
        description="Check schema changes against their released baselines; release them.",
    )
    parser.add_argument("command", choices=("check", "release"))
    parser.add_argument(
        "--released",
        action="store_true",
        help="check: also refuse a schema that is not released yet (the prod deploys)",
    )
    parser.add_argument("files", nargs="*", type=Path, help="default: every schemas/*.json")
    args = parser.parse_args(argv)
    if args.released and args.command != "check":
        parser.error("--released belongs to check")
    files = args.files or schema_files(root)
    if not files:
        print(f"no schema files given and none in {shown(root / 'schemas')}", file=sys.stderr)
        return 1
    if args.command == "release":
        return run_release(files, root)
    return run_check(files, args.released, root)


if __name__ == "__main__":
    sys.exit(main())
