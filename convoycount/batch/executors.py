"""Executors: run `worker.run_clip` for many clips, N at a time, and yield each outcome
as it finishes. A clip that crashes its process or runs past the timeout becomes a
failed outcome; the other clips never notice.

local  a pool of long-lived worker processes ('spawn': no inherited threads or
       state), each fed one clip at a time through a pipe. A watchdog kills a
       worker whose clip passes the timeout and replaces any worker that died.
       Long-lived because starting a worker (interpreter + numpy/OpenCV/PyAV
       imports) costs about half a second: a lot next to a short clip.
ray    the same function as Ray tasks, on a local Ray instance or a cluster.
"""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field, replace
from multiprocessing.connection import wait as mp_wait
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, Optional, Tuple

from .. import __version__
from ..errors import ConvoyCountError
from .worker import (THREAD_ENV_VARS, ClipOutcome, ClipTask, limit_threads, run_clip,
                     worker_main)

OnStart = Optional[Callable[[ClipTask, Optional[int]], None]]   # (task, worker pid)
MAX_STARTUP_FAILURES = 3


def _exit_message(exitcode: Optional[int]) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (killed: out of memory?)" if exitcode == -signal.SIGKILL else ""
        return f"the analysis process crashed ({name}){hint} on this file; no result"
    return f"the analysis process exited unexpectedly (exit code {exitcode}) on this file; no result"


def _timeout_message(timeout_s: float) -> str:
    return f"timed out after {timeout_s:g} s (analysis process killed); raise --timeout if the clip is just long"


@contextlib.contextmanager
def _thread_env(threads: Optional[int]):
    """The thread-pool variables set while a worker is spawned, so the child has them
    before its very first import (numpy and OpenMP read them once, at load). The
    parent's environment is restored right after."""
    if not threads:
        yield
        return
    saved = {v: os.environ.get(v) for v in THREAD_ENV_VARS}
    os.environ.update({v: str(threads) for v in THREAD_ENV_VARS})
    try:
        yield
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


@dataclass
class _Worker:
    proc: object
    conn: object
    spawned_at: float
    ready: bool = False
    pid: Optional[int] = None
    task: Optional[ClipTask] = None
    started_at: float = 0.0


@dataclass
class _Pool:
    """One run's workers and the clips still waiting for one."""
    pending: deque
    workers: List[_Worker]
    startup_failures: int = 0     # workers in a row that died before they were ready


@dataclass
class ExecutorStats:
    worker_start_s: List[float] = field(default_factory=list)   # spawn -> ready, per worker
    workers_replaced: int = 0


