"""Schema versions: check a schema change against its released baseline, release it.

    python -m buildtools.schemas check [--released] [[DATASET=]FILE...]
    python -m buildtools.schemas release [[DATASET=]FILE...]

(`python3 noxfile.py -s schemas -- check` runs this.) FILES default to every schema under
schemas/. A file is checked against its dataset's releases, `<its dir>/released/<DATASET>/`,
where Terraform reads them too; DATASET (the `datasets` key) defaults to the file's name without
`.json`, so `schemas/<dataset>.json` needs none. The deploy sessions check what their
environment deploys instead (`env_problems`). The rules are `etl.compat`'s
(docs/schema-versions.md has the workflow):

* ``check`` prints one line per file that passes and, on stderr, one line per field and
  rule that refuses a change (``<file>: <field>: <RULE>: <why and what to do>``); it exits 1
  if any file is refused or invalid. ``--released`` also refuses a schema that differs from
  its baseline (rule SCHEMA_RELEASED): what the prod deploys require, so that every deployed
  schema is one the lock knows.
* ``release`` writes ``released/<dataset>/v<major>.json`` (a verbatim copy) for every file,
  only when every file passes the check: all or nothing, like a lock file.
* A file that cannot be read is refused by its dataset's name: no unchecked deploy.

Stdlib only, like build.py (it runs in nox's interpreter): `etl.compat` imports without
pyarrow.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from buildtools import env_datasets

ROOT = Path(__file__).resolve().parent.parent
SESSION = "python3 noxfile.py -s schemas --"
_DATASET_ARG = re.compile(r"([a-z][a-z0-9_]{0,62})=(.+)")  # a `datasets` key, as Terraform's


@dataclass(frozen=True)
class Target:
    """A schema file and the dataset (Terraform's `datasets` key) whose releases it is checked
    against, `<dir of path>/released/<dataset>/`."""

    path: Path
    dataset: str

    @classmethod
    def of(cls, item: Target | Path | str) -> Target:
        """A Target as given, or from `DATASET=FILE` or `FILE` (dataset: the file's stem)."""
        if isinstance(item, Target):
            return item
        found = _DATASET_ARG.fullmatch(str(item))
        if found and not Path(item).exists():
            return cls(Path(found[2]), found[1])
        return cls(Path(item), Path(item).stem)

    @property
    def label(self) -> str:
        """How lines name it: the file, and the dataset when the file's name differs."""
        if self.dataset == self.path.stem:
            return shown(self.path)
        return f"{shown(self.path)} (dataset {self.dataset})"

    @property
    def arg(self) -> str:
        """How the CLI takes it back (`release` ARG)."""
        if self.dataset == self.path.stem:
            return shown(self.path)
        return f"{self.dataset}={shown(self.path)}"


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


def summary(check, target: Target) -> str:
    """One line saying what passed and what it means for the dataset's tables."""
    name, baseline = f"{shown(check.path)}: {check.dataset}", shown(check.baseline)
    if check.status == "unchanged":
        return f"{name} version {check.version}: released ({baseline})"
    if check.status == "compatible":
        return (
            f"{name} version {check.version}: compatible with {baseline}; release it: "
            f"{SESSION} release {target.arg}"
        )
    return (
        f"{name} version {check.version}: new major {check.version.major} (own table "
        f"{check.dataset}_v{check.version.major} and prefix "
        f"processed/{check.dataset}/v{check.version.major}/; not compared with older majors)"
    )


def problems(
    files: Iterable[Target | Path | str], *, released: bool = False, root: Path = ROOT
) -> list[str]:
    """Every line that refuses `files` (paths, `DATASET=FILE` or Targets): an unreadable or
    invalid schema's message, each finding, and with `released` each schema that is not its
    baseline yet. Empty when all pass."""
    return [line for ok, line in _results(files, released, root) if not ok]


def dataset_problems(
    datasets: Mapping[str, Path], *, released: bool = False, root: Path = ROOT
) -> list[str]:
    """`problems` of each dataset's schema file, checked against that dataset's releases."""
    return problems(
        [Target(Path(path), name) for name, path in datasets.items()], released=released, root=root
    )


def env_problems(
    terraform: str, env_dir: Path, tf_args: Sequence[str], *, released: bool, root: Path = ROOT
) -> list[str]:
    """`dataset_problems` of every dataset the initialised env root deploys with `tf_args`,
    read the way Terraform reads them (env_datasets.py); what the deploy sessions run."""
    try:
        datasets = env_datasets.read(terraform, env_dir, tf_args, root)
    except env_datasets.DatasetsUnreadable as exc:
        return [str(exc)]
    return dataset_problems(datasets, released=released, root=root)


def unreadable(target: Target) -> str | None:
    """Why a schema file cannot be checked (it cannot be read), naming its dataset and what to
    do; None when it can be read."""
    try:
        target.path.read_bytes()
    except OSError as exc:
        return (
            f"{target.label}: cannot read the schema file ({exc.strerror or exc}): dataset "
            f"{target.dataset} cannot be checked, so it is not deployed; create the file, or "
            f"point datasets.{target.dataset}.schema_file at the dataset's Table Schema (null: "
            f"schemas/{target.dataset}.json)"
        )
    return None


def _results(files: Iterable[Target | Path | str], released: bool, root: Path):
    """(passed, line) for each file, or for each of its findings."""
    etl_compat = compat(root)
    from etl.errors import SchemaConfigError

    for given in map(Target.of, files):
        target = Target(Path(shown(given.path)), given.dataset)  # as the user reads it
        if (why := unreadable(target)) is not None:
            yield False, why
            continue
        try:
            check = etl_compat.check_file(target.path, target.dataset)
        except SchemaConfigError as exc:
            yield False, str(exc)
            continue
        if not check.findings and released and check.status != "unchanged":
            yield (
                False,
                (
                    f"{target.label}: $.version: SCHEMA_RELEASED: version {check.version} is "
                    f"not released ({shown(check.baseline)}): run `{SESSION} release "
                    f"{target.arg}` and commit the baseline before deploying to prod"
                ),
            )
            continue
        yield from ((False, f"{target.label}: {f}") for f in check.findings)
        if not check.findings:
            yield True, summary(check, target)


def run_check(files: Sequence[Target], released: bool, root: Path = ROOT) -> int:
    failed = False
    for ok, line in _results(files, released, root):
        print(line, file=sys.stdout if ok else sys.stderr)
        failed |= not ok
    return 1 if failed else 0


def run_release(files: Sequence[Target], root: Path = ROOT) -> int:
    """Write each file's baseline, only when every file passes the check."""
    if run_check(files, False, root):
        print("release: nothing written (see the lines above)", file=sys.stderr)
        return 1
    etl_compat = compat(root)
    for target in map(Target.of, files):
        check = etl_compat.check_file(target.path, target.dataset)
        if check.status == "unchanged":
            continue
        copy_verbatim(target.path, check.baseline)
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
    parser.add_argument(
        "files",
        nargs="*",
        type=Target.of,
        metavar="[DATASET=]FILE",
        help="default: every schemas/*.json; DATASET (default: the file's name) picks the "
        "releases, <dir of FILE>/released/<DATASET>/",
    )
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
