"""Re-timing: estimate how much faster than reality a clip plays, and undo it.

    estimate_time_map(path, info, tracks, span_s) -> TimeMap     (`--speedup auto`)
    retime(path, out_path, *, speedup=None, real_duration_s=None, clock=False) -> Path

Estimators, each standing alone and returning an `Estimate` (K with an
interval, or a reason why it has nothing): `metadata` (capture-rate tags,
encoder-rate mismatch), `kinematics` (vehicles' speed in their own lengths per
second against a stated prior), `clock` (a burned-in clock read by OCR).
`estimate.combine` fuses them by trust. Submodules are imported on first use,
so importing this package (e.g. for the CLI) stays cheap.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "estimate_time_map": "estimate", "combine": "estimate", "Estimate": "estimate",
    "estimate_kinematics": "kinematics", "KinematicPrior": "kinematics",
    "estimate_metadata": "metadata", "estimate_clock": "clock", "parse_clock": "clock",
    "retime": "writer", "atempo_chain": "writer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
