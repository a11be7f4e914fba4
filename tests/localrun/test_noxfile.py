"""noxfile.py sessions `local` and `tests`: one shared venv, pip only when the requirements
changed, the caller's folder for paths, terraform checked first, messages as the README."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from tests.fake_nox import FakeSession, Stop

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def noxfile(noxfile_module, monkeypatch, tmp_path):
    monkeypatch.setattr(noxfile_module, "SHARED_VENV", tmp_path / "venv")
    monkeypatch.setattr(noxfile_module, "test_requirements", lambda: ["six==1.17.0"])
    return noxfile_module


def _python(noxfile) -> str:
    return str(noxfile.SHARED_VENV / "bin" / "python")


def _pip_runs(session) -> list:
    return [c for c in session.calls if c[0] == "run" and "pip" in c[1]]


def test_one_venv_and_pip_only_when_the_requirements_change(noxfile, tmp_path, monkeypatch):
    first = FakeSession(tmp_path)
    assert noxfile.shared_test_python(first) == _python(noxfile)
    assert Path(_python(noxfile)).exists()
    assert [c[1][-1] for c in _pip_runs(first)] == ["six==1.17.0"]

    again = FakeSession(tmp_path)  # what `tests` then `local` do: the same venv, no pip
    assert noxfile.shared_test_python(again) == _python(noxfile)
    assert _pip_runs(again) == []
    assert ("log", "test requirements unchanged since the last install: pip skipped") in (
        again.calls
    )

    monkeypatch.setattr(noxfile, "test_requirements", lambda: ["six==1.16.0"])
    changed = FakeSession(tmp_path)
    noxfile.shared_test_python(changed)
    assert [c[1][-1] for c in _pip_runs(changed)] == ["six==1.16.0"]


def test_local_runs_from_the_callers_folder(noxfile, tmp_path, monkeypatch):
    monkeypatch.setattr(noxfile.shutil, "which", lambda name: "/usr/bin/terraform")
    monkeypatch.setattr(noxfile, "shared_test_python", lambda session: "/venv/python")
    caller = tmp_path / "elsewhere"
    session = FakeSession(caller, ["odd/x.csv", "--out", "out"])

    noxfile.local.func(session)

    assert session.calls == [
        ("chdir", str(caller)),
        (
            "run",
            ("/venv/python", "-m", "localrun", "odd/x.csv", "--out", "out"),
            {"PYTHONPATH": str(REPO)},
        ),
    ]


def test_describe_runs_from_the_callers_folder_in_the_shared_venv(noxfile, tmp_path, monkeypatch):
    monkeypatch.setattr(noxfile, "shared_test_python", lambda session: "/venv/python")
    caller = tmp_path / "elsewhere"
    session = FakeSession(caller, ["a.csv", "b.csv", "--schema", "s.json"])

    noxfile.describe.func(session)

    assert session.calls == [
        ("chdir", str(caller)),
        (
            "run",
            ("/venv/python", "-m", "localrun.describe", "a.csv", "b.csv", "--schema", "s.json"),
            {"PYTHONPATH": str(REPO)},
        ),
    ]


def test_local_without_terraform_stops_before_any_venv_or_build(noxfile, tmp_path, monkeypatch):
    monkeypatch.setattr(noxfile.shutil, "which", lambda name: None)
    session = FakeSession(tmp_path)
    with pytest.raises(Stop, match="terraform is not installed.*~> 1.11.*terraform/install"):
        noxfile.local.func(session)
    assert [c[0] for c in session.calls] == ["error"]


def test_messages_ask_for_what_the_envs_need_and_name_the_readme_command(noxfile):
    source = (REPO / "noxfile.py").read_text()
    assert "1.5.7" not in source and "lock table" not in source
    assert "~> 1.11" in source and "use_lockfile" in source
    docs = [noxfile.__doc__] + [
        getattr(noxfile, name).__doc__ or ""
        for name in ("package", "deploy_dev", "plan_prod", "apply_prod", "tests", "local")
    ]
    assert not [d for d in docs if "nox -s" in d]


@pytest.mark.parametrize(
    ("posargs", "needs_terraform"),
    [
        (["up", "--chunk-bytes", "65536"], True),
        (["run", "my.csv", "--dataset", "transactions"], False),
        (["status"], False),
        (["down"], False),
    ],
)
def test_local_up_run_status_down_go_to_the_standing_stack(
    noxfile, tmp_path, monkeypatch, posargs, needs_terraform
):
    """`local -- up|run|status|down` run localrun/standing.py from the caller's folder; only
    `up` deploys, so only `up` needs terraform."""
    monkeypatch.setattr(noxfile.shutil, "which", lambda name: None)
    monkeypatch.setattr(noxfile, "shared_test_python", lambda session: "/venv/python")
    session = FakeSession(tmp_path, posargs)
    if needs_terraform:
        with pytest.raises(Stop, match="terraform is not installed"):
            noxfile.local.func(session)
        return
    noxfile.local.func(session)
    assert session.calls == [
        ("chdir", str(tmp_path)),
        ("run", ("/venv/python", "-m", "localrun.standing", *posargs), {"PYTHONPATH": str(REPO)}),
    ]


def test_validate_runs_in_process_from_the_callers_folder(noxfile, tmp_path, monkeypatch):
    """`validate` needs neither terraform nor an emulator."""
    monkeypatch.setattr(noxfile.shutil, "which", lambda name: None)
    monkeypatch.setattr(noxfile, "shared_test_python", lambda session: "/venv/python")
    session = FakeSession(tmp_path, ["my.csv", "--schema", "s.json"])
    noxfile.validate.func(session)
    assert session.calls == [
        ("chdir", str(tmp_path)),
        (
            "run",
            ("/venv/python", "-m", "localrun.validate", "my.csv", "--schema", "s.json"),
            {"PYTHONPATH": str(REPO)},
        ),
    ]


def test_quick_runs_pytest_without_deploys_or_a_build(noxfile, tmp_path, monkeypatch):
    monkeypatch.setattr(noxfile, "shared_test_python", lambda session: "/venv/python")
    session = FakeSession(tmp_path, ["-x"])

    noxfile.quick.func(session)

    assert session.calls == [
        (
            "run",
            (
                "/venv/python",
                "-m",
                "pytest",
                "-n",
                "auto",
                "-m",
                "not e2e and not slow and not tftest",
                "-x",
            ),
            None,
        )
    ]


def test_the_quick_loop_leaves_out_files_that_exist():
    """A renamed slow file would silently join the quick loop: every listed one exists."""
    sys.path.insert(0, str(REPO / "tests"))
    try:
        conftest = importlib.import_module("conftest")
    finally:
        sys.path.remove(str(REPO / "tests"))
    assert conftest.SLOW_FILES and all((REPO / f).is_file() for f in conftest.SLOW_FILES)
    assert all((REPO / d).is_dir() for d in conftest.SLOW_DIRS)
