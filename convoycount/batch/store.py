"""What a batch leaves in OUT, and how a later run reads it back.

    OUT/<clip-id>/report.json    the clip's report (written by the worker)
    OUT/<clip-id>/...            evidence files (--evidence)
    OUT/<clip-id>/done.json      the completion record, written LAST, atomically
    OUT/summary.csv, summary.json  one row per discovered file, rebuilt from the records

A clip is complete only if its done.json exists and names the same input SHA-256
and parameter hash: a run killed at any moment leaves either no record (the clip
is counted again) or a whole one.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..count import DIRECTIONS
from ..io import write_json, write_text

RECORD_NAME = "done.json"
REPORT_NAME = "report.json"
RECORD_VERSION = 1

# Failures that say something about the file (a broken clip stays broken) are kept as
# complete; a timeout or a crashed worker may be the machine's fault, so a rerun
# tries those again.
RETRY_FAILURES = ("timeout", "crash")

COLUMNS = ("path", "clip_id", "sha256", "status", "outcome", "duplicate_of", "count_total",
           *DIRECTIONS, "speedup", "speedup_source", "claim", "verdict", "duration_s",
           "detector", "error", "elapsed_s", "report")
# Everything but how this run got the row (status: skipped = reused) and how long it took.
STABLE_COLUMNS = tuple(c for c in COLUMNS if c not in ("status", "elapsed_s"))
STATUSES = ("ok", "truncated", "failed", "skipped", "pending")


def params_hash(params: dict) -> str:
    """A short, stable hash of everything that changes a clip's result."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), default=_jsonable)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def to_jsonable(obj):
    """`obj` as plain JSON types (dataclasses and Lines become dicts)."""
    return json.loads(json.dumps(obj, default=_jsonable))


def _jsonable(obj):
    if dataclasses.is_dataclass(obj):
        return dataclasses.asdict(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)


@dataclass
class DoneRecord:
    """The completion record of one analysis (one clip under one parameter set)."""
    clip_id: str
    input_sha256: str
    params_hash: str
    status: str                       # ok | truncated | failed
    failure: Optional[str] = None     # None | input | error | timeout | crash
    error: Optional[str] = None       # one line
    elapsed_s: float = 0.0
    evidence: bool = False
    result: dict = field(default_factory=dict)   # the summary columns the report gave
    finished_at: float = 0.0          # time.time() when the record was written
    input_path: str = ""              # the file analysed (of several identical copies)
    params: dict = field(default_factory=dict)
    tool_version: str = ""
    version: int = RECORD_VERSION

    def complete_for(self, sha256: str, phash: str, evidence: bool, job_dir: Path) -> bool:
        if self.version != RECORD_VERSION or self.input_sha256 != sha256 or self.params_hash != phash:
            return False
        if self.failure in RETRY_FAILURES:
            return False
        if self.status != "failed":
            if evidence and not self.evidence:
                return False
            if not (job_dir / REPORT_NAME).is_file():
                return False
        return True


def read_record(job_dir: Path) -> Optional[DoneRecord]:
    try:
        data = json.loads((Path(job_dir) / RECORD_NAME).read_text(encoding="utf-8"))
        names = {f.name for f in dataclasses.fields(DoneRecord)}
        return DoneRecord(**{k: v for k, v in data.items() if k in names})
    except (OSError, ValueError, TypeError):
        return None           # missing, or not ours: not complete


def write_record(job_dir: Path, record: DoneRecord) -> None:
    record.finished_at = time.time()
    write_json(Path(job_dir) / RECORD_NAME, dataclasses.asdict(record))


def clear_job_dir(job_dir: Path) -> None:
    """Forget an earlier attempt before a new one: the record first, so that a kill in
    the middle of clearing leaves an incomplete clip, never a stale complete one."""
    job_dir = Path(job_dir)
    (job_dir / RECORD_NAME).unlink(missing_ok=True)
    if job_dir.is_dir():
        for p in job_dir.iterdir():
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
    job_dir.mkdir(parents=True, exist_ok=True)


