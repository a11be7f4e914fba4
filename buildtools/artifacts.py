"""Artifacts: what to build (plans with an inputs digest), what was built (records), the
``<artifact>.inputs.json`` stamps that let an unchanged build be skipped, and the manifest."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from buildtools.zips import ZipEntry, display_path, file_digest, write_text_atomic

RUNTIME_PYTHON = "3.12"
MANIFEST_NAME = "manifest.json"
STAMP_SUFFIX = ".inputs.json"
TOOL_ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class ArtifactPlan:
    """What to build: the output path, its entries, and the digest of all inputs."""

    name: str
    output: Path
    entries: tuple[ZipEntry, ...]
    inputs_digest: str


@dataclasses.dataclass(frozen=True)
class ArtifactRecord:
    """A built artifact, as written to the manifest (plus its unzipped size)."""

    name: str
    path: Path
    sha256: str
    base64sha256: str
    size: int
    unzipped_size: int
    rebuilt: bool

    def manifest_entry(self, root: Path) -> dict:
        return {
            "path": display_path(self.path, root),
            "sha256": self.sha256,
            "base64sha256": self.base64sha256,
            "size": self.size,
        }


def tool_fingerprint() -> str:
    """Digest of build.py and buildtools/: a change to the build logic invalidates every
    artifact."""
    h = hashlib.sha256()
    sources = [TOOL_ROOT / "build.py", *sorted(Path(__file__).parent.glob("*.py"))]
    for path in sources:
        if path.is_file():
            h.update(f"\0{path.name}\0".encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def digest_inputs(entries: Iterable[ZipEntry], params: dict) -> str:
    """Content hash of the entries (name, mode, bytes) and the build parameters."""
    h = hashlib.sha256()
    h.update(json.dumps({"tool": tool_fingerprint(), **params}, sort_keys=True).encode())
    for entry in sorted(entries, key=lambda e: e.arcname):
        h.update(f"\0{entry.arcname}\0{int(entry.executable)}\0".encode())
        h.update(file_digest(entry.source).encode())
    return h.hexdigest()


def stamp_path(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + STAMP_SUFFIX)


def record_artifact(name: str, path: Path, rebuilt: bool) -> ArtifactRecord:
    digest = hashlib.sha256(path.read_bytes()).digest()
    with zipfile.ZipFile(path) as zf:
        unzipped = sum(i.file_size for i in zf.infolist())
    return ArtifactRecord(
        name,
        path,
        digest.hex(),
        base64.b64encode(digest).decode(),
        path.stat().st_size,
        unzipped,
        rebuilt,
    )


def up_to_date(name: str, output: Path, inputs_digest: str) -> ArtifactRecord | None:
    """The existing artifact if its stamp matches the inputs and the file is intact."""
    stamp = stamp_path(output)
    if not (output.is_file() and stamp.is_file()):
        return None
    try:
        saved = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if saved.get("inputs") != inputs_digest or saved.get("size") != output.stat().st_size:
        return None
    digest = hashlib.sha256(output.read_bytes()).digest()
    if digest.hex() != saved.get("sha256"):
        return None
    return ArtifactRecord(
        name,
        output,
        digest.hex(),
        base64.b64encode(digest).decode(),
        saved["size"],
        saved["unzipped_size"],
        rebuilt=False,
    )


def save_stamp(record: ArtifactRecord, inputs_digest: str, extra: dict | None = None) -> None:
    stamp = {
        "inputs": inputs_digest,
        "sha256": record.sha256,
        "size": record.size,
        "unzipped_size": record.unzipped_size,
        **(extra or {}),
    }
    write_text_atomic(stamp_path(record.path), json.dumps(stamp, indent=2, sort_keys=True) + "\n")


def manifest_document(
    arch: str, records: Sequence[ArtifactRecord], root: Path, python_version: str = RUNTIME_PYTHON
) -> dict:
    return {
        "architecture": arch,
        "python": python_version,
        "artifacts": {r.name: r.manifest_entry(root) for r in records},
    }
