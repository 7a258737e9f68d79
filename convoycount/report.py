"""Report: everything one analysis found, and its JSON / CSV forms.

JSON keys are a contract (later versions add keys, never rename them):
input.path, input.sha256, probe, params, tool.version, detector.name,
time_map.speedup/source/interval, count.total/by_direction/by_class/stable_tracks,
events[] (track_id, clip_time_s, real_time_s, direction, class, confidence),
claim.text/parsed/basis/observed/verdict/by_basis, count.distinct,
integrity.checked/frames/findings/notes, claim.parts, decode_gaps, camera.
"""
# count.distinct: crossings of distinct vehicles (a crossing that replays footage counts
# once); a replayed crossing's event also has repeat_of (the track id it repeats);
# integrity.findings[]: {kind, start_s, end_s, detail, confidence[, source_start_s,
# source_end_s]} (see integrity/findings.py).
# claim.parts: the number and the class judged apart ({count: {verdict, observed, basis},
# class: {status, reason, candidate_classes}}); decode_gaps[]: stretches lost to damaged
# data ({start_s, end_s, packets_lost, reason}).
from __future__ import annotations

import csv
import io
import json
import platform
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Optional

from . import __version__
from .count import DIRECTIONS, CrossingEvent, Line
from .detect.base import DetectorInfo
from .io import write_text
from .timing import TimeMap
from .video import ClipInfo, printable_path

CSV_COLUMNS = ("track_id", "clip_time_s", "real_time_s", "direction", "class", "confidence",
               "frame_index", "x", "y", "continues_track", "also_tracks")


