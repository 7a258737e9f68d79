"""Where the real test clips are: one answer for the tests and the benchmarks.

The real clips (downloaded footage, hand-counted in benchmarks/realclips_hand.json)
are never committed to the repository; they live beside it in ../shared/realclips,
or in the folder that $CONVOYCOUNT_REALCLIPS names. Tests that need them skip,
and benchmarks say so, with the reason from `why_missing()`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Optional

ENV = "CONVOYCOUNT_REALCLIPS"


def realclips_dir() -> Path:
    """$CONVOYCOUNT_REALCLIPS, else <repo>/../shared/realclips."""
    env = os.environ.get(ENV)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2] / "shared" / "realclips"


def missing(names: Iterable[str], folder: Optional[Path] = None) -> list:
    """The file names among `names` that are not files in `folder` (default: realclips_dir())."""
    folder = realclips_dir() if folder is None else Path(folder)
    return [n for n in names if not (folder / n).is_file()]


def why_missing(names: Iterable[str], folder: Optional[Path] = None) -> Optional[str]:
    """None when every clip is there, else a sentence saying where they were looked for,
    which are missing and how to point elsewhere (for skip reasons and benchmark notes)."""
    folder = realclips_dir() if folder is None else Path(folder)
    absent = missing(names, folder)
    if not absent:
        return None
    return (f"real clips not available at {folder} (missing {', '.join(absent)}); "
            f"set {ENV} to their folder")
