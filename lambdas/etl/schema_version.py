"""A schema's `version`: an integer N or a string "N", "N.M" or "N.M.P" with N >= 1, the
major version. Outputs of different major versions never share a prefix or a table."""

from __future__ import annotations

import re

VERSION_PATTERN = re.compile(r"[0-9]+(\.[0-9]+){0,2}")


def schema_major(version: object) -> int | None:
    """The major version (the first component, at least 1), or None for a `version` of
    another form: 3 -> 3, "2.1" -> 2, "0.9" -> None, "v2" -> None."""
    if isinstance(version, bool) or not isinstance(version, int | str):
        return None
    text = str(version)
    if not VERSION_PATTERN.fullmatch(text) or int(text.split(".")[0]) < 1:
        return None
    return int(text.split(".")[0])
