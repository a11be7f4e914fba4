"""The e2e tests run on the session's deployed stack (tests/conftest.py `deployment`)."""

from __future__ import annotations

import pytest

from localrun.pipeline import LocalPipeline


@pytest.fixture(scope="module")
def pipeline(deployment):
    """The harness attached to the deployed stack, one per module (warm workers)."""
    with LocalPipeline(deployment=deployment) as attached:
        yield attached