def tool_info() -> dict:
    """Versions that make a result reproducible (provenance)."""
    import importlib.metadata as md
    versions = {}
    for pkg in ("av", "numpy", "opencv-python", "onnxruntime", "ultralytics", "torch"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return {"name": "convoycount", "version": __version__, "python": platform.python_version(),
            "packages": versions}


@dataclass
class Report:
    input_path: str
    input_sha256: str
    input_bytes: int
    probe: ClipInfo
    params: dict
    detector: DetectorInfo
    line: Line
    time_map: TimeMap
    events: list                          # [CrossingEvent] in time order
    stable_tracks: int
    span_s: tuple                         # (first, last) clip time analysed
    frames_processed: int
    elapsed_s: float
    claim: Any = None                     # claims.ClaimResult or None
    warnings: list = field(default_factory=list)
    tracks: list = field(default_factory=list, repr=False)   # [Track]; for evidence, not JSON
    tool: dict = field(default_factory=tool_info)
    integrity: Any = None                 # integrity.IntegrityReport or None
    repeat_of: dict = field(default_factory=dict)   # {track id of a replayed crossing: original}
    gaps: list = field(default_factory=list)   # [video.DecodeGap]: frames lost to damage
    families: dict = field(default_factory=dict)   # {track id: family id}: tracks of one vehicle (parts.py)
    camera: Any = None                    # camera.scene.CameraReport or None
    frames_detected: Optional[int] = None  # frames the detector ran on (the adaptive stride
                                           # skips predictable ones; None: every processed one)

    @property
    def total(self) -> int:
        return len(self.events)

    @property
    def distinct(self) -> int:
        """Crossings of distinct vehicles: a crossing that replays footage counts once."""
        return sum(1 for e in self.events if e.track_id not in self.repeat_of)

    def _event_dict(self, e) -> dict:
        d = e.to_dict()
        if e.track_id in self.repeat_of:
            d["repeat_of"] = self.repeat_of[e.track_id]
        if e.track_id in self.families:
            # the other tracks of this vehicle (pieces, halves): counted once, here
            fam = self.families[e.track_id]
            d["same_vehicle_tracks"] = sorted(t for t, f in self.families.items() if f == fam)
        return d

    def by_direction(self) -> dict:
        c = Counter(e.direction for e in self.events)
        return {d: c[d] for d in DIRECTIONS if c[d]}

    def by_class(self) -> dict:
        return dict(sorted(Counter(e.class_name for e in self.events).items()))

    def to_dict(self) -> dict:
        return {
            "input": {"path": printable_path(self.input_path), "sha256": self.input_sha256,
                      "bytes": self.input_bytes},
            "probe": self.probe.to_dict(),
            "params": self.params,
            "tool": self.tool,
            "detector": self.detector.to_dict(),
            "line": self.line.to_dict(),
            "time_map": self.time_map.to_dict(),
            "count": {"total": self.total, "distinct": self.distinct,
                      "by_direction": self.by_direction(),
                      "by_class": self.by_class(), "stable_tracks": self.stable_tracks},
            "events": [self._event_dict(e) for e in self.events],
            "claim": None if self.claim is None else self.claim.to_dict(),
            "analysis": {"span_s": [round(self.span_s[0], 4), round(self.span_s[1], 4)],
                         "frames_processed": self.frames_processed,
                         "frames_detected": self.frames_detected,
                         "elapsed_s": round(self.elapsed_s, 3),
                         "fps": round(self.frames_processed / self.elapsed_s, 2)
                         if self.elapsed_s > 0 else None},
            "warnings": list(self.warnings),
            "integrity": None if self.integrity is None else self.integrity.to_dict(),
            # stretches lost to damaged data: start_s, end_s, packets_lost, reason
            "decode_gaps": [g.to_dict() for g in self.gaps],
            # camera motion (max shift, pan, zoom) and, when it moved or the clip has cuts,
            # the shots, the span counted and the spans the line was in view
            "camera": None if self.camera is None else self.camera.to_dict(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(CSV_COLUMNS)
        for e in self.events:
            w.writerow([e.track_id, f"{e.clip_time_s:.4f}",
                        "" if e.real_time_s is None else f"{e.real_time_s:.4f}",
                        e.direction, e.class_name, f"{e.confidence:.4f}", e.frame_index,
                        f"{e.point[0]:.1f}", f"{e.point[1]:.1f}",
                        "" if e.continues_track is None else e.continues_track,
                        " ".join(map(str, e.also_tracks))])
        return buf.getvalue()

    def write_json(self, path) -> None:
        write_text(path, self.to_json())

    def write_csv(self, path) -> None:
        write_text(path, self.to_csv())

    def summary(self) -> str:
        """A few lines for the terminal."""
        p = self.probe
        lines = [f"{self.input_path}: {p.width}x{p.height} {p.codec}, {p.duration_s:.2f} s, "
                 f"{p.frames} frames, {p.fps_measured:.3f} fps measured"
                 + (" (VFR)" if p.vfr else "") + (" TRUNCATED" if p.truncated else "")]
        dirs = ", ".join(f"{k} {v}" for k, v in self.by_direction().items()) or "none"
        lines.append(f"counted {self.total} vehicles crossing the line ({dirs}); "
                     f"{self.stable_tracks} distinct vehicles tracked; detector {self.detector.name}")
        if self.detector.fallback_reason:
            lines.append(f"detector: {self.detector.fallback_reason}")
        tm = self.time_map
        if tm.known:
            iv = f" [{tm.interval[0]:.2f}..{tm.interval[1]:.2f}]" if tm.interval else ""
            lines.append(f"time map: clip plays x{tm.speedup:.2f}{iv} faster than real ({tm.source})")
        else:
            lines.append("time map: speed-up unknown (give --speedup or --real-duration)")
        if self.distinct != self.total:
            lines.append(f"{self.distinct} distinct: {self.total - self.distinct} crossings replay "
                         "earlier footage")
        if self.camera is not None:
            lines.extend(self.camera.summary_lines())
        if self.integrity is not None:
            lines.extend(self.integrity.summary_lines())
        if self.claim is not None:
            lines.append(f"claim {self.claim.text!r}: {self.claim.verdict.upper()} on the "
                         f"{self.claim.basis} basis. {self.claim.reason}")
        for w in self.warnings:
            lines.append(f"warning: {w}")
        return "\n".join(lines)
