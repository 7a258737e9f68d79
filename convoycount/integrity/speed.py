"""Speed changes: from some moment on, the clip plays faster than before (frames
dropped from a point on, or a part sped up in an editor). A part slowed down is
not looked for: traffic braking together looks the same; repeated frames, the
usual way footage is slowed, are `duplicated_frames`.

Where: in the vehicles on screen at that moment, each compared with itself, which
needs no scale. Dropping every other frame doubles every vehicle's pace (pixels
per clip second) from one frame to the next, while its position runs on without
a jump. Each vehicle's pace is fitted over short windows on each side of a
moment; the step between the two windows next to it, less the vehicle's own
trend (the mean change between the windows on either side: a vehicle gathering
speed ramps its pace), relative to its pace before, is its pace step there. The
moments where every vehicle across steps up, by about the same factor, are the
candidates. A window beyond the two next to the moment that the vehicle is not
seen long enough in (it enters just before the moment, or is lost just after) is
left out, and with it that side's trend.
Two or more vehicles must step at once: one alone may be a driver pulling away
from a queue.
Whether: the other vehicles, after the moment against before it at the same
places in the picture (pace.py: same place and heading, so the same lane at the
same scale). The edit makes the traffic after pass the places
the traffic before passed by about the factor the vehicles stepped by, and it
lasts to the end of the shot: the comparison spans the shot around the moment
(between jumps in the picture: across a cut or a splice the footage may be of
another time or place). At least MIN_WITNESSES vehicles on each side, most of
them faster; with fewer, the pace of a few drivers decides and nothing is said.
Of the candidates that pass, the one where the two witnesses agree best on the
factor is the moment (`_disagreement`). The two witnesses are independent: one is
each vehicle against itself within a second, the other each vehicle against other
vehicles at the same place seconds apart. The finding's confidence grows with the number of vehicles that
witness it."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .findings import Finding
from .pace import PaceSamples, PlaceRatio, place_ratio

WINDOW_S = 0.3           # pace fitted over this long on each side (box jitter against a ramp's length)
MIN_OBS = 4              # observations a window needs
MOVING_SHARE = 0.3       # a vehicle slower than this share of its cruise (90th pct) is not compared
MIN_FACTOR = 1.4         # every vehicle's pace steps up at least this much...
MIN_STEPPED = 2          # ...two or more of them: one alone may be a driver pulling away from a queue
AGREE = 1.6              # ...and the vehicles' factors are within this ratio of each other
KEEPS = 1.4              # and the other vehicles pass the same places at least this much faster after
MOST = 0.75              # (this share of them faster than the ones before)
MIN_WITNESSES = 3        # other vehicles needed on each side: fewer, and the pace of a few drivers decides
MIN_AROUND_S = 2.0       # clip needed on each side of the moment
BORDER_PX = 2            # a box edge this close to the frame's edge is the frame's
EDGE_S = 1.0             # moments this close to the clip's ends or to a jump in the picture are
                         # not tried (a window there straddles the jump)


@dataclass(frozen=True)
class _Path:
    """One track's box edges, with running sums for a least-squares pace over any
    window. A box cut by the frame's edge has one false edge (the frame's); its
    other edge, still the vehicle's, moves at the vehicle's pace, while its centre
    would move at half that until the vehicle is all in. So each axis's pace comes
    from the box edges that are the vehicle's throughout: both (the centre) or one."""
    track_id: int
    t: np.ndarray
    sums: np.ndarray         # (N+1, 4 edges, 6): cumulative [1, t, t^2, e, t*e, edge at the frame's border]
    cruise: float

    @classmethod
    def of(cls, track, width: int, height: int):
        t = np.array([o.time_s for o in track.observations], float)
        e = np.array([o.box for o in track.observations], float).reshape(-1, 4)
        cut = np.column_stack([e[:, 0] <= BORDER_PX, e[:, 1] <= BORDER_PX,
                               e[:, 2] >= width - BORDER_PX, e[:, 3] >= height - BORDER_PX])
        tt = np.repeat(t[:, None], 4, axis=1)
        cols = np.stack([np.ones_like(e), tt, tt * tt, e, tt * e, cut.astype(float)], axis=2)
        sums = np.concatenate([np.zeros((1, 4, 6)), np.cumsum(cols, axis=0)])
        # per frame, each axis from the edges off the border in both frames (a vehicle
        # cut by the border all along, parked at the edge, still has a cruise)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            d = np.where(cut[1:] | cut[:-1], np.nan, np.diff(e, axis=0))
            v = np.column_stack([np.nanmean(d[:, [0, 2]], axis=1), np.nanmean(d[:, [1, 3]], axis=1)])
        moves = (np.hypot(*v.T) / np.maximum(np.diff(t), 1e-9))[np.isfinite(v).all(axis=1)]
        return cls(track.track_id, t, sums, float(np.percentile(moves, 90)) if len(moves) else 0.0)

    def _edge_rates(self, lo: float, hi: float):
        """Per edge: least-squares rate (px/s) over [lo, hi), NaN where the edge
        touches the frame's border there; None with too few observations."""
        a, b = np.searchsorted(self.t, lo), np.searchsorted(self.t, hi)
        if b - a < MIN_OBS:
            return None
        n, st, stt, se, ste, cut = (self.sums[b] - self.sums[a]).T
        den = n * stt - st * st
        if np.any(den <= 0):
            return None
        return np.where(cut > 0, np.nan, (n * ste - st * se) / den)

    def velocity_windows(self, m: float):
        """The velocity in the four windows around m, each axis from the same edges in
        all of them; an outer window the vehicle is not seen in long enough is NaN (a
        vehicle entering just before the moment, or lost just after it)."""
        w = WINDOW_S
        rates = [self._edge_rates(lo, lo + w) for lo in (m - 2 * w, m - w, m, m + w)]
        if rates[1] is None or rates[2] is None:
            return None
        seen = [k for k, r in enumerate(rates) if r is not None]
        r = np.full((4, 4), np.nan)
        r[seen] = [rates[k] for k in seen]
        out = np.full((4, 2), np.nan)
        for axis, edges in ((0, [0, 2]), (1, [1, 3])):
            good = [k for k in edges if not np.isnan(r[seen, k]).any()]
            if not good:
                return None
            out[seen, axis] = r[seen][:, good].mean(axis=1)
        return out

    def pace_step(self, m: float):
        """The vehicle's pace factor across moment m, less its own trend (None: not
        moving there, or not seen long enough on both sides)."""
        vs = self.velocity_windows(m)
        if vs is None:
            return None
        before = float(np.hypot(*vs[1]))
        if before < MOVING_SHARE * self.cruise or before <= 0:
            return None
        pace = [float(v @ vs[1]) / before for v in vs]     # along its motion: a reversal is negative
        # only the part of the step beyond any rise just before or just after it: a vehicle
        # gathering speed rises on both sides, a box that swallows a neighbour jumps on one
        rise = max(0.0, np.nan_to_num(pace[1] - pace[0]), np.nan_to_num(pace[3] - pace[2]))
        return 1.0 + (pace[2] - pace[1] - rise) / before


