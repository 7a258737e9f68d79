"""K from vehicle speeds on the ground against a speed prior that fits the scene.

    K = (median ground speed, metres per clip second) / (prior real speed, m/s)

Per vehicle: `ground.image_motion` (image speed in box widths per clip second,
motion direction, row), turned into metres per clip second by `ground.view_at` at
the depression the camera model gives for its row (`ground.fit_horizon`). The
scene (`scene.read_scene`) picks the speed prior; an ambiguous scene gives the
union of the candidates' intervals, and the point is their geometric middle.

Interval, in log K: sd^2 = prior_sd^2 + camera_sd^2 + per_vehicle_var / n, where the
camera part (focal length, or the depression when there is no horizon) is shared
by every vehicle of the clip, and per_vehicle_var is the larger of the class-size
spread plus `speed_indiv_log_sd` and the vehicles' own scatter (x 1.57 for a median).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from .estimate import TRUST_KINEMATICS, Z95, Estimate
from .ground import GroundSettings, fit_horizon, image_motion, metres_per_width
from .scene import PRIORS, read_scene

METHOD = "ground_speed_vs_scene_prior"


@dataclass(frozen=True)
class SpeedSettings:
    speed_indiv_log_sd: float = 0.15     # one vehicle vs the others of its clip
    calibration: float = 1.0             # multiplies the measured ground speed (chosen
                                         # leave-one-clip-out on real footage: RESULTS.md)
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


def _spread(log_v: np.ndarray, size_sd: float, indiv: float) -> float:
    n = len(log_v)
    center = float(np.median(log_v))
    sample_var = (1.4826 * float(np.median(np.abs(log_v - center)))) ** 2 if n >= 3 else 0.0
    return max(size_sd ** 2 + indiv ** 2, sample_var) * (1.57 if n >= 3 else 1.0) / n


def estimate_ground(tracks: Sequence, width: int, height: int, *,
                    pedestrians: Optional[int] = None,
                    settings: SpeedSettings = SpeedSettings(),
                    ground: GroundSettings = GroundSettings()) -> Estimate:
    """K from the tracks' ground speeds (see the module docstring)."""
    if not tracks:
        return Estimate.none("kinematics", METHOD, "no vehicle tracks")
    motions, skipped = _measure(tracks, width, height, ground)
    if not motions:
        return Estimate.none("kinematics", METHOD,
                             f"none of {len(tracks)} tracks can be scaled (fully inside the "
                             f"frame, one rigid vehicle, moving, seen >= {ground.min_span_s} s)",
                             skipped=skipped)
    cam = fit_horizon(motions, width, height, ground)
    views = [metres_per_width(m, cam) for m in motions]
    mps = np.array([m.widths_per_s * v.metres_per_width for m, (v, _) in zip(motions, views)])
    log_v = np.log(mps * settings.calibration)
    cam_sd = float(np.median([sd for _, sd in views]))
    size_sd = float(np.median([v.size_log_sd for v, _ in views]))
    var_v = cam_sd ** 2 + _spread(log_v, size_sd, settings.speed_indiv_log_sd)
    scene = read_scene(tracks, pedestrians)
    center_v = float(np.median(log_v))
    los, his, mids = [], [], []
    for name in scene.candidates:
        p = PRIORS[name]
        lk = center_v - math.log(p.median_mps)
        sd = math.sqrt(var_v + p.log_sd ** 2)
        los.append(lk - Z95 * sd)
        his.append(lk + Z95 * sd)
        mids.append(lk)
    k = math.exp(float(np.mean(mids)))
    lo, hi = math.exp(min(los)), math.exp(max(his))
    cap = settings.max_vehicles_in_evidence
    ev = {"vehicles_used": len(motions), "vehicles_skipped": len(tracks) - len(motions),
          "skipped": skipped, "camera": cam.to_dict(), "scene": scene.to_dict(),
          "ground_speed_m_per_clip_s": round(math.exp(center_v), 3),
          "log_sd_ground_speed": round(math.sqrt(var_v), 4),
          "rule": "K = median ground speed (m per clip s) / scene prior speed (m/s); "
                  "ground speed = box widths per clip s x metres per box width",
          "vehicles": [_vehicle_dict(m, v, sd) for m, (v, sd) in list(zip(motions, views))[:cap]]}
    return Estimate(source="kinematics", method=METHOD, speedup=k, interval=(lo, hi),
                    trust=TRUST_KINEMATICS, evidence=ev)


def _vehicle_dict(m, v, cam_sd: float) -> dict:
    return {"track_id": m.track_id, "class": m.class_name,
            "box_widths_per_clip_s": round(m.widths_per_s, 4), "box_w_px": round(m.box_w_px, 1),
            "motion_deg_from_horizontal": round(m.motion_deg, 1), "bottom_row_px": round(m.bottom_y, 1),
            "depression_deg": round(v.depression_deg, 1), "heading_deg": round(v.heading_deg, 1),
            "metres_per_box_width": round(v.metres_per_width, 3),
            "m_per_clip_s": round(m.widths_per_s * v.metres_per_width, 3),
            "camera_log_sd": round(cam_sd, 3)}
