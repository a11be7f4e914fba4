"""One zipper: the local run's zips come from build.py's code (buildtools.zips.write_zip)."""

from __future__ import annotations

import ast
import hashlib
import zipfile
from pathlib import Path

from etl.contract import CONTRACT

import build
from localrun.stack import stand_in_layer
from localrun.zips import zip_functions

REPO = Path(__file__).resolve().parents[2]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_throwaway_zips_are_byte_identical_to_build_py_zips(tmp_path):
    manifest = build.build_all(REPO, tmp_path / "dist", functions_only=True, log=lambda m: None)
    zipped = zip_functions(REPO / "lambdas", tmp_path / "local")
    assert sorted(p.name for p in zipped.glob("*.zip")) == sorted(
        f"{name}.zip" for name in CONTRACT.functions
    )
    for name in CONTRACT.functions:
        assert _sha(zipped / f"{name}.zip") == manifest["artifacts"][name]["sha256"], name


def test_the_stand_in_layer_is_reproducible_and_written_by_the_one_writer(tmp_path):
    first = stand_in_layer(tmp_path / "a" / "layer.zip")
    second = stand_in_layer(tmp_path / "b" / "layer.zip")
    assert _sha(first) == _sha(second)
    with zipfile.ZipFile(first) as zf:
        assert zf.namelist() == ["python/", "python/LOCALRUN_STAND_IN_LAYER.txt"]
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def _zip_writers(path: Path) -> list[int]:
    """Lines that open a zip for writing (zipfile.ZipFile(..., "w"|"a"|"x"))."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("ZipFile"):
            modes = [a for a in node.args[1:2]] + [
                k.value for k in node.keywords if k.arg == "mode"
            ]
            if any(isinstance(m, ast.Constant) and m.value in ("w", "a", "x") for m in modes):
                lines.append(node.lineno)
    return lines


def test_no_other_zip_writer_in_the_build_or_the_harness():
    assert _zip_writers(REPO / "buildtools" / "zips.py")  # the scan sees the one writer
    sources = [REPO / "build.py", *REPO.glob("buildtools/*.py"), *REPO.glob("localrun/*.py")]
    the_writer = REPO / "buildtools" / "zips.py"
    writers = {
        p.relative_to(REPO).as_posix(): lines
        for p in sources
        if p != the_writer and (lines := _zip_writers(p))
    }
    assert writers == {}