def find_speed_change(tracks, width: int, height: int, clip: tuple, leap_times=()) -> tuple:
    """(findings, notes): at most one speed_change; a note when vehicles stepped up
    together but too few others passed the same places to say whether it was an edit."""
    paths = [_Path.of(tr, width, height) for tr in tracks if len(tr.observations) >= 2 * MIN_OBS]
    samples = PaceSamples.of(tracks, width, height)
    best, thin = None, None
    for _, moment, stepped in _candidates(paths, clip, leap_times):
        if min(moment - clip[0], clip[1] - moment) < MIN_AROUND_S or len(stepped) < MIN_STEPPED:
            continue
        # the second witness: the other vehicles, after the moment against before it at
        # the same places (the ones that stepped are the first witness)
        shot = (max([lt for lt in leap_times if lt < moment], default=-math.inf),
                min([lt for lt in leap_times if lt > moment], default=math.inf))
        place = place_ratio(samples, moment, exclude=stepped, shot=shot)
        if min(place.vehicles_after, place.vehicles_before) < MIN_WITNESSES:
            thin = thin if thin is not None and len(thin[1]) >= len(stepped) else (moment, stepped, place)
            continue
        if place.factor < KEEPS or place.faster_share < MOST:
            continue
        if best is None or _disagreement(place, stepped) < _disagreement(best[0], best[2]):
            best = (place, moment, stepped)
    if best is not None:
        place, moment, stepped = best
        return [_finding(place, moment, list(stepped.values()), clip)], []
    return [], ([] if thin is None else [_undetermined(*thin)])


