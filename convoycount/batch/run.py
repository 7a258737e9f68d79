"""run_batch(): every video in a folder through `analyze`, in parallel, resumable.

    discover (by content) -> hash (clip id) -> records already complete? -> executor
    -> per clip: outputs, then done.json -> summary.csv / summary.json

The parent process is the only writer of done records and summaries; workers
write only into their clip's folder. The summary is always rebuilt from the
records, so an interrupted run and an uninterrupted one end with the same table.
"""
from __future__ import annotations

import inspect
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

from .. import __version__
from ..errors import ConvoyCountError
from ..hashing import sha256_file
from .claimsfile import ClaimRow, load_claims
from .discover import HashCache, clip_id, discover
from .executors import ExecutorStats, make_executor
from .store import (REPORT_NAME, DoneRecord, SummaryRow, clear_job_dir, lock_out_dir,
                    params_hash, read_record, to_jsonable, write_files, write_record,
                    write_summary)
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
    options: dict                    # analyze() keyword arguments as given
    phash: str
    normalized: dict = field(default_factory=dict)   # with defaults filled in (recorded)
    rows: List[SummaryRow] = field(default_factory=list)
    paths: List[Path] = field(default_factory=list)


def _analyze_parameters() -> Dict[str, inspect.Parameter]:
    from ..pipeline import analyze
    return {n: p for n, p in inspect.signature(analyze).parameters.items()
            if n not in ("path", "progress")}


def _normalized(options: dict, params: Dict[str, inspect.Parameter]) -> dict:
    """Options with every default filled in, so `--detector motion` and the default
    hash alike."""
    out = {n: p.default for n, p in params.items()}
    out.update(options)
    return out


def _validate(options: dict, params: Dict[str, inspect.Parameter], claims: List[str]) -> None:
    """Check what the user typed before any clip runs: a bad --line would otherwise
    fail every row with the same message."""
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise ConvoyCountError(f"unknown analyze option(s) {', '.join(unknown)}; "
                               f"known: {', '.join(sorted(params))}")
    from ..pipeline import check_options
    try:
        check_options(**{k: options.get(k) for k in (
            "line", "claim", "claim_basis", "start_s", "end_s", "speedup", "real_duration_s")},
                      stride=options.get("stride", 1))
    except ValueError as e:          # Line.parse raises a plain ValueError
        raise ConvoyCountError(str(e)) from None
    _validate_claims(claims)
    from .. import detect
    detect.create(options.get("detector", params["detector"].default),
                  **{k: options.get(k) for k in ("model", "conf", "imgsz", "device", "classes")})


def _validate_claims(texts: List[str]) -> None:
    from ..claims import parse
    for text in sorted(set(texts)):
        parse(text)


def _clean_stale_temp_files(out_dir: Path) -> None:
    """Temporary files of atomic writes that a killed run left behind."""
    for pattern in (".summary.*", ".hashes.*.json"):
        for p in out_dir.glob(pattern):
            p.unlink(missing_ok=True)


