"""Write the events table of docs/contracts.md from the typed events (lambdas/etl/events.py).

    python tools/events_table.py      (or: python3 noxfile.py -s docs, with the other generators)

tests/test_events.py checks that the table in the document is this one.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "lambdas") not in sys.path:
    sys.path.append(str(ROOT / "lambdas"))

from etl.events import EVENTS  # noqa: E402

CONTRACTS = ROOT / "docs" / "contracts.md"
BEGIN = (
    "<!-- events table: generated from lambdas/etl/events.py by"
    " `python3 noxfile.py -s docs` (tools/events_table.py) -->"
)
END = "<!-- end of events table -->"


def events_table() -> str:
    """The table: one row per event class, its JSON fields in order with their types."""
    rows = [
        "| event | class (`etl.events`) | fields, in order (JSON key: type) |",
        "|---|---|---|",
    ]
    for cls, what in EVENTS:
        listed = ", ".join(f"`{name}`: {tp}" for name, tp in cls.json_fields())
        rows.append(f"| {what} | `{cls.__name__}` | {listed} |")
    return "\n".join([BEGIN, *rows, END])


def documented(text: str) -> str:
    """The generated table as it stands in `text` (from its first marker line to END)."""
    start = text.index(BEGIN.split(" by ")[0])
    return text[start : text.index(END) + len(END)]


def main() -> int:
    text = CONTRACTS.read_text(encoding="utf-8")
    CONTRACTS.write_text(text.replace(documented(text), events_table()), encoding="utf-8")
    print(f"wrote the events table of {CONTRACTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
