"""Where the function zips come from: build.py, the one packager.

``build.py --functions-only`` makes the real zips (reproducible, the same bytes Terraform
deploys). :func:`zip_functions` packs throwaway handlers of tests from a temp
``<lambdas_dir>`` with the same code (``buildtools.functions``: entry module at the root,
the shared ``etl/`` package beside it), so there is one zipper.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from buildtools.functions import build_functions

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


def zip_functions(lambdas_dir: Path, dest_dir: Path) -> Path:
    """Zip every function of ``<lambdas_dir>/etl``'s contract into ``dest_dir/<name>.zip``."""
    build_functions(Path(lambdas_dir), Path(dest_dir))
    return Path(dest_dir)