def run_batch(input_dir, out_dir, *, jobs: Optional[int] = None, claims=None,
              glob: Optional[str] = None, recursive: bool = False,
              timeout_s: Optional[float] = None, evidence: bool = False,
              executor: str = "local", address: Optional[str] = None,
              progress: Optional[Callable[[BatchProgress], None]] = None,
              threads_per_worker: Optional[int] = None, ship_inputs: bool = False,
              command_line: Optional[str] = None, **analyze_options) -> BatchSummary:
    """Analyse every video under `input_dir`; write per-clip results and a summary to
    `out_dir`; return the summary.

    `jobs`: clips analysed at once (default: CPU count; with Ray: the cluster's CPUs).
    `claims`: a CSV (columns `file` or `sha256`, and `claim`, optional `claim_basis`)
    giving clips their own claim. `timeout_s`: per clip; the analysis is killed past
    it. `threads_per_worker`: cap each clip's library thread pools (default: 1 when
    jobs > 1, else the libraries' own default). `ship_inputs` (Ray): send input bytes
    to the workers instead of reading the paths there. `analyze_options` are
    `convoycount.pipeline.analyze`'s keyword arguments (detector, line, speedup, ...)."""
    t0 = time.perf_counter()
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
    if jobs is None:
        jobs = (os.cpu_count() or 1) if executor == "local" else None
    elif jobs < 1:
        raise ConvoyCountError(f"--jobs must be at least 1, got {jobs}")
    if timeout_s is not None and not timeout_s > 0:
        raise ConvoyCountError(f"--timeout must be a positive number of seconds, got {timeout_s}")
    if threads_per_worker is None and (jobs or 2) > 1:
        threads_per_worker = 1
    params = _analyze_parameters()
    base_options = dict(analyze_options)
    _validate(base_options, params, [base_options["claim"]] if base_options.get("claim") else [])

    out.mkdir(parents=True, exist_ok=True)
    lock = lock_out_dir(out)
    try:
        _clean_stale_temp_files(out)
        found = discover(src, out, glob=glob, recursive=recursive)
        cache = HashCache(out / ".hashes.json")
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

        per_file: Dict[str, ClaimRow] = {}
        if claims is not None:
            per_file = load_claims(claims, [(d.rel, d.path, r.sha256) for d, r in hashed])
            _validate_claims([c.claim for c in per_file.values() if c.claim])

        model = base_options.get("model")
        model_sha = sha256_file(model) if model and Path(model).is_file() else None
        jobs_by_id: Dict[tuple, _Job] = {}
        used_keys = set()
        for d, row in hashed:
            opts = dict(base_options)
            c = per_file.get(d.rel)
            if c is not None:
                if c.claim:
                    opts["claim"] = c.claim
                if c.claim_basis:
                    opts["claim_basis"] = c.claim_basis
            row.claim = opts.get("claim") or ""
            normalized = _normalized(opts, params)
            phash = params_hash({"tool_version": __version__, "model_sha256": model_sha,
                                 "options": normalized})
            job = jobs_by_id.get((row.sha256, phash))
            if job is None:
                # Identical bytes under a different claim need their own analysis.
                key = row.clip_id if row.clip_id not in used_keys else f"{row.clip_id}-{phash[:8]}"
                used_keys.add(key)
                job = jobs_by_id[(row.sha256, phash)] = _Job(key, row.sha256, opts, phash,
                                                                to_jsonable(normalized))
            else:
                row.duplicate_of = job.rows[0].path
            job.rows.append(row)
            job.paths.append(d.path)

        todo: List[_Job] = []
        for job in jobs_by_id.values():
            job_dir = out / job.key
            rec = read_record(job_dir)
            if rec is not None and rec.complete_for(job.sha256, job.phash, evidence, job_dir):
                for row in job.rows:
                    row.fill(rec, reused=True, report_rel=f"{job.key}/{REPORT_NAME}")
            else:
                todo.append(job)

        meta = {"tool_version": __version__, "input_dir": str(src), "out_dir": str(out),
                "executor": executor, "jobs": jobs, "timeout_s": timeout_s, "evidence": evidence,
                "options": to_jsonable(base_options),
                "claims_file": None if claims is None else str(claims)}
        write_summary(out, rows, dict(meta, finished=False))

        for job in todo:
            clear_job_dir(out / job.key)
        tasks = [ClipTask(key=job.key, path=str(job.paths[0]), sha256=job.sha256,
                          options=job.options, job_dir=str(out / job.key), evidence=evidence,
                          command_line=command_line) for job in todo]
        by_key = {job.key: job for job in todo}
        ex = make_executor(executor, jobs=jobs, timeout_s=timeout_s, threads=threads_per_worker,
                           address=address, ship_inputs=ship_inputs)
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

        elapsed = time.perf_counter() - t0
        write_summary(out, rows, dict(meta, finished=True, elapsed_s=round(elapsed, 3)))
        return BatchSummary(src, out, rows, elapsed, ex.name, jobs or 0, len(tasks), ex.stats)
    finally:
        lock.close()


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
                     params=job.normalized, tool_version=__version__)
    write_record(job_dir, rec)
    for row in job.rows:
        row.fill(rec, reused=False, report_rel=f"{job.key}/{REPORT_NAME}")
