"""The annotated video: every analysed frame, at its own timestamp, with what
the pipeline saw on it.

One decode pass (`decode_pass`) re-reads exactly the frames the analysis read
(same `frames(path, start_s, end_s, stride)` call, so `Frame.index` matches
`Observation.frame_index`), hands each frame to the contact sheet, and writes
it, annotated, to the video. Frame count and timestamps are kept: each output
frame gets pts = round(time_s * 90000) in a 1/90000 time base, so a VFR clip
stays VFR and a reader can line any frame up with the input.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..errors import ConvoyCountError
from .draw import (DIRECTION_SHORT, draw_box, draw_line, draw_panel, font_scale, line_pixels,
                   track_colour)

TIME_BASE = Fraction(1, 90000)     # MPEG's 90 kHz clock: exact for 24/25/30/50/60 and NTSC rates
TRAIL_S = 1.0                      # clip seconds of past centres drawn behind each box
FLASH_S = 0.5                      # a crossing point stays marked this long


class VideoSink:
    """H.264 (yuv420p) MP4 writer that keeps the caller's timestamps.

    yuv420p needs even sizes: an odd width/height is padded by one black
    pixel at the right/bottom (never scaled, so boxes stay on their pixels)."""

    def __init__(self, path, width: int, height: int, *, crf: int = 20,
                 preset: str = "veryfast"):
        import av
        self.width, self.height = int(width), int(height)
        self.pad_w, self.pad_h = self.width % 2, self.height % 2
        self.frames = 0
        self._last_pts: Optional[int] = None
        self.nudged = 0                 # pts moved by one tick to stay strictly increasing
        self._out = av.open(str(path), mode="w", format="mp4")
        try:
            s = self._out.add_stream("libx264")
            s.width, s.height = self.width + self.pad_w, self.height + self.pad_h
            s.pix_fmt = "yuv420p"
            # Both: the muxer takes the stream's, the encoder the codec context's;
            # if either is left at its default, PyAV/x264 re-time the frames.
            s.time_base = TIME_BASE
            s.codec_context.time_base = TIME_BASE
            s.options = {"crf": str(crf), "preset": preset}
            self._stream = s
        except BaseException:
            self._out.close()
            raise

    def write(self, img: np.ndarray, time_s: float) -> None:
        import av
        import cv2
        if img.shape[0] != self.height or img.shape[1] != self.width:
            raise ConvoyCountError(f"frame size changed mid-clip: expected {self.width}x"
                                   f"{self.height}, got {img.shape[1]}x{img.shape[0]}")
        if self.pad_w or self.pad_h:
            img = cv2.copyMakeBorder(img, 0, self.pad_h, 0, self.pad_w, cv2.BORDER_CONSTANT,
                                     value=(0, 0, 0))
        pts = round(time_s / TIME_BASE)
        if self._last_pts is not None and pts <= self._last_pts:
            # Two input frames 1/90000 s apart (or sharing a timestamp): MP4 needs
            # strictly increasing pts. One tick is below anything a player shows.
            pts = self._last_pts + 1
            self.nudged += 1
        self._last_pts = pts
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")
        frame.pts = pts
        frame.time_base = TIME_BASE
        for packet in self._stream.encode(frame):
            self._out.mux(packet)
        self.frames += 1

    def close(self) -> None:
        if self._out is None:
            return
        try:
            for packet in self._stream.encode(None):
                self._out.mux(packet)
        finally:
            self._out.close()
            self._out = None

    def abort(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


@dataclass
class _TrackDraw:
    track_id: int
    class_name: str
    colour: tuple
    times: np.ndarray                # observation times, ascending
    centres: np.ndarray              # (n, 2) in scene pixels (the frame's own, camera fixed)
    counted_at: Optional[float]      # clip time of its crossing event, if counted
    boxes: np.ndarray                # (n, 4) scene boxes, for the frames between looks

    def between_looks(self, time_s: float) -> Optional[np.ndarray]:
        """Its scene box at `time_s`, drawn between two looks on a frame the detector did
        not look at (the adaptive stride, schedule.py) or missed it on: linear between the
        two looks, as the counter interpolates a crossing. None outside its looks or over
        a gap longer than TRAIL_S (there the tracker coasted, and a drawn box would claim
        more than was seen)."""
        i = int(np.searchsorted(self.times, time_s))
        if i == 0 or i >= len(self.times) or self.times[i] - self.times[i - 1] > TRAIL_S:
            return None
        t0, t1 = self.times[i - 1], self.times[i]
        frac = (time_s - t0) / (t1 - t0)
        return self.boxes[i - 1] + frac * (self.boxes[i] - self.boxes[i - 1])


class Annotator:
    """Draws one frame: counting line, confirmed boxes with ids and trails, a
    marker where a vehicle crossed, and a panel with the running count, clip
    time and real time. When the camera moved, the line, the trails and the
    crossing markers live in the scene (camera/) and are drawn where the scene
    lies in each frame; outside the shot that holds the line, no line is drawn."""

    def __init__(self, report):
        self.report = report
        p = report.probe
        self.scale = font_scale(min(p.width, p.height))     # portrait clips too
        self.line = line_pixels(report.line, p.width, p.height)
        cam = report.camera
        self.camera = cam if cam is not None and cam.follows_scene else None
        self.by_frame: dict = {}
        self.tracks: dict = {}
        counted = {e.track_id: e.clip_time_s for e in report.events}
        for tr in report.tracks:
            obs = tr.observations
            self.tracks[tr.track_id] = _TrackDraw(
                tr.track_id, tr.class_name, track_colour(tr.track_id),
                np.array([o.time_s for o in obs]), np.array([o.scene_center for o in obs]),
                counted.get(tr.track_id), np.array([o.scene for o in obs], dtype=float))
            for o in obs:
                self.by_frame.setdefault(o.frame_index, []).append((tr.track_id, o))
        self.events = sorted(report.events, key=lambda e: e.clip_time_s)
        self.event_times = [e.clip_time_s for e in self.events]
        self.total = len(self.events)
        tm = report.time_map
        self.k_text = (f"x{tm.speedup:.2f} {tm.source}" if tm.known else "speed-up unknown")
        self.time_mismatches = 0     # observations whose time differs from the re-decoded frame

    def _to_frame(self, index: int):
        """(scene -> this frame as a function of (N, 2) points, the line's pixels or None)."""
        if self.camera is None:
            return (lambda pts: np.asarray(pts, dtype=float)), self.line
        from ..camera.transform import apply
        m = self.camera.to_frame(index)
        if m is None:
            return (lambda pts: np.asarray(pts, dtype=float)), None
        return (lambda pts: apply(m, pts)), self.camera.line_in_frame(index)

    def draw(self, index: int, time_s: float, img: np.ndarray) -> np.ndarray:
        import cv2
        sc = self.scale
        th = max(2, int(round(2 * sc)))      # 2 px at least: survives 4:2:0 chroma
        to_frame, line = self._to_frame(index)
        if line is not None:
            draw_line(img, *line, thickness=th)
        seen = self.by_frame.get(index, ())
        self._draw_between_looks(img, time_s, to_frame, {tid for tid, _ in seen}, th)
        for tid, o in seen:
            if abs(o.time_s - time_s) > 1e-6:
                self.time_mismatches += 1
            td = self.tracks[tid]
            lo = bisect.bisect_left(td.times, time_s - TRAIL_S)
            hi = bisect.bisect_right(td.times, time_s)
            if hi - lo >= 2:
                pts = np.round(to_frame(td.centres[lo:hi])).astype(np.int32).reshape(-1, 1, 2)
                cv2.polylines(img, [pts], False, td.colour, th, cv2.LINE_AA)
            counted = td.counted_at is not None and td.counted_at <= time_s
            label = f"#{tid} {td.class_name}" + (" counted" if counted else "")
            draw_box(img, o.box, td.colour, label, sc, thickness=th + (1 if counted else 0))
        n = bisect.bisect_right(self.event_times, time_s)
        for e in self.events[bisect.bisect_left(self.event_times, time_s - FLASH_S):n]:
            c = tuple(int(v) for v in np.round(to_frame([e.point])[0]))
            cv2.circle(img, c, int(8 * sc) + 2, track_colour(e.track_id), th + 1, cv2.LINE_AA)
        real = self.report.time_map.to_real(time_s)
        lines = [f"counted {n} of {self.total}",
                 f"clip {time_s:.3f} s   frame {index}",
                 f"real {'?' if real is None else f'{real:.2f} s'}  ({self.k_text})"]
        by_dir: dict = {}
        for e in self.events[:n]:
            by_dir[e.direction] = by_dir.get(e.direction, 0) + 1
        if by_dir:
            lines.append("  ".join(f"{DIRECTION_SHORT.get(d, d)} {c}" for d, c in by_dir.items()))
        integrity = getattr(self.report, "integrity", None)      # edits in effect now (issue 17)
        lines += integrity.marks_at(time_s) if integrity is not None else []
        draw_panel(img, lines, 0.8 * sc)
        return img


    def _draw_between_looks(self, img, time_s: float, to_frame, drawn: set, th: int) -> None:
        """Thin boxes, labelled "between looks", for tracks not looked at on this frame:
        so a box does not blink where the detector skipped frames, and a reader can tell a
        drawn guess from a detection."""
        for tid, td in self.tracks.items():
            if tid in drawn or not td.times[0] < time_s < td.times[-1]:
                continue
            box = td.between_looks(time_s)
            if box is None:
                continue
            (x1, y1), (x2, y2) = to_frame(box.reshape(2, 2))
            draw_box(img, (x1, y1, x2, y2), td.colour, f"#{tid} between looks", self.scale,
                     thickness=max(1, th - 1))


@dataclass
class PassResult:
    frames: int = 0
    first_time_s: Optional[float] = None
    last_time_s: Optional[float] = None
    nudged_pts: int = 0
    time_mismatches: int = 0
    truncated: bool = False
    warnings: list = field(default_factory=list)


def decode_pass(report, *, video_path: Optional[Path],
                on_frame: Optional[Callable] = None, last_needed_index: int = -1,
                progress: Optional[Callable[[float], None]] = None) -> PassResult:
    """Re-decode the analysed range once. Each frame goes first to
    `on_frame(frame)` (the contact sheet takes its crops from the clean
    picture), then, annotated, to `video_path` (None: no video; decoding then
    stops after frame `last_needed_index`)."""
    from ..video import frames
    start_s, end_s = report.params.get("start_s"), report.params.get("end_s")
    lo, hi = report.span_s if report.span_s else (None, None)
    # The same frames the detector saw: with --stride N, every Nth (each still at its
    # own timestamp), so every box is drawn on the picture it was found in.
    reader = frames(report.input_path, start_s=start_s, end_s=end_s,
                    stride=report.params.get("stride") or 1)
    res = PassResult()
    sink = annot = None
    try:
        for frame in reader:
            if on_frame is not None:
                on_frame(frame)
            if video_path is None:
                if frame.index >= last_needed_index:
                    break
            else:
                if sink is None:
                    h, w = frame.image.shape[:2]
                    sink = VideoSink(video_path, w, h)
                    annot = Annotator(report)
                sink.write(annot.draw(frame.index, frame.time_s, frame.image), frame.time_s)
            res.frames += 1
            res.first_time_s = frame.time_s if res.first_time_s is None else res.first_time_s
            res.last_time_s = frame.time_s
            if progress is not None and lo is not None and hi > lo:
                progress(min(1.0, max(0.0, (frame.time_s - lo) / (hi - lo))))
        if sink is not None:
            sink.close()
            res.nudged_pts = sink.nudged
        res.time_mismatches = annot.time_mismatches if annot else 0
        res.truncated = reader.truncated
        res.warnings = list(reader.warnings)
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    finally:
        reader.close()
    if video_path is not None and res.frames == 0:
        raise ConvoyCountError(f"{report.input_path}: no frames decoded in the analysed range; "
                               "cannot write the annotated video")
    return res
