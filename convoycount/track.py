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
  * never lets a moving track turn round (see Track.heading), so a track that
    has counted cannot take over a vehicle coming the other way and hide its
    crossing,
  * never lets an unconfirmed track out (no phantom tracks, no id -1).
Assignment is the Hungarian algorithm (scipy).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from scipy.optimize import linear_sum_assignment

from .detect.base import Detections


@dataclass(frozen=True)
class TrackerSettings:
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

    def __post_init__(self):
        if self.min_hits < 1:
            raise ValueError(f"min_hits must be >= 1, got {self.min_hits}")
        for name in ("confirm_within_s", "lost_track_s", "max_hidden_s", "gate", "gate_new",
                     "max_area_ratio"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 < self.duplicate_overlap <= 1:
            raise ValueError(f"duplicate_overlap must be in (0, 1], got {self.duplicate_overlap}")


@dataclass(frozen=True)
class Observation:
    time_s: float
    frame_index: int
    box: tuple                 # (x1, y1, x2, y2) pixels
    confidence: float
    class_name: str

    @property
    def center(self) -> tuple:
        x1, y1, x2, y2 = self.box
        return ((x1 + x2) / 2.0, (y1 + y2) / 2.0)


@dataclass
class Track:
    """One vehicle's observations in time order. Ids count up from 1 in order of
    confirmation, so they never skip numbers -- but count events, never ids."""
    track_id: int                                  # 0 while unconfirmed
    observations: list = field(default_factory=list)
    misses: int = 0                                # frames in a row without a match
    velocity: Optional[np.ndarray] = None          # px per clip second, (vx, vy)
    confirmed: bool = False
    leg_start: int = 0                             # observation where its current leg began
    hidden_s: Optional[float] = None               # last time a passing vehicle hid it

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

    def predict(self, time_s: float) -> np.ndarray:
        c = np.asarray(self.last.center)
        if self.velocity is None:
            return c
        return c + self.velocity * (time_s - self.last.time_s)

    def heading(self) -> Optional[tuple]:
        """(unit direction, front) of the track's net motion since it last stood
        still (or since its first observation), where front is the farthest it got
        along that direction; None until it has moved half its own size.

        Over the whole leg, not a recent window: a window's heading is diluted by the
        very wrong links it is meant to stop (a few small steps back turn it). A
        vehicle that stops may then turn back (reversing out of a parking space):
        the stop starts a new leg."""
        first, last = self.observations[self.leg_start], self.observations[-1]
        disp = np.asarray(last.center) - np.asarray(first.center)
        dist = float(np.linalg.norm(disp))
        if dist < 0.5 * _diag(last.box):
            return None
        u = disp / dist
        # The front over the last few seconds is enough (a wrong link is refused
        # within frames) and keeps this O(recent) for tracks that live for minutes.
        front = -np.inf
        for i in range(len(self.observations) - 1, self.leg_start - 1, -1):
            o = self.observations[i]
            if o.time_s < last.time_s - 3.0:
                break
            front = max(front, float(np.dot(o.center, u)))
        return u, front

    def note_stop(self, window_s: float = 0.5, still_frac: float = 0.15) -> None:
        """Start a new leg if the track has stood still for the last `window_s`: seen
        at least three times in that window, every box within `still_frac` of its size
        of the newest one, edge by edge (not the centre: a box being eaten by a vehicle
        passing in front has a still centre while both its edges move)."""
        last = self.observations[-1]
        tol = still_frac * _diag(last.box)
        seen = 0
        for i in range(len(self.observations) - 2, -1, -1):    # newest first, no copy
            o = self.observations[i]
            if np.max(np.abs(np.subtract(last.box, o.box))) >= tol:
                return
            if o.time_s <= last.time_s - window_s:
                break
            seen += 1
        else:
            return                      # the track is younger than the window
        if seen >= 2:                   # plus the newest: three sightings
            self.leg_start = len(self.observations) - 1


def _diag(box) -> float:
    return float(np.hypot(box[2] - box[0], box[3] - box[1]))


def _area(box) -> float:
    return max(1.0, (box[2] - box[0]) * (box[3] - box[1]))


def _overlap_of_smaller(a, b) -> float:
    """Intersection of two boxes as a fraction of the smaller one's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / min(_area(a), _area(b))


def _passing(hidden: Track, cover: Optional[Track]) -> bool:
    """Does `cover` move past `hidden` (the other way, or half as fast again or more
    slowly) rather than with it? Compared along `hidden`'s direction only: a motion
    blob's velocity across it is mostly its edges flickering."""
    if cover is None or hidden.velocity is None or cover.velocity is None:
        return False
    speed = float(np.linalg.norm(hidden.velocity))
    if speed < 1e-6:
        return False
    along = float(np.dot(cover.velocity, hidden.velocity)) / speed
    return along < 0 or abs(along - speed) > 0.5 * speed


class Tracker:
    """Stage: `update(detections) -> confirmed tracks seen in this frame`;
    `tracks()` gives every confirmed track so far; `reset()` starts a new clip."""

    def __init__(self, settings: TrackerSettings = TrackerSettings()):
        self.settings = settings
        self.reset()

    def reset(self) -> None:
        self._active: list[Track] = []       # confirmed or tentative, still matchable
        self._finished: list[Track] = []     # confirmed tracks that are gone for good
        self._next_id = 1
        self._last_time: Optional[float] = None

    # -- public -----------------------------------------------------------
    def update(self, dets: Detections) -> list[Track]:
        t = dets.time_s
        if self._last_time is not None and t <= self._last_time:
            raise ValueError(f"frames must arrive in time order: {t} after {self._last_time}")
        self._last_time = t
        self._expire(t)

        boxes = [tuple(map(float, b)) for b in dets.xyxy]
        # A vehicle whose predicted box lies inside a detection it did not get is
        # occluded (two vehicles merged into one blob as they pass), not gone.
        covers = self._covers(boxes, t)
        # A blob holding vehicles that move in opposite directions is two vehicles
        # passing each other: it updates neither (its centre is neither's centre).
        passing = {j for j, c in enumerate(covers) if self._opposed([self._active[i] for i in c])}
        matches, unmatched = self._associate(boxes, t, exclude=passing)
        seen = []
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
                    j in passing or _passing(track, owner.get(j)) for j in covering):
                track.hidden_s = t
        for ti, di in matches:
            track = self._active[ti]
            self._extend(track, self._observation(dets, di))
            seen.append(track)
        # A detector's second box on an already tracked vehicle (its front half, or a
        # shifted copy NMS let through) must not seed a track: seen once, such a track
        # may link to anything within gate_new, e.g. a parked car, and that jump counts
        # as a crossing (benchmarks/realclips.md, residential_a at 30.8 s).
        taken = [boxes[di] for ti, di in matches if self._active[ti].confirmed]
        unmatched = [di for di in unmatched
                     if not any(_overlap_of_smaller(boxes[di], b) > self.settings.duplicate_overlap
                                for b in taken)]
        # Flicker (a blob for one frame here, one there) never grows into a track.
        self._active = [tr for tr in self._active
                        if tr.confirmed or tr.misses <= self.settings.tentative_max_misses]
        for di in unmatched:
            if len(covers[di]) >= 2 or di in passing:
                continue        # a blob of two known vehicles is not a third one
            track = Track(track_id=0, observations=[self._observation(dets, di)])
            track.velocity = self._flow_prior(track)
            self._active.append(track)
        return [tr for tr in seen if tr.confirmed]

    def tracks(self) -> list[Track]:
        """All confirmed tracks, finished and active, in order of id."""
        return sorted(self._finished + [t for t in self._active if t.confirmed],
                      key=lambda tr: tr.track_id)

    # -- internals --------------------------------------------------------
    @staticmethod
    def _observation(dets: Detections, i: int) -> Observation:
        return Observation(dets.time_s, dets.frame_index, tuple(map(float, dets.xyxy[i])),
                           float(dets.confidence[i]), str(dets.class_name[i]))

    def _extend(self, track: Track, obs: Observation) -> None:
        prev = track.last
        dt = obs.time_s - prev.time_s
        v_new = (np.asarray(obs.center) - np.asarray(prev.center)) / dt
        a = self.settings.velocity_smoothing
        # The first measured velocity replaces the flow prior outright.
        track.velocity = v_new if len(track.observations) == 1 or track.velocity is None \
            else a * v_new + (1 - a) * track.velocity
        track.observations.append(obs)
        track.note_stop()
        s = self.settings
        if not track.confirmed and len(track.observations) >= s.min_hits \
                and track.duration_s <= s.confirm_within_s:
            track.confirmed = True
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

    def _flow_prior(self, track: Track) -> Optional[np.ndarray]:
        """Velocity of the nearest confirmed, moving track within a few vehicle
        sizes: in a convoy the vehicle behind moves like the one ahead."""
        c = np.asarray(track.last.center)
        reach = 4.0 * _diag(track.last.box)
        best, best_d = None, reach
        for other in self._active:
            if not other.confirmed or other.velocity is None:
                continue
            d = float(np.linalg.norm(np.asarray(other.last.center) - c))
            if d < best_d:
                best, best_d = other.velocity.copy(), d
        return best

    def _covers(self, boxes: list, t: float) -> list:
        """For each detection, the active tracks whose predicted box it mostly contains."""
        out = []
        preds = []
        for tr in self._active:
            x1, y1, x2, y2 = tr.last.box
            cx, cy = tr.predict(t)
            hw, hh = (x2 - x1) / 2, (y2 - y1) / 2
            preds.append((cx - hw, cy - hh, cx + hw, cy + hh))
        for b in boxes:
            inside = set()
            for i, p in enumerate(preds):
                iw = min(b[2], p[2]) - max(b[0], p[0])
                ih = min(b[3], p[3]) - max(b[1], p[1])
                if iw > 0 and ih > 0 and iw * ih >= 0.6 * _area(p):
                    inside.add(i)
            out.append(inside)
        return out

    def _distance(self, tr: Track, center: np.ndarray, box, t: float,
                  heading: Optional[tuple] = None) -> Optional[float]:
        """Gated distance from a track's prediction to a detection, in vehicle sizes.

        A moving track's gate is an ellipse along its velocity: a vehicle may be
        somewhat faster or slower than predicted, but it does not jump sideways
        into the next lane (where, in two-way traffic, a vehicle going the other
        way passes at the same moment). A track seen once has no velocity of its
        own: it may have stood still or moved like its neighbours (the flow
        prior), whichever fits better, within the wider `gate_new`."""
        s = self.settings
        scale = max(_diag(tr.last.box), 0.5 * _diag(box), 1.0)
        if len(tr.observations) < 2:
            hyps = [np.asarray(tr.last.center)]
            if tr.velocity is not None:
                hyps.append(tr.predict(t))
            d = min(float(np.linalg.norm(center - h)) for h in hyps) / scale
            return d if d <= s.gate_new else None
        err = center - tr.predict(t)
        speed = float(np.linalg.norm(tr.velocity))
        if speed < 1e-6:
            d = float(np.linalg.norm(err)) / scale
            return d if d <= s.gate else None
        u = tr.velocity / speed
        # Vehicles do not jump backwards: a box behind the track's last position
        # (by more than a quarter of its size) is another vehicle, e.g. one coming
        # the other way that merged with it for a moment.
        if float(np.dot(center - np.asarray(tr.last.center), u)) < -0.25 * scale:
            return None
        # ...nor do they turn round while moving. The test above alone lets a track
        # creep backwards a few pixels a frame onto a vehicle coming the other way
        # (one that enters where the track leaves, or passes it in the next lane):
        # the velocity follows each small step back. The track's heading does not, so
        # a box behind the farthest point the track reached is refused.
        # That id switch is what hides a crossing: a track counts once, so the
        # second vehicle it took over would never be counted (peers.md, recounts and
        # miscounts after id switches).
        if heading is not None and float(np.dot(center, heading[0])) < heading[1] - 0.25 * scale:
            return None
        along = float(np.dot(err, u))
        across = float(np.linalg.norm(err - along * u))
        # Across the motion the tolerance is the vehicle's own width-ish size.
        w, h = tr.last.box[2] - tr.last.box[0], tr.last.box[3] - tr.last.box[1]
        across_scale = max(0.5 * (abs(u[1]) * w + abs(u[0]) * h), 0.15 * scale, 1.0)
        d = float(np.hypot(along / scale, across / (1.5 * across_scale)))
        return d if d <= s.gate else None

    @staticmethod
    def _opposed(tracks: list) -> bool:
        vs = [tr.velocity for tr in tracks if tr.velocity is not None
              and float(np.linalg.norm(tr.velocity)) > 1e-6]
        return any(float(np.dot(a, b)) < 0 for i, a in enumerate(vs) for b in vs[i + 1:])

    def _associate(self, boxes: list, t: float, exclude=frozenset()):
        s = self.settings
        n_t, n_d = len(self._active), len(boxes)
        if n_t == 0 or n_d == 0:
            return [], list(range(n_d))
        big = 1e6
        cost = np.full((n_t, n_d), big)
        centers = np.array([((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in boxes])
        for i, tr in enumerate(self._active):
            a_t = _area(tr.last.box)
            heading = tr.heading() if len(tr.observations) >= 2 else None
            for j, b in enumerate(boxes):
                if j in exclude:
                    continue
                ratio = _area(b) / a_t
                if ratio > s.max_area_ratio or ratio < 1.0 / s.max_area_ratio:
                    continue
                d = self._distance(tr, centers[j], b, t, heading)
                if d is not None:
                    # Prefer confirmed tracks, then size agreement, on near-ties.
                    cost[i, j] = d + 0.1 * abs(np.log(ratio)) + (0.0 if tr.confirmed else 0.05)
        rows, cols = linear_sum_assignment(cost)
        matches = [(r, c) for r, c in zip(rows, cols) if cost[r, c] < big]
        matched_d = {c for _, c in matches}
        return matches, [j for j in range(n_d) if j not in matched_d]
