"""The Markdown points only at what exists: relative links (and their #anchors), repository
paths in inline code, bare source file names, and dotted names of the repository's Python
modules (``etl.schema.REJECTS_SCHEMA``, ``localrun.asl``).

Refactors move files (``build.py`` into ``buildtools/``, ``localrun/pipeline.py`` into
deployment/events/results) and prose does not follow by itself; this test names the dead
reference with its file and line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted(
    [
        REPO / "README.md",
        *(REPO / "docs").glob("*.md"),
        *(REPO / "modules").glob("**/README.md"),
        *(REPO / "envs").glob("*/README.md"),
    ]
)
# Top-level folders of the repository's own sources: an inline-code path that starts with
# one of them must exist (dist/, out/ and S3 prefixes such as incoming/ are not files here).
SOURCE_ROOTS = (
    *("lambdas", "localrun", "buildtools", "modules", "envs", "tests", "docs", "bench"),
    "schemas",
)
# Python packages whose dotted names the docs use, and where they live.
PACKAGES = {
    "etl": REPO / "lambdas" / "etl",
    "localrun": REPO / "localrun",
    "buildtools": REPO / "buildtools",
}
# Bare file names that are not in the repository on purpose, and why.
NOT_IN_REPO = {"backend.hcl": "written by the operator from envs/prod/backend.hcl.example"}
SKIP_DIRS = {
    ".git",
    ".nox",
    ".venv",
    ".venv-nox",
    ".terraform",
    "dist",
    "__pycache__",
    ".build-cache",
}

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\s]+)`")
BARE_FILE = re.compile(r"^[\w.-]+\.(?:py|tf|hcl|md)$")
DOTTED = re.compile(r"^(etl|localrun|buildtools)((?:\.\w+)+)$")
# "`file.py` (`Name`)": Name is defined or used in that file.
FILE_NAME = re.compile(r"`([\w/.-]+\.py)` \(`(\w+)`\)")


def _prose_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) outside fenced code blocks."""
    lines, fenced = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    found = set()
    for _, line in _prose_lines(path):
        match = re.match(r"#{1,6} (.+)", line)
        if match:
            found.add(_slug(match.group(1)))
        found.update(re.findall(r'<a name="([^"]+)"', line))
    return found


def _repo_files() -> set[str]:
    names = set()
    for path in REPO.rglob("*"):
        if path.is_file() and not SKIP_DIRS.intersection(path.relative_to(REPO).parts):
            names.add(path.name)
    return names


def _exists(pattern: str, base: Path) -> bool:
    """A path, a glob (``*``) or a placeholder path (``envs/<env>/main.tf``) that exists."""
    glob = re.sub(r"<[^>]+>|\{[^}]+\}", "*", pattern.rstrip("/"))
    return any(
        any(root.glob(glob)) if "*" in glob else (root / glob).exists() for root in (REPO, base)
    )


def _module_source(package: str, parts: list[str]) -> tuple[Path, list[str]] | None:
    """The source file the dotted name's longest module prefix names, and the rest."""
    folder = PACKAGES[package]
    for i in range(len(parts), -1, -1):
        candidate = folder.joinpath(*parts[:i])
        if candidate.with_suffix(".py").is_file():
            return candidate.with_suffix(".py"), parts[i:]
        if (candidate / "__init__.py").is_file():
            return candidate / "__init__.py", parts[i:]
    return None


def _dead_link(path: Path, target: str) -> str | None:
    if target.startswith(("http://", "https://", "mailto:")):
        return None
    file_part, _, anchor = target.partition("#")
    linked = (path.parent / file_part).resolve() if file_part else path
    if not linked.exists():
        return f"link {target}"
    if anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
        return f"anchor {target}"
    return None


def _dead_code(path: Path, code: str, repo_files: set[str]) -> str | None:
    code = code.rstrip(".,:;")
    dotted = DOTTED.match(code)
    if code.split("/", 1)[0] in SOURCE_ROOTS and "/" in code:
        return None if _exists(code, path.parent) else f"path {code}"
    if BARE_FILE.match(code):
        return None if code in repo_files or code in NOT_IN_REPO else f"file {code}"
    if not dotted:
        return None
    found = _module_source(dotted.group(1), dotted.group(2).split(".")[1:])
    if found is None:
        return f"module {code}"
    source, rest = found
    if rest and not re.search(rf"\b{rest[0]}\b", source.read_text(encoding="utf-8")):
        return f"name {code} (not in {source.name})"
    return None


def _dead_file_name(path: Path, file: str, name: str) -> str | None:
    source = next((r / file for r in (REPO, path.parent) if (r / file).is_file()), None)
    if source and not re.search(rf"\b{name}\b", source.read_text(encoding="utf-8")):
        return f"{file} has no {name}"
    return None


def dead_references(path: Path, repo_files: set[str]) -> list[str]:
    where = path.relative_to(REPO) if path.is_relative_to(REPO) else path.name
    dead = []
    for number, line in _prose_lines(path):
        found = [_dead_link(path, target) for target in LINK.findall(line)]
        found += [_dead_code(path, code, repo_files) for code in CODE.findall(line)]
        found += [_dead_file_name(path, *pair) for pair in FILE_NAME.findall(line)]
        dead += [f"{where}:{number}: {problem}" for problem in found if problem]
    return dead


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_markdown_references_exist(path):
    assert dead_references(path, _repo_files()) == []


def test_the_checker_finds_dead_references(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text(
        "# Title, here\n"
        "[ok](x.md#title-here) [gone](missing.md) [bad anchor](x.md#nope)\n"
        "`buildtools/zips.py` `buildtools/gone.py` `modules/<m>/tests/*.tftest.hcl`\n"
        "`contract.py` `nowhere.py` `etl.contract.CONTRACT` `etl.contract.NOPE` `etl.nope`\n"
        "`buildtools/layer.py` (`_UNUSED_PYARROW`) but `build.py` (`_UNUSED_PYARROW`)\n"
        "```\n`buildtools/inside_a_fence.py`\n```\n",
        encoding="utf-8",
    )
    assert dead_references(doc, _repo_files()) == [
        "x.md:2: link missing.md",
        "x.md:2: anchor x.md#nope",
        "x.md:3: path buildtools/gone.py",
        "x.md:4: file nowhere.py",
        "x.md:4: name etl.contract.NOPE (not in contract.py)",
        "x.md:4: name etl.nope (not in __init__.py)",
        "x.md:5: build.py has no _UNUSED_PYARROW",
    ]
