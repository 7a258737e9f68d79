"""Adaptive detection stride: which decoded frames the detector must look at.

A learned detector is most of a frame's cost, and on a steady scene a look at
every frame tells the tracker little it could not predict. The tracker works in
seconds and the counter interpolates each crossing between the two observations
around it (count.py), so a frame may be left undetected (it then goes to neither
the camera stage nor the tracker, as with `--stride`) only when neither a count
nor an event time could depend on it. `DetectionSchedule.needed(time_s)` says so
frame by frame; the frame is looked at unless all of these hold:

  * a counting line is given (an automatic line is chosen from the tracks
    afterwards: any frame may hold a crossing) and the camera, at the last look,
    was still near where the line was given (`near_start`, see pipeline.py);
    boxes are followed in the scene's pixels (the camera stage's transform, as the
    tracker and counter see them), so a shaking or drifting camera moves none;
  * every box of the last look continues a box of the look before, through at
    least `min_hits` looks in a row (a tentative track needs every look to be
    confirmed), and every box of the look before was found again (a vehicle
    missed or hidden needs every look to be found again);
  * each box's step from its last look to the frame after this one, at the speed
    measured between its last two looks, is at most `max_step_diag` of its
    diagonal (the tracker's constant-velocity prediction holds over it), and its
    centre, moved along that step, stays farther from the line than the counter's
    margin plus the step (the vehicle would have to double its speed to cross
    unseen): the last frame clearly before each crossing and the first clearly
    after it, between which the counter interpolates, are always looked at;
  * a vehicle entering unseen at the fastest speed seen so far, from the
    picture's edge along any direction vehicles were seen to travel (either way:
    roads carry both), cannot reach the line before the frame after the next
    look (it is then seen, tentative, on every frame up to its crossing); the
    picture's edge is taken where it lies in the scene at the last look. A
    direction is a box's travel since its run of looks began, once that is
    `heading_diag` of its size (less is box jitter, and would point anywhere).

Boxes of consecutive looks are paired by least total distance (geometry.pair_boxes),
as the input-size rule of detect/yolo.py pairs them; a pairing the tracker would
not make shows up as a large step or a lost box, and both mean "look".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .camera.transform import box as transform_box, max_displacement
from .detect.base import Detections
from .geometry import pair_boxes

PAIR_REACH_DIAG = 3.0       # two boxes farther apart than this (diagonals) are not one vehicle
PAIR_AREA_RATIO = 2.0       # ...nor two boxes whose areas differ more than this
LINE_SAMPLES = 17           # points of the line from which entry distances are measured


@dataclass(frozen=True)
class ScheduleSettings:
    """`max_step_diag`: the largest predicted step between two looks, in box diagonals.
    The tracker gates a link at 1 diagonal from its prediction (TrackerSettings.gate); a
    vehicle that brakes or changes lane leaves its prediction by a share of its step,
    so a step of half the gate keeps that share well inside it. The others are the
    tracker's and the counter's own numbers (TrackerSettings.min_hits and
    heading_min_move_diag, CounterSettings.margin_frac and margin_min_px)."""
    max_step_diag: float = 0.5
    min_hits: int = 3                 # looks in a row before a box is established
    heading_diag: float = 0.5         # travel (box diagonals) that gives a direction
    margin_frac: float = 0.05         # the counter's side margin, share of the box across the line
    margin_min_px: float = 1.0        # ...and at least this

    def __post_init__(self):
        for name in ("max_step_diag", "heading_diag", "margin_frac", "margin_min_px"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                raise ValueError(f"ScheduleSettings.{name} must be a number >= 0, got {v!r}")
        if not (isinstance(self.min_hits, int) and self.min_hits >= 1):
            raise ValueError(f"ScheduleSettings.min_hits must be an integer >= 1, got {self.min_hits!r}")


@dataclass
class _Look:
    """The boxes of one detected frame and what pairing them with the look before gave."""
    time_s: float
    xyxy: np.ndarray
    velocity: np.ndarray        # (N, 2) px/s, zero where not paired
    hits: np.ndarray            # (N,) looks in a row this box was paired through
    origin: np.ndarray          # (N, 2) its centre at the first of those looks
    all_found: bool             # every box of the look before was paired


class DetectionSchedule:
    """Stage beside the detector: `needed(t)` before detecting the frame at clip time t,
    `observe(detections)` after. `line_px` ((x1, y1), (x2, y2)) in frame pixels, None for
    an automatic line (then every frame is needed); `slack_px`: how far the positions the
    tracker will use may lie from those observed (a camera thought still may be kept moving),
    added to the line's margin. `skipped_s` lists the clip times of
    the frames left out."""

    def __init__(self, line_px: Optional[tuple], width: int, height: int, slack_px: float = 0.0,
                 settings: ScheduleSettings = ScheduleSettings()):
        self.line_px, self.width, self.height, self.settings = line_px, width, height, settings
        self.slack_px = slack_px          # how far the tracker's positions may lie from ours
        self.skipped_s: list = []
        self._last: Optional[_Look] = None
        self._prev_time: Optional[float] = None    # the last decoded frame's time
        self._fastest = 0.0                        # px/s, over the clip so far
        self._directions: dict = {}                # whole degrees -> unit vector of motion
        self._entry_px: Optional[float] = None     # cached _entry_distance
        self._camera_px = 0.0                      # how far the camera moved the picture's edge

    def needed(self, time_s: float, near_start: bool = True) -> bool:
        """Must the frame at `time_s` be detected? Frames are asked in time order."""
        dt = 0.0 if self._prev_time is None else time_s - self._prev_time
        self._prev_time = time_s
        look = self._last
        if self.line_px is None or not near_start or look is None or dt <= 0:
            return True
        if not look.all_found or (look.hits < self.settings.min_hits).any():
            return True
        gap = time_s + dt - look.time_s       # to the frame after this one
        if not self._boxes_predictable(look, gap):
            return True
        if self._fastest <= 0 or self._fastest * gap > self._entry_distance() - self._camera_px:
            return True
        self.skipped_s.append(time_s)
        return False

    def observe(self, dets: Detections, to_scene: Optional[np.ndarray] = None) -> None:
        """Record a look: pair its boxes with the last look's, measure their speeds.
        `to_scene` (3x3): the frame's transform into the scene (None: the frame is it)."""
        xyxy, last = np.asarray(dets.xyxy, float).reshape(-1, 4), self._last
        if to_scene is not None:
            xyxy = np.array([transform_box(to_scene, b) for b in xyxy]).reshape(-1, 4)
            self._camera_px = max_displacement(to_scene, self.width, self.height)
        velocity, hits = np.zeros((len(xyxy), 2)), np.ones(len(xyxy), int)
        origin = _centres(xyxy)
        all_found = True
        if last is not None and dets.time_s > last.time_s:
            dt = dets.time_s - last.time_s
            pairs = pair_boxes(last.xyxy, xyxy, PAIR_REACH_DIAG, PAIR_AREA_RATIO)
            all_found = len(pairs) == len(last.xyxy)
            for i, j, step in pairs:
                move = _centres(xyxy[i:i + 1])[0] - _centres(last.xyxy[j:j + 1])[0]
                velocity[i], hits[i], origin[i] = move / dt, last.hits[j] + 1, last.origin[j]
                self._fastest = max(self._fastest, step / dt)
                self._note_heading(_centres(xyxy[i:i + 1])[0] - origin[i], xyxy[i])
        self._last = _Look(dets.time_s, xyxy, velocity, hits, origin, all_found)

    def _note_heading(self, travel: np.ndarray, box: np.ndarray) -> None:
        length = float(np.hypot(*travel))
        if length < self.settings.heading_diag * np.hypot(box[2] - box[0], box[3] - box[1]):
            return
        unit = travel / length
        key = int(round(np.degrees(np.arctan2(unit[1], unit[0])))) % 360
        if key not in self._directions:
            self._directions[key] = unit
            self._entry_px = None

    def _boxes_predictable(self, look: _Look, gap: float) -> bool:
        """Every box's step over `gap` s is small against it and keeps its centre clear of
        the line."""
        (ax, ay), (bx, by) = self.line_px
        normal = np.array([by - ay, ax - bx], float)
        normal /= np.hypot(*normal)
        centres = _centres(look.xyxy)
        w, h = look.xyxy[:, 2] - look.xyxy[:, 0], look.xyxy[:, 3] - look.xyxy[:, 1]
        step = np.hypot(*look.velocity.T) * gap
        if (step > self.settings.max_step_diag * np.hypot(w, h)).any():
            return False
        across = abs(normal[0]) * w + abs(normal[1]) * h
        margin = np.maximum(self.settings.margin_min_px, self.settings.margin_frac * across)
        start = (centres - (ax, ay)) @ normal
        end = start + (look.velocity * gap) @ normal
        clear = margin + step + self.slack_px
        return bool(((np.sign(start) == np.sign(end)) & (np.minimum(abs(start), abs(end)) > clear)).all())

    def _entry_distance(self) -> float:
        """The shortest way (px) from the picture's edge to the line along a direction
        vehicles were seen moving, either way (0 before any was seen). Line points within half the smallest box
        of the edge are left out: a vehicle crossing there is half out of the picture."""
        if self._entry_px is not None:
            return self._entry_px
        boxes = self._last.xyxy
        inset = 0.5 * float(np.min(np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]))) \
            if len(boxes) else 0.0
        (ax, ay), (bx, by) = self.line_px
        s = np.linspace(0, 1, LINE_SAMPLES)[:, None]
        points = np.array([ax, ay]) * (1 - s) + np.array([bx, by]) * s
        points = points.clip([inset, inset], [self.width - inset, self.height - inset])
        best = 0.0 if not self._directions else np.inf     # no direction seen: anything may come
        for unit in self._directions.values():
            for u in (unit, -unit):
                best = min(best, float(_back_to_edge(points, u, self.width, self.height).min()))
        self._entry_px = best
        return best


def _centres(xyxy: np.ndarray) -> np.ndarray:
    return (xyxy[:, :2] + xyxy[:, 2:]) / 2


def _back_to_edge(points: np.ndarray, u: np.ndarray, width: int, height: int) -> np.ndarray:
    """How far each point lies from the picture's edge, going back along direction u."""
    with np.errstate(divide="ignore", invalid="ignore"):
        sx = np.where(u[0] > 0, points[:, 0] / u[0], np.where(u[0] < 0, (width - points[:, 0]) / -u[0], np.inf))
        sy = np.where(u[1] > 0, points[:, 1] / u[1], np.where(u[1] < 0, (height - points[:, 1]) / -u[1], np.inf))
    return np.minimum(sx, sy)
