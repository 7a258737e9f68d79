"""analyze(): one clip in, one Report out.

    frames (pts) -> Detector -> Tracker -> LineCounter -> TimeMap -> claims.judge -> Report

Every stage is built fresh for each call, so nothing leaks between clips.
"""
from __future__ import annotations

import dataclasses
import os
import time
import warnings
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from . import detect as detect_mod
from .count import CounterSettings, Line, LineCounter, auto_line
from .errors import ConvoyCountError, ConvoyCountWarning, InputError
from .hashing import sha256_file
from .report import Report
from .timing import TimeMap
from .track import Tracker, TrackerSettings
from .video import check_stride, frames, probe

PREPARE_SAMPLES = 40        # frames sampled over the clip to seed a background model


def check_options(*, line=None, claim=None, claim_basis=None, start_s=None, end_s=None,
                  speedup=None, real_duration_s=None, stride=1) -> tuple:
    """Parse and check everything a user typed, before any expensive work (also used
    by batch to fail before the first clip). Returns (Line|None, Claim|None, speedup)."""
    if isinstance(line, str):
        line = Line.parse(line)
    parsed_claim = None
    if claim is not None:
        from .claims import parse as parse_claim
        parsed_claim = parse_claim(claim)
    if claim_basis not in (None, "clip", "real"):
        raise ConvoyCountError(f"--claim-basis must be clip or real, got {claim_basis!r}")
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise ConvoyCountError(f"--end ({end_s}) must be after --start ({start_s})")
    if speedup is not None and real_duration_s is not None:
        raise ConvoyCountError("give either --speedup or --real-duration, not both")
    check_stride(stride)
    if real_duration_s is not None and not float(real_duration_s) > 0:
        raise ConvoyCountError(f"--real-duration must be a positive number of seconds, got {real_duration_s}")
    return line, parsed_claim, _parse_speedup(speedup)


def is_stable(track, min_frames: int) -> bool:
    """A distinct vehicle seen long enough: in >= min_frames frames, and it moved at
    least its own size (a motion detector's ghost, where a parked vehicle left,
    never moves)."""
    obs = track.observations
    if len(obs) < min_frames:
        return False
    c0 = np.asarray(obs[0].center)
    reach = max(float(np.linalg.norm(np.asarray(o.center) - c0)) for o in obs)
    size = float(np.median([np.hypot(o.box[2] - o.box[0], o.box[3] - o.box[1]) for o in obs]))
    return reach >= size


def _parse_speedup(speedup) -> Optional[float | str]:
    """A positive number, "auto" (estimate it), or None."""
    if speedup is None or speedup == "auto":
        return speedup
    try:
        k = float(speedup)
    except (TypeError, ValueError):
        k = float("nan")
    if not (0 < k < float("inf")):
        raise ConvoyCountError(f"--speedup must be a positive number or 'auto', got {speedup!r}")
    return k


def _time_map(speedup, real_duration_s, span_s, *, path, info, tracks) -> TimeMap:
    if speedup == "auto":
        # Estimated from evidence in the clip (vehicle kinematics, metadata, clocks).
        from .retime import estimate_time_map
        return estimate_time_map(path, info, tracks, span_s)
    if speedup is not None:
        return TimeMap.given(float(speedup))
    if real_duration_s is not None:
        return TimeMap.from_real_duration(float(real_duration_s), span_s)
    return TimeMap.unknown()