class LocalExecutor:
    name = "local"

    def __init__(self, jobs: int, *, timeout_s: Optional[float] = None,
                 threads: Optional[int] = None, start_method: str = "spawn"):
        if jobs < 1:
            raise ConvoyCountError(f"--jobs must be at least 1, got {jobs}")
        self.jobs = jobs
        self.timeout_s = timeout_s
        self.threads = threads
        self.ctx = mp.get_context(start_method)
        self.stats = ExecutorStats()

    def _spawn(self) -> _Worker:
        parent_conn, child_conn = self.ctx.Pipe(duplex=True)
        proc = self.ctx.Process(target=worker_main, args=(child_conn, self.threads, os.getpid()),
                                daemon=True, name="convoycount-batch-worker")
        with _thread_env(self.threads):
            proc.start()
        child_conn.close()
        return _Worker(proc=proc, conn=parent_conn, spawned_at=time.perf_counter())

    @staticmethod
    def _kill(w: _Worker) -> None:
        if w.proc.is_alive():
            w.proc.kill()
        w.proc.join(5)
        w.conn.close()

    def run(self, tasks: Iterable[ClipTask], on_start: OnStart = None
            ) -> Iterator[Tuple[ClipTask, ClipOutcome]]:
        pending = deque(tasks)
        if not pending:
            return
        pool = _Pool(pending, [self._spawn() for _ in range(min(self.jobs, len(pending)))])
        try:
            while pool.pending or any(w.task is not None for w in pool.workers):
                self._hand_out(pool, on_start)
                self._wait(pool)
                now = time.perf_counter()
                for w in list(pool.workers):
                    yield from self._attend(pool, w, now)
                # A finished worker with no more work goes away now, freeing its core.
                if not pool.pending:
                    for w in [w for w in pool.workers if w.task is None]:
                        self._stop(w)
                        pool.workers.remove(w)
        finally:
            for w in pool.workers:
                self._kill(w)

    def _hand_out(self, pool: "_Pool", on_start: OnStart) -> None:
        """Give the next waiting clip to every worker that is ready and idle."""
        now = time.perf_counter()
        for w in pool.workers:
            if w.ready and w.task is None and pool.pending:
                w.task = replace(pool.pending.popleft(), threads=self.threads)
                w.started_at = now
                if on_start:
                    on_start(w.task, w.pid)
                try:
                    w.conn.send(w.task)
                except OSError:
                    pass        # it just died: the sentinel below reports the crash

    def _wait(self, pool: "_Pool") -> None:
        """Sleep until a worker speaks, a worker dies, or the nearest deadline."""
        wait_s = None
        if self.timeout_s is not None:
            deadlines = [w.started_at + self.timeout_s for w in pool.workers if w.task]
            if deadlines:
                wait_s = max(0.0, min(deadlines) - time.perf_counter())
        mp_wait([w.conn for w in pool.workers] + [w.proc.sentinel for w in pool.workers], wait_s)

    @staticmethod
    def _receive(w: _Worker):
        """The worker's next message if one is waiting, else None (also when the pipe
        broke: the process check that follows says what happened)."""
        try:
            if w.conn.poll():
                return w.conn.recv()
        except (EOFError, OSError):
            pass
        return None

    def _attend(self, pool: "_Pool", w: _Worker, now: float):
        """Act on one worker after a wait: it became ready, finished its clip (the
        outcome is yielded), died (`_bury`), or ran past the timeout (killed, its
        clip yielded as timed out, and replaced while clips are waiting)."""
        message = self._receive(w)
        if isinstance(message, tuple) and message[:1] == ("ready",):
            w.ready, w.pid = True, message[1]
            self.stats.worker_start_s.append(now - w.spawned_at)
            pool.startup_failures = 0
            return
        if isinstance(message, ClipOutcome):
            task, w.task = w.task, None
            yield task, message
            return
        if not w.proc.is_alive():
            yield from self._bury(pool, w, now)
            return
        if (w.task is not None and self.timeout_s is not None
                and now - w.started_at >= self.timeout_s):
            task = w.task
            self._kill(w)
            pool.workers.remove(w)
            yield task, ClipOutcome("failed", failure="timeout",
                                    error=_timeout_message(self.timeout_s),
                                    elapsed_s=now - w.started_at, pid=w.pid)
            self._replace(pool)

    def _bury(self, pool: "_Pool", w: _Worker, now: float):
        """A worker died: its clip (if any) is yielded as a crash. Workers that keep
        dying before they are ready mean the environment is broken, not a clip, so
        after MAX_STARTUP_FAILURES in a row the batch stops with an error."""
        w.proc.join()
        pool.workers.remove(w)
        w.conn.close()
        if w.task is not None:
            yield w.task, ClipOutcome("failed", failure="crash",
                                      error=_exit_message(w.proc.exitcode),
                                      elapsed_s=now - w.started_at, pid=w.pid)
        elif not w.ready:
            pool.startup_failures += 1
            if pool.startup_failures >= MAX_STARTUP_FAILURES:
                raise ConvoyCountError(
                    f"batch worker processes fail to start (exit code "
                    f"{w.proc.exitcode}); run one clip with `convoycount "
                    "count` to see why")
        self._replace(pool)

    def _replace(self, pool: "_Pool") -> None:
        """Start a new worker in place of a lost one, while clips are waiting."""
        if pool.pending:
            pool.workers.append(self._spawn())
            self.stats.workers_replaced += 1

    def _stop(self, w: _Worker) -> None:
        try:
            w.conn.send(None)
        except OSError:
            pass
        w.proc.join(2)
        self._kill(w)


# --------------------------------------------------------------------------- Ray


def ray_clip(task: ClipTask, input_bytes: Optional[bytes] = None) -> ClipOutcome:
    """One clip as a Ray task. Outputs are written to a scratch folder on whichever
    node runs it and shipped back as bytes, so OUT need not be shared storage; with
    `input_bytes` the input is shipped too (no shared input storage needed either)."""
    limit_threads(task.threads)
    with tempfile.TemporaryDirectory(prefix="convoycount-") as tmp:
        if input_bytes is not None:
            local = Path(tmp) / ("input" + Path(task.path).suffix)
            local.write_bytes(input_bytes)
            task = replace(task, display_path=task.path, path=str(local))
        out = Path(tmp) / "out"
        outcome = run_clip(task, out)
        if out.is_dir():
            outcome.files = {p.relative_to(out).as_posix(): p.read_bytes()
                             for p in sorted(out.rglob("*")) if p.is_file()}
    return outcome


