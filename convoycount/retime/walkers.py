"""K from people walking: their own height is the scale, their pace the prior.

Adults walk at 1.2-1.6 m/s (free walking speed in pedestrian studies, e.g. the 1.2 m/s
design speed of the US MUTCD for signal timing and ~1.4 m/s mean in field surveys),
and stand about 1.7 m tall (1.6-1.8 m adult means; the box of a walker is a bit
taller with the head and shorter when feet are cut by a kerb). A walker whose image
motion is mostly horizontal is not foreshortened, so

    ground speed = (horizontal image speed / box height) x 1.7 m   (per clip second)
    K = median ground speed / 1.4 m/s.

People standing, waiting at a crossing or riding (their box sits on a vehicle's;
the caller leaves those out) do not walk at that pace: a track must move at least
`min_travel_heights` of its own height and mostly sideways (`max_motion_deg`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .estimate import TRUST_KINEMATICS, Z95, Estimate

METHOD = "walking_people"


@dataclass(frozen=True)
class WalkerPrior:
    speed_mps: float = 1.4
    speed_log_sd: float = 0.12        # 1.1-1.75 m/s within 95 %: walking, not running
    height_m: float = 1.7
    height_log_sd: float = 0.06


@dataclass(frozen=True)
class WalkerSettings:
    min_observations: int = 8
    min_travel_heights: float = 1.0
    max_motion_deg: float = 35.0      # from the horizontal: steeper walkers are foreshortened
    min_height_px: float = 15.0
    edge_margin_px: float = 2.0


def _walker_rate(track, width: int, height: int, s: WalkerSettings):
    """Horizontal image speed over box height (per clip second) of one person track,
    or None when it is not someone walking across the view."""
    m = s.edge_margin_px
    obs = [o for o in track.observations
           if o.box[0] > m and o.box[1] > m and o.box[2] < width - m and o.box[3] < height - m]
    if len(obs) < s.min_observations:
        return None
    b = np.array([o.box for o in obs], dtype=np.float64)
    t = np.array([o.time_s for o in obs], dtype=np.float64)
    h = float(np.median(b[:, 3] - b[:, 1]))
    cx, cy = (b[:, 0] + b[:, 2]) / 2, b[:, 3]
    if h < s.min_height_px or t[-1] <= t[0]:
        return None
    dx, dy = cx[-1] - cx[0], cy[-1] - cy[0]
    if abs(dx) < s.min_travel_heights * h or math.degrees(math.atan2(abs(dy), abs(dx))) > s.max_motion_deg:
        return None
    slope = np.polyfit(t, cx, 1)[0]           # steady pace: a line through the positions
    return abs(float(slope)) / h


def estimate_walkers(person_tracks: Sequence, width: int, height: int,
                     prior: WalkerPrior = WalkerPrior(),
                     settings: WalkerSettings = WalkerSettings()) -> Estimate:
    """K from the people walking across the view (see the module docstring)."""
    rates = [r for r in (_walker_rate(t, width, height, settings) for t in person_tracks)
             if r is not None]
    if not rates:
        return Estimate.none("kinematics", METHOD,
                             f"none of {len(person_tracks)} person tracks walks across the view")
    mps = np.array(rates) * prior.height_m
    center = float(np.median(np.log(mps)))
    n = len(rates)
    scatter = (1.4826 * float(np.median(np.abs(np.log(mps) - center)))) ** 2 if n >= 3 else 0.0
    per = max(scatter, 0.15 ** 2) * (1.57 if n >= 3 else 1.0) / n
    sd = math.sqrt(prior.speed_log_sd ** 2 + prior.height_log_sd ** 2 + per)
    lk = center - math.log(prior.speed_mps)
    return Estimate(source="kinematics", method=METHOD, speedup=math.exp(lk),
                    interval=(math.exp(lk - Z95 * sd), math.exp(lk + Z95 * sd)),
                    trust=TRUST_KINEMATICS,
                    evidence={"walkers": n, "walking_speed_m_per_clip_s": round(math.exp(center), 3),
                              "rule": "K = median (horizontal px/s / box height px x 1.7 m) / 1.4 m/s",
                              "heights_per_clip_s": [round(r, 3) for r in rates[:40]]})
