"""SHA-256 of inputs and models: the one place that hashes files for provenance,
clip ids, batch resume and model verification."""
from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def _update_from_file(h, path: Path) -> None:
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)


def sha256_file(path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    _update_from_file(h, Path(path))
    return h.hexdigest()


def sha256_path(path) -> str:
    """A file's SHA-256; for a folder (an OpenVINO model), one hash over its files'
    relative names and bytes in sorted order, so renaming or changing any file changes it."""
    path = Path(path)
    if not path.is_dir():
        return sha256_file(path)
    h = hashlib.sha256()
    for f in sorted(q for q in path.rglob("*") if q.is_file()):
        h.update(str(f.relative_to(path)).encode() + b"\0")
        _update_from_file(h, f)
    return h.hexdigest()
