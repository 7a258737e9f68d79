"""Tracking: link each frame's Detections into Tracks with stable ids.

Why our own association code (see README, "Tracking"): the maintained trackers
(ByteTrack, BoT-SORT, SORT in ultralytics/supervision; norfair) step their
motion model once per *frame* and keep lost tracks for a number of *frames*.
convoycount works on real timestamps: frames of a variable-frame-rate phone
clip are unevenly spaced, and in a clip sped up x8 a vehicle's box jumps about
its own length between frames, so IoU-based association (ByteTrack and
friends) cannot link a box to its next position at all. This tracker
  * predicts with a constant-velocity model using the real dt between frames,
  * gates and scores candidates by centre distance relative to vehicle size,
  * seeds a new track's velocity from confirmed neighbours (the flow), so the
    first link in a fast convoy goes to the same vehicle, not the one behind,
  * keeps lost tracks for `lost_track_s` *seconds* (not frames), so a vehicle
    missed for a few frames keeps its id and is never counted twice,
  * never lets a moving track turn round (see _TrackState.heading), so a track that
    has counted cannot take over a vehicle coming the other way and hide its
    crossing,
  * never lets an unconfirmed track out (no phantom tracks, no id -1).
Assignment is the Hungarian algorithm (scipy). Every number that decides a link
is a field of TrackerSettings. The tracker keeps its working state (velocity,
misses, legs) in a private record per track and gives out `Track` values: a
track's id and observations, nothing that the next frame would change.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy.optimize import linear_sum_assignment

from .camera.transform import box as transform_box
from .detect.base import Detections
from .geometry import area, center as box_center, diagonal, mostly_inside, overlap_of_smaller


@dataclass(frozen=True)
class TrackerSettings:
    """Every number that decides which box joins which track. Sizes are in box
    diagonals (geometry.diagonal: the vehicle's own size), times in clip seconds."""
    min_hits: int = 3                 # observations before a track is confirmed (and shown)
    confirm_within_s: float = 1.0     # ...and they must come within this much clip time
    tentative_max_misses: int = 1     # an unconfirmed track dies after this many frames unseen
    lost_track_s: float = 1.0         # keep a lost track this long for re-association
    max_hidden_s: float = 3.0         # ...or, while a vehicle passing in front hides it,
                                      # up to this long since it was last seen
    gate: float = 1.0                 # max distance to prediction, in box diagonals (track with velocity)
    gate_new: float = 2.0             # same, for a track with no velocity yet
    max_area_ratio: float = 4.0       # a box may not grow/shrink more than this between links
    velocity_smoothing: float = 0.5   # weight of the newest velocity measurement (EMA)
    duplicate_overlap: float = 0.6    # an unmatched box this much inside (overlap / smaller
                                      # box) a box a confirmed track took in the same frame
                                      # is a second box on that vehicle: it starts no track
    covered_frac: float = 0.6         # a track whose predicted box lies this much inside a box
                                      # it did not get is hidden in that blob (two vehicles
                                      # merged as they pass), not gone
    backstep_diag: float = 0.25       # a box this far behind a moving track's last position (or
                                      # behind the farthest point of its leg) is another vehicle:
                                      # vehicles do not jump backwards; less is box jitter
    heading_window_s: float = 3.0     # the leg's front is searched this far back: a wrong link
                                      # is refused within frames, and long tracks stay cheap
    heading_min_move_diag: float = 0.5  # a leg has a heading once it moved this far; less is jitter
    passing_speed_frac: float = 0.5   # a covering vehicle passes (rather than moves with) a track
                                      # when its speed along the track differs by more than this
                                      # fraction of the track's speed
    flow_prior_reach_diag: float = 4.0  # a new track borrows the velocity of the nearest confirmed
                                        # track within this distance: the vehicle ahead in a convoy
    size_cost_weight: float = 0.1     # cost per unit |log(area ratio)|: on near-ties in distance,
                                      # the box of the track's own size wins
    tentative_cost: float = 0.05      # extra cost of linking to an unconfirmed track: on near-ties
                                      # a confirmed vehicle keeps its box
    detection_size_weight: float = 0.5  # the gate's unit is the track's diagonal, or this share of
                                        # the candidate's when that is larger: a vehicle growing as
                                        # it comes closer still links
    across_stretch: float = 1.5       # tolerance across the motion, in half-extents of the box
                                      # across it: vehicles do not jump sideways into the next lane
    across_min_frac: float = 0.15     # ...but at least this share of the gate's unit, so a thin box
                                      # (a motorcycle seen head-on) still links
    stop_window_s: float = 0.5        # a track that stood still this long starts a new leg (it may
                                      # then turn back: reversing out of a parking space)
    stop_still_frac: float = 0.15     # "still": every box edge within this share of the diagonal
    stop_min_sightings: int = 3       # ...seen at least this many times in the window
    standing_gate: float = 0.35       # a track standing still (as above) takes only a box this
                                      # close (box diagonals) to where it was seen: a parked car hidden
                                      # by a vehicle passing in front must not take that vehicle's box
                                      # (the id switch counts the parked car as a crossing)
    start_accel_diag_s2: float = 0.5  # ...plus what a vehicle starting off covers since it was last
                                      # seen: half this acceleration (diagonals/s^2; 2.5 m/s^2 for a
                                      # car) times the time squared
    standing_grow: float = 1.3        # ...and no box wider or taller than this times the box it stood
                                      # in (hidden, its box shrinks; a larger box is another vehicle)
    pace_window_s: float = 1.0        # a moving track's pace: its centre's net travel over about this
                                      # much of its recent past (box jitter cancels, a step does not)
    pace_factor: float = 2.0          # it takes no box farther from where it was last seen than this
                                      # times its pace covers in the time since (between looks a
                                      # vehicle's speed changes by less than a factor of two, as
                                      # count.py's _steady asks; a box entering the picture moves its
                                      # centre at half the vehicle's speed), plus what a vehicle
                                      # starting off covers (start_accel_diag_s2); 0 switches it off
    pace_slack_diag: float = 0.5      # ...plus this (box diagonals: a box's centre moves by half the
                                      # change of its visible part, a vehicle half hidden for a frame)

    def __post_init__(self):
        def check(names, ok, expected):
            for name in names:
                value = getattr(self, name)
                try:
                    good = not isinstance(value, bool) and ok(value)
                except TypeError:           # None, a string, ...
                    good = False
                if not good:
                    raise ValueError(f"TrackerSettings.{name} must be {expected}, got {value!r}")
        check(("min_hits", "stop_min_sightings"),
              lambda v: isinstance(v, int) and v >= 1, "an integer >= 1")
        check(("tentative_max_misses",), lambda v: isinstance(v, int) and v >= 0, "an integer >= 0")
        check(("confirm_within_s", "lost_track_s", "max_hidden_s", "gate", "gate_new", "standing_gate",
               "start_accel_diag_s2",
               "heading_window_s", "heading_min_move_diag", "passing_speed_frac",
               "flow_prior_reach_diag", "across_stretch", "stop_window_s", "stop_still_frac"),
              lambda v: v > 0, "> 0")
        check(("max_area_ratio", "standing_grow"), lambda v: v >= 1, ">= 1 (a ratio between the larger and smaller box)")
        check(("velocity_smoothing", "duplicate_overlap", "covered_frac"),
              lambda v: 0 < v <= 1, "a fraction in (0, 1]")
        check(("pace_window_s",), lambda v: v > 0, "> 0")
        check(("pace_factor",), lambda v: v == 0 or v >= 1, "0 (off) or >= 1 (a factor on the track's pace)")
        check(("backstep_diag", "pace_slack_diag", "size_cost_weight", "tentative_cost",
               "detection_size_weight", "across_min_frac"), lambda v: v >= 0, ">= 0")


@dataclass(frozen=True)
class Observation:
    time_s: float
    frame_index: int
    box: tuple                 # (x1, y1, x2, y2) pixels of its own frame, as detected
    confidence: float
    class_name: str
    scene_box: Optional[tuple] = None   # the same box in scene pixels (camera/), when the
                                        # camera moved; None: the frame's pixels are the scene's

    @property
    def center(self) -> tuple:
        return box_center(self.box)

    @property
    def scene(self) -> tuple:
        """The box in scene pixels: where tracking and counting reason."""
        return self.box if self.scene_box is None else self.scene_box

    @property
    def scene_center(self) -> tuple:
        return box_center(self.scene)


@dataclass(frozen=True)
class Track:
    """One vehicle as the tracker gives it out: its id and its observations in time
    order. Ids count up from 1 in order of confirmation, so they never skip numbers
    -- but count events, never ids."""
    track_id: int
    observations: tuple

    @property
    def last(self) -> Observation:
        return self.observations[-1]

    @property
    def class_name(self) -> str:
        """Majority class over the track (a single odd frame does not relabel it)."""
        return Counter(o.class_name for o in self.observations).most_common(1)[0][0]

    @property
    def confidence(self) -> float:
        return float(np.mean([o.confidence for o in self.observations]))

    @property
    def duration_s(self) -> float:
        return self.observations[-1].time_s - self.observations[0].time_s

    def in_scene(self) -> "Track":
        """The same track with its boxes in scene pixels, for the stages that reason
        about motion (counting line, speed-up, integrity): a camera pan is no motion."""
        if all(o.scene_box is None for o in self.observations):
            return self
        return Track(self.track_id, tuple(dataclasses.replace(o, box=o.scene, scene_box=None)
                                          for o in self.observations))

    def between(self, start_s: float, end_s: float) -> Optional["Track"]:
        """The part of the track seen in [start_s, end_s), or None if nothing is left."""
        obs = tuple(o for o in self.observations if start_s <= o.time_s < end_s)
        if len(obs) == len(self.observations):
            return self
        return Track(self.track_id, obs) if obs else None


@dataclass
class _TrackState:
    """The tracker's working record of one track; it never leaves the Tracker."""
    observations: list
    track_id: int = 0                              # 0 while tentative (unconfirmed)
    velocity: Optional[np.ndarray] = None          # px per clip second, (vx, vy)
    misses: int = 0                                # frames in a row without a match
    leg_start: int = 0                             # observation where its current leg began
    hidden_s: Optional[float] = None               # last time a passing vehicle hid it
    standing: Optional[tuple] = None               # the box (scene) it stood still in since it
                                                   # last stopped, until it drives off

    @property
    def confirmed(self) -> bool:
        return self.track_id > 0

    @property
    def last(self) -> Observation:
        return self.observations[-1]

    def as_track(self) -> Track:
        return Track(self.track_id, tuple(self.observations))

    def predict(self, time_s: float) -> np.ndarray:
        c = np.asarray(self.last.scene_center)
        if self.velocity is None:
            return c
        return c + self.velocity * (time_s - self.last.time_s)

    def pace(self, window_s: float) -> float:
        """Speed in px per clip second: the centre's net travel from the oldest sighting
        within `window_s` of the newest. Net travel, not the velocity: a
        standing track whose box jitters (two parked cars boxed now as one, now apart) has
        a velocity of the jitter but no pace."""
        last = self.observations[-1]
        first = last
        for i in range(len(self.observations) - 2, -1, -1):    # newest first, no copy
            o = self.observations[i]
            if o.time_s < last.time_s - window_s:
                break
            first = o
        span = last.time_s - first.time_s
        if span <= 0:
            return 0.0
        return float(np.linalg.norm(np.subtract(last.scene_center, first.scene_center))) / span

    def heading(self, s: TrackerSettings) -> Optional[tuple]:
        """(unit direction, front) of the track's net motion since it last stood
        still (or since its first observation), where front is the farthest it got
        along that direction; None until it has moved `heading_min_move_diag`.

        Over the whole leg, not a recent window: a window's heading is diluted by the
        very wrong links it is meant to stop (a few small steps back turn it). A
        vehicle that stops may then turn back (reversing out of a parking space):
        the stop starts a new leg."""
        first, last = self.observations[self.leg_start], self.observations[-1]
        disp = np.asarray(last.scene_center) - np.asarray(first.scene_center)
        dist = float(np.linalg.norm(disp))
        if dist < s.heading_min_move_diag * diagonal(last.scene):
            return None
        u = disp / dist
        # The front over the last few seconds is enough (a wrong link is refused
        # within frames) and keeps this O(recent) for tracks that live for minutes.
        front = -np.inf
        for i in range(len(self.observations) - 1, self.leg_start - 1, -1):
            o = self.observations[i]
            if o.time_s < last.time_s - s.heading_window_s:
                break
            front = max(front, float(np.dot(o.scene_center, u)))
        return u, front

    def note_stop(self, s: TrackerSettings) -> None:
        """Start a new leg if the track has stood still for the last `stop_window_s`:
        seen at least `stop_min_sightings` times in that window, every box within
        `stop_still_frac` of its size of the newest one, edge by edge (not the centre:
        a box being eaten by a vehicle passing in front has a still centre while both
        its edges move)."""
        last = self.observations[-1]
        tol = s.stop_still_frac * diagonal(last.scene)
        if self.standing is not None and np.linalg.norm(
                np.subtract(last.scene_center, box_center(self.standing))) \
                > s.heading_min_move_diag * diagonal(last.scene):
            self.standing = None        # it drove off (a box being eaten by a vehicle passing in
                                        # front moves its edges, not this far)
        seen = 0
        for i in range(len(self.observations) - 2, -1, -1):    # newest first, no copy
            o = self.observations[i]
            if np.max(np.abs(np.subtract(last.scene, o.scene))) >= tol:
                return
            if o.time_s <= last.time_s - s.stop_window_s:
                break
            seen += 1
        else:
            return                      # the track is younger than the window
        if seen + 1 >= s.stop_min_sightings:        # + 1: the newest
            self.leg_start = len(self.observations) - 1
            if self.standing is None:
                self.standing = last.scene


def _passing(hidden: _TrackState, cover: Optional[_TrackState], speed_frac: float) -> bool:
    """Does `cover` move past `hidden` (the other way, or faster or slower by more than
    `speed_frac` of hidden's speed) rather than with it? Compared along `hidden`'s
    direction only: a motion blob's velocity across it is mostly its edges flickering."""
    if cover is None or hidden.velocity is None or cover.velocity is None:
        return False
    speed = float(np.linalg.norm(hidden.velocity))
    if speed < 1e-6:
        return False
    along = float(np.dot(cover.velocity, hidden.velocity)) / speed
    return along < 0 or abs(along - speed) > speed_frac * speed


def _opposed(tracks: list) -> bool:
    """Do any two of these tracks move in opposite directions? A standing track moves
    nowhere: the velocity of its box's jitter points anywhere, and taken for a direction
    it made a bus passing in front of a parked van "two vehicles passing each other", so
    the bus's boxes were refused until its track was lost (bench_camera seed 368)."""
    vs = [tr.velocity for tr in tracks if tr.velocity is not None and tr.standing is None
          and float(np.linalg.norm(tr.velocity)) > 1e-6]
    return any(float(np.dot(a, b)) < 0 for i, a in enumerate(vs) for b in vs[i + 1:])


class Tracker:
    """Stage: `update(detections)` links one frame's boxes; `tracks()` gives every
    confirmed track so far as `Track` values; `reset()` starts a new clip."""

    def __init__(self, settings: TrackerSettings = TrackerSettings()):
        self.settings = settings
        self.reset()

    def reset(self) -> None:
        self._active: list[_TrackState] = []     # confirmed or tentative, still matchable
        self._finished: list[_TrackState] = []   # confirmed tracks that are gone for good
        self._next_id = 1
        self._last_time: Optional[float] = None

    # -- public -----------------------------------------------------------
    def update(self, dets: Detections, to_scene: Optional[np.ndarray] = None) -> dict:
        """Link one frame's detections (frames in time order). `to_scene` (3x3, see
        camera/) takes this frame's pixels to the scene's: boxes are linked where they
        lie in the scene, so the camera's own motion moves no track. Returns {track id:
        its observation in this frame} for the confirmed tracks seen in it."""
        t = dets.time_s
        if self._last_time is not None and t <= self._last_time:
            raise ValueError(f"frames must arrive in time order: {t} after {self._last_time}")
        self._last_time = t
        self._expire(t)

        image_boxes = [tuple(map(float, b)) for b in dets.xyxy]
        boxes = image_boxes if to_scene is None else [transform_box(to_scene, b) for b in image_boxes]
        # A vehicle whose predicted box lies inside a detection it did not get is
        # occluded (two vehicles merged into one blob as they pass), not gone.
        covers = self._covers(boxes, t)
        # A blob holding vehicles that move in opposite directions is two vehicles
        # passing each other: it updates neither (its centre is neither's centre).
        passing = {j for j, c in enumerate(covers) if _opposed([self._active[i] for i in c])}
        matches, unmatched = self._associate(boxes, t, exclude=passing)
        self._note_unmatched(matches, covers, passing, t)
        scene = (lambda di: None) if to_scene is None else (lambda di: boxes[di])
        for ti, di in matches:
            self._extend(self._active[ti], self._observation(dets, di, scene(di)))
        seen = [self._active[ti] for ti, _ in matches]
        unmatched = self._drop_duplicates(boxes, matches, unmatched)
        # Flicker (a blob for one frame here, one there) never grows into a track.
        self._active = [tr for tr in self._active
                        if tr.confirmed or tr.misses <= self.settings.tentative_max_misses]
        for di in unmatched:
            if len(covers[di]) >= 2 or di in passing:
                continue        # a blob of two known vehicles is not a third one
            track = _TrackState(observations=[self._observation(dets, di, scene(di))])
            track.velocity = self._flow_prior(track)
            self._active.append(track)
        return {tr.track_id: tr.last for tr in seen if tr.confirmed}

    def end_all(self) -> None:
        """End every track now: the footage that follows cannot be compared with what
        came before (a cut, or the camera's motion was lost)."""
        self._finished.extend(t for t in self._active if t.confirmed)
        self._active = []

    def tracks(self) -> list[Track]:
        """All confirmed tracks, finished and active, in order of id."""
        states = self._finished + [t for t in self._active if t.confirmed]
        return [st.as_track() for st in sorted(states, key=lambda st: st.track_id)]

    # -- internals --------------------------------------------------------
    @staticmethod
    def _observation(dets: Detections, i: int, scene_box: Optional[tuple] = None) -> Observation:
        return Observation(dets.time_s, dets.frame_index, tuple(map(float, dets.xyxy[i])),
                           float(dets.confidence[i]), str(dets.class_name[i]), scene_box)

    def _note_unmatched(self, matches: list, covers: list, passing: set, t: float) -> None:
        """Count a miss for each track that got no box, unless a blob hides it; note
        when a vehicle passing in front hides a confirmed one (see `_expire`)."""
        matched = {ti for ti, _ in matches}
        owner = {di: self._active[ti] for ti, di in matches}
        for ti, track in enumerate(self._active):
            # A tentative track inside a box moving its way is a part of that vehicle
            # (real clips: the bonnet of a car entering the frame), not a second one
            # being hidden; kept alive it later takes the box and counts twice.
            covering = [j for j, c in enumerate(covers) if ti in c]
            occluded = any(track.confirmed or j in passing for j in covering)
            track.misses = 0 if ti in matched or occluded else track.misses + 1
            if ti not in matched and track.confirmed and any(
                    j in passing or _passing(track, owner.get(j), self.settings.passing_speed_frac)
                    for j in covering):
                track.hidden_s = t

    def _drop_duplicates(self, boxes: list, matches: list, unmatched: list) -> list:
        """The unmatched boxes that are not a second box on a vehicle a confirmed track
        took in this frame.

        A detector's second box on an already tracked vehicle (its front half, or a
        shifted copy NMS let through) must not seed a track: seen once, such a track
        may link to anything within gate_new, e.g. a parked car, and that jump counts
        as a crossing (benchmarks/realclips.md, residential_a at 30.8 s)."""
        taken = [boxes[di] for ti, di in matches if self._active[ti].confirmed]
        if not taken or not unmatched:
            return unmatched
        inside = overlap_of_smaller([boxes[di] for di in unmatched], taken)
        duplicate = (inside > self.settings.duplicate_overlap).any(axis=1)
        return [di for di, dup in zip(unmatched, duplicate) if not dup]

    def _extend(self, track: _TrackState, obs: Observation) -> None:
        prev = track.last
        dt = obs.time_s - prev.time_s
        v_new = (np.asarray(obs.scene_center) - np.asarray(prev.scene_center)) / dt
        a = self.settings.velocity_smoothing
        # The first measured velocity replaces the flow prior outright.
        track.velocity = v_new if len(track.observations) == 1 or track.velocity is None \
            else a * v_new + (1 - a) * track.velocity
        track.observations.append(obs)
        track.note_stop(self.settings)
        s = self.settings
        if not track.confirmed and len(track.observations) >= s.min_hits \
                and obs.time_s - track.observations[0].time_s <= s.confirm_within_s:
            track.track_id = self._next_id
            self._next_id += 1

    def _expire(self, t: float) -> None:
        s = self.settings
        keep = []
        for tr in self._active:
            # A vehicle hidden behind one passing in front of it (a car in the far
            # lane while a truck goes by in the near one) is kept while it stays
            # hidden, up to max_hidden_s: it reappears on the truck's other side,
            # often past the line, and only its old track can count that crossing.
            # Not behind a box moving with it: that is a second box on itself.
            seen = tr.last.time_s if tr.hidden_s is None else max(tr.last.time_s, tr.hidden_s)
            gone = t - seen > s.lost_track_s or t - tr.last.time_s > max(s.max_hidden_s, s.lost_track_s)
            stale = not tr.confirmed and t - tr.observations[0].time_s > s.confirm_within_s
            if gone or stale:
                if tr.confirmed:
                    self._finished.append(tr)
            else:
                keep.append(tr)
        self._active = keep

    def _flow_prior(self, track: _TrackState) -> Optional[np.ndarray]:
        """Velocity of the nearest confirmed, moving track within a few vehicle
        sizes: in a convoy the vehicle behind moves like the one ahead."""
        c = np.asarray(track.last.scene_center)
        best, best_d = None, self.settings.flow_prior_reach_diag * diagonal(track.last.scene)
        for other in self._active:
            if not other.confirmed or other.velocity is None:
                continue
            d = float(np.linalg.norm(np.asarray(other.last.scene_center) - c))
            if d < best_d:
                best, best_d = other.velocity.copy(), d
        return best

    def _covers(self, boxes: list, t: float) -> list:
        """For each detection, the active tracks whose predicted box it mostly contains."""
        preds = []
        for tr in self._active:
            x1, y1, x2, y2 = tr.last.scene
            cx, cy = tr.predict(t)
            hw, hh = (x2 - x1) / 2, (y2 - y1) / 2
            preds.append((cx - hw, cy - hh, cx + hw, cy + hh))
        inside = mostly_inside(preds, boxes, self.settings.covered_frac)   # (tracks, boxes)
        return [set(np.flatnonzero(inside[:, j]).tolist()) for j in range(len(boxes))]

    def _distance(self, tr: _TrackState, point: np.ndarray, box, t: float,
                  heading: Optional[tuple] = None) -> Optional[float]:
        """Gated distance from a track's prediction to a detection, in vehicle sizes.

        A moving track's gate is an ellipse along its velocity: a vehicle may be
        somewhat faster or slower than predicted, but it does not jump sideways
        into the next lane (where, in two-way traffic, a vehicle going the other
        way passes at the same moment). A track seen once has no velocity of its
        own: it may have stood still or moved like its neighbours (the flow
        prior), whichever fits better, within the wider `gate_new`."""
        s = self.settings
        scale = max(diagonal(tr.last.scene), s.detection_size_weight * diagonal(box), 1.0)
        if len(tr.observations) < 2:
            hyps = [np.asarray(tr.last.scene_center)]
            if tr.velocity is not None:
                hyps.append(tr.predict(t))
            d = min(float(np.linalg.norm(point - h)) for h in hyps) / scale
            return d if d <= s.gate_new else None
        if tr.standing is not None:
            return self._standing_distance(tr, point, box, t, scale)
        if not self._within_pace(tr, point, t, scale):
            return None
        err = point - tr.predict(t)
        speed = float(np.linalg.norm(tr.velocity))
        if speed < 1e-6:
            d = float(np.linalg.norm(err)) / scale
            return d if d <= s.gate else None
        u = tr.velocity / speed
        # Vehicles do not jump backwards: a box behind the track's last position
        # (by more than backstep_diag of its size) is another vehicle, e.g. one coming
        # the other way that merged with it for a moment.
        if float(np.dot(point - np.asarray(tr.last.scene_center), u)) < -s.backstep_diag * scale:
            return None
        # ...nor do they turn round while moving. The test above alone lets a track
        # creep backwards a few pixels a frame onto a vehicle coming the other way
        # (one that enters where the track leaves, or passes it in the next lane):
        # the velocity follows each small step back. The track's heading does not, so
        # a box behind the farthest point the track reached is refused.
        # That id switch is what hides a crossing: a track counts once, so the
        # second vehicle it took over would never be counted (peers.md, recounts and
        # miscounts after id switches).
        if heading is not None and \
                float(np.dot(point, heading[0])) < heading[1] - s.backstep_diag * scale:
            return None
        along = float(np.dot(err, u))
        across = float(np.linalg.norm(err - along * u))
        # Across the motion the unit is half the box's extent across it.
        w, h = tr.last.scene[2] - tr.last.scene[0], tr.last.scene[3] - tr.last.scene[1]
        across_scale = max(0.5 * (abs(u[1]) * w + abs(u[0]) * h), s.across_min_frac * scale, 1.0)
        d = float(np.hypot(along / scale, across / (s.across_stretch * across_scale)))
        return d if d <= s.gate else None

    def _within_pace(self, tr: _TrackState, point: np.ndarray, t: float, scale: float) -> bool:
        """Can the vehicle have got from where the track last saw it to `point` by time t?

        A vehicle moves no faster than it was moving, give or take what it can change
        between looks: `pace_factor` times its pace (net travel over the last
        `pace_window_s`), what a vehicle starting off covers, and half the box's size for
        a box whose visible part changed. The gate around the prediction is a box
        diagonal whatever the time: a military truck at 13 px a frame took a box on
        parked cars 98 px on, past the line, and was lost while a new track carried it
        on, one truck counted twice (bench_camera seed 340, every frame); a jittering
        track on two parked cars, unseen for 1.1 s behind a bus, took a box 125 px on
        (seed 345). Both are jumps no vehicle makes. In a sped-up clip the pace is in clip
        time like everything here; only the starting-off term (clip seconds, as for the
        standing gate) is then too small, which the slack covers over short gaps."""
        s = self.settings
        if s.pace_factor == 0:                          # the rule switched off
            return True
        speed = tr.pace(s.pace_window_s)
        dt = t - tr.last.time_s
        reach = (s.pace_factor * speed * dt + 0.5 * s.start_accel_diag_s2 * scale * dt * dt
                 + s.pace_slack_diag * scale)
        return float(np.linalg.norm(point - np.asarray(tr.last.scene_center))) <= reach

    def _standing_distance(self, tr: _TrackState, point: np.ndarray, box, t: float,
                           scale: float) -> Optional[float]:
        """A standing vehicle takes only a box near where it was last seen (plus what it
        could cover starting off since), and no larger than the box it stood in: while
        a vehicle passes in front of it, the box it is offered is the passing one."""
        s = self.settings
        stood, grow, dt = tr.standing, s.standing_grow, t - tr.last.time_s
        if box[2] - box[0] > grow * (stood[2] - stood[0]) or box[3] - box[1] > grow * (stood[3] - stood[1]):
            return None
        d = float(np.linalg.norm(point - np.asarray(tr.last.scene_center))) / scale
        return d if d <= s.standing_gate + 0.5 * s.start_accel_diag_s2 * dt * dt else None

    def _associate(self, boxes: list, t: float, exclude=frozenset()):
        """(matches [(track index, box index)], unmatched box indices).

        One assignment over all tracks, unless new tracks in it push a confirmed track
        onto another box than the one it takes among confirmed tracks alone: then the
        confirmed tracks choose first and the new ones share the boxes left. A new track
        may cost a confirmed one a frame (it is kept for `lost_track_s`), never its box:
        a new track's distance is measured from where it was seen once, a confirmed one's
        from a prediction, and summed in one assignment a vehicle entering at the frame's
        edge, boxed twice, pushed a confirmed car onto it a lane over, which hid the
        entering one's crossing (benchmarks/realclips.md, residential_a x6 at 16.0 s)."""
        n_d = len(boxes)
        if not self._active or n_d == 0:
            return [], list(range(n_d))
        cost = self._costs(boxes, t, exclude)
        everyone = _assign(cost, list(range(len(self._active))), list(range(n_d)))
        confirmed = [i for i, tr in enumerate(self._active) if tr.confirmed]
        alone = dict(_assign(cost, confirmed, list(range(n_d))))
        if any(alone.get(i, j) != j for i, j in everyone if i in alone):
            tentative = [i for i, tr in enumerate(self._active) if not tr.confirmed]
            taken = set(alone.values())
            everyone = list(alone.items()) + _assign(cost, tentative, [j for j in range(n_d) if j not in taken])
        matched_d = {c for _, c in everyone}
        return everyone, [j for j in range(n_d) if j not in matched_d]

    def _costs(self, boxes: list, t: float, exclude) -> np.ndarray:
        """Cost of each (track, box) link; _NO_LINK where the gates refuse it."""
        s = self.settings
        cost = np.full((len(self._active), len(boxes)), _NO_LINK)
        centers = np.array([box_center(b) for b in boxes])
        for i, tr in enumerate(self._active):
            a_t = area(tr.last.scene)
            heading = tr.heading(s) if len(tr.observations) >= 2 else None
            for j, b in enumerate(boxes):
                if j in exclude:
                    continue
                ratio = area(b) / a_t
                if ratio > s.max_area_ratio or ratio < 1.0 / s.max_area_ratio:
                    continue
                d = self._distance(tr, centers[j], b, t, heading)
                if d is not None:
                    # Prefer confirmed tracks, then size agreement, on near-ties.
                    cost[i, j] = d + s.size_cost_weight * abs(np.log(ratio)) + \
                        (0.0 if tr.confirmed else s.tentative_cost)
        return cost


_NO_LINK = 1e6


def _assign(cost: np.ndarray, rows: list, cols: list) -> list:
    """Minimum-cost links (Hungarian) between these tracks and boxes, gated links only."""
    if not rows or not cols:
        return []
    sub = cost[np.ix_(rows, cols)]
    r, c = linear_sum_assignment(sub)
    return [(rows[a], cols[b]) for a, b in zip(r, c) if sub[a, b] < _NO_LINK]
