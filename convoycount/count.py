"""Counting: a Line, the LineCounter stage, and the CrossingEvent it emits."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np

from .geometry import diagonal, ground_depth_map, overlap_of_smaller

DIRECTIONS = ("left_to_right", "right_to_left", "top_to_bottom", "bottom_to_top")


@dataclass(frozen=True)
class CrossingEvent:
    track_id: int
    clip_time_s: float            # interpolated between the two observations around the crossing
    direction: str                # one of DIRECTIONS, named by the motion
    class_name: str
    confidence: float
    frame_index: int              # first decoded frame on the far side of the line
    point: tuple                  # (x, y) anchor at the crossing, scene pixels (the frame's
                                  # own pixels unless the camera moved; see camera/)
    box: tuple                    # (x1, y1, x2, y2) of the observation nearest the crossing,
                                  # pixels of its own frame (frame_index of that observation)
    real_time_s: Optional[float] = None   # filled by the time map
    continues_track: Optional[int] = None  # the track that carried this vehicle up to the line
                                  # before an id switch (LineCounter._handoffs); None: none
    also_tracks: tuple = ()       # other tracks that crossed with this same vehicle, not
                                  # counted again (LineCounter._same_vehicle)

    def to_dict(self) -> dict:
        return {"track_id": self.track_id, "clip_time_s": round(self.clip_time_s, 4),
                "real_time_s": None if self.real_time_s is None else round(self.real_time_s, 4),
                "direction": self.direction, "class": self.class_name,
                "confidence": round(float(self.confidence), 4), "frame_index": self.frame_index,
                "point": [round(v, 1) for v in self.point], "box": [round(v, 1) for v in self.box],
                "continues_track": self.continues_track, "also_tracks": list(self.also_tracks)}


# ---------------------------------------------------------------- geometry
@dataclass(frozen=True)
class Line:
    """A counting line segment in normalised coordinates (0..1 of width/height)."""
    x1: float
    y1: float
    x2: float
    y2: float
    source: str = "given"         # "given" | "auto"

    def __post_init__(self):
        vals = (self.x1, self.y1, self.x2, self.y2)
        if not all(isinstance(v, (int, float)) and 0.0 <= v <= 1.0 for v in vals):
            raise ValueError(f"line coordinates must be numbers in 0..1, got {vals}")
        if (self.x1, self.y1) == (self.x2, self.y2):
            raise ValueError("line endpoints must differ")

    @classmethod
    def parse(cls, text: str) -> "Line":
        """'x1,y1,x2,y2' in 0..1, e.g. '0.5,0,0.5,1' for a vertical line in the middle."""
        parts = [p.strip() for p in str(text).split(",")]
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            vals = []
        if len(vals) != 4:
            raise ValueError(f"--line takes four numbers x1,y1,x2,y2 in 0..1, got {text!r}")
        return cls(*vals)

    def to_pixels(self, width: int, height: int) -> tuple:
        return (self.x1 * width, self.y1 * height, self.x2 * width, self.y2 * height)

    def to_dict(self) -> dict:
        return {"x1": self.x1, "y1": self.y1, "x2": self.x2, "y2": self.y2, "source": self.source}


def _direction_names(a: np.ndarray, b: np.ndarray) -> tuple:
    """Names for crossing from the negative to the positive side and back.

    The side of point p is sign(cross(b - a, p - a)). Directions are named by the
    motion across the line: a mostly vertical line is crossed left/right, a
    mostly horizontal one top/bottom (image y grows downwards)."""
    d = b - a
    normal = np.array([-d[1], d[0]])       # points to the positive side
    if abs(d[1]) >= abs(d[0]):             # vertical-ish line: motion is horizontal
        neg_to_pos = "left_to_right" if normal[0] > 0 else "right_to_left"
    else:
        neg_to_pos = "top_to_bottom" if normal[1] > 0 else "bottom_to_top"
    opposite = {"left_to_right": "right_to_left", "right_to_left": "left_to_right",
                "top_to_bottom": "bottom_to_top", "bottom_to_top": "top_to_bottom"}
    return neg_to_pos, opposite[neg_to_pos]


def _segments_intersect(p: np.ndarray, q: np.ndarray, a: np.ndarray, b: np.ndarray,
                        tol: float) -> bool:
    """Does the path p->q meet the counting segment a->b (extended by tol px at each end)?"""
    d = b - a
    length = float(np.linalg.norm(d))
    u = d / length
    a2, b2 = a - u * tol, b + u * tol
    def orient(o, x, y):
        return (x[0] - o[0]) * (y[1] - o[1]) - (x[1] - o[1]) * (y[0] - o[0])
    o1, o2 = orient(a2, b2, p), orient(a2, b2, q)
    o3, o4 = orient(p, q, a2), orient(p, q, b2)
    return (o1 * o2 <= 0) and (o3 * o4 <= 0)


@dataclass(frozen=True)
class CounterSettings:
    margin_frac: float = 0.05     # a side only counts once the anchor is this far past the
                                  # line (fraction of the box size across it): jitter on the
                                  # line never flips a side
    margin_min_px: float = 1.0    # ...and at least this far, for tiny boxes
    segment_tol_px: float = 2.0   # the segment is extended by this much at each end, so a
                                  # path through its very end is not lost to rounding
    min_travel_diag: float = 0.5  # a track whose centre never got this far (box diagonals) from
                                  # where it was first seen is a standing vehicle whose box
                                  # jittered (a parked car across the line, half hidden by
                                  # traffic), never a crossing
    rigid_travel_frac: float = 0.5   # around its crossing, both ends of the box (across the line)
                                     # must move forward, the lesser by this share of the greater
                                     # (one end seen: by this share of the box's largest extent
                                     # across the line): a vehicle moves as a whole, while a parked one
                                     # whose visible part changes (half hidden by a vehicle passing
                                     # in front, or cut by the picture's edge as the camera pans)
                                     # moves one end only, its centre sliding over the line
    rigid_jitter_frac: float = 0.1   # ...and by more than box edges jitter (a share of the extent)
    rigid_window_s: float = 3.0      # ...seen within this much clip time either side of the
                                     # crossing (a vehicle stopped on the line moved on the way in)
    rigid_local_n: int = 3           # ...and, over up to this many sightings clearly either side of
                                     # the line (at least two), each end seen whole moved forward by
                                     # rigid_travel_frac of the centre's own progress (a median of
                                     # three survives one bad box; 0 switches the check off)
    same_vehicle_overlap: float = 0.6   # two tracks crossing together on boxes overlapping by more
                                        # than this share of the smaller are one vehicle (the
                                        # tracker's duplicate_overlap: the same reading of a box;
                                        # 1 switches the check off)
    pace_window_s: float = 1.0       # a track's pace either side of a crossing nobody saw: its net
                                     # travel over the whole sightings within this long of the gap
                                     # (the tracker's pace_window_s; three steps were too few: one odd
                                     # box after the gap read as a change of pace on tuning seed 526)
    edge_cut_px: float = 2.0         # a box end this close to the picture's edge (or within
                                     # rigid_jitter_frac of the box's extent) is the edge, not the
                                     # vehicle's end: it says nothing about the vehicle moving
    auto_line_edge_frac: float = 0.1   # an automatic line keeps this far (fraction of the frame)
                                       # from the edges, where vehicles are only half in view

    def __post_init__(self):
        for name in ("margin_frac", "margin_min_px", "segment_tol_px", "min_travel_diag",
                     "rigid_travel_frac", "rigid_jitter_frac", "rigid_window_s", "edge_cut_px",
                     "same_vehicle_overlap", "pace_window_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"CounterSettings.{name} must be a number >= 0, got {value!r}")
        n = self.rigid_local_n
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"CounterSettings.rigid_local_n must be an integer >= 0, got {n!r}")
        edge = self.auto_line_edge_frac
        if isinstance(edge, bool) or not isinstance(edge, (int, float)) or not 0 <= edge < 0.5:
            raise ValueError(f"CounterSettings.auto_line_edge_frac must be in [0, 0.5), got {edge!r}")


class LineCounter:
    """Stage: each confirmed track counts at most once, when its box centre goes
    from one side of the segment to the other.

    Rules that make the peers' bugs impossible here:
      * one event per track id, ever (flicker or lingering on the line cannot recount);
      * a side is only taken when the centre is clearly past the line (margin), so
        jitter across the line is not a crossing;
      * a track must have been seen on the origin side: a track that starts past
        the line never counts on its own (a parked car uncovered there), only as the
        continuation of a track that was heading for the line just before, at its
        place and pace (an id switch as a vehicle passes a parked one: _handoffs);
      * a box cut by the picture's edge proves only the side its hidden part lies
        toward (_places): a vehicle coming in at the edge is not past the line before
        its centre is, whatever its box's centre says;
      * the path between two observations is tested, not the points, so a fast
        vehicle that jumps over the line between frames is still counted, and the
        crossing time is interpolated between the two frames' real timestamps;
      * a crossing nobody saw (the track unseen, or seen only cut by the picture's
        edge, across the line) counts only if the track leaves the line at the pace it
        came with, or if what it took while unseen crossed in that time (_across_gap);
      * a crossing counts only if the track, when next seen clearly, is still past the
        line (_stays_over): a standing box whose centre went over for one look is not;
      * only confirmed tracks reach the counter (the tracker hides the rest).
    """

    def __init__(self, line: Line, width: int, height: int,
                 settings: CounterSettings = CounterSettings(), *, scene_px: Optional[tuple] = None):
        """`scene_px` (x1, y1, x2, y2): where the line lies in scene pixels, when the
        camera moved (camera.scene.place_line); otherwise `line` in a width x height
        picture."""
        self.line = line
        self.settings = settings
        self._size = (width, height)
        x1, y1, x2, y2 = scene_px if scene_px is not None else line.to_pixels(width, height)
        self._a = np.array([x1, y1], dtype=float)
        self._b = np.array([x2, y2], dtype=float)
        d = self._b - self._a
        self._len = float(np.linalg.norm(d))
        self._normal = np.array([-d[1], d[0]]) / self._len
        # the picture's axis the line's normal mostly lies along: the axis along which a
        # vehicle crosses it, so the one whose box ends (and edge cuts) matter
        self._ax = 0 if abs(self._normal[0]) >= abs(self._normal[1]) else 1
        self._names = _direction_names(self._a, self._b)

    def side_distance(self, point) -> float:
        """Signed distance in pixels of a point from the (infinite) line."""
        return float(np.dot(np.asarray(point, dtype=float) - self._a, self._normal))

    def _margin(self, box) -> float:
        w, h = box[2] - box[0], box[3] - box[1]
        extent = abs(self._normal[0]) * w + abs(self._normal[1]) * h
        return max(self.settings.margin_min_px, self.settings.margin_frac * extent)

    def crossing(self, track) -> Optional[CrossingEvent]:
        """The track's first crossing of the line, or None."""
        found = self._crossing(track)
        return None if found is None else found[0]

    def _crossing(self, track) -> Optional[tuple]:
        """(event, time of the last sighting clearly on the side it came from, time of
        the first clearly on the other) of the track's first crossing, or None."""
        obs = track.observations
        if not self._travelled(obs):
            return None
        places = self._places(obs)
        side = 0                 # last side the anchor was clearly on: -1, +1 or 0 (unknown)
        last_clear = None        # index of the last observation clearly on `side`
        for i, (o, (now, _)) in enumerate(zip(obs, places)):
            if now == 0:
                continue
            if side != 0 and now != side:
                ev = self._event(track, obs, last_clear, i, places)
                if ev is not None:
                    ev = self._across_gap(track, obs, last_clear, i, places, ev)
                if ev is not None and self._moved_through(obs, ev.clip_time_s, now) \
                        and self._ends_carry_centre(obs, last_clear, i, now) \
                        and self._stays_over(obs, places, i, now):
                    return ev, obs[last_clear].time_s, o.time_s
            side, last_clear = now, i
        return None

    def _places(self, obs) -> list:
        """(side, known) of each sighting: the side of the line the vehicle is clearly on
        (-1, +1; 0: on the line, or not known), and whether its box centre is the
        vehicle's (False: the box is cut by the picture's edge). A cut box shows part of
        the vehicle, whose centre lies behind the box's on the cut side by half a hidden
        length nobody saw, so the box's centre proves one side only. A truck coming in at
        the edge has its centre behind its box's: a box centre past the line does not put
        it past (bench_camera seed 532: counted as the line left the view, its own centre
        never having crossed in view); nor does a parked car's box, shrinking as a pan's
        edge eats it, carry the car over the line (seed 537). The length is not borrowed
        from the track's whole boxes: a track can pass from one vehicle to another at the
        edge (a parked van's track taking a truck coming in, tests/test_camera_count.py)."""
        return [self._place(o) for o in obs]

    def _place(self, o) -> tuple:
        """(side, known) of one sighting: see _places."""
        ax = self._ax
        side = self._clear_side(o)
        lo_cut, hi_cut = self._cut_ends(o, ax)
        if lo_cut == hi_cut:                      # whole (or wider than the picture: as seen)
            return side, True
        # a cut low end hides the vehicle toward low values along ax, so its centre is
        # at most the box's there: the side it proves is the one lying that way
        provable = -1 if lo_cut == (self._normal[ax] > 0) else 1
        return (side if side == provable else 0), False

    def _moved_through(self, obs, t: float, to_side: int) -> bool:
        """Did both ends of the box, across the line, move forward over time t?

        Each end's progress is the median of where it was seen in the `rigid_window_s`
        after t less the median of where it was seen in the window before: a vehicle
        crossing moves both ends by its travel; a parked vehicle whose visible part
        grows or shrinks moves one end only; and a standing track that took over a
        passing vehicle's box (an id switch) some time later has not moved *at* t.
        A track seen only once on one side (lost right after it crossed, hidden by a
        vehicle coming the other way; or first seen just before) is judged on how it
        moved while seen: split in two halves at the middle of its frames on the side
        it was seen. A box that jumped over the line once from a standing track did not
        move before it jumped. A vehicle seen on fewer frames than that (3 or so: a fast
        one at a low frame rate or a high speed-up) is judged on single looks, steady
        from look to look (`_steady`, `_rigid` with looks=1)."""
        s = self.settings
        if s.rigid_travel_frac == 0:                    # the rule switched off
            return True
        near = [o for o in obs if abs(o.time_s - t) <= s.rigid_window_s]
        before = [o for o in near if o.time_s <= t]
        after = near[len(before):]
        if len(before) >= 2 and len(after) >= 2:
            pool, split = near, t
        elif len(before) >= 4 or len(after) >= 4:
            pool = before if len(before) >= 4 else after
            split = pool[len(pool) // 2 - 1].time_s
        elif before and after and len(near) >= 3:
            return self._steady(near) and self._rigid(near, t, to_side, looks=1)
        else:
            return False
        return self._rigid(pool, split, to_side)

    def _steady(self, obs) -> bool:
        """Does the box move at a steady velocity from look to look? Judged on a vehicle
        seen too few times for medians: between two looks a vehicle's speed and heading
        change little (it cannot brake, speed up or turn much in one frame interval),
        while boxes of detector flicker (a flash that stands, then another one further
        on) jump. Each velocity must differ from the one before by less than
        `rigid_travel_frac` of the larger speed, the same factor-of-two agreement the
        rigid rule asks of the two ends."""
        frac = self.settings.rigid_travel_frac
        v = [(np.asarray(b.scene_center) - np.asarray(a.scene_center)) / (b.time_s - a.time_s)
             for a, b in zip(obs, obs[1:])]
        return all(_agree(a, b, frac) for a, b in zip(v, v[1:]))

    def _stays_over(self, obs, places: list, i1: int, to_side: int) -> bool:
        """Is the track, when next seen clearly on either side after i1, still on the side
        it crossed to? A vehicle that crossed drives on; a standing box whose centre went
        over the line for a moment (its back end eaten by a vehicle passing in front while
        its front end stood: bench_camera seed 577, a parked truck across the line) is
        clearly back where it stood at the next look. "Clearly" by the margin of the box
        that crossed too: a vehicle half hidden just after it crossed has a small box, whose
        own margin is a pixel or two (samples/vfr_phone.mp4 at 4.6 s). (A vehicle turning
        back is seen on the far side first.)"""
        least = self._margin(obs[i1].scene)
        for o, (side, whole) in zip(obs[i1 + 1:], places[i1 + 1:]):
            if not whole:                 # a cut box: only the side its hidden part proves
                if side != 0:
                    return side == to_side
                continue
            d = to_side * self.side_distance(o.scene_center)
            if abs(d) >= max(least, self._margin(o.scene)):
                return d > 0
        return True

    def _across_gap(self, track, obs, i0: int, i1: int, places: list, ev: CrossingEvent):
        """The event `ev`, re-timed or refused where the crossing itself was not seen:
        between the last clear sighting on one side (i0) and the first on the other (i1),
        both whole, the track went unseen, or was seen only cut by the picture's edge, for
        more than two frame intervals. If the vehicle leaves the line at the pace it came
        with (between looks a vehicle's speed changes by less than a factor of two:
        `_steady`'s agreement, `rigid_travel_frac`), `ev` stands. If not, the track lost one
        thing and took another while unseen, and only the thing seen after can have crossed:
        at the time its whole boxes, carried back at their own velocity, meet the line,
        if that falls inside the gap; else nothing crossed (None). bench_camera seed 566: a
        passing car's track took a parked truck standing just past the line (it never
        meets the line); seed 583: a parked SUV's track, its box sliding at 70 px/s as a
        passing car uncovered it, took a truck coming in at 420 px/s 0.9 s later, which had
        crossed when the line was out of view; seeds 401 and 430: a parked car's track took
        the car passing in front of it, which crossed in the gap, and counts then. Where
        a side has fewer than two whole sightings there is nothing to compare: `ev` stands.
        Pace is net travel over `pace_window_s` of whole sightings either side, in box sizes."""
        frac = self.settings.rigid_travel_frac
        if frac == 0 or not (places[i0][1] and places[i1][1]):
            # (off; or a side seen only on a box cut by the edge, whose centre's pace is not
            # the vehicle's: a car coming in at the edge as it crosses, bench_camera seed 361)
            return ev
        seen = [obs[j].time_s for j in range(i0, i1 + 1) if j in (i0, i1) or places[j][1]]
        if max(np.diff(seen)) <= 2.0 * float(np.median(np.diff([o.time_s for o in obs]))) + 1e-9:
            return ev                   # seen whole all the way across: the other rules judge it
        whole = [j for j in range(len(obs)) if places[j][1]]
        w = self.settings.pace_window_s
        before = [obs[j] for j in whole if obs[i0].time_s - w <= obs[j].time_s <= obs[i0].time_s]
        after = [obs[j] for j in whole if obs[i1].time_s <= obs[j].time_s <= obs[i1].time_s + w]
        va = _early_velocity(before[::-1], len(before) - 1)                   # newest first
        vb = _early_velocity(after, len(after) - 1)
        if va is None or vb is None:
            return ev
        # in the vehicle's own sizes per second: toward or away from the camera its speed in
        # pixels grows or shrinks with its box (highway_a: a car coming closer sped up 2.5x
        # in pixels across a gap of three frames, 1.45x in its own sizes)
        va = va / float(np.median([diagonal(o.scene) for o in before]))
        vb = vb / float(np.median([diagonal(o.scene) for o in after]))
        if _agree(va, vb, frac):
            return ev
        return self._event_from_whole(track, obs, i0, i1, places, within=True)

    def _ends(self, pool, split: float, to_side: int, on_road: bool = False) -> tuple:
        """({(end, later): [positions]}, largest extent across the line): where the back
        (end 0) and front (end 1) of the box were seen, along the direction of travel,
        up to `split` (later False) and after it; in pixels, or (`on_road`) as distances
        along the road where the picture shows them (`_ground`)."""
        ax = self._ax
        sign = 1.0 if self._normal[ax] * to_side > 0 else -1.0   # towards the side it crossed to
        ends = {(k, later): [] for k in (0, 1) for later in (False, True)}
        extent = 0.0
        ground = self._ground(pool, ax) if on_road else float
        for o in pool:
            lo, hi = ground(o.scene[ax]), ground(o.scene[ax + 2])
            extent = max(extent, hi - lo)
            pair = _back_front(lo, hi, self._cut_ends(o, ax), sign)
            later = o.time_s > split
            for k, (v, was_cut) in enumerate(pair):
                # A cut end lies beyond the picture's edge: a cut back end was at most
                # this far forward, a cut front end at least this far, so each still
                # bounds the progress from below on one side of the split.
                if not was_cut or later == (k == 1):
                    ends[(k, later)].append(v)
        return ends, extent

    @staticmethod
    def _progress(ends: dict, least: int) -> list:
        """Each end's progress (median after less median before), for the ends seen at
        least `least` times on both sides."""
        judged = [k for k in (0, 1) if len(ends[(k, False)]) >= least and len(ends[(k, True)]) >= least]
        return [float(np.median(ends[(k, True)])) - float(np.median(ends[(k, False)])) for k in judged]

    def _rigid(self, pool, split: float, to_side: int, looks: int = 2) -> bool:
        """Both ends' progress from the observations up to `split` to those after it,
        each end judged on at least `looks` sightings on each side.

        looks=1 is for a vehicle the camera saw on too few frames for medians (a fast
        one at a low frame rate or a high speed-up: 2 looks before the line and 1
        after). One sighting a side does not average the box edges' jitter out, so then
        both ends must each have moved by `rigid_travel_frac` of the box's extent: a
        parked car's edges do not jitter by half its size, and one whose visible part
        changes moves one end only."""
        return any(self._rigid_in(pool, split, to_side, looks, on_road) for on_road in (False, True))

    def _rigid_in(self, pool, split: float, to_side: int, looks: int, on_road: bool) -> bool:
        """`_rigid` measured in pixels or on the road. A vehicle's two ends move alike on
        the picture when it crosses it, and alike on the road when it drives along the
        view (there its near end moves faster in pixels: a receding car near the camera
        moves its back twice as far as its front). An end that stands, stands in both."""
        s = self.settings
        ends, extent = self._ends(pool, split, to_side, on_road)
        moved = self._progress(ends, looks)
        if looks < 2:
            return len(moved) == 2 and min(moved) >= s.rigid_travel_frac * extent
        if len(moved) == 2:
            # Both ends seen: a vehicle moves them alike, however slowly (a long bus in a
            # queue may advance less than half its length in the window); a box whose
            # visible part changes moves one end only. Each must beat the box-edge jitter.
            return min(moved) >= max(s.rigid_travel_frac * max(moved), s.rigid_jitter_frac * extent)
        return len(moved) == 1 and moved[0] >= s.rigid_travel_frac * extent

    def _ends_carry_centre(self, obs, i0: int, i1: int, to_side: int) -> bool:
        """At the crossing itself, does every end of the box seen whole move forward with
        its centre? Judged on the `rigid_local_n` sightings nearest the crossing that are
        clearly on the side it came from (up to i0) and clearly on the other (from i1),
        so the centre has moved by at least its two margins. The centre of a standing
        vehicle slides over the line when the picture's edge (a pan) or a vehicle in
        front eats one end of its box while the other end stands; a track that takes
        over a passing vehicle's box a moment later then moves over the 3 s window as a
        whole, but at the crossing only the eaten end had moved. A box no longer clearly
        past the line (a vehicle lost half hidden just after it crossed,
        samples/vfr_phone.mp4) is no evidence either way, and with fewer than two clear
        sightings on a side the window's test alone decides. Only a box cut by the
        picture's edge there is judged: that is the slide's cause, and a detector boxing
        part of a vehicle (a truck as two halves near the line, tests/test_parts.py)
        shifts the centre by a share of the box while both ends move on."""
        s = self.settings
        k = s.rigid_local_n
        t = obs[i0].time_s
        def clear(o, side):
            return (side * self.side_distance(o.scene_center) >= self._margin(o.scene)
                    and abs(o.time_s - t) <= s.rigid_window_s)
        before = [o for o in obs[:i0 + 1] if clear(o, -to_side)][-k:] if k else []
        after = [o for o in obs[i1:] if clear(o, to_side)][:k]
        # (the boxes between i0 and i1 too: where the crossing was seen only on boxes
        # cut by the edge, _places skipped them, and the slide happened there)
        if len(before) < 2 or len(after) < 2 or \
                not any(self._edge_cut(o) for o in before + after + list(obs[i0:i1])):
            return True
        moves = [self._end_and_centre(before, after, to_side, which) for which in (0, 1)]
        return all(end >= s.rigid_travel_frac * centre for end, centre in moves if end is not None)

    def _end_and_centre(self, before: list, after: list, to_side: int, k: int) -> tuple:
        """(progress of end k, 0 back or 1 front, progress of the box centre), each the
        median after less the median before, over the sightings where that end is seen
        whole (not cut by the edge), so both are measured over the same moments; (None,
        None) where it was not seen whole on both sides. A truck coming in at the edge is
        seen whole from behind only late: its back end's progress over those sightings
        keeps up with the centre's over them, not with the centre's since it came in."""
        n = self._normal * to_side
        ax = self._ax
        sign = 1.0 if n[ax] > 0 else -1.0
        sides = ([], [])
        for later, group in enumerate((before, after)):
            for o in group:
                end, cut = _back_front(o.scene[ax], o.scene[ax + 2], self._cut_ends(o, ax), sign)[k]
                if not cut:                   # (a cut end is the picture's edge)
                    sides[later].append((end, float(np.dot(o.scene_center, n))))
        if not sides[0] or not sides[1]:
            return None, None
        med = [np.median(np.array(g), axis=0) for g in sides]
        return float(med[1][0] - med[0][0]), float(med[1][1] - med[0][1])

    def _ground(self, pool, ax: int):
        """Positions along axis `ax` as distances along the road (geometry.ground_depth_map,
        fitted on this vehicle's boxes seen whole), or as they are where the boxes show no
        perspective. Across the picture (ax 0) a row keeps its depth. A box's top row is a
        roof, not road, so on the road a tall vehicle's top end moves more than its bottom
        end (by camera height over camera height less roof height): `_rigid` takes the
        road measure beside the pixels', never instead of them."""
        whole = [o.scene for o in pool if not any(self._cut_ends(o, 0) + self._cut_ends(o, 1))]
        depth = ground_depth_map(whole) if ax == 1 else None
        return (lambda v: float(v)) if depth is None else (lambda v: float(depth(v)))

    def _cut_ends(self, o, ax: int) -> tuple:
        """(low end, high end) of the box along axis `ax`: is each at the picture's edge?
        Within `edge_cut_px`, or within the jitter of the box's own edges
        (`rigid_jitter_frac` of its extent): a detector boxing a vehicle cut by the edge
        stops a few pixels short of it as often as not (bench_camera seed 426: a truck
        entering at x 2.3, whose "back end" then moved with the panning picture)."""
        s = self.settings
        cut = max(s.edge_cut_px, s.rigid_jitter_frac * (o.box[ax + 2] - o.box[ax]))
        return o.box[ax] <= cut, o.box[ax + 2] >= self._size[ax] - cut

    def _edge_cut(self, o) -> bool:
        """Is either end of this box, along the motion across the line, at the picture's edge?"""
        return any(self._cut_ends(o, self._ax))

    def _travelled(self, obs) -> bool:
        c0 = np.asarray(obs[0].scene_center)
        size = float(np.median([np.hypot(o.scene[2] - o.scene[0], o.scene[3] - o.scene[1]) for o in obs]))
        need = self.settings.min_travel_diag * size
        return any(float(np.linalg.norm(np.asarray(o.scene_center) - c0)) >= need for o in obs)

    def _event(self, track, obs, i0: int, i1: int, places: Optional[list] = None) -> Optional[CrossingEvent]:
        # The crossing happened between observation i0 (clearly on one side) and i1
        # (clearly on the other); find the step in between where the sign changes,
        # skipping the boxes cut by the picture's edge between them (`places`, _places:
        # their centres are not the vehicle's).
        if places is not None and places[i0][1] != places[i1][1]:
            ev = self._event_from_whole(track, obs, i0, i1, places)
            if ev is not None:
                return ev
        known = [j for j in range(i0, i1 + 1) if j in (i0, i1) or places is None or places[j][1]]
        for j, k in zip(known, known[1:]):
            p, q = obs[j], obs[k]
            pc, qc = np.asarray(p.scene_center, float), np.asarray(q.scene_center, float)
            sp, sq = self.side_distance(pc), self.side_distance(qc)
            if (sp < 0) == (sq < 0) and sp != 0:
                continue
            if not _segments_intersect(pc, qc, self._a, self._b, self.settings.segment_tol_px):
                return None      # crossed the infinite line outside the segment
            frac = 0.0 if sp == sq else sp / (sp - sq)
            return self._make_event(track, p.time_s + frac * (q.time_s - p.time_s),
                                    pc + frac * (qc - pc), sp < sq, p if frac < 0.5 else q, q)
        return None

    def _make_event(self, track, t: float, point, forward: bool, near, after) -> CrossingEvent:
        return CrossingEvent(track_id=track.track_id, clip_time_s=float(t),
                             direction=self._names[0] if forward else self._names[1],
                             class_name=track.class_name, confidence=track.confidence,
                             frame_index=after.frame_index, point=tuple(map(float, point)),
                             box=near.box)

    def _event_from_whole(self, track, obs, i0: int, i1: int, places: list,
                          within: bool = False) -> Optional[CrossingEvent]:
        """The crossing timed from the side where the vehicle was seen whole, when on the
        other it was seen only cut by the picture's edge: the cut box's centre lies ahead
        of the vehicle's by an unknown half length, so interpolating from it puts the
        crossing early (a truck entering at the edge as the line leaves the view, seed
        532). The whole boxes' centre, carried back (or on) at its own velocity, crosses
        when the vehicle did; kept between the two sightings (`within`: None if it falls
        outside them), or None without two whole sightings on that side."""
        whole = [j for j in range(len(obs)) if places[j][1]]
        # the nearest whole sighting and the one up to three whole steps on (one step's
        # velocity is the difference of two boxes' jitter)
        run = [j for j in whole if j >= i1][:4] if places[i1][1] else [j for j in whole if j <= i0][-4:]
        if len(run) < 2:
            return None
        p, q = obs[run[0]], obs[run[-1]]
        pc, qc = np.asarray(p.scene_center, float), np.asarray(q.scene_center, float)
        sp, sq = self.side_distance(pc), self.side_distance(qc)
        if sp == sq or q.time_s == p.time_s:
            return None
        frac = sp / (sp - sq)                     # outside [0, 1]: carried back or on
        t = p.time_s + frac * (q.time_s - p.time_s)
        if within and not obs[i0].time_s <= t <= obs[i1].time_s:
            return None
        t = min(max(t, obs[i0].time_s), obs[i1].time_s)
        frac = (t - p.time_s) / (q.time_s - p.time_s)
        point = pc + frac * (qc - pc)
        if not _segments_intersect(point - (qc - pc), point + (qc - pc), self._a, self._b,
                                   self.settings.segment_tol_px):
            return None
        return self._make_event(track, t, point, places[i1][0] > places[i0][0],
                                obs[i1] if places[i1][1] else obs[i0], obs[i1])

    def count(self, tracks) -> list:
        """Events of all tracks, in time order, one per vehicle (see _same_vehicle)."""
        tracks = list(tracks)
        by_id = {t.track_id: t for t in tracks}
        found = [f for f in map(self._crossing, tracks) if f is not None]
        crossed = {f[0].track_id: f[0].clip_time_s for f in found}
        found += self._handoffs(tracks, crossed)
        found.sort(key=lambda f: (f[0].clip_time_s, f[0].track_id))
        kept = []
        for f in found:
            twin = next((i for i, k in enumerate(kept) if self._same_vehicle(f, k, by_id)), None)
            if twin is None:
                kept.append(f)
            else:      # the vehicle is counted once; its event names the other track too
                e, lo, hi = kept[twin]
                kept[twin] = (replace(e, also_tracks=e.also_tracks + (f[0].track_id,)), lo, hi)
        return [f[0] for f in kept]

    def _handoffs(self, tracks, crossed: dict) -> list:
        """Crossings made across an id switch: (event, time, time) as _crossing gives.

        A track first seen clearly past the line never counts on its own (it may be a
        parked car uncovered there). But where a vehicle passes in front of a parked one
        on the line, the boxes merge and the vehicle's track can stay with the parked car
        short of the line while the vehicle, past it, starts a new track (bench_camera
        seed 473). The new track is the same vehicle when, at its first sighting, another
        track was heading for the line on the other side, and one of its last places, carried
        on at its own velocity, lands on the new track's first box (overlapping it as the
        tracker's duplicate boxes do), at about the new track's velocity (within
        rigid_travel_frac, the factor-of-two agreement of _steady): a vehicle does not
        stop dead while another, unseen before, sets off at its speed from where it
        would be. The crossing is counted once, on the new track, between the two
        sightings. Tracks that crossed on their own (`crossed`: id -> crossing time) are
        not continued, and hand over only before they crossed: a track's crossing after
        it handed its vehicle on is another vehicle's (a parked car's track taking a car
        that comes in, seed 422), one before is this vehicle's, counted (seed 425)."""
        found = []
        spans = [(a.observations[0].time_s, a.observations[-1].time_s) for a in tracks]
        for b in tracks:
            if b.track_id in crossed:
                continue
            first = b.observations[0]
            side = self._place(first)[0]
            vb = _early_velocity(b.observations)
            if side == 0 or not self._heads_to(vb, side) or not self._travelled(b.observations):
                continue
            # (only tracks seen before b's start and until about then can hand over)
            for a in (a for a, (t0, t1) in zip(tracks, spans)
                      if a is not b and t0 < first.time_s <= t1 + _HANDOFF_REACH_S
                      and crossed.get(a.track_id, np.inf) > first.time_s):
                hit = self._hands_over(a, first, vb, side)
                if hit is not None:
                    ev = self._event(b, [hit, first], 0, 1)
                    if ev is not None:
                        ev = replace(ev, continues_track=a.track_id)
                        found.append((ev, hit.time_s, first.time_s))
                        break
        return found

    def _clear_side(self, o) -> int:
        """-1 or +1: the side the observation's centre is clearly on (past the margin);
        0 when it is on the line."""
        s = self.side_distance(o.scene_center)
        m = self._margin(o.scene)
        return -1 if s <= -m else (1 if s >= m else 0)

    def _hands_over(self, a, first, vb: np.ndarray, side: int, looks: int = 3):
        """a's sighting from which its vehicle, carried on, becomes the track that starts
        with `first` (see _handoffs), or None. The sightings tried are a's last `looks`
        before `first` (the boxes of the frame or two before the switch are often the
        merged blob already), each with the velocity of the steps that led to it."""
        before = [o for o in a.observations if o.time_s < first.time_s]
        if len(before) < 2 or first.time_s - before[-1].time_s > 2 * (before[-1].time_s - before[-2].time_s) + 1e-9:
            return None                                 # a was not seen just before
        for k in range(1, min(looks, len(before) - 1) + 1):
            last = before[-k]
            va = _early_velocity(before[-k::-1])
            if self._place(last)[0] == -side and self._carries_on(last, va, vb, first, side):
                return last
        return None

    def _heads_to(self, v: Optional[np.ndarray], side: int) -> bool:
        """Does velocity v (None: unknown) point towards the line's `side`?"""
        return v is not None and float(np.dot(v, self._normal)) * side > 0

    def _carries_on(self, last, va, vb: np.ndarray, first, side: int) -> bool:
        """Does a vehicle seen at `last`, moving at va toward the line's `side`, land on
        `first`'s box at about its velocity vb?"""
        if not self._heads_to(va, side):
            return False
        frac = self.settings.rigid_travel_frac
        if float(np.linalg.norm(va - vb)) >= frac * max(float(np.linalg.norm(va)), float(np.linalg.norm(vb))):
            return False
        carried = np.asarray(last.scene, float) + np.tile(va * (first.time_s - last.time_s), 2)
        return float(overlap_of_smaller([carried], [first.scene])[0, 0]) > self.settings.same_vehicle_overlap

    def _same_vehicle(self, a: tuple, b: tuple, by_id: dict) -> bool:
        """Are two crossings one vehicle's, counted by two tracks? Where a passing vehicle's
        box merges with a parked one's on the line, the two tracks can swap vehicles there
        and both cross with the one vehicle that moved. Two vehicles cannot fill the same
        place at the same moment: crossings the same way, whose steps over the line
        overlap in time, by tracks whose scene boxes on a frame of those steps are this
        much one box (the share the tracker takes as a duplicate detection), are one."""
        (ea, lo_a, hi_a), (eb, lo_b, hi_b) = a, b
        if ea.direction != eb.direction or lo_a > hi_b or lo_b > hi_a:
            return False
        lo, hi = min(lo_a, lo_b), max(hi_a, hi_b)
        boxes_b = {o.frame_index: o.scene for o in by_id[eb.track_id].observations if lo <= o.time_s <= hi}
        pairs = [(o.scene, boxes_b[o.frame_index]) for o in by_id[ea.track_id].observations
                 if lo <= o.time_s <= hi and o.frame_index in boxes_b]
        return any(float(overlap_of_smaller([p], [q])[0, 0]) > self.settings.same_vehicle_overlap
                   for p, q in pairs)


_HANDOFF_REACH_S = 3.0     # a cheap pre-filter: _hands_over asks for a sighting within two of
                           # the track's own frame steps, under this down to 1 frame a second


def _back_front(lo: float, hi: float, cut: tuple, sign: float) -> tuple:
    """((back, cut?), (front, cut?)) of a box's ends `lo`, `hi` along an axis, with their
    edge-cut flags `cut` (low, high), for travel toward higher values (`sign` +1) or
    lower (-1, positions negated so that forward is always up)."""
    return ((lo, cut[0]), (hi, cut[1])) if sign > 0 else ((-hi, cut[1]), (-lo, cut[0]))


def _agree(a: np.ndarray, b: np.ndarray, frac: float) -> bool:
    """Do two velocities agree: differ by less than `frac` of the larger speed? (A vehicle's
    velocity between looks; _steady and _across_gap.)"""
    return float(np.linalg.norm(b - a)) < frac * max(float(np.linalg.norm(a)), float(np.linalg.norm(b)))


def _early_velocity(obs, looks: int = 3) -> Optional[np.ndarray]:
    """Velocity (scene px/s) of the centre over the first `looks` steps of `obs`, or None
    when it has fewer than two sightings. Given newest first, the velocity of the last
    steps (time and travel both change sign)."""
    if len(obs) < 2:
        return None
    a, b = obs[0], obs[min(looks, len(obs) - 1)]
    dt = b.time_s - a.time_s
    if dt == 0:
        return None
    return (np.asarray(b.scene_center, float) - np.asarray(a.scene_center, float)) / dt


def auto_line(tracks, width: int, height: int,
              settings: CounterSettings = CounterSettings()) -> Line:
    """A line across the dominant flow, where the most tracks pass.

    Flow axis: the larger of the summed |dx| and |dy| of all track displacements.
    The line is perpendicular to it, spanning the frame, at the position along the
    flow axis (in steps of 1% of the frame) that the most tracks cover, at least
    `settings.auto_line_edge_frac` from the edges (ties go to the frame centre)."""
    disp = [np.asarray(t.observations[-1].scene_center) - np.asarray(t.observations[0].scene_center)
            for t in tracks if len(t.observations) >= 2]
    if not disp:
        return Line(0.5, 0.0, 0.5, 1.0, source="auto")
    disp = np.array(disp)
    horizontal_flow = np.abs(disp[:, 0]).sum() >= np.abs(disp[:, 1]).sum()
    axis, size = (0, width) if horizontal_flow else (1, height)
    bins = np.zeros(101)
    for t in tracks:
        vals = [o.scene_center[axis] / size for o in t.observations]
        lo, hi = max(0.0, min(vals)), min(1.0, max(vals))
        bins[int(np.ceil(lo * 100)):int(np.floor(hi * 100)) + 1] += 1
    pos = np.arange(101) / 100
    score = bins - 1e-3 * np.abs(pos - 0.5)    # less than one track: only breaks ties
    edge = settings.auto_line_edge_frac
    score[(pos < edge) | (pos > 1 - edge)] = -np.inf
    c = float(pos[int(np.argmax(score))])
    if horizontal_flow:
        return Line(c, 0.0, c, 1.0, source="auto")
    return Line(0.0, c, 1.0, c, source="auto")
