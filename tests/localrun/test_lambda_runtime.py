"""The workers run what Lambda's python3.12 runtime runs: CPython 3.12, the real layer zip
(built once per checkout into .build-cache/ by build.py's layer code), the function zips, the
runtime's boto3, Lambda's environment, and nothing from the host's site-packages."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from etl.contract import CONTRACT
from werkzeug.test import Client

import build
import buildtools.layer
from localrun import lambda_runtime
from localrun.lambda_layer import FunctionSpec, LambdaLayer
from localrun.lambda_runtime import RuntimeUnavailable, WorkerRuntime

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import importlib.util, os, sys
import pyarrow

def handler(event, context):
    names = ("AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
             "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "_HANDLER", "LAMBDA_TASK_ROOT", "PYTHONPATH")
    return {
        "version": list(sys.version_info[:2]),
        "pyarrow": pyarrow.__file__,
        "host_only": {m: importlib.util.find_spec(m) is not None for m in ("moto", "pytest")},
        "sys_path": sys.path,
        "env": {n: os.environ.get(n) for n in names},
        "cwd": os.getcwd(),
    }
"""


@pytest.fixture(scope="module")
def runtime() -> WorkerRuntime:
    found = lambda_runtime.default_runtime()  # under CI: an error when it cannot be set up
    if not found.lambda_like:
        pytest.skip(f"no python3.12 runtime here: {found.reason}")
    return found


