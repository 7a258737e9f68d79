"""analyze(): one clip in, one Report out.

    frames (pts) -> Detector -> CameraEstimator -> Tracker -> LineCounter -> TimeMap
                 -> claims.judge -> Report

The camera stage (camera/) gives each frame's transform into one scene-fixed
frame; the tracker links boxes and the counter draws its line in that frame, so
a shaking or panning phone moves no vehicle across the line. A fixed camera's
transforms are exactly identity, and everything then happens in image pixels.

Every stage is built fresh for each call, so nothing leaks between clips. The
steps below each do one thing; `analyze` only wires them in order.
"""
from __future__ import annotations

import bisect
import dataclasses
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from . import detect as detect_mod
from .camera.estimate import CameraEstimator, CameraSettings
from .camera.scene import CameraReport, place_line, settle, warnings_for
from .camera.transform import IDENTITY, max_displacement
from .count import Line, LineCounter, auto_line
from .errors import ConvoyCountWarning, InputError
from .hashing import sha256_file
from .options import AnalysisOptions
from .parts import families, one_per_vehicle
from .report import Report
from .schedule import DetectionSchedule, ScheduleSettings
from .timing import TimeMap
from .track import Tracker
from .video import ClipInfo, DecodeAhead, frames, probe

PREPARE_SAMPLES = 40        # frames sampled over the clip to seed a background model


@dataclass
class _Tracked:
    """What the decode-detect-track loop hands on."""
    tracks: list
    frames: int
    span_s: tuple            # (first frame's time, end of the last frame)
    info: ClipInfo           # marked truncated if decoding stopped early
    warnings: list
    gaps: list               # video.DecodeGap: stretches lost to damaged data
    camera: CameraReport     # each frame's transform into the scene
    skipped_s: list = dataclasses.field(default_factory=list)   # frames the schedule left undetected

    @property
    def scene_tracks(self) -> list:
        """The tracks in scene pixels (what the stages that reason about motion see)."""
        return [t.in_scene() for t in self.tracks]


