"""Generate the Inputs and Outputs tables of the module and environment READMEs from the HCL.

Why not terraform-docs itself: it is a Go binary released on GitHub only. None of the
registries this project's machines reach packages it (Debian has no `terraform-docs`, npm has
no such package, and PyPI's `tfdocs` is an unrelated tool that reads variables.tf only, has no
outputs and writes its own layout). So this file renders what

    terraform-docs markdown table --show inputs,outputs --escape=false \\
        --output-file README.md --output-mode inject <dir>

writes between `<!-- BEGIN_TF_DOCS -->` and `<!-- END_TF_DOCS -->`: rows sorted by name with
anchors; types exactly as written in the source (`<pre>` when they span lines); defaults as
indented JSON with sorted keys, `n/a` and Required `yes` when there is none; descriptions
trimmed, `|` escaped and newlines as `<br/>`. One deviation: `<` and `>` outside code spans
become `&lt;`/`&gt;`, because GitHub drops `<prefix>` as an unknown HTML tag.

Every module and root under modules/ and envs/ (a directory with a main.tf) is documented;
its README.md keeps its prose and gets the generated section between the markers.

    python3 noxfile.py -s docs        rewrite the generated sections (with the other generators)
    python tools/tfdocs.py --write    the same, for the READMEs only
    python tools/tfdocs.py            check: exit 1 and a diff if a README is stale
                                      (tests/terraform/test_module_docs.py checks the same)
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
from lark import Tree
from lark.lexer import Token

REPO = Path(__file__).resolve().parents[1]
DOC_ROOTS = ("modules", "envs")
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
REGENERATE = "python tools/tfdocs.py --write (or: python3 noxfile.py -s docs)"
_NO_DEFAULT = object()


class TfDocsError(Exception):
    """The HCL or a README cannot be documented as it is; the message says what to change."""


@dataclass(frozen=True)
class Input:
    name: str
    description: str
    type: str
    default: Any = _NO_DEFAULT

    @property
    def required(self) -> bool:
        return self.default is _NO_DEFAULT


@dataclass(frozen=True)
class Output:
    name: str
    description: str


# ----------------------------------------------------------------------------- reading the HCL
def doc_dirs(repo: Path = REPO) -> list[Path]:
    """Every module and root directly under modules/ and envs/ (a directory with a main.tf;
    envs/shared holds the files the roots link, documented in each root's README)."""
    return sorted(
        d for root in DOC_ROOTS for d in (repo / root).glob("*") if (d / "main.tf").is_file()
    )


def _label(token_tree: Tree | Token) -> str:
    if isinstance(token_tree, Token):
        return str(token_tree)
    return "".join(str(t) for t in token_tree.scan_values(lambda _: True)).strip('"')


def _source_attributes(text: str, path: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(block kind, label, {attribute: source text of its expression}) per top-level block."""
    try:
        tree = hcl2.parses_to_tree(text)
    except Exception as exc:  # lark raises several unrelated types
        raise TfDocsError(
            f"{path}: cannot parse the HCL ({exc}); run `terraform validate`"
        ) from exc
    for block in tree.children[0].children:
        if not (isinstance(block, Tree) and block.data == "block"):
            continue
        heads = [c for c in block.children if isinstance(c, Tree)]
        kind, *labels = [c for c in heads if c.data not in ("body", "new_line_or_comment")]
        inner = next(c for c in heads if c.data == "body")
        attrs = {}
        for attr in inner.children:
            if isinstance(attr, Tree) and attr.data == "attribute":
                expr = attr.children[-1]
                attrs[_label(attr.children[0])] = text[expr.meta.start_pos : expr.meta.end_pos]
        yield _label(kind), _label(labels[0]) if labels else "", attrs


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _unescape(body: str, where: str) -> str:
    def one(match: re.Match[str]) -> str:
        esc = match.group(1)
        if esc[0] in "uU":
            return chr(int(esc[1:], 16))
        return _ESCAPES[esc]

    if re.search(r"(?<!\$)\$\{|(?<!%)%\{", body):
        raise TfDocsError(
            f"{where} uses a template (${{...}} or %{{...}}): Terraform requires a literal there;"
            " write the value out"
        )
    body = re.sub(r'\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[nrt"\\])', one, body)
    return body.replace("$${", "${").replace("%%{", "%{")


def _heredoc(raw: str) -> str:
    first, _, rest = raw.partition("\n")
    lines = rest.split("\n")[:-1]  # the last line is the closing marker
    if first.startswith("<<-"):
        indents = [len(ln) - len(ln.lstrip(" \t")) for ln in lines if ln.strip()]
        cut = min(indents, default=0)
        lines = [ln[cut:] for ln in lines]
    return "\n".join(lines) + "\n"


def literal(value: Any, where: str) -> Any:
    """A python-hcl2 8 value (strings keep their quotes and escapes) as the plain value."""
    if isinstance(value, dict):
        return {
            literal(k, where): literal(v, where) for k, v in value.items() if k != "__is_block__"
        }
    if isinstance(value, list):
        return [literal(v, where) for v in value]
    if isinstance(value, str):
        if value.startswith('"<<'):
            return _heredoc(value[1:-1])
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return _unescape(value[1:-1], where)
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", value):  # a bare object key
            return value
        raise TfDocsError(
            f"{where} is the expression {value!r}: Terraform requires a literal there;"
            " write the value out"
        )
    return value  # int, float, bool, None


def read_dir(directory: Path) -> tuple[list[Input], list[Output]]:
    """Inputs and outputs of every .tf file in directory, sorted by name."""
    inputs: list[Input] = []
    outputs: list[Output] = []
    for path in sorted(directory.glob("*.tf")):
        text = path.read_text(encoding="utf-8")
        parsed = hcl2.loads(text)
        values = {
            (kind, literal(label, str(path))): body
            for kind in ("variable", "output")
            for entry in parsed.get(kind, [])
            for label, body in entry.items()
        }
        for kind, name, sources in _source_attributes(text, path):
            if kind not in ("variable", "output"):
                continue
            body = values[(kind, name)]
            where = f"{path.relative_to(directory.parent.parent)}: {kind} {name!r}"
            description = literal(body.get("description", '""'), f"{where} description")
            if kind == "output":
                outputs.append(Output(name, description))
                continue
            default = (
                literal(body["default"], f"{where} default") if "default" in body else _NO_DEFAULT
            )
            inputs.append(Input(name, description, sources.get("type", "any"), default))
    return sorted(inputs, key=lambda i: i.name), sorted(outputs, key=lambda o: o.name)


# ----------------------------------------------------------------------------- rendering
def _pre(text: str) -> str:
    html = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "<pre>" + html.replace("|", "\\|").replace("\n", "<br/>") + "</pre>"


def _code_or_pre(text: str) -> str:
    return _pre(text) if "\n" in text else "`" + text.replace("|", "\\|") + "`"


def description_cell(text: str, where: str = "description") -> str:
    text = text.strip()
    if not text:
        return "n/a"
    if "```" in text:
        raise TfDocsError(f"{where} has a code fence: use inline `code` in descriptions")
    parts = text.split("`")
    for i, part in enumerate(parts):
        part = part.replace("|", "\\|")
        if i % 2 == 0:  # outside a code span
            part = part.replace("<", "&lt;").replace(">", "&gt;")
        parts[i] = part
    return "`".join(parts).replace("\r", "").replace("\n", "<br/>")


def default_cell(item: Input) -> str:
    if item.required:
        return "n/a"
    return _code_or_pre(json.dumps(item.default, indent=2, sort_keys=True, ensure_ascii=False))


def render(inputs: Sequence[Input], outputs: Sequence[Output]) -> str:
    """The generated section (without the markers)."""
    lines = ["## Inputs", ""]
    if inputs:
        lines += [
            "| Name | Description | Type | Default | Required |",
            "| ---- | ----------- | ---- | ------- | :------: |",
        ]
        for i in inputs:
            name = f'<a name="input_{i.name}"></a> [{i.name}](#input_{i.name})'
            desc = description_cell(i.description, f"variable {i.name!r}")
            required = "yes" if i.required else "no"
            row = [name, desc, _code_or_pre(i.type), default_cell(i), required]
            lines.append("| " + " | ".join(row) + " |")
    else:
        lines.append("No inputs.")
    lines += ["", "## Outputs", ""]
    if outputs:
        lines += ["| Name | Description |", "| ---- | ----------- |"]
        for o in outputs:
            name = f'<a name="output_{o.name}"></a> [{o.name}](#output_{o.name})'
            lines.append(f"| {name} | {description_cell(o.description, f'output {o.name!r}')} |")
    else:
        lines.append("No outputs.")
    return "\n".join(lines)


def generated_section(directory: Path) -> str:
    return render(*read_dir(directory))


# ----------------------------------------------------------------------------- README.md
def _span(readme: str, where: str) -> tuple[int, int]:
    """Start and end offsets of the text between the markers."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1:
        raise TfDocsError(
            f"{where} must contain {BEGIN} and {END} once each (found {readme.count(BEGIN)} and"
            f" {readme.count(END)}): put them where the Inputs/Outputs tables go, then run"
            f" {REGENERATE}"
        )
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    if end < start:
        raise TfDocsError(f"{where}: {END} comes before {BEGIN}; swap them")
    return start, end


def current_section(readme: str, where: str) -> str:
    start, end = _span(readme, where)
    return readme[start:end].strip("\n")


def inject(readme: str, section: str, where: str) -> str:
    start, end = _span(readme, where)
    return readme[:start] + "\n" + section + "\n" + readme[end:]


def _show(path: Path) -> str:
    """path relative to the repository when it is inside it."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def readme_of(directory: Path) -> Path:
    readme = directory / "README.md"
    if not readme.is_file():
        raise TfDocsError(
            f"{_show(readme)} is missing: write one (what the directory creates, a usage block)"
            f" with {BEGIN} and {END} where the tables go, then run {REGENERATE}"
        )
    return readme


def stale(directory: Path) -> str | None:
    """A unified diff when the README's section differs from the generated one, else None."""
    readme = readme_of(directory)
    have = current_section(readme.read_text(encoding="utf-8"), _show(readme))
    want = generated_section(directory)
    if have == want:
        return None
    diff = difflib.unified_diff(
        have.splitlines(),
        want.splitlines(),
        f"{_show(readme)} (now)",
        f"{_show(readme)} (generated)",
        lineterm="",
    )
    return "\n".join(diff)


def write(directory: Path) -> bool:
    """Rewrite the README's generated section; True when it changed."""
    readme = readme_of(directory)
    text = readme.read_text(encoding="utf-8")
    new = inject(text, generated_section(directory), _show(readme))
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the generated sections")
    parser.add_argument(
        "dirs", nargs="*", type=Path, help="Terraform directories (default: modules/*, envs/*)"
    )
    args = parser.parse_args(argv)
    dirs = args.dirs or doc_dirs()
    try:
        if args.write:
            for d in dirs:
                print(f"{'updated' if write(d) else 'unchanged'}: {_show(d / 'README.md')}")
            return 0
        diffs = [diff for d in dirs if (diff := stale(d))]
    except TfDocsError as exc:
        print(f"tfdocs: {exc}", file=sys.stderr)
        return 2
    for diff in diffs:
        print(diff)
    if diffs:
        print(f"tfdocs: {len(diffs)} README(s) out of date; run {REGENERATE}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
