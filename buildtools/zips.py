"""The one zip writer: byte-reproducible zips (sorted entries, fixed timestamps, normalised
permissions, no bytecode, a fixed compression level), written atomically. The function zips,
the layer zip and the local harness's zips all come from :func:`write_zip`."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from buildtools.errors import BuildError

FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 9
FILE_MODE = 0o644
EXEC_MODE = 0o755
DIR_MODE = 0o755

# Never packaged, in our code or in the layer.
EXCLUDED_DIR_NAMES = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
EXCLUDED_FILE_SUFFIXES = (".pyc", ".pyo", ".swp", "~")
EXCLUDED_FILE_NAMES = frozenset({".DS_Store"})


@dataclasses.dataclass(frozen=True)
class ZipEntry:
    """One file in a zip: where it goes, where it comes from, whether it is executable."""

    arcname: str
    source: Path
    executable: bool = False


def display_path(path: Path, root: Path) -> str:
    """Path relative to the repo root (posix), or absolute when outside it."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def is_excluded(rel: Path) -> bool:
    if any(part in EXCLUDED_DIR_NAMES for part in rel.parts[:-1]):
        return True
    return rel.name in EXCLUDED_FILE_NAMES or rel.name.endswith(EXCLUDED_FILE_SUFFIXES)


def collect_tree(src_dir: Path, prefix: str) -> list[ZipEntry]:
    """Every packageable file under src_dir, as entries named ``prefix/<relative path>``."""
    entries = []
    for path in sorted(src_dir.rglob("*")):
        if path.is_dir() or path.is_symlink() and not path.exists():
            continue
        rel = path.relative_to(src_dir)
        if is_excluded(rel):
            continue
        arcname = "/".join(filter(None, [prefix.strip("/"), rel.as_posix()]))
        entries.append(ZipEntry(arcname, path, bool(path.stat().st_mode & stat.S_IXUSR)))
    return entries


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def zip_dir_entries(arcnames: Iterable[str]) -> list[str]:
    dirs = set()
    for name in arcnames:
        parts = name.split("/")[:-1]
        dirs.update("/".join(parts[: i + 1]) + "/" for i in range(len(parts)))
    return sorted(dirs)


def write_zip(entries: Sequence[ZipEntry], dest: Path, compresslevel: int = COMPRESS_LEVEL) -> None:
    """The one writer: a byte-reproducible zip, written to a temp file then renamed."""
    names = [e.arcname for e in entries]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise BuildError(f"{dest.name}: duplicate zip entries {dupes}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w") as zf:
            items: list[tuple[str, ZipEntry | None]] = [(d, None) for d in zip_dir_entries(names)]
            items += [(e.arcname, e) for e in entries]
            for arcname, entry in sorted(items, key=lambda item: item[0]):
                info = zipfile.ZipInfo(arcname, date_time=FIXED_DATE_TIME)
                info.create_system = 3  # unix, so external_attr carries the mode
                if entry is None:
                    info.external_attr = (stat.S_IFDIR | DIR_MODE) << 16 | 0x10
                    zf.writestr(info, b"")
                    continue
                mode = EXEC_MODE if entry.executable else FILE_MODE
                info.external_attr = (stat.S_IFREG | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, entry.source.read_bytes(), compresslevel=compresslevel)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(dest: Path, text: str) -> bool:
    """Write text atomically; leave the file (and its mtime) alone when unchanged."""
    if dest.is_file() and dest.read_text(encoding="utf-8") == text:
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
