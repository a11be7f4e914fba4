"""Run the real pipeline locally: moto in server mode + the Lambda handlers from the built zips.

``python -m localrun [INPUT.csv]`` for people; :class:`LocalPipeline` for tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The harness reads the contract and the schema with the handlers' own core (etl.contract,
# etl.schema), as the functions import it.
_LAMBDAS = str(Path(__file__).resolve().parent.parent / "lambdas")
if _LAMBDAS not in sys.path:
    sys.path.append(_LAMBDAS)

__all__ = ["LocalPipeline", "RunResult"]


def __getattr__(name: str):  # lazy: ``python -m localrun.sample`` need not import boto3/moto
    if name in __all__:
        from localrun import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)