def analyze(path, *, detector: str = "motion", model: Optional[str] = None,
            conf: Optional[float] = None, imgsz: Optional[int] = None,
            device: Optional[str] = None, classes: Optional[tuple] = None,
            stride: int = 1, line: Optional[str | Line] = None,
            speedup: Optional[float | str] = None, real_duration_s: Optional[float] = None,
            claim: Optional[str] = None, claim_basis: Optional[str] = None,
            start_s: Optional[float] = None, end_s: Optional[float] = None,
            tracker_settings: TrackerSettings = TrackerSettings(),
            counter_settings: CounterSettings = CounterSettings(),
            stable_min_frames: int = 5,
            progress: Optional[Callable[[float], None]] = None) -> Report:
    """Count the distinct vehicles in a clip and judge an optional claim.

    `line` is "x1,y1,x2,y2" in 0..1 (or a Line); None picks one across the
    dominant flow. `speedup` K means the clip plays K times faster than reality
    ("auto" estimates K with an interval);
    `real_duration_s` says how long the filmed event really lasted. `stride` N
    detects on every Nth frame only (N times fewer detector calls; every time stays
    the frame's own timestamp, and the tracker works in seconds, so nothing is
    re-timed; a vehicle must stay in view for a few detected frames). `progress`
    is called with the fraction of the clip done."""
    t0 = time.perf_counter()
    p = Path(path)
    line, parsed_claim, speedup = check_options(
        line=line, claim=claim, claim_basis=claim_basis, start_s=start_s, end_s=end_s,
        speedup=speedup, real_duration_s=real_duration_s, stride=stride)

    info = probe(p)
    det = detect_mod.create(detector, model=model, conf=conf, imgsz=imgsz, device=device,
                            classes=classes)
    warn = list(info.warnings)

    lo = info.start_time_s if start_s is None else max(start_s, info.start_time_s)
    hi = info.start_time_s + info.duration_s if end_s is None else end_s
    if hasattr(det, "prepare"):
        det.prepare(frames(p, start_s=start_s, end_s=end_s,
                           stride=max(1, info.frames // PREPARE_SAMPLES)))

    tracker = Tracker(tracker_settings)
    reader = frames(p, start_s=start_s, end_s=end_s, stride=stride)
    n = 0
    first_t = None
    for frame in reader:
        tracker.update(det.detect(frame))
        n += 1
        first_t = frame.time_s if first_t is None else first_t
        if progress is not None and hi > lo:
            progress(min(1.0, (frame.time_s - lo) / (hi - lo)))
    if n == 0:
        raise InputError(f"{p}: no frames could be decoded in the requested range")
    # The last frame decoded in range, even if the stride skipped it.
    last_t = reader.last_time_s
    if reader.truncated:
        msg = f"decoding stopped early at {last_t:.3f} s ({reader.error}); counted up to there"
        warn.append(msg)
        warnings.warn(msg, ConvoyCountWarning, stacklevel=2)
        info = dataclasses.replace(info, truncated=True)
    warn.extend(w for w in reader.warnings if w not in warn)

    tracks = tracker.tracks()
    if line is None:
        line = auto_line(tracks, info.width, info.height)
    counter = LineCounter(line, info.width, info.height, counter_settings)
    # The footage ends one frame interval past its last frame.
    span = (first_t, last_t + (info.duration_s / max(1, info.frames) if last_t != first_t else 0.0))
    tmap = _time_map(speedup, real_duration_s, span[1] - span[0], path=p, info=info, tracks=tracks)
    events = [dataclasses.replace(e, real_time_s=tmap.to_real(e.clip_time_s))
              for e in counter.count(tracks)]
    # Stable = seen in stable_min_frames frames; with a stride it is seen in 1/N of them.
    stable = sum(1 for t in tracks if is_stable(t, -(-stable_min_frames // stride)))

    result = None
    if parsed_claim is not None:
        from .claims import judge
        result = judge(parsed_claim, events, tmap, clip_span_s=span, count_total=len(events),
                       stable_tracks=stable, basis=claim_basis,
                       class_aware=det.info.classes != ("vehicle",))

    params = {"detector": detector, "model": model, "conf": conf, "imgsz": imgsz,
              "device": device, "classes": list(classes) if classes else None, "stride": stride,
              "line": line.to_dict(), "speedup": speedup, "real_duration_s": real_duration_s,
              "claim": claim, "claim_basis": claim_basis, "start_s": start_s, "end_s": end_s,
              "tracker": dataclasses.asdict(tracker_settings),
              "counter": dataclasses.asdict(counter_settings),
              "stable_min_frames": stable_min_frames}
    if hasattr(det, "settings") and dataclasses.is_dataclass(det.settings):
        params["detector_settings"] = dataclasses.asdict(det.settings)
    return Report(input_path=str(path), input_sha256=sha256_file(p),
                  input_bytes=os.path.getsize(p), probe=info, params=params,
                  detector=det.info, line=line, time_map=tmap, events=events,
                  stable_tracks=stable, span_s=span, frames_processed=n,
                  elapsed_s=time.perf_counter() - t0, claim=result, warnings=warn,
                  tracks=tracks)
