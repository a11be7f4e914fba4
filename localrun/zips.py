"""Where the function zips come from: ``build.py`` when it is there, else a minimal zipper.

``build.py --functions-only`` is the one real packager (reproducible zips, the same bytes
Terraform deploys). :func:`zip_functions` is only for tests that run throwaway handlers
from a temp dir; it packs ``<lambdas_dir>/<module>.py`` plus ``<lambdas_dir>/etl/`` the
same way (entry module at the root, the shared package beside it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


class BuildFailed(RuntimeError):
    """``build.py --functions-only`` failed; the message carries its output."""


def build_with_build_py(root: Path = REPO_ROOT, out_dir: Path | None = None) -> Path:
    """Run ``python build.py --functions-only`` and return the ``<out>/functions`` dir."""
    out_dir = out_dir or root / "dist"
    proc = subprocess.run(
        [sys.executable, "build.py", "--functions-only", "--out", str(out_dir)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BuildFailed(
            f"python build.py --functions-only failed ({proc.returncode}):\n"
            f"{proc.stdout}{proc.stderr}"
        )
    return out_dir / "functions"


def zip_functions(lambdas_dir: Path, dest_dir: Path, contract: dict) -> Path:
    """Zip every function of ``contract`` from ``lambdas_dir`` into ``dest_dir/<name>.zip``."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    shared = lambdas_dir / "etl"
    shared_files = sorted(
        p for p in shared.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    for name, spec in contract["functions"].items():
        module = spec["handler"].rpartition(".")[0]
        with zipfile.ZipFile(dest_dir / f"{name}.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            archive.write(lambdas_dir / f"{module}.py", f"{module}.py")
            for path in shared_files:
                archive.write(path, f"etl/{path.relative_to(shared).as_posix()}")
    return dest_dir


def load_contract(lambdas_dir: Path = REPO_ROOT / "lambdas") -> dict:
    return json.loads((lambdas_dir / "etl" / "contract.json").read_text())
