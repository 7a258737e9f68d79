"""Atomic file output: a crash or Ctrl-C never leaves a half-written file.

Everything is written to a temporary file in the target's directory and moved
into place with os.replace (atomic on POSIX and Windows)."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path`.

    The temporary name keeps the file's extension so writers that choose a
    format by extension (PyAV, OpenCV, matplotlib) still work."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix or path.suffix,
                               dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        # mkstemp creates 0600 files; evidence is meant to be shared: use the umask.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path, text: str) -> Path:
    with atomic_path(path) as tmp:
        # A file name that is not UTF-8 reaches text as lone surrogates (e.g. in a
        # command line shown in report.html): escaped, not a failed output.
        tmp.write_text(text, encoding="utf-8", errors="backslashreplace")
    return Path(path)


def write_json(path, obj) -> Path:
    return write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