def analyze(path, options: Optional[AnalysisOptions] = None, *,
            progress: Optional[Callable[[float], None]] = None, **keywords) -> Report:
    """Count the distinct vehicles in a clip and judge an optional claim.

    `options` is an AnalysisOptions; keywords are its fields in flat form and
    change it (`analyze(clip, speedup=4, claim="nine vehicles in 10 seconds")`,
    `analyze(clip, detector="coco", model=..., line="0.5,0,0.5,1")`). `line` is
    "x1,y1,x2,y2" in 0..1 (or a Line); None picks one across the dominant flow.
    `speedup` K means the clip plays K times faster than reality ("auto" estimates
    K with an interval); `real_duration_s` says how long the filmed event really
    lasted. `stride` N detects on every Nth frame only (every time stays the
    frame's own timestamp, and the tracker works in seconds, so nothing is
    re-timed). `progress` is called with the fraction of the clip done."""
    t0 = time.perf_counter()
    options = options or AnalysisOptions()
    if keywords:
        options = options.replace(**keywords)
    p = Path(path)
    info = probe(p, max_pixels=options.max_pixels, max_duration_s=options.max_duration_s)
    det = detect_mod.create(options.detector)
    signatures = _signature_log(options)
    seen = _detect_and_track(p, info, det, options, progress,
                             on_frame=None if signatures is None else signatures.add)
    scene_tracks = seen.scene_tracks
    integrity = _check_integrity(signatures, seen, scene_tracks)
    line = options.line or auto_line(scene_tracks, seen.camera.width, seen.camera.height)
    # Tracks that are one vehicle (pieces, halves) count once: a relation within each
    # frame, so image boxes serve whether or not the camera moved.
    family = families(seen.tracks)
    events = one_per_vehicle(_count(options, seen, line, integrity), family)
    tmap = _time_map(options, seen.span_s[1] - seen.span_s[0], path=p, info=seen.info,
                     tracks=scene_tracks)
    events = [dataclasses.replace(e, real_time_s=tmap.to_real(e.clip_time_s)) for e in events]
    # Stable = seen in stable_min_frames frames; with a stride it is seen in 1/N of them.
    stable = sum(1 for t in scene_tracks
                 if is_stable(t, -(-options.stable_min_frames // options.stride), seen.skipped_s))
    repeats = _repeats(events, integrity)
    result = _judge_claim(options, events, tmap, seen.span_s, stable, det, repeats)
    return Report(input_path=str(path), input_sha256=sha256_file(p),
                  input_bytes=os.path.getsize(p), probe=seen.info,
                  params=_params(options, line, det), detector=det.info, line=line,
                  time_map=tmap, events=events, stable_tracks=stable, span_s=seen.span_s,
                  frames_processed=seen.frames,
                  frames_detected=seen.frames - len(seen.skipped_s), elapsed_s=time.perf_counter() - t0,
                  claim=result, warnings=seen.warnings, tracks=seen.tracks,
                  integrity=integrity, repeat_of=repeats, gaps=seen.gaps, camera=seen.camera,
                  families=family)


def _count(options: AnalysisOptions, seen: _Tracked, line: Line, integrity) -> list:
    """Crossings of the line where it lies in the scene, counted only in the shot and
    registration segment that hold it and while it was in view (camera/scene.py)."""
    cam = seen.camera
    if not cam.compensated:
        counter = LineCounter(line, cam.width, cam.height, options.counter)
        return counter.count(seen.tracks)
    cuts = [f.start_s for f in integrity.findings if f.kind == "cut"]
    at = options.line_at_s if options.line is not None else None
    place = place_line(cam.steps, line.to_pixels(cam.width, cam.height), at, cuts,
                       seen.span_s[1], cam.width, cam.height)
    cam.placement = place
    for msg in warnings_for(place, seen.span_s):
        seen.warnings.append(msg)
        warnings.warn(msg, ConvoyCountWarning, stacklevel=3)
    counter = LineCounter(line, cam.width, cam.height, options.counter, scene_px=place.line_px)
    lo, hi = place.counted_s
    shown = [t for t in (tr.between(lo, hi) for tr in seen.tracks) if t is not None]
    return [e for e in counter.count(shown) if place.counts_at(e.clip_time_s)]


def _detect_and_track(p: Path, info: ClipInfo, det, options: AnalysisOptions,
                      progress, on_frame=None) -> _Tracked:
    """Decode the requested range, detect on every stride-th frame, track.
    `on_frame(frame)` sees every frame handed to the detector (integrity signatures).

    Frames lost to damaged data are skipped by the reader and handed on as gaps; the
    tracker sees the real timestamps on both sides of a gap, so it follows no vehicle
    across one longer than `lost_track_s` and no crossing is made up inside it."""
    if info.frames == 1:
        raise InputError(f"{p}: only one frame: nothing can move across a line")
    start_s, end_s = options.start_s, options.end_s
    lo = info.start_time_s if start_s is None else max(start_s, info.start_time_s)
    hi = info.start_time_s + info.duration_s if end_s is None else end_s
    det.prepare(prepare_frames(p, info, start_s, end_s))
    estimator = CameraEstimator() if options.camera else None
    # Decoded in a thread ahead of the detector: the two overlap on two cores.
    reader = DecodeAhead(frames(p, start_s=start_s, end_s=end_s, stride=options.stride,
                                max_pixels=options.max_pixels))
    schedule = _schedule(options, det, info)
    found, size = _look(reader, det, estimator, schedule, on_frame,
                        None if progress is None or hi <= lo else lambda t: progress(min(1.0, (t - lo) / (hi - lo))))
    n, first_t = len(found), found[0].time_s if found else None
    if n == 0:
        raise InputError(f"{p}: no frames could be decoded in the requested range")
    warn = list(info.warnings)
    # The last frame decoded in range, even if the stride skipped it.
    last_t = reader.last_time_s
    if reader.truncated:
        why = f" ({reader.error})" if reader.error else ""
        msg = f"decoding stopped early at {last_t:.3f} s{why}; counted up to there"
        warn.append(msg)
        warnings.warn(msg, ConvoyCountWarning, stacklevel=3)
        info = dataclasses.replace(info, truncated=True)
    # The reader's own "stopped early" line says the same as ours, without the time.
    warn.extend(w for w in reader.warnings
                if w not in warn and not w.startswith("decoding stopped early"))
    # The footage ends one frame interval past its last frame.
    span = (first_t, last_t + (info.duration_s / max(1, info.frames) if last_t != first_t else 0.0))
    camera = CameraReport(estimator is not None, *size,
                          steps=settle(estimator.steps, *size) if estimator is not None else [])
    skipped = schedule.skipped_s if schedule is not None else []
    return _Tracked(_track(found, camera.steps, options), n + len(skipped), span, info, warn,
                    reader.gaps, camera, skipped)


def _schedule(options: AnalysisOptions, det, info: ClipInfo) -> Optional[DetectionSchedule]:
    """The adaptive detection stride (schedule.py), for a learned detector on every frame:
    a background model (motion) must see every frame, and a given --stride is kept as asked."""
    if not options.adaptive_stride or options.stride != 1 or det.info.name == "motion":
        return None
    # A line placed at a later time (--line-at) lies elsewhere in the scene: every frame.
    given = options.line is not None and options.line_at_s is None
    line = options.line.to_pixels(info.width, info.height) if given else None
    # Whether a still-looking camera's transforms are kept is known only at the end
    # (camera/scene.settle): positions may be off by up to its still threshold.
    settings = CameraSettings()
    slack = max(settings.still_min_px, settings.still_frac * float(np.hypot(info.width, info.height))) \
        if options.camera else 0.0
    return DetectionSchedule(None if line is None else (line[:2], line[2:]), info.width, info.height,
                             slack,
                             ScheduleSettings(min_hits=options.tracker.min_hits,
                                              heading_diag=options.tracker.heading_min_move_diag,
                                              margin_frac=options.counter.margin_frac,
                                              margin_min_px=options.counter.margin_min_px))


def _look(reader, det, estimator, schedule, on_frame, progress) -> tuple:
    """Detect (and register) the decoded frames the schedule asks for: ([Detections],
    (width, height) of the last frame). `on_frame` and `progress(time)` see every frame."""
    if schedule is None and estimator is None:
        return _look_every(reader, det, lambda frame, dets: None, on_frame, progress)
    if schedule is None:
        with _CameraBehind(estimator) as camera:
            return _look_every(reader, det, camera.update, on_frame, progress)
    found, size, step = [], None, None
    for frame in reader:
        if on_frame is not None:
            on_frame(frame)
        size = (frame.image.shape[1], frame.image.shape[0])
        if schedule is None or schedule.needed(frame.time_s, _near_start(step, *size)):
            dets = det.detect(frame)
            step = estimator.update(frame, dets) if estimator is not None else None
            if schedule is not None:
                schedule.observe(dets, None if step is None else _moved(step.to_scene, *size))
            found.append(dets)
        if progress is not None:
            progress(frame.time_s)
    return found, size


def _look_every(reader, det, register, on_frame, progress) -> tuple:
    """_look without a schedule: every frame is detected, then handed to `register`. A
    detector that can work ahead over a stream of frames (`detect_all`, the motion
    detector) is given the stream."""
    def seen(frames):
        for frame in frames:
            if on_frame is not None:
                on_frame(frame)
            yield frame
    stream = det.detect_all(seen(reader)) if hasattr(det, "detect_all") else \
        ((frame, det.detect(frame)) for frame in seen(reader))
    found, size = [], None
    for frame, dets in stream:
        size = (frame.image.shape[1], frame.image.shape[0])
        register(frame, dets)
        found.append(dets)
        if progress is not None:
            progress(frame.time_s)
    return found, size


class _CameraBehind:
    """The camera stage one frame behind the detector, in a thread of its own: with no
    schedule nothing in the loop waits for a frame's transform (the tracker reads them all
    after it), so registering frame i (OpenCV, which releases the GIL) overlaps detecting
    frame i+1 on the other core. Frames reach the estimator in order, one at a time, so
    its steps are exactly those of calling it in the loop; at most one frame waits. An
    error in the estimator is raised in the loop, at the next frame or at the end."""

    def __init__(self, estimator: CameraEstimator):
        from concurrent.futures import ThreadPoolExecutor
        self._estimator = estimator
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="convoycount-camera")
        self._pending = None

    def update(self, frame, dets) -> None:
        self._wait()
        self._pending = self._pool.submit(self._estimator.update, frame, dets)

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def __enter__(self) -> "_CameraBehind":
        return self

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None:
                self._wait()            # the last frame's step is in estimator.steps
        finally:
            self._pool.shutdown(wait=True)


def _moved(to_scene, width: int, height: int, settings: CameraSettings = CameraSettings()):
    """`to_scene` if it moves the picture more than camera/scene.settle's still threshold
    (the tracker then works in the scene), else None (the frame's own pixels)."""
    limit = max(settings.still_min_px, settings.still_frac * float(np.hypot(width, height)))
    return to_scene if max_displacement(to_scene, width, height) > limit else None


def _near_start(step, width: int, height: int, settings: CameraSettings = CameraSettings()) -> bool:
    """Is the camera, at the last look, still in the first segment and within one
    keyframe's reach (CameraSettings.rekey_shift_frac) of the first frame, where the given
    line lies? (No camera stage: the frame is the scene.) A frame the camera stage could not
    register keeps the last transform for the tracker too, so the schedule's positions are
    still the tracker's."""
    if step is None:
        return True
    return step.segment == 0 and max_displacement(step.to_scene, width, height) <= settings.rekey_shift_frac * width


def _track(found: list, steps: list, options: AnalysisOptions) -> list:
    """Link the detections in the scene (after the decode loop: whether a camera was
    fixed is known only once all its frames were registered). Every track ends where
    the camera's motion was lost: positions on the two sides cannot be compared."""
    tracker = Tracker(options.tracker)
    for i, dets in enumerate(found):
        step = steps[i] if steps else None
        if step is not None and i and step.segment != steps[i - 1].segment:
            tracker.end_all()
        moved = step is not None and step.to_scene is not IDENTITY
        tracker.update(dets, step.to_scene if moved else None)
    return tracker.tracks()


def prepare_frames(p: Path, info: ClipInfo, start_s: Optional[float], end_s: Optional[float]):
    """About PREPARE_SAMPLES frames spread over the analysed range, to seed a
    background model. The stride comes from the frames *in the range*: from the whole
    clip, a short range of a long clip would give the model one or two frames."""
    lo = info.start_time_s if start_s is None else max(start_s, info.start_time_s)
    hi = info.start_time_s + info.duration_s if end_s is None else min(
        end_s, info.start_time_s + info.duration_s)
    share = (hi - lo) / info.duration_s if info.duration_s > 0 else 1.0
    in_range = info.frames * min(1.0, max(0.0, share))
    return frames(p, start_s=start_s, end_s=end_s,
                  stride=max(1, int(in_range // PREPARE_SAMPLES)))


def is_stable(track, min_frames: int, skipped_s: Sequence[float] = ()) -> bool:
    """A distinct vehicle seen long enough: in >= min_frames frames, and it moved at
    least its own size (a motion detector's ghost, where a parked vehicle left,
    never moves). Frames the adaptive stride left undetected within the track's span
    (`skipped_s`, sorted) count as seen: they were left out because it was predictable."""
    obs = track.observations
    inside = bisect.bisect_right(skipped_s, obs[-1].time_s) - bisect.bisect_left(skipped_s, obs[0].time_s)
    if len(obs) + inside < min_frames:
        return False
    c0 = np.asarray(obs[0].center)
    reach = max(float(np.linalg.norm(np.asarray(o.center) - c0)) for o in obs)
    size = float(np.median([np.hypot(o.box[2] - o.box[0], o.box[3] - o.box[1]) for o in obs]))
    return reach >= size


def _time_map(options: AnalysisOptions, span_s: float, *, path, info, tracks) -> TimeMap:
    if options.speedup == "auto":
        # Estimated from evidence in the clip (vehicle kinematics, metadata, clocks).
        from .retime import estimate_time_map
        return estimate_time_map(path, info, tracks, span_s)
    if options.speedup is not None:
        return TimeMap.given(float(options.speedup))
    if options.real_duration_s is not None:
        return TimeMap.from_real_duration(float(options.real_duration_s), span_s)
    return TimeMap.unknown()


def _signature_log(options: AnalysisOptions):
    """Where the decode loop leaves each frame's integrity signature (None: skipped)."""
    if not options.integrity:
        return None
    from .integrity import SignatureLog
    return SignatureLog()


def _check_integrity(signatures, seen: _Tracked, scene_tracks: list):
    """Signs of editing, from the signatures and the tracks in the scene (see integrity/)."""
    from .integrity import IntegrityReport, check
    if signatures is None:
        return IntegrityReport(checked=False)
    return check(signatures, scene_tracks, (seen.info.width, seen.info.height))


def _repeats(events, integrity) -> dict:
    """{track id of a crossing that replays footage: track id of the crossing it repeats}."""
    from .integrity.distinct import repeat_map
    return repeat_map(events, integrity.findings)


def _judge_claim(options: AnalysisOptions, events, tmap: TimeMap, span: tuple, stable: int, det,
                 repeats: Optional[dict] = None):
    """Judged on distinct vehicles: crossings that replay footage (a loop) are left out,
    and so is the stable-track count, which every seam of an edit splits and inflates."""
    if options.parsed_claim is None:
        return None
    from .claims import judge
    repeats = repeats or {}
    distinct = [e for e in events if e.track_id not in repeats]
    result = judge(options.parsed_claim, distinct, tmap, clip_span_s=span,
                   count_total=len(distinct), stable_tracks=len(distinct) if repeats else stable,
                   basis=options.claim_basis, detector_classes=det.info.classes)
    if repeats:
        result = dataclasses.replace(result, reason=(
            f"{result.reason} Judged on {len(distinct)} distinct vehicles: {len(repeats)} of the "
            f"{len(events)} crossings replay earlier footage (see integrity) and are counted once."))
    return result


def _params(options: AnalysisOptions, line: Line, det) -> dict:
    """What was asked, as checked, with the line actually used (it may be automatic)."""
    params = options.params()
    params["line"] = line.to_dict()
    if hasattr(det, "settings") and dataclasses.is_dataclass(det.settings):
        params["detector_settings"] = dataclasses.asdict(det.settings)
    return params


def estimate_speedup(path) -> TimeMap:
    """The time map `--speedup auto` estimates for a clip (for `retime`)."""
    return analyze(path, speedup="auto").time_map
