"""pytest plugin for the tests here that run Terraform: fixtures, the report lines.

A test module that runs Terraform declares `pytest_plugins = ["tfplugin"]`. (Not a
conftest.py: a second conftest module would replace tests/conftest.py as `conftest` in
sys.modules, and the test modules that `from conftest import ...` would break.)

Every test that runs Terraform goes through here:
- the provider comes from `localrun/tfcli.py` (the envs' exact pin where it can be installed,
  otherwise a hashicorp/aws >= the modules' floor from a filesystem mirror, through the
  test-only override written into the temporary copy only);
- the code is copied once per session into a temporary tree (modules, envs, schemas, the
  contract, the plan fixtures and a tiny fake build), and each root in it is initialised once
  (`terraform init` links the mirror's provider; a registry download lands in one plugin
  cache for the whole session);
- the slow commands (plans, `terraform test`, validate) of a test file are started together on
  a pool of `ETL_TF_JOBS` workers (default: one per core), each test waiting for its own;
  the modules' `terraform test` runs start with the session's first test, so the other tests
  run beside them (their checks come last: tests/conftest.py orders them);
- the provider version and how long the inits took are printed in the pytest header/summary
  and in every skip and failure message.

Where terraform is not installed the tests skip and say so, except in CI (`CI` set, as every CI
service does), where a missing terraform is a failure: CI must run Terraform.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tfrun import (
    BACKEND_OVERRIDE,
    INIT_SECONDS,
    PLUGIN_CACHE,
    REPO,
    SETUP,
    TREE,
    aws_constraint,
    provider_text,
    require_terraform,
    run_terraform,
    terraform_unavailable,
    write_fixture_build,
)

from localrun import tfcli


def versions_line() -> str:
    version = tfcli.terraform_version()
    terraform = f"terraform {version}" if version else "terraform: not installed"
    return f"{terraform}; provider: {provider_text()}"


def pytest_report_collectionfinish(config, start_path, items):
    """Which terraform and provider this run uses, right under "collected N items"."""
    return [versions_line()]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that ran Terraform says with which versions, under its traceback."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and item.get_closest_marker("tftest"):
        report.sections.append(("terraform", versions_line()))


def pytest_terminal_summary(terminalreporter):
    if INIT_SECONDS:
        total = sum(INIT_SECONDS.values())
        terminalreporter.write_line(
            f"terraform init: {len(INIT_SECONDS)} roots in {total:.1f} s ({provider_text()})"
        )


@pytest.fixture(scope="session")
def tf_env(tmp_path_factory) -> dict[str, str]:
    """Environment of every terraform subprocess (CLI config from tfcli, no AWS_*)."""
    require_terraform()
    return SETUP.env(tmp_path_factory.mktemp("tfcli"), plugin_cache_dir=PLUGIN_CACHE)


@pytest.fixture(scope="session")
def tf_tree(tmp_path_factory) -> Path:
    """One copy of the Terraform code, the contract, the schema and a fixture build."""
    root = tmp_path_factory.mktemp("repo")
    for rel in TREE:
        src, dst = REPO / rel, root / rel
        if src.is_dir():
            shutil.copytree(
                src,
                dst,
                ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", ".terraform.lock.hcl"),
            )
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    write_fixture_build(root)
    return root


@pytest.fixture(scope="session")
def tf_root(tf_tree, tf_env):
    """init(rel) -> the initialised root `rel` of the tree (each root once per session;
    safe to call from the pool's threads).

    Roots that pin the provider exactly (envs, plan fixtures) get tfcli's test-only version
    override when the mirror holds another version; a remote backend becomes local."""
    done: dict[str, Path] = {}
    locks: dict[str, threading.Lock] = {}
    guard = threading.Lock()

    def init(rel: str) -> Path:
        with guard:
            lock = locks.setdefault(rel, threading.Lock())
        with lock:
            if rel in done:
                return done[rel]
            root = tf_tree / rel
            if re.fullmatch(r"=?\s*\d+\.\d+\.\d+", aws_constraint(root)):
                SETUP.write_override(root)
            if any("backend " in tf.read_text() for tf in root.glob("*.tf")):
                (root / "zz_backend_override.tf").write_text(BACKEND_OVERRIDE)
            start = time.monotonic()
            run_terraform(["init", "-input=false", "-no-color"], root, tf_env)
            INIT_SECONDS[rel] = time.monotonic() - start
            done[rel] = root
            return root

    return init


@pytest.fixture(scope="session")
def tf_jobs():
    """The pool the slow terraform commands run on (ETL_TF_JOBS workers, default one per
    core); a test gets its command's result with `.result()`, failures and skips included."""
    require_terraform()
    with ThreadPoolExecutor(
        max_workers=int(os.environ.get("ETL_TF_JOBS") or os.cpu_count() or 1)
    ) as pool:
        yield pool


MODULE_TEST = "test_terraform_test_passes"  # tests/terraform/test_module_tests.py


def terraform_test(module: str, tf_root, tf_env):
    root = tf_root(f"modules/{module}")
    return run_terraform(["test", "-no-color"], root, tf_env, check=False)


@pytest.fixture(scope="session")
def module_tests(request, tf_jobs, tf_root, tf_env):
    """{module: the future of its `terraform test` run} for the modules this run selected."""
    modules = {
        item.callspec.params["module"]
        for item in request.session.items
        if item.originalname == MODULE_TEST
    }
    return {m: tf_jobs.submit(terraform_test, m, tf_root, tf_env) for m in modules}


@pytest.fixture(scope="session", autouse=True)
def module_tests_started(request):
    """Start the selected modules' `terraform test` runs at the session's first test (where
    terraform is installed; elsewhere their own tests skip or fail, saying why)."""
    wanted = any(item.originalname == MODULE_TEST for item in request.session.items)
    if wanted and terraform_unavailable() is None:
        request.getfixturevalue("module_tests")


@pytest.fixture(scope="session")
def sts_endpoint():
    """An in-process moto server for the two AWS calls a plan makes: STS GetCallerIdentity
    (aws_caller_identity) and, for a state machine whose definition is known at plan time,
    Step Functions ValidateStateMachineDefinition (answered by moto's own ASL analyser)."""
    require_terraform()
    from moto.server import ThreadedMotoServer

    from localrun import moto_patches

    with moto_patches.applied("sfn_missing_operations"):
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
        server.stop()