def write_files(job_dir: Path, files: Dict[str, bytes]) -> None:
    """Outputs a remote worker sent back as bytes, each written atomically."""
    from ..io import atomic_path
    for rel, data in sorted(files.items()):
        target = Path(job_dir) / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise ValueError(f"refusing to write {rel!r} outside {job_dir}")
        with atomic_path(target) as tmp:
            tmp.write_bytes(data)


@dataclass
class SummaryRow:
    path: str                                # relative to the input folder
    clip_id: str = ""
    sha256: str = ""
    status: str = "pending"
    outcome: str = ""                        # ok | truncated | failed: the result, however obtained
    duplicate_of: str = ""
    count_total: Optional[int] = None
    by_direction: Dict[str, int] = field(default_factory=dict)
    speedup: Optional[float] = None
    speedup_source: str = ""
    claim: str = ""
    verdict: str = ""
    duration_s: Optional[float] = None
    detector: str = ""
    error: str = ""
    elapsed_s: Optional[float] = None
    report: str = ""                         # report.json relative to OUT

    def fill(self, record: DoneRecord, *, reused: bool, report_rel: str) -> None:
        r = record.result or {}
        self.status = "skipped" if reused else record.status
        self.outcome = record.status
        self.count_total = r.get("count_total")
        self.by_direction = dict(r.get("by_direction") or {})
        self.speedup = r.get("speedup")
        self.speedup_source = r.get("speedup_source") or ""
        self.verdict = r.get("verdict") or ""
        self.duration_s = r.get("duration_s")
        self.detector = r.get("detector") or ""
        self.error = record.error or ""
        self.elapsed_s = record.elapsed_s
        self.report = report_rel if record.status != "failed" else ""

    def to_dict(self) -> Dict[str, Any]:
        d = {c: getattr(self, c) for c in COLUMNS if hasattr(self, c)}
        failed = self.outcome == "failed"
        for direction in DIRECTIONS:
            d[direction] = None if (self.count_total is None or failed) else \
                self.by_direction.get(direction, 0)
        return {c: d[c] for c in COLUMNS}


def _csv_cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4f}".rstrip("0").rstrip(".") if v == v else "nan"
    return " ".join(str(v).split())          # one line per row, whatever a message holds


def summary_csv(rows: List[SummaryRow]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for row in rows:
        d = row.to_dict()
        w.writerow([_csv_cell(d[c]) for c in COLUMNS])
    return buf.getvalue()


def write_summary(out_dir: Path, rows: List[SummaryRow], meta: dict) -> None:
    """summary.json first, then summary.csv; each atomic."""
    totals = {s: sum(1 for r in rows if r.status == s) for s in STATUSES}
    doc = dict(meta)
    doc.update({"columns": list(COLUMNS), "stable_columns": list(STABLE_COLUMNS),
                "totals": totals, "rows": [r.to_dict() for r in rows]})
    write_json(Path(out_dir) / "summary.json", doc)
    write_text(Path(out_dir) / "summary.csv", summary_csv(rows))


def read_summary_csv(path) -> List[Dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def stable_view(rows: List[Dict[str, Any]]) -> List[tuple]:
    """The columns that an interrupted-and-resumed run shares with an uninterrupted one."""
    return [tuple(r[c] for c in STABLE_COLUMNS) for r in rows]


def lock_out_dir(out_dir: Path):
    """An exclusive lock on OUT for the life of the returned file object: two batch runs
    writing the same records would corrupt each other's summary. The kernel drops the
    lock when the process dies, even by SIGKILL."""
    path = Path(out_dir) / ".lock"
    fh = open(path, "a+")
    try:
        import fcntl
    except ImportError:                     # Windows: no advisory locks; carry on
        return fh
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.seek(0)
        other = fh.read().strip() or "?"
        fh.close()
        from ..errors import ConvoyCountError
        raise ConvoyCountError(f"{out_dir} is in use by another `convoycount batch` run "
                               f"(pid {other}); wait for it or choose another -o") from None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()
    return fh
