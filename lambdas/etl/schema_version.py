"""A schema's `version`: an integer N or a string "N", "N.M" or "N.M.P" with N >= 1, the
major version. Outputs of different major versions never share a prefix or a table. The one
parser of it (`parse_version`); etl.compat compares the Versions it returns."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from .errors import SchemaConfigError

VERSION_PATTERN = re.compile(r"[0-9]+(?:\.[0-9]+){0,2}")


@dataclass(frozen=True, order=True)
class Version:
    """A schema version: `major.minor.patch`, missing parts 0 ("2" == "2.0" == 2); printed
    as declared."""

    major: int
    minor: int = 0
    patch: int = 0
    text: str = dataclasses.field(default="", compare=False)

    def __str__(self) -> str:
        return self.text or f"{self.major}.{self.minor}.{self.patch}"


def parse_version(value: Any) -> Version:
    """The Version of a schema's `version` (an integer N or a string "N", "N.M", "N.M.P");
    SchemaConfigError if it is none of those or its major is 0."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not VERSION_PATTERN.fullmatch(text):
        raise SchemaConfigError(
            f'version {value!r} is not an integer N or a string "N", "N.M" or "N.M.P": '
            'write e.g. "version": "1.2"'
        )
    version = Version(*(int(part) for part in text.split(".")), text=text)
    if version.major < 1:
        raise SchemaConfigError(f"version {value!r}: the major (first number) must be 1 or more")
    return version


def schema_major(version: object) -> int | None:
    """The major version (the first component, at least 1), or None for a `version` that
    parse_version refuses: 3 -> 3, "2.1" -> 2, "0.9" -> None, "v2" -> None."""
    try:
        return parse_version(version).major
    except SchemaConfigError:
        return None
