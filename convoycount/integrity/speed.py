"""Speed changes: from some moment on, the clip plays faster than before (frames
dropped from a point on, or a part sped up in an editor). A part slowed down is
not looked for: traffic braking together looks the same; repeated frames, the
usual way footage is slowed, are `duplicated_frames`.

Where: every vehicle on screen across that moment jumps from its own pace to
K2/K1 times it, so each vehicle's speed in pixels per clip second is divided by
its own median (cancelling its size, its distance from the camera and its real
speed; braking and queueing windows are left out), and the moment is the one
that best splits these normalised speeds into two levels.
Whether: the speed-up estimator (retime.estimate_kinematics) gives each part's K
with its interval, under a prior for a comparison within one clip: from the
vehicles seen in both parts when there are some (each vehicle's length and real
speed are the same on both sides, so only the measurement spread is left), else
from all (the road, the traffic and the vehicle mix are common to both parts, so
only their shared uncertainties are left out); the parts differ when the
intervals are apart."""
from __future__ import annotations

import math

import numpy as np

from .findings import Finding

MIN_PART_S = 2.0         # each part at least this long
STEP_S = 0.1             # change moments tried this far apart
WINDOW_OBS = 3           # a vehicle's speed over this many observation steps (box jitter)
MOVING_SHARE = 0.3       # windows slower than this share of the vehicle's cruise (90th pct) are left out
MIN_SIDE = 3             # speed samples a vehicle needs on each side to be compared
ABRUPT_S = 0.6           # the pace right at the moment: this long before and after
ABRUPT_SHARE = 0.5       # ...changes by at least this share of the parts' log ratio
MIN_BOTH = 2             # vehicles seen in both parts: compare those, each with itself...
MIN_OBS_SIDE = 8         # ...when seen this many times on each side
SAME_VEHICLE_SD = 0.1    # log: one vehicle's pace measured twice (box jitter, its own small
                         # speed changes); its length and real speed cancel


def find_speed_change(tracks, width: int, height: int, clip: tuple) -> list:
    rows = _speeds(tracks)
    moment = _change_point(rows, clip) if len(rows) >= 4 * MIN_SIDE else None
    if moment is None:
        return []
    both = [tr for tr in tracks if _seen_on_both_sides(tr, moment)]
    same = len(both) >= MIN_BOTH
    k1, k2 = (_k(both if same else tracks, width, height, lo, hi, same)
              for lo, hi in ((-math.inf, moment), (moment, math.inf)))
    if not (k1.ok and k2.ok) or (k1.interval[1] >= k2.interval[0] and k2.interval[1] >= k1.interval[0]):
        return []
    ratio = k2.speedup / k1.speedup
    # only a speed-up: vehicles can all brake at once (a signal, a queue), but none
    # accelerates to 1.4x its pace within a frame, let alone all of them together
    if ratio < 1.0 or not _abrupt(rows, moment, ratio):
        return []
    return [Finding("speed_change", moment, float(clip[1]),
                    f"from {moment:.2f} s the footage plays {ratio:.2f}x as fast as before: speed-up "
                    f"K {k1.speedup:.2f} ({k1.interval[0]:.2f}-{k1.interval[1]:.2f}) before, "
                    f"{k2.speedup:.2f} ({k2.interval[0]:.2f}-{k2.interval[1]:.2f}) after, intervals "
                    f"apart (frames dropped or the part sped up)",
                    confidence=min(1.0, 0.5 + abs(math.log(ratio)) / 2))]


def _abrupt(rows: list, moment: float, ratio: float) -> bool:
    """Dropped frames change every vehicle's pace from one frame to the next; traffic
    slowing into a queue or pulling away takes seconds. So the vehicles on screen
    right at the moment must change pace there, the same way and by a good part of
    the ratio."""
    by = {}
    for tid, t, v in rows:
        if abs(t - moment) <= ABRUPT_S:
            by.setdefault(tid, ([], []))[t >= moment].append(v)
    local = [float(np.median(a) - np.median(b)) for b, a in by.values()
             if len(b) >= MIN_SIDE and len(a) >= MIN_SIDE]
    return bool(local) and float(np.median(local)) * math.log(ratio) > 0 and \
        abs(float(np.median(local))) >= ABRUPT_SHARE * abs(math.log(ratio))


def _seen_on_both_sides(tr, moment: float) -> bool:
    n_before = sum(o.time_s < moment for o in tr.observations)
    return n_before >= MIN_OBS_SIDE and len(tr.observations) - n_before >= MIN_OBS_SIDE


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
    """The moment that best splits the vehicles' normalised speeds into a slower level
    and a faster one after it (only speed-ups: see find_speed_change)."""
    t = np.array([r[1] for r in rows])
    v = np.array([r[2] for r in rows])
    best, best_cost = None, float(np.sum((v - v.mean()) ** 2))
    for moment in np.arange(clip[0] + MIN_PART_S, clip[1] - MIN_PART_S, STEP_S):
        lo, hi = v[t < moment], v[t >= moment]
        if len(lo) < MIN_SIDE or len(hi) < MIN_SIDE or hi.mean() <= lo.mean():
            continue
        cost = float(np.sum((lo - lo.mean()) ** 2) + np.sum((hi - hi.mean()) ** 2))
        if cost < best_cost:
            best, best_cost = float(moment), cost
    return best


def _k(tracks, width: int, height: int, lo: float, hi: float, same: bool):
    """The speed-up estimator's K (an Estimate) for the part [lo, hi). `same`: the
    tracks are the vehicles seen in both parts, so each one's length and real speed
    are the same in both and only the measurement spread (SAME_VEHICLE_SD) is left;
    otherwise the usual individual spread, without the road's and fleet's shared one."""
    import dataclasses

    from ..retime import KinematicPrior, estimate_kinematics
    parts = [dataclasses.replace(tr, observations=tuple(o for o in tr.observations if lo <= o.time_s < hi))
             for tr in tracks]
    parts = [p for p in parts if p.observations]
    base = KinematicPrior()
    if same:
        prior = KinematicPrior(speed_log_sd=0.0, speed_indiv_log_sd=0.0, generic_fleet_log_sd=0.0,
                               lengths_m={k: (m, SAME_VEHICLE_SD) for k, (m, _) in base.lengths_m.items()},
                               generic_length=(base.generic_length[0], SAME_VEHICLE_SD))
    else:
        prior = KinematicPrior(speed_log_sd=0.0, generic_fleet_log_sd=0.0)
    return estimate_kinematics(parts, width, height, prior=prior)
