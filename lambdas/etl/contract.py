"""Names shared by Terraform, the handlers and the local harness, read from contract.json."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

CONTRACT: dict[str, Any] = json.loads(
    resources.files(__package__).joinpath("contract.json").read_text(encoding="utf-8")
)

ENV: dict[str, str] = CONTRACT["env"]
PREFIXES: dict[str, str] = CONTRACT["prefixes"]
FUNCTIONS: dict[str, dict[str, Any]] = CONTRACT["functions"]
DEFAULTS: dict[str, Any] = CONTRACT["defaults"]
SCHEMA_OBJECT_KEY: str = CONTRACT["schema_object_key"]
METRICS_NAMESPACE: str = CONTRACT["metrics"]["namespace"]