@pytest.fixture(scope="module")
def function_zips(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    build.build_all(REPO, out, functions_only=True, log=lambda m: None)
    return out / "functions"


def _spec(zip_path: Path, handler: str, name: str = "fn", memory_mb: int = 512) -> FunctionSpec:
    return FunctionSpec(
        name=name,
        function_name=f"etl-test-{name}",
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:etl-test-{name}",
        zip_path=zip_path,
        handler=handler,
        environment={"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"},
        memory_mb=memory_mb,
    )


def _probe_zip(tmp_path: Path) -> Path:
    path = tmp_path / "probe.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("probe.py", PROBE)
    return path


def _invoke(specs: list[FunctionSpec], runtime: WorkerRuntime, log_dir: Path, event: dict):
    """One invocation of the first spec; the response body."""
    layer = LambdaLayer(_no_app, specs, pool_size=1, log_dir=log_dir, runtime=runtime)
    try:
        response = Client(layer).post(
            f"/2015-03-31/functions/{specs[0].function_name}/invocations", data=json.dumps(event)
        )
        return response.get_json()
    finally:
        layer.close()


def _no_app(environ, start_response):
    start_response("404 Not Found", [])
    return [b""]


def test_the_worker_is_cpython_312_with_the_layer_and_nothing_from_the_host(runtime, tmp_path):
    body = _invoke(
        [_spec(_probe_zip(tmp_path), "probe.handler", memory_mb=1769)], runtime, tmp_path, {}
    )
    layer_dir = runtime.sys_path[1]
    assert body["version"] == [3, 12]
    assert body["pyarrow"].startswith(layer_dir + "/pyarrow/")
    assert body["host_only"] == {"moto": False, "pytest": False}
    host_site = str(Path(pytest.__file__).parent.parent)
    assert host_site not in body["sys_path"]
    assert body["sys_path"][: 1 + len(runtime.sys_path)] == [body["cwd"], *runtime.sys_path]
    assert body["env"] == {
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": "etl-test-fn",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1769",
        "_HANDLER": "probe.handler",
        "LAMBDA_TASK_ROOT": body["cwd"],
        "PYTHONPATH": None,
    }


def test_the_hosts_pyarrow_is_not_importable_without_the_layer(runtime, tmp_path):
    """The host has pyarrow (the tests import it); a worker whose runtime lacks the layer
    cannot import it: pyarrow can only come from the layer."""
    import pyarrow

    assert Path(pyarrow.__file__).is_file()
    sdk_only = WorkerRuntime(
        runtime.mode, runtime.python, runtime.python_flags, runtime.sys_path[2:]
    )
    body = _invoke([_spec(_probe_zip(tmp_path), "probe.handler")], sdk_only, tmp_path, {})
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'probe': No module named 'pyarrow'"


@pytest.mark.parametrize("name", sorted(CONTRACT.functions))
def test_every_handler_imports_from_the_real_layer(runtime, function_zips, tmp_path, name):
    """The init (module import) succeeds: the invocation reaches the handler, which fails on
    its own (no bucket configured, a malformed event), never with a runtime error."""
    handler = CONTRACT.functions[name].handler
    module = handler.rpartition(".")[0]
    body = _invoke(
        [_spec(function_zips / f"{name}.zip", handler, name)], runtime, tmp_path, {"x": 1}
    )
    assert not body["errorType"].startswith("Runtime."), body
    assert any(f"/{module}.py" in frame for frame in body["stackTrace"]), body


def _layer_variant(layer_dir: Path, dest: Path) -> Path:
    """The layer as ``buildtools.layer.trim_rule`` would leave it now: every file it keeps,
    linked into ``dest`` (the real layer is already trimmed by the real rules)."""
    site = layer_dir / "python"
    for path in sorted(site.rglob("*")):
        if path.is_file() and buildtools.layer.trim_rule(path.relative_to(site)) is None:
            target = dest / "python" / path.relative_to(site)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    return dest


def test_a_trimming_rule_that_drops_a_module_the_processor_imports_fails_it(
    runtime, function_zips, tmp_path, monkeypatch
):
    """Break the trimming on purpose (pyarrow's CSV reader joins the unused Arrow parts):
    the processor then fails every invocation with Lambda's import error naming the module."""
    broken = buildtools.layer._UNUSED_PYARROW.pattern.replace(
        "|conftest", r"|_csv\..*\.so|conftest"
    )
    monkeypatch.setattr(buildtools.layer, "_UNUSED_PYARROW", re.compile(broken))
    assert buildtools.layer.trim_rule(Path("pyarrow/_csv.cpython-312-x86_64-linux-gnu.so"))
    real_layer = Path(runtime.sys_path[1]).parent
    variant = _layer_variant(real_layer, tmp_path / "layer")
    trimmed = WorkerRuntime(
        runtime.mode,
        runtime.python,
        runtime.python_flags,
        (*lambda_runtime.layer_sys_path(variant), *runtime.sys_path[2:]),
    )
    spec = _spec(function_zips / "processor.zip", CONTRACT.functions["processor"].handler)
    body = _invoke([spec], trimmed, tmp_path, {})
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == (
        "Unable to import module 'processor': No module named 'pyarrow._csv'"
    )


ROUND_TRIP = """
import io, pyarrow as pa, pyarrow.csv, pyarrow.parquet as pq, pyarrow.compute as pc
import aws_lambda_powertools
t = pyarrow.csv.read_csv(io.BytesIO(b"a\\n1.25\\n"))
t = t.set_column(0, "a", pc.cast(t["a"], pa.decimal128(18, 2)))
buf = io.BytesIO(); pq.write_table(t, buf); buf.seek(0)
print(pq.read_table(buf).column("a")[0])
import sys, os; sys.stdout.flush(); os._exit(0)
"""


def test_the_layer_round_trips_parquet_and_ends_as_the_worker_does(runtime):
    """The layer reads CSV, casts and round-trips Parquet on 3.12, and the process ends with
    os._exit as the local worker and the commands do (localrun/exits.py): a normal
    interpreter exit after pyarrow's thread pools aborts now and then in pyarrow's teardown,
    with the host's full wheel too (apache/arrow#34314; docs/decisions.md)."""
    path_setup = f"import sys; sys.path[0:0] = {list(runtime.sys_path)!r}\n"
    proc = subprocess.run(
        [runtime.python, *runtime.python_flags, "-c", path_setup + ROUND_TRIP],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stdout.strip(), proc.stderr) == (0, "1.25", "")


def test_the_layer_cache_is_keyed_by_the_layer_zip_sha256(runtime):
    arch = lambda_runtime.host_architecture()
    assert runtime.layer_zip == lambda_runtime.CACHE_DIR / f"layer-{arch}.zip"
    assert (
        Path(runtime.sys_path[1])
        == lambda_runtime.CACHE_DIR / "layers" / runtime.layer_sha256 / "python"
    )
    assert runtime.describe().startswith("python3.12 runtime: ")


# --------------------------------------------------------------------------- the fallback
def test_without_a_312_the_workers_run_on_the_host_and_say_so(monkeypatch, tmp_path):
    monkeypatch.delenv("ETL_LAMBDA_PYTHON", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no python3.12 on PATH
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))  # no pyenv versions either
    assert lambda_runtime.find_python312() is None
    found = lambda_runtime.resolve_runtime()
    assert (found.mode, found.python, found.python_flags) == ("host", sys.executable, ("-I",))
    assert found.describe() == (
        f"host mode: {sys.executable} with its own site-packages (no CPython 3.12 found:"
        " set ETL_LAMBDA_PYTHON, or put python3.12 on PATH)"
    )


