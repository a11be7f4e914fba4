"""Table Schema's `pattern` is an XML Schema regular expression; the pipeline runs it on RE2.

The two read almost all syntax alike, but not the class escapes: XML Schema gives `\\d`, `\\w`,
`\\s` (and `\\D`, `\\W`, `\\S`) fixed Unicode meanings where RE2's are ASCII, and its `.` leaves
out CR as well as LF. `to_re2` rewrites exactly those, inside and outside brackets, into RE2
classes with the XML Schema meaning (XML Schema 1.0 Part 2, F.1.1 "Character Class Escapes";
1.1 Part 2, G.4.2.5):

- `\\d`: decimal digits of every script (`\\p{Nd}`: `٣`) -> `\\p{Nd}`, in brackets too;
- `\\D`: not `\\d` -> `\\P{Nd}`, in brackets too;
- `\\s`: space, tab, LF and CR only -> `[\\t\\n\\r ]`, in brackets `\\t\\n\\r `;
- `\\S`: not `\\s` -> `[^\\t\\n\\r ]`, in brackets `\\S\\f` (RE2's `\\S` also leaves out FF);
- `\\w`: Unicode's word characters (UTS #18 annex C: letters, marks, numbers and connector
  punctuation such as `_`) -> `[\\p{L}\\p{M}\\p{N}\\p{Pc}]`, in brackets
  `\\p{L}\\p{M}\\p{N}\\p{Pc}`. XML Schema's own `\\w` leaves out `_` and takes symbols (`$`);
  we keep `_` because RE2's ASCII `\\w`, which deployed schemas were written against, held it
  (so no value that matched before is rejected now) and frictionless-py's holds it too;
- `\\W`: not `\\w` -> `[^\\p{L}\\p{M}\\p{N}\\p{Pc}]`; in brackets an alternative beside the
  class (`[a\\W]` -> `(?:[a]|[^...])`);
- `.`: anything but LF and CR -> `[^\\n\\r]` (in brackets a literal `.`).

`\\W` is written as the negated class, because RE2's `\\p{C}` leaves out
unassigned code points. A `\\W` inside a negated class (`[^\\W\\d]`, a set difference) has no
RE2 form and is refused with a rewrite, as are what RE2 cannot express or would read
otherwise: class subtraction `[a-z-[aeiou]]`, and the XML name escapes `\\i \\I \\c \\C` (RE2's
`\\C` is "any byte"). Everything else is RE2's syntax, passed through unchanged.
"""

from __future__ import annotations

from functools import lru_cache

_WORD = r"\p{L}\p{M}\p{N}\p{Pc}"
_OUTSIDE = {
    "d": r"\p{Nd}",
    "D": r"\P{Nd}",
    "s": r"[\t\n\r ]",
    "S": r"[^\t\n\r ]",
    "w": f"[{_WORD}]",
    "W": f"[^{_WORD}]",
}
_INSIDE = {"d": r"\p{Nd}", "D": r"\P{Nd}", "s": r"\t\n\r ", "S": r"\S\f", "w": _WORD}
_NAME_ESCAPES = "iIcC"


class NotTranslatable(ValueError):
    """The pattern uses XML Schema syntax that has no RE2 form (the message says what to write)."""


def _escape_at(pattern: str, i: int) -> tuple[str, int]:
    """The escape starting at `pattern[i]` (a backslash), copied whole: `\\p{...}`, `\\x{...}`,
    `\\Q...\\E`, or a backslash and one character. Returns (text, index after it)."""
    nxt = pattern[i + 1 : i + 2]
    if nxt in ("p", "P", "x") and pattern[i + 2 : i + 3] == "{":
        end = pattern.find("}", i)
        end = len(pattern) - 1 if end < 0 else end
        return pattern[i : end + 1], end + 1
    if nxt == "Q":
        end = pattern.find(r"\E", i + 2)
        end = len(pattern) if end < 0 else end + 2
        return pattern[i:end], end
    if nxt in _NAME_ESCAPES:
        raise NotTranslatable(
            f"\\{nxt} (XML name characters) is not supported: write the characters as a class"
        )
    return pattern[i : i + 2], i + 2


def _class_at(pattern: str, i: int) -> tuple[str, int]:
    """The bracket expression starting at `pattern[i]` (a `[`) in RE2 form, and the index
    after it. A leading `]` is a literal (RE2's reading); `[:alpha:]` is passed through."""
    j = i + 1
    negated = pattern.startswith("^", j)
    j += negated
    items: list[str] = []
    alternatives: list[str] = []
    if pattern.startswith("]", j):
        items.append("]")
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        ch = pattern[j]
        if ch == "\\":
            escape, j = _escape_at(pattern, j)
            letter = escape[1:2]
            if len(escape) == 2 and letter == "W":
                if negated:
                    raise NotTranslatable(
                        "\\W inside [^...] is a set difference RE2 cannot express: write the "
                        "characters it keeps as a class, e.g. [^\\W\\d] as [\\p{L}\\p{M}"
                        "\\p{Nl}\\p{No}\\p{Pc}]"
                    )
                alternatives.append(_OUTSIDE["W"])
            else:
                items.append(_INSIDE.get(letter, escape) if len(escape) == 2 else escape)
            continue
        if pattern.startswith("[:", j):
            end = pattern.find(":]", j + 2)
            if end >= 0:
                items.append(pattern[j : end + 2])
                j = end + 2
                continue
        if ch == "-" and pattern.startswith("[", j + 1):
            raise NotTranslatable(
                "class subtraction ([a-z-[aeiou]]) is not supported by RE2: list the characters "
                "that remain, e.g. [b-df-hj-np-tv-z]"
            )
        items.append(ch)
        j += 1
    if j >= len(pattern):
        return pattern[i:], j  # unclosed: RE2 reports it when the pattern is checked
    body = "".join(items)
    if not alternatives:
        return f"[{'^' if negated else ''}{body}]", j + 1
    branches = ([f"[{body}]"] if body else []) + alternatives
    return (branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"), j + 1


@lru_cache(maxsize=256)
def to_re2(pattern: str) -> str:
    """`pattern` (XML Schema regular expression syntax, RE2's elsewhere) as an RE2 pattern
    with the XML Schema meaning of `\\d \\D \\s \\S \\w \\W` and `.`. Raises NotTranslatable."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            escape, i = _escape_at(pattern, i)
            out.append(_OUTSIDE.get(escape[1:2], escape) if len(escape) == 2 else escape)
        elif ch == "[":
            translated, i = _class_at(pattern, i)
            out.append(translated)
        else:
            out.append(r"[^\n\r]" if ch == "." else ch)
            i += 1
    return "".join(out)
