"""run_batch(): every video in a folder through `analyze`, in parallel, resumable.

    discover (by content) -> hash (clip id) -> records already complete? -> executor
    -> per clip: outputs, then done.json -> summary.csv / summary.json

The parent process is the only writer of done records and summaries; workers
write only into their clip's folder. The summary is always rebuilt from the
records, so an interrupted run and an uninterrupted one end with the same table.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

from .. import __version__
from ..errors import ConvoyCountError
from ..options import AnalysisOptions
from .claimsfile import ClaimRow, load_claims
from .discover import HashCache, clip_id, discover
from .executors import ExecutorStats, make_executor
from .store import (REPORT_NAME, DoneRecord, SummaryRow, clear_job_dir, lock_out_dir,
                    params_hash, read_record, write_files, write_record, write_summary)
from .worker import ClipOutcome, ClipTask

SUMMARY_REFRESH_S = 1.0     # rewrite the summary at most this often while clips finish


@dataclass
class BatchProgress:
    """What `progress` is told: a clip started or finished."""
    kind: str                        # "start" | "done"
    path: str                        # relative path of the clip (the first of identical copies)
    done: int                        # analyses finished in this run
    total: int                       # analyses this run has to do
    row: Optional[SummaryRow] = None # the finished row ("done" only)
    pid: Optional[int] = None        # local worker process ("start", local executor only)


@dataclass
class BatchSummary:
    input_dir: Path
    out_dir: Path
    rows: List[SummaryRow]
    elapsed_s: float
    executor: str
    jobs: int
    analysed: int                    # analyses run (not reused) in this run
    stats: ExecutorStats = field(default_factory=ExecutorStats)

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    @property
    def counted(self) -> int:
        return self.count("ok") + self.count("truncated")

    @property
    def failed(self) -> int:
        return self.count("failed")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def any_failed(self) -> bool:
        """Failed in this run or in the earlier run whose result was reused."""
        return any(r.outcome == "failed" for r in self.rows)

    def line(self) -> str:
        earlier = sum(1 for r in self.rows if r.status == "skipped" and r.outcome == "failed")
        trunc = self.count("truncated")
        parts = [f"{self.counted} counted" + (f" ({trunc} truncated)" if trunc else ""),
                 f"{self.failed} failed",
                 f"{self.skipped} skipped" + (f" ({earlier} had failed)" if earlier else "")]
        return (f"batch: {len(self.rows)} files: {', '.join(parts)} in {self.elapsed_s:.1f} s; "
                f"summary in {self.out_dir / 'summary.csv'}")


@dataclass
class _Job:
    """One analysis: one input content under one parameter set. Identical copies of a
    file share a job; their rows all point at its result."""
    key: str
    sha256: str
    options: AnalysisOptions
    phash: str
    rows: List[SummaryRow] = field(default_factory=list)
    paths: List[Path] = field(default_factory=list)


def _check_folders(input_dir, out_dir) -> tuple:
    """(input folder, output folder), resolved; refuses a missing input, a file, or
    an output that is the input."""
    src = Path(input_dir)
    if not src.exists():
        raise ConvoyCountError(f"{src}: no such folder")
    if not src.is_dir():
        raise ConvoyCountError(f"{src}: is a file; `convoycount batch` takes a folder "
                               "(use `convoycount count` for one clip)")
    src = src.resolve()
    out = Path(out_dir).resolve()
    if out == src:
        raise ConvoyCountError(f"-o {out_dir} is the input folder; choose another output folder")
    return src, out


def _check_limits(jobs: Optional[int], timeout_s: Optional[float], executor: str) -> Optional[int]:
    """The number of parallel jobs (default: CPU count locally, the cluster's with Ray)."""
    if jobs is None:
        jobs = (os.cpu_count() or 1) if executor == "local" else None
    elif jobs < 1:
        raise ConvoyCountError(f"--jobs must be at least 1, got {jobs}")
    if timeout_s is not None and not timeout_s > 0:
        raise ConvoyCountError(f"--timeout must be a positive number of seconds, got {timeout_s}")
    return jobs


def _model_sha256(options: AnalysisOptions) -> Optional[str]:
    """Build the detector once before any clip runs (missing weights or a bad option
    would otherwise fail every row with the same message) and return the SHA-256 of
    the weights it loaded, however they were found (a file, an OpenVINO folder, a
    name resolved in models/, $CONVOYCOUNT_MODEL): resume must notice new weights."""
    from .. import detect
    return detect.create(options.detector).info.model_sha256


def _clean_stale_temp_files(out_dir: Path) -> None:
    """Temporary files of atomic writes that a killed run left behind."""
    for pattern in (".summary.*", ".hashes.*.json"):
        for p in out_dir.glob(pattern):
            p.unlink(missing_ok=True)


def _hash_inputs(found, cache: HashCache) -> tuple:
    """One summary row per file found; (rows, [(found file, row)] of readable files)."""
    rows: List[SummaryRow] = []
    hashed = []
    for d in found:
        row = SummaryRow(path=d.rel)
        rows.append(row)
        try:
            sha = cache.sha256(d.path)
        except OSError as e:
            row.status = row.outcome = "failed"
            row.error = f"{d.path}: cannot read ({e.strerror or e})"
            continue
        row.sha256, row.clip_id = sha, clip_id(sha)
        hashed.append((d, row))
    cache.save()
    return rows, hashed


def _clip_options(base: AnalysisOptions, claim: Optional[ClaimRow]) -> AnalysisOptions:
    """The batch's options with a clip's own claim (from --claims) put in."""
    if claim is None:
        return base
    change = {k: v for k, v in (("claim", claim.claim), ("claim_basis", claim.claim_basis)) if v}
    return base.replace(**change) if change else base


def _plan_jobs(hashed, base: AnalysisOptions, per_file: Dict[str, ClaimRow],
               model_sha: Optional[str]) -> List[_Job]:
    """Group the files into analyses: identical bytes under identical options are
    analysed once; identical bytes under a different claim get their own job."""
    jobs_by_id: Dict[tuple, _Job] = {}
    used_keys = set()
    for d, row in hashed:
        opts = _clip_options(base, per_file.get(d.rel))
        row.claim = opts.claim or ""
        phash = params_hash({"tool_version": __version__, "model_sha256": model_sha,
                             "options": opts.params()})
        job = jobs_by_id.get((row.sha256, phash))
        if job is None:
            key = row.clip_id if row.clip_id not in used_keys else f"{row.clip_id}-{phash[:8]}"
            used_keys.add(key)
            job = jobs_by_id[(row.sha256, phash)] = _Job(key, row.sha256, opts, phash)
        else:
            row.duplicate_of = job.rows[0].path
        job.rows.append(row)
        job.paths.append(d.path)
    return list(jobs_by_id.values())


def _still_to_do(jobs: List[_Job], out: Path, evidence: bool) -> List[_Job]:
    """Jobs without a complete record for these bytes and options; the rows of the
    others are filled from their record (resume)."""
    todo = []
    for job in jobs:
        job_dir = out / job.key
        rec = read_record(job_dir)
        if rec is not None and rec.complete_for(job.sha256, job.phash, evidence, job_dir):
            for row in job.rows:
                row.fill(rec, reused=True, report_rel=f"{job.key}/{REPORT_NAME}")
        else:
            todo.append(job)
    return todo


def run_batch(input_dir, out_dir, *, options: Optional[AnalysisOptions] = None,
              jobs: Optional[int] = None, claims=None,
              glob: Optional[str] = None, recursive: bool = False,
              timeout_s: Optional[float] = None, evidence: bool = False,
              executor: str = "local", address: Optional[str] = None,
              progress: Optional[Callable[[BatchProgress], None]] = None,
              threads_per_worker: Optional[int] = None, ship_inputs: bool = False,
              command_line: Optional[str] = None, **keywords) -> BatchSummary:
    """Analyse every video under `input_dir`; write per-clip results and a summary to
    `out_dir`; return the summary.

    `options` (AnalysisOptions) apply to every clip; keywords are its fields in flat
    form, as for `analyze` (detector, line, speedup, ...). `jobs`: clips analysed at
    once (default: CPU count; with Ray: the cluster's CPUs). `claims`: a CSV
    (columns `file` or `sha256`, and `claim`, optional `claim_basis`) giving clips
    their own claim. `timeout_s`: per clip; the analysis is killed past it.
    `threads_per_worker`: cap each clip's library thread pools (default: 1 when
    jobs > 1, else the libraries' own default). `ship_inputs` (Ray): send input bytes
    to the workers instead of reading the paths there."""
    t0 = time.perf_counter()
    src, out = _check_folders(input_dir, out_dir)
    jobs = _check_limits(jobs, timeout_s, executor)
    if threads_per_worker is None and (jobs or 2) > 1:
        threads_per_worker = 1
    base = (options or AnalysisOptions()).replace(**keywords)
    model_sha = _model_sha256(base)

    out.mkdir(parents=True, exist_ok=True)
    lock = lock_out_dir(out)
    try:
        _clean_stale_temp_files(out)
        rows, hashed = _hash_inputs(discover(src, out, glob=glob, recursive=recursive),
                                    HashCache(out / ".hashes.json"))
        per_file: Dict[str, ClaimRow] = {}
        if claims is not None:
            per_file = load_claims(claims, [(d.rel, d.path, r.sha256) for d, r in hashed])
        todo = _still_to_do(_plan_jobs(hashed, base, per_file, model_sha), out, evidence)
        meta = {"tool_version": __version__, "input_dir": str(src), "out_dir": str(out),
                "executor": executor, "jobs": jobs, "timeout_s": timeout_s, "evidence": evidence,
                "options": base.params(),
                "claims_file": None if claims is None else str(claims)}
        write_summary(out, rows, dict(meta, finished=False))
        ex = make_executor(executor, jobs=jobs, timeout_s=timeout_s, threads=threads_per_worker,
                           address=address, ship_inputs=ship_inputs)
        _run_jobs(ex, todo, out, rows, meta, evidence, command_line, progress)
        elapsed = time.perf_counter() - t0
        write_summary(out, rows, dict(meta, finished=True, elapsed_s=round(elapsed, 3)))
        return BatchSummary(src, out, rows, elapsed, ex.name, jobs or 0, len(todo), ex.stats)
    finally:
        lock.close()


def _run_jobs(ex, todo: List[_Job], out: Path, rows: List[SummaryRow], meta: dict,
              evidence: bool, command_line: Optional[str], progress) -> None:
    """Run the jobs on the executor; record each as it finishes and refresh the
    summary now and then, so an interrupted run loses no finished clip."""
    for job in todo:
        clear_job_dir(out / job.key)
    tasks = [ClipTask(key=job.key, path=str(job.paths[0]), sha256=job.sha256,
                      options=job.options, job_dir=str(out / job.key), evidence=evidence,
                      command_line=command_line) for job in todo]
    by_key = {job.key: job for job in todo}
    done = 0
    last_write = time.perf_counter()

    def on_start(task: ClipTask, pid: Optional[int]) -> None:
        if progress:
            progress(BatchProgress("start", by_key[task.key].rows[0].path, done, len(tasks),
                                   pid=pid))

    for task, outcome in ex.run(tasks, on_start=on_start):
        job = by_key[task.key]
        _finish(out / job.key, job, task, outcome)
        done += 1
        now = time.perf_counter()
        if now - last_write >= SUMMARY_REFRESH_S or done == len(tasks):
            write_summary(out, rows, dict(meta, finished=False))
            last_write = now
        if progress:
            progress(BatchProgress("done", job.rows[0].path, done, len(tasks), row=job.rows[0]))


def _finish(job_dir: Path, job: _Job, task: ClipTask, outcome: ClipOutcome) -> None:
    """Outputs first, the completion record last."""
    if outcome.failure in ("timeout", "crash"):
        clear_job_dir(job_dir)              # drop half-written temp files of the killed worker
    elif outcome.files:
        write_files(job_dir, outcome.files)
    rec = DoneRecord(clip_id=clip_id(job.sha256), input_sha256=job.sha256, params_hash=job.phash,
                     status=outcome.status, failure=outcome.failure, error=outcome.error,
                     elapsed_s=round(outcome.elapsed_s, 3),
                     evidence=task.evidence and outcome.status != "failed",
                     result=outcome.result, input_path=task.path,
                     params=job.options.params(), tool_version=__version__)
    write_record(job_dir, rec)
    for row in job.rows:
        row.fill(rec, reused=False, report_rel=f"{job.key}/{REPORT_NAME}")
