"""Write the "Resource names" list of docs/contracts.md from contract.json `names`.

    python tools/contract_names.py    (or: python3 noxfile.py -s docs, with the other generators)

tests/test_contract_names.py checks that the list in the document is this one.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "lambdas") not in sys.path:
    sys.path.append(str(ROOT / "lambdas"))

from etl.contract import CONTRACT  # noqa: E402

DOCS = ROOT / "docs" / "contracts.md"
EXAMPLE = {"prefix": "etl-dev", "account_id": "123456789012", "function": "mark_failed"}
BEGIN = "<!-- contract-names:begin -->"
END = "<!-- contract-names:end -->"


def resource_names_markdown() -> str:
    """The Resource names list of docs/contracts.md, from contract.json `names`."""
    lines = [
        BEGIN,
        "<!-- generated from lambdas/etl/contract.json `names` by"
        " `python3 noxfile.py -s docs` (tools/contract_names.py); do not edit -->",
    ]
    for kind, pattern in CONTRACT.names.items():
        needed = set(re.findall(r"\{(\w+)\}", pattern))
        example = CONTRACT.resource_name(
            kind, EXAMPLE["prefix"], **{k: EXAMPLE[k] for k in needed - {"prefix"}}
        )
        lines.append(f"- `{kind}`: `{pattern}` (`{example}`)")
    lines.append(END)
    return "\n".join(lines)


def docs_block(text: str) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end]


def main() -> int:
    text = DOCS.read_text(encoding="utf-8")
    DOCS.write_text(text.replace(docs_block(text), resource_names_markdown()), encoding="utf-8")
    print(f"wrote the resource names of {DOCS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
