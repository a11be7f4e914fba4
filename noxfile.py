"""Sessions for the CSV -> Parquet ETL pipeline: one per thing a user does.

    python3 noxfile.py -l                 list sessions (bootstraps nox into .venv-nox/ if needed)
    python3 noxfile.py                    lint, tests, policy (what CI runs)
    python3 noxfile.py -s quick           unit, handler and static Terraform tests: no deploy
    python3 noxfile.py -s local           deploy envs/dev to the embedded moto, run the pipeline
    python3 noxfile.py -s describe -- FILE   infer a Table Schema from a CSV file (stdout)
    python3 noxfile.py -s local -- up     ... and keep it up: -- run FILE, -- status, -- down
    python3 noxfile.py -s validate -- FILE --schema S   the pipeline's result, in-process
    python3 noxfile.py -s package -- --arch x86_64   build the zips, the layer, dist/manifest.json
    python3 noxfile.py -s schemas -- check           check schema changes; -- release: the baselines
    python3 noxfile.py -s deploy-dev      package, then terraform init + apply in envs/dev (AWS)
    python3 noxfile.py -s deploy-dev -- --emulator   the same deploy, to the embedded moto

`tests` and `local` share one venv (.nox/shared-test-env/); pip runs only when the test
requirements changed (a stamp file holds their hash).

Packaging lives in build.py; sessions import it or run it, never re-implement it. Terraform is
driven through subprocess (see docs/decisions.md, "Driving terraform").
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOX_VERSION = "2026.10.20"
BOOTSTRAP_VENV = HERE / ".venv-nox"
SHARED_VENV = HERE / ".nox" / "shared-test-env"
SCRIPT = "python3 noxfile.py"  # how the README runs sessions


def _bootstrap_nox() -> None:
    """Create .venv-nox/ with pinned nox and re-execute this file with it. Never returns."""
    bindir = "Scripts" if os.name == "nt" else "bin"
    python = BOOTSTRAP_VENV / bindir / ("python.exe" if os.name == "nt" else "python")
    if os.environ.get("ETL_NOX_BOOTSTRAPPED") == "1":
        sys.exit(
            f"noxfile.py: nox is still not importable by {sys.executable}; "
            f"delete {BOOTSTRAP_VENV} and rerun"
        )
    probe = (
        subprocess.run([python, "-c", "import nox"], capture_output=True)
        if python.exists()
        else None
    )
    if probe is None or probe.returncode != 0:
        print(
            f"noxfile.py: nox not found; installing nox=={NOX_VERSION} into {BOOTSTRAP_VENV.name}/",
            file=sys.stderr,
        )
        import venv

        try:
            venv.EnvBuilder(with_pip=True, clear=True).create(BOOTSTRAP_VENV)
        except (OSError, subprocess.CalledProcessError) as exc:
            sys.exit(
                f"noxfile.py: cannot create {BOOTSTRAP_VENV} ({exc}); on Debian/Ubuntu "
                "install the python3-venv package"
            )
        install = [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"nox=={NOX_VERSION}",
        ]
        if subprocess.run(install).returncode != 0:
            sys.exit(
                f"noxfile.py: 'pip install nox=={NOX_VERSION}' failed (see above); "
                "check network access to the package index"
            )
    env = {**os.environ, "ETL_NOX_BOOTSTRAPPED": "1"}
    os.execve(python, [str(python), str(Path(__file__).resolve()), *sys.argv[1:]], env)


try:
    import nox
except ModuleNotFoundError:
    if __name__ != "__main__":
        raise
    _bootstrap_nox()

sys.path.insert(0, str(HERE))
import build  # noqa: E402  (stdlib only; after the bootstrap on purpose)
from buildtools import schemas as schema_changes  # noqa: E402  (stdlib only, like build)

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "tests", "policy"]

RUFF = "ruff==0.17.6"
CHECKOV = "checkov==3.3.30"
# the bench's own dependencies, pinned: the peers' versions are part of what it measures
BENCH_EXTRAS = ("pandas==3.1.1", "matplotlib==3.11.2", "polars==2.1.0", "duckdb==2.0.0")
TERRAFORM_INSTALL = "https://developer.hashicorp.com/terraform/install"
PROVIDER_HELP = (
    "allow access to registry.terraform.io, or on a connected machine run "
    "`terraform -chdir=envs/{env} providers mirror <dir>` and point a filesystem_mirror in "
    "~/.terraformrc (TF_CLI_CONFIG_FILE) at <dir>"
)
CREDENTIAL_VARS = (
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
)
BOTO3_CREDENTIALS_PROBE = (
    "import sys, boto3\n"
    "creds = boto3.Session().get_credentials()\n"
    "sys.exit(0 if creds and creds.get_frozen_credentials().access_key else 3)\n"
)


def test_requirements() -> list[str]:
    """What `.[test]` pulls in. Read from pyproject.toml rather than `pip install .[test]`:
    the repo is not an installable package (flat layout, several top-level dirs)."""
    pyproject = nox.project.load_toml(HERE / "pyproject.toml")
    return list(pyproject["project"]["optional-dependencies"]["test"])


def install_test_requirements(session: nox.Session, *extra: str) -> None:
    session.install(*test_requirements(), *extra)


def shared_test_python(session: nox.Session) -> str:
    """The one venv `tests` and `local` share (.nox/shared-test-env/): created once; pip runs
    only when the test requirements (or the Python) changed, recorded in a stamp file."""
    bindir = "Scripts" if os.name == "nt" else "bin"
    python = SHARED_VENV / bindir / ("python.exe" if os.name == "nt" else "python")
    requirements = sorted(test_requirements())
    wanted = hashlib.sha256(
        json.dumps({"python": sys.version, "requirements": requirements}).encode()
    ).hexdigest()
    stamp = SHARED_VENV / ".requirements.sha256"
    if not python.exists():
        import venv

        session.log(f"creating {SHARED_VENV}/ (shared by tests and local)")
        venv.EnvBuilder(with_pip=True, clear=True).create(SHARED_VENV)
    if not stamp.is_file() or stamp.read_text().strip() != wanted:
        session.run(
            str(python), "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
            *requirements, external=True,
        )  # fmt: skip
        stamp.write_text(wanted + "\n")
    else:
        session.log("test requirements unchanged since the last install: pip skipped")
    return str(python)


def package_artifacts(session: nox.Session, argv: list[str]) -> Path:
    """Run build.py in-process with build.py's own CLI arguments; return the manifest path."""
    args = build.parse_args(argv)
    try:
        build.build_all(
            build.ROOT, args.out, args.arch, args.functions_only, args.index_url, log=session.log
        )
    except build.BuildError as exc:
        session.error(f"build.py: {exc}")
    return ((args.out or build.ROOT / "dist") / build.MANIFEST_NAME).resolve()


