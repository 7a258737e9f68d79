"""Speed-up from how fast vehicles move, measured in their own lengths.

Superseded for `--speedup auto` by speed.py (issue 15) and kept as the "before" row of
`benchmarks/run.py speedup-real`. Its premise below, that perspective cancels, holds
side-on only: for traffic toward or away from a camera above the road, the box extent
along the motion holds the vehicle's height as well as its foreshortened length, so
this estimator reads such footage at about half the true K (see ground.py).

A vehicle's apparent speed in *its own lengths per clip second* needs no camera
calibration: pixels cancel (speed in px/s divided by length in px, both taken
at the same place in the picture, so perspective cancels too). In reality the
same ratio is v / L (speed in m/s over length in m) per real second, so

    K = (lengths per clip second) / (v / L)

and the prior on real speeds and lengths below turns each vehicle into a K
with a spread. Per vehicle (a confirmed track):
  * only observations whose box is fully inside the frame (a box cut by the
    edge is shorter than the vehicle);
  * only tracks that look like one rigid vehicle: a box of steady length
    (`max_length_spread`), a straight path (`max_path_deviation`), at least
    `min_length_px` long (a motion detector also yields flickering blobs,
    merged pairs and shadows; those are skipped, with the reason counted);
  * the motion direction is the principal axis of the box centres; the length
    is the box extent along it (the axis-aligned box of a vehicle moving at an
    angle is deconvolved when the angle allows, see `_length_along`);
  * the apparent rate is the displacement over windows of ~`window_s`
    divided by the median length in that window; the prior is about cruising
    traffic, so windows slower than `moving_fraction` of the vehicle's fast
    windows (`cruise_percentile`) are stop-and-go (braking, stopped, creeping
    in a queue, pulling away) and left out; the vehicle's rate is the median of
    the rest;
  * vehicles seen too briefly (< `min_observations` inside the frame or
    < `min_span_s` of clip time) or that barely move are skipped.
Across vehicles: K = exp(median of the per-vehicle log K) (robust to merged
blobs and odd tracks).

Prior (`KinematicPrior`; log-normal, medians and log-sds):
  * cruise speed of moving traffic and convoys filmed from the roadside:
    median 11 m/s (40 km/h), log-sd 0.30, i.e. 95 % within 6-20 m/s
    (22-72 km/h). Urban limits are 30-50 km/h (e.g. the 30 km/h / 50 km/h
    defaults across the EU, 25-35 mph US city streets); convoys keep a common
    march speed that is 40-60 km/h on open roads and lower in towns. The speed
    is shared by the vehicles of one clip (a convoy, a platoon behind a
    leader), so it is an error common to all vehicles, plus 0.10 individual.
  * length by class (median m, log-sd): car 4.5 (0.10; compact 4.0 to large
    sedan/SUV 5.0), van 5.4 (0.10), truck 9.0 (0.25; rigid trucks 7-12 m,
    articulated up to 16.5 m, EU Directive 96/53/EC limits: 12 m rigid,
    16.5 m articulated), bus 11.5 (0.12; city bus 12 m, midibus 9-10 m),
    motorcycle 2.1 (0.08), military 7.5 (0.15; 6x6 trucks and APCs 6.5-9 m).
  * a detector without classes (the motion detector says "vehicle"): median
    5.5 m, between a car-dominated street (~4.6 m) and a truck or military
    column (~8 m), with an individual log-sd 0.40 (motorcycles to buses) and a
    fleet log-sd 0.25 shared by the clip, because the mix is shared (an
    all-car street vs an all-truck convoy).
The 95 % interval is exp(log K +- 1.96 sd) with
    sd^2 = speed_sd^2 + fleet_sd^2 + max(prior individual var, sample var) / n
so it never gets narrower than the priors allow: a factor ~1.8 either way
with classed detections, ~2.2 with "vehicle" only. The point estimate is only
as good as the speed and length prior fit the scene (with "vehicle" only: an
all-car street at 50 km/h gives ~1.5x the true K, a column of 8 m trucks at
30 km/h ~0.5x; both still inside the interval); the interval is the honest
part. A clock or a capture-rate tag, when present, is
far tighter and wins.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from .estimate import TRUST_KINEMATICS, Z95, Estimate


@dataclass(frozen=True)
class KinematicPrior:
    speed_median_mps: float = 11.0
    speed_log_sd: float = 0.30            # common to the vehicles of one clip
    speed_indiv_log_sd: float = 0.10      # one vehicle vs the others of its clip
    # class -> (median length m, individual log-sd)
    lengths_m: dict = field(default_factory=lambda: {
        "car": (4.5, 0.10), "van": (5.4, 0.10), "truck": (9.0, 0.25), "bus": (11.5, 0.12),
        "motorcycle": (2.1, 0.08), "military": (7.5, 0.15)})
    generic_length: tuple = (5.5, 0.40)   # any other class, e.g. "vehicle"
    generic_fleet_log_sd: float = 0.25    # mix shared by the clip, for generic classes only

    def length(self, class_name: str) -> tuple:
        return self.lengths_m.get(class_name, self.generic_length)

    def generic(self, class_name: str) -> bool:
        return class_name not in self.lengths_m

    def to_dict(self) -> dict:
        return {"speed_median_mps": self.speed_median_mps, "speed_log_sd": self.speed_log_sd,
                "speed_indiv_log_sd": self.speed_indiv_log_sd,
                "lengths_m": {k: list(v) for k, v in self.lengths_m.items()},
                "generic_length": list(self.generic_length),
                "generic_fleet_log_sd": self.generic_fleet_log_sd}


@dataclass(frozen=True)
class KinematicSettings:
    edge_margin_px: float = 2.0       # a box this close to the border may be cut
    min_observations: int = 6         # inside-frame observations per vehicle
    min_span_s: float = 0.1           # clip seconds of inside-frame observations
    min_length_px: float = 10.0       # shorter boxes: +-1 px is already 10 %
    max_length_spread: float = 0.15   # MAD / median of the box length: a blob that grows,
                                      # shrinks or merges with others is not a vehicle's length
    max_path_deviation: float = 0.3  # RMS distance of the centres from a straight path, in lengths
    min_travel_lengths: float = 1.0   # a vehicle must move at least this many lengths
    min_windows: int = 3              # cruise windows needed
    window_s: float = 0.3             # displacement measured over this much clip time, or half
                                      # the vehicle's inside-frame span when that is shorter
                                      # (a x10 clip shows a car whole for ~0.3 s)...
    window_frames: int = 2            # ...but at least this many frame steps
    cruise_percentile: float = 95.0   # a vehicle's cruise rate is near its fastest windows...
    moving_fraction: float = 0.7      # ...windows slower than this x that percentile are braking,
                                      # stopped, creeping in a queue or pulling away: left out
    max_vehicles_in_evidence: int = 40


@dataclass(frozen=True)
class VehicleRate:
    track_id: int
    class_name: str
    lengths_per_s: float          # apparent speed, own lengths per clip second
    length_px: float
    speed_px_s: float
    moving_s: float               # clip seconds of moving windows used
    windows: int

    def to_dict(self, k: float) -> dict:
        return {"track_id": self.track_id, "class": self.class_name,
                "lengths_per_clip_s": round(self.lengths_per_s, 4),
                "length_px": round(self.length_px, 1), "speed_px_per_clip_s": round(self.speed_px_s, 1),
                "moving_clip_s": round(self.moving_s, 3), "k": round(k, 4)}


def _length_along(box: np.ndarray, d: np.ndarray) -> float:
    """Vehicle length from an axis-aligned box when it moves along unit vector d.

    A vehicle (length L, width W) rotated by theta has box w = L|c| + W|s|,
    h = L|s| + W|c|; solve for L when the system is well conditioned (|cos 2θ|
    >= 0.3), else take the extent along d (an overestimate by ~W)."""
    w, h = box[2] - box[0], box[3] - box[1]
    c, s = abs(d[0]), abs(d[1])
    extent = w * c + h * s
    det = c * c - s * s
    if abs(det) >= 0.3:
        length = (w * c - h * s) / det
        if 0.3 * extent <= length <= extent:     # else the box is not a rotated rectangle
            return length
    return extent


def _inside(box, width: int, height: int, m: float) -> bool:
    return box[0] > m and box[1] > m and box[2] < width - m and box[3] < height - m


@dataclass(frozen=True)
class _Path:
    """A track's observations inside the frame, on its own motion axis."""
    t: np.ndarray             # clip times
    p: np.ndarray             # box centre positions along the motion direction, px
    lengths: np.ndarray       # box lengths along it, px
    off_px: np.ndarray        # centre offsets across it from the mean centre, px


