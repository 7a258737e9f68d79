"""Speed changes: from some moment on, the clip plays faster (or slower) than before
(frames dropped from a point on, or a part sped up in an editor).

Where: every vehicle on screen across that moment jumps from its own pace to
K2/K1 times it, so each vehicle's speed in pixels per clip second is divided by
its own median (cancelling its size, its distance from the camera and its real
speed; braking and queueing windows are left out), and the moment is the one
that best splits these normalised speeds into two levels.
Whether: the speed-up estimator (retime.estimate_kinematics) gives each part's K
with its interval, under a prior for a comparison within one clip (the road, the
traffic and the vehicle mix are common to both parts, so their shared
uncertainties are left out); the parts differ when the intervals are apart."""
from __future__ import annotations

import math

import numpy as np

from .findings import Finding

MIN_PART_S = 2.0         # each part at least this long
STEP_S = 0.1             # change moments tried this far apart
WINDOW_OBS = 3           # a vehicle's speed over this many observation steps (box jitter)
MOVING_SHARE = 0.3       # windows slower than this share of the vehicle's cruise (90th pct) are left out
MIN_SIDE = 3             # speed samples a vehicle needs on each side to be compared


def find_speed_change(tracks, width: int, height: int, clip: tuple) -> list:
    rows = _speeds(tracks)
    moment = _change_point(rows, clip) if len(rows) >= 4 * MIN_SIDE else None
    if moment is None:
        return []
    k1, k2 = (_k(tracks, width, height, lo, hi) for lo, hi in ((-math.inf, moment), (moment, math.inf)))
    if not (k1.ok and k2.ok) or (k1.interval[1] >= k2.interval[0] and k2.interval[1] >= k1.interval[0]):
        return []
    ratio = k2.speedup / k1.speedup
    return [Finding("speed_change", moment, float(clip[1]),
                    f"from {moment:.2f} s the footage plays {ratio:.2f}x as fast as before: speed-up "
                    f"K {k1.speedup:.2f} ({k1.interval[0]:.2f}-{k1.interval[1]:.2f}) before, "
                    f"{k2.speedup:.2f} ({k2.interval[0]:.2f}-{k2.interval[1]:.2f}) after, intervals "
                    f"apart (frames dropped, or the part sped up or slowed down)",
                    confidence=min(1.0, 0.5 + abs(math.log(ratio)) / 2))]


def _speeds(tracks) -> list:
    """(track id, time, log of speed / the track's median speed) for every moving window."""
    rows = []
    for tr in tracks:
        obs = tr.observations
        out = []
        for a, b in zip(obs[:-WINDOW_OBS], obs[WINDOW_OBS:]):
            dt = b.time_s - a.time_s
            d = math.dist(_centre(a.box), _centre(b.box))
            if dt > 0 and d > 0:
                out.append(((a.time_s + b.time_s) / 2, d / dt))
        if len(out) < 2 * MIN_SIDE:
            continue
        # a vehicle braking, queueing or pulling away is not the clip changing pace: only
        # windows near its cruising speed count (the speed-up estimator does the same)
        cruise = float(np.percentile([v for _, v in out], 90))
        out = [(t, v) for t, v in out if v >= MOVING_SHARE * cruise]
        med = float(np.median([v for _, v in out]))
        rows += [(tr.track_id, t, math.log(v / med)) for t, v in out]
    return rows


def _centre(box) -> tuple:
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


def _change_point(rows: list, clip: tuple):
    """The moment that best splits the vehicles' normalised speeds into two levels."""
    t = np.array([r[1] for r in rows])
    v = np.array([r[2] for r in rows])
    best, best_cost = None, float(np.sum((v - v.mean()) ** 2))
    for moment in np.arange(clip[0] + MIN_PART_S, clip[1] - MIN_PART_S, STEP_S):
        lo, hi = v[t < moment], v[t >= moment]
        if len(lo) < MIN_SIDE or len(hi) < MIN_SIDE:
            continue
        cost = float(np.sum((lo - lo.mean()) ** 2) + np.sum((hi - hi.mean()) ** 2))
        if cost < best_cost:
            best, best_cost = float(moment), cost
    return best


def _k(tracks, width: int, height: int, lo: float, hi: float):
    """The speed-up estimator's K (an Estimate) for the part [lo, hi)."""
    import dataclasses

    from ..retime import KinematicPrior, estimate_kinematics
    parts = [dataclasses.replace(tr, observations=tuple(o for o in tr.observations if lo <= o.time_s < hi))
             for tr in tracks]
    parts = [p for p in parts if p.observations]
    within_clip = KinematicPrior(speed_log_sd=0.0, generic_fleet_log_sd=0.0)
    return estimate_kinematics(parts, width, height, prior=within_clip)
