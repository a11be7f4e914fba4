"""A stand-in for nox.Session, shared by the tests that call noxfile.py's sessions
(tests/localrun/test_noxfile.py, tests/test_schema_release.py): a session is called as
`noxfile_module.<name>.func(FakeSession(...))` (fixture noxfile_module, tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path


class Stop(Exception):
    """What session.error() raises: nox would stop the session there."""


class FakeSession:
    """What the sessions use of nox.Session, recorded in `calls`."""

    def __init__(self, invoked_from: Path, posargs=()) -> None:
        self.invoked_from = str(invoked_from)
        self.posargs = list(posargs)
        self.calls: list[tuple] = []

    def run(self, *args, **kwargs):
        self.calls.append(("run", args, kwargs.get("env")))

    def chdir(self, path):
        self.calls.append(("chdir", str(path)))

    def log(self, message):
        self.calls.append(("log", message))

    def error(self, message):
        self.calls.append(("error", message))
        raise Stop(message)