def _motion_path(obs: list, t: np.ndarray) -> _Path:
    """Project the box centres on their principal axis (the direction the vehicle
    moves, pointing from its first to its last position) and measure each box's
    length along it."""
    boxes = np.array([o.box for o in obs], dtype=np.float64)
    c = np.column_stack(((boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2))
    cc = c - c.mean(axis=0)
    _, _, vt = np.linalg.svd(cc, full_matrices=False)
    d = vt[0]
    if np.dot(c[-1] - c[0], d) < 0:
        d = -d
    return _Path(t=t, p=c @ d, lengths=np.array([_length_along(b, d) for b in boxes]),
                 off_px=cc @ np.array([-d[1], d[0]]))


def _not_a_moving_vehicle(path: _Path, s: KinematicSettings) -> Optional[str]:
    """Why the path is not one rigid vehicle on the move (None if it is): too short
    a box, a box whose length varies (a blob that grows or merges), a path that is
    not straight, or too little travel (parked or stopped)."""
    lengths = path.lengths
    L_med = float(np.median(lengths))
    if L_med < s.min_length_px:
        return f"box {L_med:.0f} px long (< {s.min_length_px:g} px)"
    spread = float(np.median(np.abs(lengths - L_med))) / L_med
    if spread > s.max_length_spread:
        return f"box length varies by {spread:.0%} (> {s.max_length_spread:.0%}): not one rigid vehicle"
    off = float(np.sqrt(np.mean(path.off_px ** 2))) / L_med
    if off > s.max_path_deviation:
        return f"path strays {off:.2f} lengths from a line (> {s.max_path_deviation:g})"
    travel = (path.p.max() - path.p.min()) / L_med
    if travel < s.min_travel_lengths:
        return f"moved {travel:.2f} lengths (< {s.min_travel_lengths:g}): parked or stopped"
    return None


def window_pairs(t: np.ndarray, window_s: float, window_frames: int) -> list:
    """(i, j) index pairs of the measuring windows over times `t`: from each
    observation to the first one at least `window_s` later and `window_frames`
    on (the window shrinks to half the span for vehicles seen briefly)."""
    n, pairs, j = len(t), [], 0
    window = min(window_s, 0.5 * (t[-1] - t[0]))
    for i in range(n):
        j = max(j, i + window_frames)
        while j < n and t[j] - t[i] < window:
            j += 1
        if j >= n:
            break
        pairs.append((i, j))
    return pairs


def _windows(path: _Path, s: KinematicSettings) -> tuple:
    """(rates in lengths/s, speeds in px/s, (t_i, t_j) spans, median lengths) of
    every measuring window: from each observation to the first one at least
    `window` later and `window_frames` on (the window shrinks to half the span
    for vehicles seen briefly)."""
    t, p, lengths = path.t, path.p, path.lengths
    rates, speeds, spans, lens = [], [], [], []
    for i, j in window_pairs(t, s.window_s, s.window_frames):
        dt = t[j] - t[i]
        L = float(np.median(lengths[i:j + 1]))
        v = abs(p[j] - p[i]) / dt
        rates.append(v / L)
        speeds.append(v)
        spans.append((t[i], t[j]))
        lens.append(L)
    return rates, speeds, spans, lens


def vehicle_rate(track, width: int, height: int,
                 s: KinematicSettings = KinematicSettings()) -> tuple[Optional[VehicleRate], str]:
    """One track's apparent speed in own lengths per clip second, or (None, why)."""
    obs = [o for o in track.observations if _inside(o.box, width, height, s.edge_margin_px)]
    if len(obs) < s.min_observations:
        return None, f"{len(obs)} observations fully inside the frame (< {s.min_observations})"
    t = np.array([o.time_s for o in obs], dtype=np.float64)
    if t[-1] - t[0] < s.min_span_s:
        return None, f"seen inside the frame for {t[-1] - t[0]:.2f} s (< {s.min_span_s} s)"
    path = _motion_path(obs, t)
    why = _not_a_moving_vehicle(path, s)
    if why:
        return None, why
    rates, speeds, spans, lens = _windows(path, s)
    if not rates:
        return None, "too few frames for one measuring window"
    # the prior is about cruising: windows well below the fast ones are stop-and-go
    rates = np.array(rates)
    fast = float(np.percentile(rates, s.cruise_percentile))
    moving = rates >= s.moving_fraction * fast
    if fast <= 0 or moving.sum() < s.min_windows:
        return None, f"{int(moving.sum()) if fast > 0 else 0} cruise windows (< {s.min_windows})"
    return VehicleRate(track_id=int(track.track_id), class_name=str(track.class_name),
                       lengths_per_s=float(np.median(rates[moving])),
                       length_px=float(np.median(np.array(lens)[moving])),
                       speed_px_s=float(np.median(np.array(speeds)[moving])),
                       moving_s=_union_s([w for w, m in zip(spans, moving) if m]),
                       windows=int(moving.sum())), ""


def _union_s(intervals) -> float:
    total, end = 0.0, -math.inf
    for a, b in sorted(intervals):
        if b > end:
            total += b - max(a, end)
            end = b
    return float(total)


def estimate_kinematics(tracks: Sequence, width: int, height: int,
                        prior: KinematicPrior = KinematicPrior(),
                        settings: KinematicSettings = KinematicSettings()) -> Estimate:
    """K from the tracks' apparent speeds against `prior` (see module docstring);
    `width` x `height` is the display frame the boxes live in."""
    method = "vehicle_lengths_per_second"
    if not tracks:
        return Estimate.none("kinematics", method, "no vehicle tracks")
    measured, skipped = [], {}
    for tr in tracks:
        r, why = vehicle_rate(tr, width, height, settings)
        if r is None:
            key = why.split(" (")[0] if "(" in why else why
            skipped[key] = skipped.get(key, 0) + 1
        else:
            measured.append(r)
    skipped_list = [{"reason": k, "vehicles": v} for k, v in skipped.items()]
    if not measured:
        return Estimate.none("kinematics", method,
                             f"none of {len(tracks)} tracks is usable (fully inside the frame, "
                             f"moving, seen >= {settings.min_span_s} s)", skipped=skipped_list)

    speed_log = math.log(prior.speed_median_mps)
    log_k, indiv_var = [], []
    for r in measured:
        L_med, L_sd = prior.length(r.class_name)
        # real rate v/L in 1/s for this class; K = apparent / real
        log_k.append(math.log(r.lengths_per_s) - (speed_log - math.log(L_med)))
        indiv_var.append(L_sd ** 2 + prior.speed_indiv_log_sd ** 2)
    log_k = np.array(log_k)
    n = len(log_k)
    center = float(np.median(log_k))
    # robust sample spread (MAD -> sd), only meaningful with a few vehicles
    sample_var = (1.4826 * float(np.median(np.abs(log_k - center)))) ** 2 if n >= 3 else 0.0
    generic_share = sum(prior.generic(r.class_name) for r in measured) / n
    common_var = prior.speed_log_sd ** 2 + generic_share * prior.generic_fleet_log_sd ** 2
    # the median of n values has ~1.57x the variance of their mean
    per_vehicle_var = max(float(np.mean(indiv_var)), sample_var) * (1.57 if n >= 3 else 1.0) / n
    sd = math.sqrt(common_var + per_vehicle_var)
    k = math.exp(center)
    lo, hi = math.exp(center - Z95 * sd), math.exp(center + Z95 * sd)
    cap = settings.max_vehicles_in_evidence
    ev = {"vehicles_used": n, "vehicles_skipped": len(tracks) - n, "skipped": skipped_list,
          "log_sd": round(sd, 4), "sample_log_sd": round(math.sqrt(sample_var), 4),
          "prior": prior.to_dict(),
          "rule": "K = apparent lengths per clip second / (prior speed / prior length)",
          "vehicles": [r.to_dict(math.exp(lk)) for r, lk in list(zip(measured, log_k))[:cap]]}
    return Estimate(source="kinematics", method=method, speedup=k, interval=(lo, hi),
                    trust=TRUST_KINEMATICS, evidence=ev)
