"""`convoycount batch`: every video in a folder, counted in parallel, resumable.

    from convoycount.batch import run_batch
    summary = run_batch("clips/", "out/", jobs=2, detector="motion")

See run.py for the flow, store.py for what lands in OUT, executors.py for the
local process pool and Ray, worker.py for the per-clip function.
"""
from __future__ import annotations

__all__ = ["run_batch", "BatchSummary", "BatchProgress", "COLUMNS", "STABLE_COLUMNS"]


def __getattr__(name):
    # Lazy: a spawned worker imports convoycount.batch.worker, and must not pull in
    # numpy (via run/store) before it has capped its thread pools.
    if name in ("run_batch", "BatchSummary", "BatchProgress"):
        from . import run
        return getattr(run, name)
    if name in ("COLUMNS", "STABLE_COLUMNS"):
        from . import store
        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
