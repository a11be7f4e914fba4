"""build.py: reproducible zips, skip-if-unchanged, manifest format, named errors, limits."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from etl.contract import CONTRACT, FILE_NAME

import build
import buildtools.functions
import buildtools.layer
from localrun.lambda_runtime import ensure_layer

REPO = Path(__file__).resolve().parents[1]
FUNCTIONS = {
    "splitter": "splitter.handler",
    "mark_failed": "mark_failed.handler",
}
UNREACHABLE_INDEX = "http://127.0.0.1:9/simple"
SMALL_LAYER = ("six==1.17.0",)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_source_tree(root: Path, *, with_build_py: bool = False) -> Path:
    """A tiny repo: contract.json with two functions, their entry modules, an etl package."""
    etl = root / "lambdas" / "etl"
    etl.mkdir(parents=True)
    contract = {"functions": {name: {"handler": h} for name, h in FUNCTIONS.items()}}
    (etl / FILE_NAME).write_text(json.dumps(contract, indent=2))
    (etl / "__init__.py").write_text('"""shared core"""\n')
    (etl / "core.py").write_text("def plan():\n    return 42\n")
    (etl / "__pycache__").mkdir()
    (etl / "__pycache__" / "core.cpython-311.pyc").write_bytes(b"\0junk")
    for name in FUNCTIONS:
        (root / "lambdas" / f"{name}.py").write_text(
            f"from etl.core import plan\n\ndef handler(event, context):\n    return '{name}'\n"
        )
    (root / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "0"\n'
        f"[project.optional-dependencies]\nlayer = {json.dumps(list(SMALL_LAYER))}\n"
    )
    if with_build_py:
        copy_build_tool(root)
    return root


def copy_build_tool(dest: Path) -> None:
    """What ``python build.py`` needs beside the tree it builds: itself, buildtools/ and the
    contract reader (lambdas/etl/contract.py, which build.py loads by path)."""
    shutil.copy2(REPO / "build.py", dest / "build.py")
    shutil.copytree(
        REPO / "buildtools", dest / "buildtools", ignore=shutil.ignore_patterns("__pycache__")
    )
    (dest / "lambdas" / "etl").mkdir(parents=True, exist_ok=True)
    if not (dest / "lambdas" / "etl" / "contract.py").exists():
        shutil.copy2(REPO / "lambdas" / "etl" / "contract.py", dest / "lambdas" / "etl")


def run_cli(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(root / "build.py"), *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def isolated_pip_env() -> dict[str, str]:
    """Environment in which pip sees only the index we pass (no config, no find-links)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_RETRIES="0", PIP_TIMEOUT="5")
    return env


# --------------------------------------------------------------------------- function zips
def test_function_zip_holds_entry_module_and_whole_etl_package(tmp_path):
    root = make_source_tree(tmp_path / "repo")
    build.build_all(root, functions_only=True, log=lambda m: None)
    with zipfile.ZipFile(root / "dist" / "functions" / "splitter.zip") as zf:
        names = zf.namelist()
        infos = zf.infolist()
    assert names == [
        "etl/",
        "etl/__init__.py",
        f"etl/{FILE_NAME}",
        "etl/core.py",
        "splitter.py",
    ]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in infos}
    assert modes == {
        "etl/": 0o755,
        "etl/__init__.py": 0o644,
        f"etl/{FILE_NAME}": 0o644,
        "etl/core.py": 0o644,
        "splitter.py": 0o644,
    }


def test_function_zips_are_byte_identical_from_two_differently_touched_trees(tmp_path):
    first = make_source_tree(tmp_path / "a")
    second = make_source_tree(tmp_path / "b")
    for path in (second / "lambdas").rglob("*"):  # other mtimes, other umask-like modes
        os.utime(path, (2_000_000_000, 2_000_000_000))
        if path.is_file():
            path.chmod(0o664)
    m1 = build.build_all(first, functions_only=True, log=lambda m: None)
    m2 = build.build_all(second, functions_only=True, log=lambda m: None)
    assert m1 == m2
    assert set(m1["artifacts"]) == set(FUNCTIONS)