def test_an_etl_lambda_python_that_is_not_a_312_is_named_with_its_version(monkeypatch):
    """The user pointed ETL_LAMBDA_PYTHON at an interpreter: the fallback names it and what it
    is, rather than telling them to set the variable they set."""
    monkeypatch.setenv("ETL_LAMBDA_PYTHON", sys.executable)  # the host's 3.11: not a 3.12
    monkeypatch.delenv("CI", raising=False)
    assert lambda_runtime.find_python312() is None
    found = lambda_runtime.resolve_runtime()
    host = "{}.{}".format(*sys.version_info[:2])
    assert found.reason == (
        f"ETL_LAMBDA_PYTHON={sys.executable} is Python {host}, not 3.12:"
        " point it at a python3.12, or unset it to search PATH and pyenv"
    )
    monkeypatch.setenv("ETL_LAMBDA_PYTHON", "/nonexistent/python3.12")
    assert lambda_runtime.resolve_runtime().reason == (
        "ETL_LAMBDA_PYTHON=/nonexistent/python3.12 does not run:"
        " point it at a python3.12, or unset it to search PATH and pyenv"
    )


def test_in_ci_a_missing_312_is_an_error(monkeypatch):
    monkeypatch.setenv("ETL_LAMBDA_PYTHON", sys.executable)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(RuntimeUnavailable, match="CI runs the handlers on the python3.12 runtime"):
        lambda_runtime.resolve_runtime()


def test_host_mode_on_request(monkeypatch):
    monkeypatch.setenv("ETL_LAMBDA_PYTHON", "host")
    assert lambda_runtime.resolve_runtime().reason == "ETL_LAMBDA_PYTHON=host"


def test_a_layer_that_cannot_be_built_falls_back_outside_ci_and_fails_in_ci(monkeypatch):
    from buildtools.errors import PackageIndexUnreachable

    def unreachable(arch, log=None):
        raise PackageIndexUnreachable("cannot reach the package index https://pypi.org/simple")

    monkeypatch.delenv("ETL_LAMBDA_PYTHON", raising=False)
    monkeypatch.setattr(lambda_runtime, "find_python312", lambda: "/opt/python3.12")
    monkeypatch.setattr(lambda_runtime, "host_architecture", lambda: "x86_64")
    monkeypatch.setattr(lambda_runtime, "ensure_layer", unreachable)
    monkeypatch.delenv("CI", raising=False)
    found = lambda_runtime.resolve_runtime()
    assert (found.mode, found.reason) == (
        "host",
        "the python3.12 runtime could not be set up: cannot reach the package index"
        " https://pypi.org/simple",
    )
    monkeypatch.setenv("CI", "true")
    with pytest.raises(RuntimeUnavailable, match="could not be set up: cannot reach"):
        lambda_runtime.resolve_runtime()


class _Reporter:
    """The part of pytest's terminal reporter that tests/conftest.py writes to."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, dict]] = []

    def write_line(self, line: str, **markup) -> None:
        self.lines.append((line, markup))


def test_a_host_mode_session_says_so_in_its_header_and_again_at_its_end(monkeypatch):
    """The header scrolls away in a long run: a session whose workers ran on the host (not
    the layer) says so again in its closing lines; a python3.12 session adds nothing there."""
    import conftest  # tests/conftest.py, as pytest imported it

    host = lambda_runtime.host_runtime("no CPython 3.12 found")
    monkeypatch.setattr(lambda_runtime, "default_runtime", lambda: host)
    assert conftest.pytest_report_header(None) == f"lambda workers: {host.describe()}"
    reporter = _Reporter()
    conftest.pytest_terminal_summary(reporter)
    assert [entry for entry in reporter.lines if entry[0].startswith("lambda workers")] == [
        (
            f"lambda workers: {host.describe()}: the handlers did not run on the layer Lambda runs",
            {"yellow": True},
        )
    ]
    lambda_like = dataclasses.replace(host, mode=lambda_runtime.RUNTIME)
    monkeypatch.setattr(lambda_runtime, "default_runtime", lambda: lambda_like)
    reporter = _Reporter()
    conftest.pytest_terminal_summary(reporter)
    assert [entry for entry in reporter.lines if entry[0].startswith("lambda workers")] == []
