"""The build's named errors: each message says what failed and what to do."""

from __future__ import annotations


class BuildError(Exception):
    """Base class: a build failed for a reason the message explains."""


class MissingInputError(BuildError):
    """A source file or directory the build needs does not exist."""


class PackageIndexUnreachable(BuildError):
    """pip could not connect to the package index."""


class PipInstallError(BuildError):
    """pip ran but could not install the layer requirements."""


class ArtifactTooLarge(BuildError):
    """An artifact exceeds an AWS Lambda size limit."""
