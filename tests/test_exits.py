"""Every user-facing command ends through localrun.exits.exit_now (no interpreter teardown,
where pyarrow aborts now and then after the answer was written: localrun/exits.py)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ["__main__.py", "standing.py", "validate.py", "describe.py"]


def _main_block(path: Path) -> ast.If:
    tree = ast.parse(path.read_text())
    (block,) = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)
    ]
    return block


@pytest.mark.parametrize("name", COMMANDS)
def test_the_command_ends_through_exit_now(name):
    block = _main_block(ROOT / "localrun" / name)
    assert ast.unparse(block.body[-1]) == "exit_now(main())"


def test_exit_now_flushes_and_ends_with_the_code(tmp_path):
    script = "from localrun.exits import exit_now\nprint('answer', end='')\nexit_now(3)\n"
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "answer", "")
