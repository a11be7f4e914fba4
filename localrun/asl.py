"""Render the state machine template the way Terraform ``templatefile()`` does.

The template (``modules/orchestration/templates/pipeline.asl.json``) only uses ``${name}``
interpolations. This renderer supports exactly that subset and refuses anything else, so a
template change that Terraform would render differently fails here loudly instead of
drifting: a missing or unknown variable raises, and so does a ``%{`` directive.
``$${`` is Terraform's escape for a literal ``${``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

_INTERPOLATION = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class TemplateError(ValueError):
    """The template or the values do not fit the supported ``templatefile()`` subset."""


def template_variables(template_text: str) -> set[str]:
    """The variable names the template interpolates."""
    return {m.group(1).strip() for m in _INTERPOLATION.finditer(template_text) if m.group(1)}


def render_asl(template_text: str, values: Mapping[str, object]) -> str:
    """Substitute ``${name}`` with ``values[name]``; strings verbatim, numbers as JSON numbers.

    Raises :class:`TemplateError` on a ``%{`` directive, an interpolation that is not a
    plain name, a variable without a value, or a value the template does not use.
    """
    if "%{" in template_text.replace("%%{", ""):
        raise TemplateError("template directives (%{...}) are not supported")
    used = set()

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$${":
            return "${"
        name = match.group(1).strip()
        if not _NAME.fullmatch(name):
            raise TemplateError(f"only plain ${{name}} interpolations are supported: ${{{name}}}")
        if name not in values:
            raise TemplateError(f"template variable {name!r} has no value")
        used.add(name)
        return _to_text(name, values[name])

    rendered = _INTERPOLATION.sub(substitute, template_text).replace("%%{", "%{")
    unknown = set(values) - used
    if unknown:
        raise TemplateError(f"values not used by the template: {sorted(unknown)}")
    return rendered


def _to_text(name: str, value: object) -> str:
    if isinstance(value, bool) or value is None:
        raise TemplateError(f"template variable {name!r}: unsupported value {value!r}")
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    raise TemplateError(
        f"template variable {name!r}: unsupported value type {type(value).__name__}"
    )