def _disagreement(place: PlaceRatio, stepped: dict) -> float:
    """How far apart the two witnesses' factors are (log ratio). An edit speeds up
    everything by one factor: the vehicles' step against themselves and the traffic's
    pace at the same places agree. The traffic's own changes move them apart: in stop and
    go, a queue moving off raises the pace at the places long after the moment where the
    frames began to drop (stop_and_go seed 400: 27.97 s agreeing within 1.25x, the
    queue at 30.77 s 1.46x apart but faster at the places). Of several moments that
    pass, the one where they agree best is the edit."""
    return abs(math.log(float(np.median(list(stepped.values())))) - math.log(place.factor))


def _undetermined(moment: float, stepped: dict, place: PlaceRatio) -> str:
    return (f"speed_change undetermined at {moment:.2f} s: {len(stepped)} vehicles step up "
            f"{float(np.median(list(stepped.values()))):.2f}x at once, but only {place.vehicles_before} "
            f"other vehicle(s) before and {place.vehicles_after} after it pass the same places "
            f"({MIN_WITNESSES} each needed to tell an edit from the traffic's own pace): not reported")


def _finding(place: PlaceRatio, moment: float, factors: list, clip: tuple) -> Finding:
    factor = float(np.median(factors))
    witnesses = len(factors) + place.vehicles_after + place.vehicles_before
    return Finding("speed_change", moment, float(clip[1]),
                   f"from {moment:.2f} s the footage plays about {factor:.2f}x as fast as before: "
                   f"{len(factors)} vehicle(s) on screen then step up {factor:.2f}x at once, each against "
                   f"its own pace just before, and {place.vehicles_after} other vehicle(s) after it pass the "
                   f"places {place.vehicles_before} vehicle(s) before it passed {place.factor:.2f}x as fast "
                   f"(frames dropped or the part sped up; {witnesses} vehicles witness it)",
                   confidence=min(1.0, 0.2 + 0.05 * witnesses + abs(math.log(factor)) / 4))


def _candidates(paths: list, clip: tuple, leap_times) -> list:
    """(score, moment, {track id: factor}) for the best moment of each run of moments
    where every vehicle across steps up by about the same factor."""
    dt = _frame_s(paths)
    # Only a vehicle seen on both sides of a moment has a step there (pace_step): asking
    # the few on screen, not every track of the clip, keeps a long clip linear (a
    # 10-minute clip with 200 vehicles spent 42 s here asking all of them at every frame).
    first = np.array([p.t[0] for p in paths])
    last = np.array([p.t[-1] for p in paths])
    out, run = [], None
    for m in np.arange(clip[0] + EDGE_S, clip[1] - EDGE_S, dt):
        on = [paths[i] for i in np.flatnonzero((first <= m) & (last >= m))]
        across = {p.track_id: f for p, f in ((p, p.pace_step(float(m))) for p in on) if f is not None}
        factors = list(across.values())
        ok = (bool(factors) and min(factors) >= MIN_FACTOR and max(factors) <= AGREE * min(factors)
              and not any(abs(m - lt) < EDGE_S for lt in leap_times))
        if ok:
            here = ((min(len(factors), 2), min(factors)), float(m), across)
            run = here if run is None or here[0] > run[0] else run
        elif run is not None:
            out.append(run)
            run = None
    return out + ([run] if run is not None else [])


def _frame_s(paths: list) -> float:
    steps = np.concatenate([np.diff(p.t) for p in paths]) if paths else np.array([])
    steps = steps[steps > 0]
    return float(np.median(steps)) if len(steps) else 0.1
