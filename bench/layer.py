"""Import in a job's child only what the processor Lambda's layer holds.

pyarrow imports pandas at its first conversion of a Python list whenever pandas is
installed. The bench's environment has it (for the pandas reference job); the layer does not
(pyproject.toml's `layer` extra), so a processor job with it would carry memory (37 MiB of
peak RSS, measured) and import time that the processor never has in Lambda.
"""

from __future__ import annotations

import sys

NOT_IN_LAYER = ("pandas",)


class _NotInLayer:
    """A meta path finder that refuses the modules the layer does not hold."""

    def find_spec(self, name: str, path=None, target=None):
        if name.partition(".")[0] in NOT_IN_LAYER:
            raise ModuleNotFoundError(
                f"No module named {name!r} (not in the Lambda layer)", name=name
            )
        return None


def import_as_in_lambda() -> None:
    """From now on, modules the layer does not hold cannot be imported (call it first)."""
    if not any(isinstance(finder, _NotInLayer) for finder in sys.meta_path):
        sys.meta_path.insert(0, _NotInLayer())
