"""The per-clip function every executor runs, and the loop of a local worker process.

`run_clip` calls `convoycount.pipeline.analyze` (which builds fresh stages for
each clip, so nothing leaks from one clip to the next), writes report.json (and
evidence) into the clip's folder, and returns a small `ClipOutcome`. It never
raises: whatever goes wrong becomes a failed outcome with a one-line message.

This module imports only the standard library at load time: a spawned worker must
be able to limit its thread pools before numpy / OpenCV are imported.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional

from ..errors import ConvoyCountError

# Thread pools that libraries size from these variables when they are first imported.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                   "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


@dataclass
class ClipTask:
    key: str                         # the clip's folder name under OUT (clip id, maybe + params)
    path: str                        # absolute input path
    sha256: str
    options: object                  # the AnalysisOptions for this clip
    job_dir: str                     # absolute OUT/<key>; where a local worker writes
    evidence: bool = False
    command_line: Optional[str] = None
    threads: Optional[int] = None    # limit each library's thread pool (None: library default)
    display_path: Optional[str] = None   # path to show in the report when analysing a copy
    tool_version: Optional[str] = None   # the driver's convoycount version (remote workers check it)


@dataclass
class ClipOutcome:
    status: str                      # ok | truncated | failed
    failure: Optional[str] = None    # None | input | error | timeout | crash
    error: Optional[str] = None
    elapsed_s: float = 0.0
    result: dict = field(default_factory=dict)
    files: Dict[str, bytes] = field(default_factory=dict)   # outputs shipped back (Ray)
    pid: Optional[int] = None


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def limit_threads(n: Optional[int]) -> None:
    """Cap the thread pools of the libraries the analysis uses. With N clips in
    parallel on N cores, each clip's own threads only add contention."""
    if not n:
        return
    for var in THREAD_ENV_VARS:
        os.environ[var] = str(n)
    try:
        import cv2
        cv2.setNumThreads(n)
    except Exception:          # no OpenCV: nothing to cap
        pass
    if "torch" in sys.modules:
        try:
            sys.modules["torch"].set_num_threads(n)
        except Exception:
            pass


def _result_columns(report) -> dict:
    tm = report.time_map
    claim = report.claim
    return {"count_total": report.total,
            "by_direction": report.by_direction(),
            "by_class": report.by_class(),
            "speedup": None if tm.speedup is None else round(float(tm.speedup), 6),
            "speedup_source": tm.source,
            "verdict": None if claim is None else claim.verdict,
            "duration_s": round(float(report.probe.duration_s), 4),
            "detector": report.detector.name,
            "frames_processed": report.frames_processed,
            "warnings": len(report.warnings)}


def run_clip(task: ClipTask, out_dir: Optional[Path] = None) -> ClipOutcome:
    """Analyse one clip and write its outputs into `out_dir` (default: task.job_dir)."""
    t0 = time.perf_counter()
    out_dir = Path(out_dir or task.job_dir)
    shown = task.display_path or task.path

    def _clean(msg: str) -> str:
        return one_line(msg.replace(task.path, shown)) if task.display_path else one_line(msg)

    try:
        from .. import __version__
        if task.tool_version and task.tool_version != __version__:
            return ClipOutcome("failed", failure="error", pid=os.getpid(),
                               error=f"this worker runs convoycount {__version__}, the batch "
                                     f"was started with {task.tool_version}; install the same "
                                     "version on every node")
        from ..pipeline import analyze
        with warnings.catch_warnings():
            # a truncated clip warns; the report (and the summary's status) says so
            warnings.simplefilter("ignore")
            report = analyze(task.path, task.options)
        out_dir.mkdir(parents=True, exist_ok=True)
        if task.evidence:
            # writes report.json too (last); it re-reads the input, so it runs before the
            # report is pointed at the original path of a shipped copy
            from ..evidence import write_evidence
            write_evidence(report, out_dir, command_line=task.command_line)
        if task.display_path:
            report.input_path = task.display_path
            report.probe = dataclasses.replace(report.probe, path=task.display_path)
        if task.display_path or not task.evidence:
            report.write_json(out_dir / "report.json")
        status = "truncated" if report.probe.truncated else "ok"
        return ClipOutcome(status, result=_result_columns(report),
                           elapsed_s=time.perf_counter() - t0, pid=os.getpid())
    except ConvoyCountError as e:
        return ClipOutcome("failed", failure="input", error=_clean(str(e)),
                           elapsed_s=time.perf_counter() - t0, pid=os.getpid())
    except Exception as e:
        # Our bug, not the clip's: keep the traceback beside the row for a bug report.
        saved = _save_traceback(out_dir)
        return ClipOutcome("failed", failure="error",
                           error=_clean(f"internal error: {type(e).__name__}: {e}" + saved),
                           elapsed_s=time.perf_counter() - t0, pid=os.getpid())


TRACEBACK_NAME = "traceback.txt"


def _save_traceback(out_dir: Path) -> str:
    """Write the current exception's traceback into the clip's folder; return the
    note for the error line."""
    import traceback
    try:
        from ..io import write_text
        write_text(out_dir / TRACEBACK_NAME, traceback.format_exc())
        return f" (traceback in {out_dir.name}/{TRACEBACK_NAME})"
    except OSError:
        return ""


# --------------------------------------------------------------------------- local worker


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when the batch process dies (even by SIGKILL), so
    no orphan keeps decoding. Best effort; elsewhere the closed pipe ends the loop."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:
        pass


def worker_main(conn, threads: Optional[int], parent_pid: int) -> None:
    """Loop of a long-lived worker: say "ready" once the imports are done, then take
    ClipTasks from `conn` and send back ClipOutcomes until told to stop (None) or the
    parent goes away."""
    _die_with_parent()
    if os.getppid() != parent_pid:           # the parent died before prctl took effect
        return
    # Ctrl-C reaches the whole process group; the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads(threads)
    t0 = time.perf_counter()
    from .. import pipeline  # noqa: F401  -- pay the import cost before the first clip's clock starts
    try:
        conn.send(("ready", os.getpid(), time.perf_counter() - t0))
        while True:
            try:
                task = conn.recv()
            except EOFError:
                return
            if task is None:
                return
            conn.send(run_clip(task))
    except (BrokenPipeError, ConnectionResetError, EOFError):
        return