class RayExecutor:
    name = "ray"

    def __init__(self, jobs: Optional[int], *, timeout_s: Optional[float] = None,
                 threads: Optional[int] = 1, address: Optional[str] = None,
                 ship_inputs: bool = False):
        self.jobs = jobs
        self.timeout_s = timeout_s
        self.threads = threads
        self.address = address
        self.ship_inputs = ship_inputs
        self.stats = ExecutorStats()

    def _init(self):
        try:
            import ray
        except ImportError:
            raise ConvoyCountError("--executor ray needs Ray: pip install 'convoycount[ray]'") from None
        if ray.is_initialized():
            return ray, False
        env = {"env_vars": {v: str(self.threads) for v in
                            ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}} \
            if self.threads else None
        kwargs = dict(runtime_env=env, log_to_driver=False, configure_logging=True,
                      logging_level="ERROR")
        try:
            if self.address:
                ray.init(address=self.address, **kwargs)
            else:
                ray.init(num_cpus=self.jobs or os.cpu_count(), include_dashboard=False, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as e:
            where = self.address or "a local instance"
            raise ConvoyCountError(f"cannot start Ray on {where}: {' '.join(str(e).split())}") from None
        return ray, True

    def run(self, tasks: Iterable[ClipTask], on_start: OnStart = None
            ) -> Iterator[Tuple[ClipTask, ClipOutcome]]:
        pending = deque(tasks)
        if not pending:
            return
        ray, started_here = self._init()
        inflight = {}                                   # ref -> (task, submitted_at)
        try:
            slots = self.jobs or max(1, int(ray.cluster_resources().get("CPU", 1)))
            remote = ray.remote(num_cpus=1, max_retries=0)(ray_clip)
            while pending or inflight:
                while pending and len(inflight) < slots:
                    task = replace(pending.popleft(), threads=self.threads,
                                   tool_version=__version__)
                    data = Path(task.path).read_bytes() if self.ship_inputs else None
                    if on_start:
                        on_start(task, None)
                    inflight[remote.remote(task, data)] = (task, time.perf_counter())
                wait_s = None
                if self.timeout_s is not None:
                    wait_s = max(0.0, min(t0 for _, t0 in inflight.values()) + self.timeout_s
                                 - time.perf_counter())
                done, _ = ray.wait(list(inflight), num_returns=1, timeout=wait_s)
                now = time.perf_counter()
                for ref in done:
                    task, t0 = inflight.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                            ray.exceptions.LocalRayletDiedError) as e:
                        outcome = ClipOutcome("failed", failure="crash", elapsed_s=now - t0,
                                              error=f"the Ray worker died on this file "
                                                    f"({type(e).__name__}); no result")
                    except ray.exceptions.RayError as e:
                        outcome = ClipOutcome("failed", failure="error", elapsed_s=now - t0,
                                              error=f"Ray task failed: {' '.join(str(e).split())[:300]}")
                    yield task, outcome
                if self.timeout_s is not None:
                    for ref, (task, t0) in list(inflight.items()):
                        if now - t0 >= self.timeout_s:
                            ray.cancel(ref, force=True)
                            del inflight[ref]
                            yield task, ClipOutcome("failed", failure="timeout", elapsed_s=now - t0,
                                                    error=_timeout_message(self.timeout_s))
        finally:
            for ref in list(inflight):
                try:
                    ray.cancel(ref, force=True)
                except Exception:
                    pass
            if started_here:
                ray.shutdown()


def make_executor(name: str, *, jobs: int, timeout_s: Optional[float], threads: Optional[int],
                  address: Optional[str] = None, ship_inputs: bool = False):
    if name == "local":
        if address:
            raise ConvoyCountError("--address is for --executor ray")
        return LocalExecutor(jobs, timeout_s=timeout_s, threads=threads)
    if name == "ray":
        return RayExecutor(jobs, timeout_s=timeout_s, threads=threads, address=address,
                           ship_inputs=ship_inputs)
    raise ConvoyCountError(f"unknown executor {name!r}; choose local or ray")
