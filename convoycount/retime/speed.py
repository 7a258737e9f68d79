"""K from vehicle speeds on the ground against a speed prior that fits the scene.

    K = (median ground speed, metres per clip second) / (prior real speed, m/s)

Per vehicle: `ground.image_motion` (image speed in box widths per clip second,
motion direction, row), turned into metres per clip second by `ground.view_at` at
the depression the camera model gives for its row (`ground.fit_horizon`). The
scene (`scene.read_scene`) picks the speed prior; an ambiguous scene gives the
union of the candidates' intervals, and the point is their geometric middle.

Interval, in log K: a 95 % half-width 1.96 sqrt(prior_sd^2 + per_vehicle_var / n),
where per_vehicle_var is the larger of the class-size spread plus
`speed_indiv_log_sd` and the vehicles' own scatter (x 1.57 for a median), widened
on each side in quadrature by the camera span (`ground._camera_span`: the speed at
the ends of the lens range, or of the depression range when there is no horizon),
shared by every vehicle of the clip. The lens range is measured from dashed lane lines
when the clip has them (`lane_dashes_for`, retime/dashes.py: `--speedup auto` reads them
once, from a few frames, only when some vehicle can be scaled); else the assumed
3-80 deg, and the evidence (`lane_dashes`) says why. The span is one-sided because an unmeasured
telephoto lens raises the speed of traffic along the view by up to ~x4 while a wide
lens lowers it by far less.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from .dashes import DashReading, DashSettings, read_clip_dashes
from .estimate import TRUST_KINEMATICS, Z95, Estimate
from .ground import GroundSettings, fit_horizon, ground_speed, image_motion
from .scene import PRIORS, read_scene

METHOD = "ground_speed_vs_scene_prior"


@dataclass(frozen=True)
class SpeedSettings:
    speed_indiv_log_sd: float = 0.25     # one vehicle vs the others of its clip (a lone
                                         # vehicle may be slowing, turning, overtaking)
    max_vehicles_in_evidence: int = 40


def _measure(tracks, width: int, height: int, gs: GroundSettings) -> tuple:
    motions, skipped = [], {}
    for tr in tracks:
        m, why = image_motion(tr, width, height, gs)
        if m is None:
            key = why.split(" (")[0]
            skipped[key] = skipped.get(key, 0) + 1
        else:
            motions.append(m)
    return motions, [{"reason": k, "vehicles": v} for k, v in skipped.items()]


def lane_dashes_for(path, tracks: Sequence, width: int, height: int,
                    ground: GroundSettings = GroundSettings(),
                    settings: DashSettings = DashSettings()) -> Optional[DashReading]:
    """The clip's lane-dash reading (retime/dashes.py), or None when no track can be
    scaled: then no ground speed is measured and the focal length would serve nothing,
    so the frames are not decoded."""
    if not any(image_motion(t, width, height, ground)[0] is not None for t in tracks):
        return None
    return read_clip_dashes(path, settings)


def _with_dashes(ground: GroundSettings, dashes: Optional[DashReading]) -> tuple:
    """(settings, evidence): the measured focal range, point and horizon replace the
    assumed lens when the dashes gave a range; else the assumed lens, and why."""
    if dashes is None:
        return ground, {"used": False, "why": "not read (no lane-dash reading was asked for)"}
    ev = dict(dashes.to_dict(), used=bool(dashes.focal_range_px))
    if not dashes.focal_range_px:
        lo, hi = ground.fov_range_deg
        ev["fallback"] = (f"focal length assumed ({ground.focal_per_width:g} x the frame width), "
                          f"interval spans {lo:g}-{hi:g} deg lenses")
        return ground, ev
    return dataclasses.replace(ground, dash_focal_px=tuple(dashes.focal_range_px),
                               dash_focal_point_px=dashes.focal_px,
                               dash_horizon_y=dashes.horizon_y), ev


def _spread(log_v: np.ndarray, size_sd: float, indiv: float) -> float:
    n = len(log_v)
    center = float(np.median(log_v))
    sample_var = (1.4826 * float(np.median(np.abs(log_v - center)))) ** 2 if n >= 3 else 0.0
    return max(size_sd ** 2 + indiv ** 2, sample_var) * (1.57 if n >= 3 else 1.0) / n


def estimate_ground(tracks: Sequence, width: int, height: int, *,
                    pedestrians: Optional[int] = None, dashes: Optional[DashReading] = None,
                    settings: SpeedSettings = SpeedSettings(),
                    ground: GroundSettings = GroundSettings()) -> Estimate:
    """K from the tracks' ground speeds (see the module docstring). `dashes`: the clip's
    lane-dash reading (`lane_dashes_for`), whose focal range replaces the assumed lens
    range when it has one (None: not read)."""
    if not tracks:
        return Estimate.none("kinematics", METHOD, "no vehicle tracks")
    motions, skipped = _measure(tracks, width, height, ground)
    if not motions:
        return Estimate.none("kinematics", METHOD,
                             f"none of {len(tracks)} tracks can be scaled (fully inside the "
                             f"frame, one rigid vehicle, moving, seen >= {ground.min_span_s} s)",
                             skipped=skipped)
    ground, dash_ev = _with_dashes(ground, dashes)
    cam = fit_horizon(tracks, width, height, ground)
    speeds = []
    for m in motions:
        g, why = ground_speed(m, cam, ground)
        if g is None:
            skipped.append({"reason": why.split(" (")[0], "vehicles": 1})
        else:
            speeds.append(g)
    if not speeds:
        return Estimate.none("kinematics", METHOD, f"none of {len(tracks)} tracks cruises",
                             skipped=skipped, camera=cam.to_dict())
    log_v = np.log(np.array([g.mps for g in speeds]))
    cam_down = float(np.median([g.camera_span[0] for g in speeds]))
    cam_up = float(np.median([g.camera_span[1] for g in speeds]))
    size_sd = float(np.median([g.view.size_log_sd for g in speeds]))
    var_v = _spread(log_v, size_sd, settings.speed_indiv_log_sd)
    scene = read_scene(tracks, pedestrians)
    center_v = float(np.median(log_v))
    los, his, mids = [], [], []
    for name in scene.candidates:
        p = PRIORS[name]
        lk = center_v - math.log(p.median_mps)
        half = Z95 * math.sqrt(var_v + p.log_sd ** 2)
        # the camera range is an end-to-end span, not a normal error: added to the
        # 95 % half-width in quadrature, each side on its own
        los.append(lk - math.hypot(half, cam_down))
        his.append(lk + math.hypot(half, cam_up))
        mids.append(lk)
    k = math.exp(float(np.mean(mids)))
    lo, hi = math.exp(min(los)), math.exp(max(his))
    cap = settings.max_vehicles_in_evidence
    ev = {"vehicles_used": len(speeds), "vehicles_skipped": len(tracks) - len(speeds),
          "skipped": skipped, "camera": cam.to_dict(), "lane_dashes": dash_ev,
          "scene": scene.to_dict(),
          "ground_speed_m_per_clip_s": round(math.exp(center_v), 3),
          "log_sd_ground_speed": round(math.sqrt(var_v), 4),
          "camera_log_span": [round(cam_down, 4), round(cam_up, 4)],
          "rule": "K = median ground speed (m per clip s) / scene prior speed (m/s); "
                  "ground speed = box widths per clip s x metres per box width",
          "vehicles": [g.to_dict() for g in speeds[:cap]]}
    return Estimate(source="kinematics", method=METHOD, speedup=k, interval=(lo, hi),
                    trust=TRUST_KINEMATICS, evidence=ev)


def fuse_cues(estimates: Sequence[Estimate]) -> Estimate:
    """One kinematic estimate from independent cues (vehicles, people walking): fused
    (precision-weighted mean of log K) only when every pair of intervals overlaps; else
    the interval covers them all, the point is their geometric middle, and the
    evidence says they disagree. Each cue's own estimate is kept in the evidence."""
    ok = [e for e in estimates if e.ok]
    cues = [e.to_evidence() for e in estimates]
    if not ok:
        return Estimate.none("kinematics", "cues", "; ".join(f"{e.method}: {e.reason}" for e in estimates),
                             cues=cues)
    if len(ok) == 1:
        e = ok[0]
        others = [c for x, c in zip(estimates, cues) if x is not e]
        return Estimate(e.source, e.method, e.speedup, e.interval, e.trust,
                        dict(e.evidence, other_cues=others) if others else e.evidence)
    consistent = all(a.interval[0] <= b.interval[1] and b.interval[0] <= a.interval[1]
                     for i, a in enumerate(ok) for b in ok[i + 1:])
    logs = np.log([e.speedup for e in ok])
    if consistent:
        w = np.array([1 / e.sigma_log ** 2 for e in ok])
        center, sd = float(np.sum(w * logs) / w.sum()), math.sqrt(1 / float(w.sum()))
        lo, hi = math.exp(center - Z95 * sd), math.exp(center + Z95 * sd)
        note = "consistent: fused"
    else:
        center = float(np.mean(logs))
        lo, hi = min(e.interval[0] for e in ok), max(e.interval[1] for e in ok)
        note = ("the cues disagree: " + ", ".join(f"{e.method} x{e.speedup:.3g}" for e in ok)
                + "; the interval covers them all")
    return Estimate("kinematics", "+".join(e.method for e in ok), math.exp(center), (lo, hi),
                    TRUST_KINEMATICS, {"cues": cues, "fusion": note})