# ----------------------------------------------------------------------------- terraform helpers
def require_terraform(session: nox.Session) -> str:
    terraform = shutil.which("terraform")
    if not terraform:
        session.error(
            f"terraform is missing: install Terraform ~> 1.11 (what envs/*/versions.tf require)"
            f" from {TERRAFORM_INSTALL} and put it on PATH"
        )
    return terraform


def require_aws_provider(session: nox.Session, terraform: str, env: str) -> None:
    """`terraform init -backend=false` installs providers without touching remote state."""
    env_dir = HERE / "envs" / env
    proc = subprocess.run(
        [terraform, f"-chdir={env_dir}", "init", "-backend=false", "-input=false", "-no-color"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode == 0:
        return
    output = proc.stdout + proc.stderr
    if re.search(r"provider|registry\.terraform\.io|hashicorp/aws", output, re.IGNORECASE):
        session.error(
            "the Terraform AWS provider (hashicorp/aws) is missing: `terraform init` "
            "could not download it; " + PROVIDER_HELP.format(env=env)
        )
    errors = [ln for ln in output.splitlines() if ln.startswith("Error")] or output.splitlines()
    session.error(
        f"terraform init failed in envs/{env}: {errors[-1] if errors else proc.returncode}"
    )


def require_aws_credentials(session: nox.Session) -> None:
    """Environment variables first; otherwise ask boto3's full credential chain."""
    if any(os.environ.get(name) for name in CREDENTIAL_VARS):
        return
    session.install("boto3")
    probe_env = {
        **os.environ,
        "AWS_METADATA_SERVICE_TIMEOUT": "1",
        "AWS_METADATA_SERVICE_NUM_ATTEMPTS": "1",
    }
    python = Path(session.bin) / "python"
    probe = subprocess.run(
        [str(python), "-c", BOTO3_CREDENTIALS_PROBE],
        env=probe_env,
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        session.error(
            "AWS credentials are missing: none of AWS_PROFILE, AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY, a web-identity or container role is set, and boto3 found "
            "none in ~/.aws or instance metadata; run `aws configure sso` (or `aws configure`) "
            "and export AWS_PROFILE=<profile>"
        )


def split_build_args(posargs: list[str]) -> tuple[list[str], list[str]]:
    """`--arch X` goes to build.py; everything else goes to terraform."""
    build_args, tf_args = [], []
    args = iter(posargs)
    for arg in args:
        if arg == "--arch":
            build_args += [arg, next(args, "")]
        elif arg.startswith("--arch="):
            build_args.append(arg)
        else:
            tf_args.append(arg)
    return build_args, tf_args


def require_schema_check(session: nox.Session, released: bool) -> None:
    """The schema check (buildtools/schemas.py) before anything touches an environment;
    `released`: every schema must also be its released baseline (the prod deploys)."""
    refused = schema_changes.problems(schema_changes.schema_files(), released=released)
    if refused:
        session.error("schema check failed (docs/schema-versions.md):\n" + "\n".join(refused))


def require_dataset_check(session: nox.Session, terraform: str, env: str, tf_args: list[str]):
    """The schema check of every dataset envs/<env> deploys with `tf_args`, as Terraform reads
    them (buildtools/env_datasets.py), each against its own releases; prod: released too."""
    refused = schema_changes.env_problems(
        terraform, HERE / "envs" / env, tf_args, released=env == "prod"
    )
    if refused:
        session.error(
            "dataset schema check failed (docs/schema-versions.md):\n" + "\n".join(refused)
        )


def terraform_env(session: nox.Session, env: str, command: str, backend_config: str | None) -> None:
    """Check the schemas, terraform, the aws provider, credentials; package; init; check the
    env's datasets; plan/apply."""
    require_schema_check(session, released=env == "prod")
    terraform = require_terraform(session)
    env_dir = HERE / "envs" / env
    if not (env_dir / "main.tf").is_file():
        session.error(f"envs/{env}/main.tf is missing: the root module for {env} must exist")
    init_args = []
    if backend_config:
        if not (env_dir / backend_config).is_file():
            session.error(
                f"envs/{env}/{backend_config} is missing: copy envs/{env}/"
                f"{backend_config}.example to envs/{env}/{backend_config} and set your "
                "state bucket, key and region (locking is S3-native: use_lockfile = true)"
            )
        init_args.append(f"-backend-config={backend_config}")
    require_aws_provider(session, terraform, env)
    require_aws_credentials(session)
    build_args, tf_args = split_build_args(session.posargs)
    manifest = package_artifacts(session, build_args)
    chdir = f"-chdir={env_dir}"
    session.run(terraform, chdir, "init", "-input=false", *init_args, external=True)
    require_dataset_check(session, terraform, env, tf_args)
    session.run(
        terraform,
        chdir,
        command,
        "-input=false",
        f"-var=artifacts_manifest={manifest}",
        *tf_args,
        external=True,
    )


# ----------------------------------------------------------------------------- sessions
@nox.session(venv_backend="none")
def package(session: nox.Session) -> None:
    """Build the function zips, the pyarrow layer and dist/manifest.json (-- --arch x86_64)."""
    package_artifacts(session, list(session.posargs))


@nox.session(venv_backend="none")
def schemas(session: nox.Session) -> None:
    """Check schema changes against the released baselines: -- check [--released] [FILES];
    write the baselines once they pass: -- release [FILES] (docs/schema-versions.md)."""
    session.chdir(session.invoked_from)  # FILES are the caller's paths
    session.run(
        sys.executable, "-m", "buildtools.schemas", *(session.posargs or ["check"]),
        env={"PYTHONPATH": str(HERE)}, external=True,
    )  # fmt: skip


@nox.session(name="deploy-dev", venv_backend="none")
def deploy_dev(session: nox.Session) -> None:
    """Package, then terraform apply envs/dev to AWS; `-- --emulator`: to the embedded moto."""
    if "--emulator" in session.posargs:
        deploy_to_emulator(session, [a for a in session.posargs if a != "--emulator"])
        return
    terraform_env(session, "dev", "apply", backend_config=None)


def deploy_to_emulator(session: nox.Session, posargs: list[str]) -> None:
    """The deploy-dev deploy, aimed at the embedded emulator: package (the real layer too),
    then `python -m localrun --deploy-only` applies envs/dev with those artifacts, checks
    that `terraform plan` shows no changes and destroys it. No AWS account needed."""
    if not shutil.which("terraform"):
        session.error(
            f"terraform is missing: install Terraform ~> 1.11 from {TERRAFORM_INSTALL}"
            " and put it on PATH"
        )
    build_args, rest = split_build_args(posargs)
    manifest = package_artifacts(session, build_args)
    python = shared_test_python(session)
    session.run(
        python, "-m", "localrun", "--deploy-only", "--manifest", str(manifest), *rest,
        external=True,
    )  # fmt: skip


@nox.session(name="plan-prod")
def plan_prod(session: nox.Session) -> None:
    """Package, then terraform plan envs/prod with -backend-config=backend.hcl."""
    terraform_env(session, "prod", "plan", backend_config="backend.hcl")


@nox.session(name="apply-prod")
def apply_prod(session: nox.Session) -> None:
    """Package, then terraform apply envs/prod with -backend-config=backend.hcl."""
    terraform_env(session, "prod", "apply", backend_config="backend.hcl")


# the markers: pyproject.toml; which files are slow: tests/conftest.py
QUICK = "not e2e and not slow and not tftest"


@nox.session(venv_backend="none")
def quick(session: nox.Session) -> None:
    """The quick loop, no deploy and no build: the core's unit tests, the handler tests (on
    in-process moto) and the static Terraform module checks, on every core (pytest-xdist;
    -- passes pytest args). The modules' own `terraform test` runs are left to `tests`
    (alone: `python3 noxfile.py -s tests -- -m tftest`): they need as much CPU as all the
    rest (docs/decisions.md, "The quick loop"). `tests` runs everything, as CI does."""
    python = shared_test_python(session)
    session.run(python, "-m", "pytest", "-n", "auto", "-m", QUICK, *session.posargs, external=True)


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """Build the function zips, run pytest in the shared venv (-- passes pytest args)."""
    python = shared_test_python(session)
    session.run(python, "build.py", "--functions-only", external=True)
    session.run(python, "-m", "pytest", *session.posargs, external=True)


@nox.session
def policy(session: nox.Session) -> None:
    """Scan modules/ and envs/ with checkov (config: .checkov.yaml)."""
    if not (HERE / ".checkov.yaml").is_file():
        session.error(".checkov.yaml is missing at the repo root")
    session.install(CHECKOV)
    session.run("checkov", "--config-file", ".checkov.yaml", *session.posargs)


STANDING_COMMANDS = ("up", "run", "status", "down")  # `local -- up`: localrun/standing.py


@nox.session(venv_backend="none")
def local(session: nox.Session) -> None:
    """Deploy envs/dev to the embedded moto (terraform), run the pipeline: [INPUT.csv] [--out D]
    [--schema A.json [--schema B.json ...]] [--dataset NAME] (every schema is a dataset);
    or a stack that stays up: -- up | run FILE [--dataset NAME] | status | down."""
    standing = bool(session.posargs) and session.posargs[0] in STANDING_COMMANDS
    needs_terraform = not standing or session.posargs[0] == "up"
    if needs_terraform and not shutil.which("terraform"):  # at once, before a venv or a build
        session.error(
            "terraform is not installed: the local run deploys envs/dev with Terraform ~> 1.11."
            f" Install it from {TERRAFORM_INSTALL} (one binary) and put it on PATH"
        )
    python = shared_test_python(session)
    # Paths in the arguments are the caller's: run from the folder nox was invoked from.
    session.chdir(session.invoked_from)
    module = "localrun.standing" if standing else "localrun"
    session.run(
        python, "-m", module, *session.posargs,
        env={"PYTHONPATH": str(HERE)}, external=True,
    )  # fmt: skip


@nox.session(venv_backend="none")
def validate(session: nox.Session) -> None:
    """Check a file against a schema in-process, as the pipeline would: FILE --schema S [--out]."""
    python = shared_test_python(session)
    session.chdir(session.invoked_from)  # FILE and --out are the caller's paths
    session.run(
        python, "-m", "localrun.validate", *session.posargs,
        env={"PYTHONPATH": str(HERE)}, external=True,
    )  # fmt: skip


@nox.session(venv_backend="none")
def describe(session: nox.Session) -> None:
    """Infer a Table Schema from CSV files: FILE [FILE ...] [--schema EXISTING.json] (stdout)."""
    python = shared_test_python(session)
    session.chdir(session.invoked_from)  # the files are the caller's paths
    session.run(
        python, "-m", "localrun.describe", *session.posargs,
        env={"PYTHONPATH": str(HERE)}, external=True,
    )  # fmt: skip


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmark the processing core (bench/bench.py; -- passes its arguments)."""
    install_test_requirements(session, *BENCH_EXTRAS)
    session.run("python", "bench/bench.py", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check + ruff format --check the Python code (complexity limit in pyproject.toml);
    terraform fmt -check the Terraform (needs terraform in CI)."""
    session.install(RUFF)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # modules/ holds each module's tests/*.tftest.hcl and mocks, which fmt also formats.
    tf_dirs = [d for d in ("modules", "envs", "tests/terraform/fixtures") if (HERE / d).is_dir()]
    terraform = shutil.which("terraform")
    if not terraform:
        missing = (
            "terraform is not on PATH, so `terraform fmt -check` cannot run: install "
            f"Terraform ~> 1.11 from {TERRAFORM_INSTALL}"
        )
        if os.environ.get("CI"):  # set by CI services and by .ci/run: there it must run
            session.error(missing)
        session.warn(f"skip: {missing}")
        return
    session.run(terraform, "fmt", "-check", "-recursive", *tf_dirs, external=True)


@nox.session(venv_backend="none")
def docs(session: nox.Session) -> None:
    """Regenerate every generated part of the docs, each checked by a test: the Inputs/Outputs
    tables of modules/*/README.md and envs/*/README.md, and in docs/contracts.md the events
    table (from lambdas/etl/events.py) and the resource names (from contract.json)."""
    python = shared_test_python(session)
    session.run(python, "tools/tfdocs.py", "--write", external=True)
    session.run(python, "tools/events_table.py", external=True)
    session.run(python, "tools/contract_names.py", external=True)


if __name__ == "__main__":
    # Script mode: `python3 noxfile.py [nox args]`. Point nox at this file wherever it is run from.
    if not any(a in ("-f", "--noxfile") or a.startswith("--noxfile=") for a in sys.argv[1:]):
        sys.argv[1:1] = ["-f", str(Path(__file__).resolve())]
    nox.main()
