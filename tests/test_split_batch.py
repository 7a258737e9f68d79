"""Steps of the local executor's run loop, with real (short-lived) processes."""
from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections import deque

import pytest

from convoycount.batch.executors import LocalExecutor, _Pool, _Worker
from convoycount.batch.worker import ClipTask
from convoycount.errors import ConvoyCountError


def _dead_worker(exitcode: int) -> _Worker:
    """A worker process that exited (with `exitcode`) before saying it was ready."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=True)
    proc = ctx.Process(target=os._exit, args=(exitcode,), daemon=True)
    proc.start()
    proc.join()
    child.close()
    return _Worker(proc=proc, conn=parent, spawned_at=time.perf_counter())


def test_workers_that_keep_dying_at_startup_stop_the_batch():
    ex = LocalExecutor(1)
    pool = _Pool(deque(), [])
    for _ in range(2):
        w = _dead_worker(3)
        pool.workers.append(w)
        assert list(ex._bury(pool, w, time.perf_counter())) == []
        assert w not in pool.workers
    w = _dead_worker(3)
    pool.workers.append(w)
    with pytest.raises(ConvoyCountError, match=r"fail to start \(exit code 3\)"):
        list(ex._bury(pool, w, time.perf_counter()))
    assert pool.startup_failures == 3


def test_a_worker_dying_on_a_clip_fails_that_clip_as_a_crash():
    ex = LocalExecutor(1)
    w = _dead_worker(7)
    w.ready, w.task, w.started_at = True, ClipTask(key="x", path="/in/x.mp4", sha256="0" * 64, options={}, job_dir="/out/x"), time.perf_counter()
    pool = _Pool(deque(), [w])
    [(task, outcome)] = list(ex._bury(pool, w, time.perf_counter()))
    assert task.path == "/in/x.mp4" and outcome.status == "failed" and outcome.failure == "crash"
    assert "exit code 7" in outcome.error
    assert pool.workers == [] and pool.startup_failures == 0 and ex.stats.workers_replaced == 0