def test_repo_function_zips_identical_from_two_fresh_copies(tmp_path):
    missing = [
        f"{fn.module}.py"
        for fn in CONTRACT.functions.values()
        if not (REPO / "lambdas" / f"{fn.module}.py").is_file()
    ]
    if missing:
        pytest.skip(f"entry modules not written yet: {missing}")
    manifests = []
    for name in ("clone1", "clone2"):
        dest = tmp_path / name
        dest.mkdir()
        shutil.copy2(REPO / "pyproject.toml", dest)
        shutil.copytree(
            REPO / "lambdas",
            dest / "lambdas",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        copy_build_tool(dest)
        proc = run_cli(dest, "--functions-only", "--out", "dist")
        assert proc.returncode == 0, proc.stderr
        manifests.append(json.loads((dest / "dist" / "manifest.json").read_text()))
        for entry in manifests[-1]["artifacts"].values():
            assert sha256(dest / entry["path"]) == entry["sha256"]
    assert manifests[0] == manifests[1]


def test_manifest_lists_every_function_with_terraform_hashes(tmp_path):
    root = make_source_tree(tmp_path / "repo")
    build.build_all(root, functions_only=True, log=lambda m: None)
    manifest = json.loads((root / "dist" / "manifest.json").read_text())
    assert manifest["architecture"] == "arm64"
    assert manifest["python"] == "3.12"
    assert set(manifest["artifacts"]) == {"splitter", "mark_failed"}
    entry = manifest["artifacts"]["mark_failed"]
    path = root / entry["path"]
    assert entry["path"] == "dist/functions/mark_failed.zip"
    assert entry["sha256"] == sha256(path)
    assert (
        entry["base64sha256"]
        == base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()
    )
    assert entry["size"] == path.stat().st_size


# --------------------------------------------------------------------------- skip if unchanged
def test_unchanged_rebuild_does_not_call_the_writer(tmp_path, monkeypatch):
    root = make_source_tree(tmp_path / "repo")
    build.build_all(root, functions_only=True, log=lambda m: None)
    dist = root / "dist"
    before = {p: p.stat().st_mtime_ns for p in dist.rglob("*") if p.is_file()}

    def writer_must_not_run(*args, **kwargs):
        raise AssertionError("write_zip called for unchanged inputs")

    monkeypatch.setattr(buildtools.functions, "write_zip", writer_must_not_run)
    build.build_all(root, functions_only=True, log=lambda m: None)
    assert {p: p.stat().st_mtime_ns for p in dist.rglob("*") if p.is_file()} == before


def test_sizes_are_printed_in_binary_units_labelled_as_such(tmp_path):
    """build.py divides by 1024 * 1024: the label says MiB, never MB (was "MB")."""
    root = make_source_tree(tmp_path / "repo")
    lines: list[str] = []
    build.build_all(root, functions_only=True, log=lines.append)
    assert len(lines) == len(FUNCTIONS)
    for line in lines:
        assert " KiB zipped " in line and " MiB unzipped " in line, line
        assert " MB" not in line, line
    with pytest.raises(build.ArtifactTooLarge) as err:
        build.check_limits([record("splitter", 51 * build.MIB, 60 * build.MIB)], None)
    assert str(err.value) == (
        "function 'splitter' zip is 51.0 MiB, over the 50 MiB direct-upload limit:"
        " move dependencies into the layer"
    )


def test_changed_entry_module_rebuilds_only_that_function(tmp_path):
    root = make_source_tree(tmp_path / "repo")
    build.build_all(root, functions_only=True, log=lambda m: None)
    lines = []
    (root / "lambdas" / "splitter.py").write_text("def handler(event, context):\n    return 1\n")
    build.build_all(root, functions_only=True, log=lines.append)
    assert [ln.split()[:2] for ln in lines if ln.startswith(("built", "unchanged"))] == [
        ["unchanged", "mark_failed"],
        ["built", "splitter"],
    ]


def test_changed_shared_package_rebuilds_every_function(tmp_path):
    root = make_source_tree(tmp_path / "repo")
    first = build.build_all(root, functions_only=True, log=lambda m: None)
    (root / "lambdas" / "etl" / "core.py").write_text("def plan():\n    return 43\n")
    second = build.build_all(root, functions_only=True, log=lambda m: None)
    for name in FUNCTIONS:
        assert first["artifacts"][name]["sha256"] != second["artifacts"][name]["sha256"]


def test_tampered_artifact_is_rebuilt(tmp_path):
    root = make_source_tree(tmp_path / "repo")
    first = build.build_all(root, functions_only=True, log=lambda m: None)
    (root / "dist" / "functions" / "splitter.zip").write_bytes(b"not a zip")
    second = build.build_all(root, functions_only=True, log=lambda m: None)
    assert first == second


# --------------------------------------------------------------------------- named errors
def test_missing_entry_module_is_a_named_error(tmp_path):
    root = make_source_tree(tmp_path / "repo")
    (root / "lambdas" / "splitter.py").unlink()
    with pytest.raises(build.MissingInputError, match=r"'splitter'.*lambdas/splitter\.py"):
        build.build_all(root, functions_only=True, log=lambda m: None)


def test_missing_entry_module_cli_exits_nonzero_with_one_line(tmp_path):
    root = make_source_tree(tmp_path / "repo", with_build_py=True)
    (root / "lambdas" / "mark_failed.py").unlink()
    proc = run_cli(root, "--functions-only")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("build.py: error: function 'mark_failed': entry module")


def test_missing_contract_cli_exits_nonzero_with_one_line(tmp_path):
    root = make_source_tree(tmp_path / "repo", with_build_py=True)
    (root / "lambdas" / "etl" / FILE_NAME).unlink()
    proc = run_cli(root, "--functions-only")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.endswith(
        "lambdas/etl/contract.json not found: the function list comes from"
        " lambdas/etl/contract.json; restore it (git checkout -- lambdas/etl/contract.json)\n"
    )


def test_missing_etl_package_is_a_named_error(tmp_path):
    root = make_source_tree(tmp_path / "repo")
    (root / "lambdas" / "etl" / "__init__.py").unlink()
    with pytest.raises(build.MissingInputError, match="lambdas/etl must be a package"):
        build.build_all(root, functions_only=True, log=lambda m: None)


def test_unreachable_index_is_a_named_error(tmp_path, monkeypatch):
    for key, value in isolated_pip_env().items():
        monkeypatch.setenv(key, value)
    for key in [k for k in os.environ if k.startswith("PIP_") and k not in isolated_pip_env()]:
        monkeypatch.delenv(key)
    spec = build.LayerSpec(SMALL_LAYER, "x86_64")
    with pytest.raises(build.PackageIndexUnreachable, match="cannot reach the package index"):
        buildtools.layer.build_layer(spec, tmp_path / "layer.zip", index_url=UNREACHABLE_INDEX)
    assert not (tmp_path / "layer.zip").exists()


def test_unreachable_index_cli_exits_nonzero_with_one_line(tmp_path):
    root = make_source_tree(tmp_path / "repo", with_build_py=True)
    proc = run_cli(root, "--index-url", UNREACHABLE_INDEX, env=isolated_pip_env())
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1
    assert "cannot reach the package index http://127.0.0.1:9/simple" in proc.stderr


def test_unpinned_layer_requirement_is_rejected(tmp_path):
    root = make_source_tree(tmp_path / "repo")
    (root / "pyproject.toml").write_text(
        '[project]\nname="x"\nversion="0"\n[project.optional-dependencies]\nlayer=["six>=1"]\n'
    )
    with pytest.raises(build.BuildError, match="must be pinned"):
        buildtools.layer.layer_requirements(root)


# --------------------------------------------------------------------------- limits
def record(name: str, size: int, unzipped: int) -> build.ArtifactRecord:
    return build.ArtifactRecord(name, Path(f"/x/{name}.zip"), "0" * 64, "", size, unzipped, True)


def test_layer_over_250_mb_unzipped_is_rejected():
    layer = record("layer", 40 * build.MIB, 251 * build.MIB)
    with pytest.raises(build.ArtifactTooLarge, match=r"layer.*over the Lambda limit of 250 MiB"):
        build.check_limits([], layer)


def test_function_plus_layer_over_250_mb_unzipped_is_rejected():
    layer = record("layer", 40 * build.MIB, 240 * build.MIB)
    fn = record("processor", 5 * build.MIB, 11 * build.MIB)
    with pytest.raises(build.ArtifactTooLarge, match=r"'processor' \+ layer are 251.0 MiB"):
        build.check_limits([fn], layer)


def test_function_zip_over_direct_upload_limit_is_rejected():
    with pytest.raises(build.ArtifactTooLarge, match="direct-upload limit"):
        build.check_limits([record("splitter", 51 * build.MIB, 60 * build.MIB)], None)


def test_layer_zip_over_50_mb_is_only_a_note():
    notes = build.check_limits([], record("layer", 55 * build.MIB, 160 * build.MIB))
    assert notes and "uploaded through S3" in notes[0]


def test_build_all_enforces_limits(tmp_path):
    root = make_source_tree(tmp_path / "repo")
    with pytest.raises(build.ArtifactTooLarge, match="'mark_failed' \\+ layer"):
        build.build_all(
            root, functions_only=True, limits=build.Limits(unzipped_total=10), log=lambda m: None
        )


# --------------------------------------------------------------------------- layer
def test_pip_command_targets_lambda_python_and_both_platform_tags(tmp_path):
    spec = build.LayerSpec(("pyarrow==26.0.1",), "arm64")
    cmd = buildtools.layer.pip_install_command(spec, tmp_path, python="python")
    joined = " ".join(cmd)
    assert "--platform manylinux_2_28_aarch64 --platform manylinux2014_aarch64" in joined
    assert "--only-binary=:all: --python-version 3.12 --implementation cp" in joined
    assert cmd[-1] == "pyarrow==26.0.1"


@pytest.mark.parametrize(
    ("path", "dropped"),
    [
        ("pyarrow/include/arrow/api.h", True),
        ("pyarrow/lib.pyx", True),
        ("pyarrow/tests/test_csv.py", True),
        ("numpy/_core/tests/test_api.py", True),
        ("pyarrow/libarrow_flight.so.2600", True),
        ("pyarrow/__pycache__/csv.cpython-312.pyc", True),
        ("six-1.17.0.dist-info/RECORD", True),
        ("bin/jp.py", True),
        ("pyarrow/libarrow.so.2600", False),
        ("pyarrow/csv.py", False),
        ("pyarrow/_csv.cpython-312-aarch64-linux-gnu.so", False),
        ("six-1.17.0.dist-info/METADATA", False),
        ("aws_lambda_powertools/logging/logger.py", False),
    ],
)
def test_trim_rule(path, dropped):
    assert (buildtools.layer.trim_rule(Path(path)) is not None) == dropped


def test_duplicate_shared_library_copies_keep_the_soname(tmp_path):
    pkg = tmp_path / "pyarrow"
    pkg.mkdir()
    for name in ("libarrow_python.so", "libarrow_python.so.2600", "libarrow_python.so.2600.1.0"):
        (pkg / name).write_bytes(b"ELF same bytes")
    (pkg / "libother.so").write_bytes(b"only copy")
    dropped = buildtools.layer.duplicate_shared_libraries(tmp_path)
    assert [p.name for p in dropped] == ["libarrow_python.so", "libarrow_python.so.2600.1.0"]


def test_small_layer_is_byte_identical_across_two_builds(tmp_path):
    spec = build.LayerSpec(SMALL_LAYER, "arm64")
    first = buildtools.layer.build_layer(spec, tmp_path / "one" / "layer-arm64.zip")
    second = buildtools.layer.build_layer(spec, tmp_path / "two" / "layer-arm64.zip")
    assert first.sha256 == second.sha256
    with zipfile.ZipFile(first.path) as zf:
        names = zf.namelist()
    assert all(n.startswith("python/") for n in names)
    assert "python/six.py" in names
    assert not [n for n in names if n.endswith((".pyc", "/RECORD"))]


def test_layer_in_manifest_and_skipped_when_unchanged(tmp_path, monkeypatch):
    root = make_source_tree(tmp_path / "repo")
    first = build.build_all(root, arch="x86_64", log=lambda m: None)
    assert first["artifacts"]["layer"]["path"] == "dist/layer-x86_64.zip"
    monkeypatch.setattr(
        buildtools.layer, "install_layer_packages", lambda *a, **k: pytest.fail("pip ran")
    )
    monkeypatch.setattr(buildtools.layer, "write_zip", lambda *a, **k: pytest.fail("writer ran"))
    monkeypatch.setattr(buildtools.functions, "write_zip", lambda *a, **k: pytest.fail("writer"))
    assert build.build_all(root, arch="x86_64", log=lambda m: None) == first
    # --functions-only keeps an up-to-date layer in the manifest.
    assert build.build_all(root, arch="x86_64", functions_only=True, log=lambda m: None) == first


# --------------------------------------------------------------------------- the real layer
# Built in the test session, not opt-in: .build-cache/layer-<arch>.zip in the checkout, rebuilt
# only when the pinned requirements or the build code change (localrun.lambda_runtime, which
# also runs the handlers on the x86_64 one: tests/localrun/test_lambda_runtime.py).
def _stamp(record) -> dict:
    return json.loads(Path(f"{record.path}.inputs.json").read_text())


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_real_layer_is_within_limits_and_holds_nothing_the_trimming_drops(arch):
    record = ensure_layer(arch)
    assert record.unzipped_size < build.Limits().unzipped_total
    with zipfile.ZipFile(record.path) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
    assert all(n.startswith("python/") for n in names)
    kept = [n for n in names if buildtools.layer.trim_rule(Path(n).relative_to("python"))]
    assert kept == []
    pins = dict(r.split("==") for r in buildtools.layer.layer_requirements(REPO))
    packages = buildtools.layer.installed_distributions(record.path)
    assert {name.replace("_", "-"): v for name, v in packages.items()} == pins
    print(f"{arch}: {record.size} B zipped, {record.unzipped_size} B unzipped, {record.sha256}")


def test_both_architectures_are_trimmed_by_the_same_rules():
    """The x86_64 layer, which the local run executes, proves the rules the arm64 one gets."""
    arm, x86 = (_stamp(ensure_layer(arch))["trimmed"] for arch in ("arm64", "x86_64"))
    assert sorted(arm) == sorted(x86)
    assert {rule: v["files"] for rule, v in arm.items()} == {
        rule: v["files"] for rule, v in x86.items()
    }


def test_the_default_architectures_layer_is_reproducible_byte_for_byte(tmp_path):
    cached = ensure_layer(build.DEFAULT_ARCH)
    spec = build.LayerSpec(buildtools.layer.layer_requirements(REPO), build.DEFAULT_ARCH)
    again = buildtools.layer.build_layer(spec, tmp_path / "layer.zip")
    assert again.rebuilt
    assert again.sha256 == cached.sha256


def test_every_layer_distribution_must_be_pinned(tmp_path):
    site = tmp_path / "python"
    for dist in ("pyarrow-26.0.1", "typing_extensions-4.16.0", "jmespath-1.1.0", "six-1.17.0"):
        (site / f"{dist}.dist-info").mkdir(parents=True)
        (site / f"{dist}.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\n")
    installed = buildtools.layer.distributions_in(site)
    assert installed == {
        "jmespath": "1.1.0",
        "pyarrow": "26.0.1",
        "six": "1.17.0",
        "typing_extensions": "4.16.0",
    }
    pins = ("pyarrow==26.0.1", "typing-extensions==4.16.0", "jmespath==1.0.1")
    # six is not pinned at all; jmespath is pinned at another version
    assert buildtools.layer.unpinned_distributions(installed, pins) == [
        "jmespath==1.1.0",
        "six==1.17.0",
    ]
    assert (
        buildtools.layer.unpinned_distributions(
            installed, (*pins[:2], "jmespath==1.1.0", "Six==1.17.0")
        )
        == []
    )


def test_the_layer_extra_pins_powertools_dependencies():
    # what pip installs for aws-lambda-powertools: its own requirements, pinned next to it
    names = {r.split("==")[0].lower() for r in buildtools.layer.layer_requirements(REPO)}
    assert {"aws-lambda-powertools", "jmespath", "typing-extensions"} <= names
