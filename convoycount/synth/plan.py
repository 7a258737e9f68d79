"""The plan of a clip: frame timeline, vehicles and their motion, and the exact truth.

Nothing here draws pixels: `build_plan()` is cheap, so tests and benchmarks can ask for
the truth of a configuration without rendering it. Random streams are separate per
purpose (scene, vehicles, timeline, camera, noise), so e.g. turning noise on does not
change the traffic.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import ConvoyCountError
from .config import SynthConfig
from .motion import (Trajectory, braking_distance_m, measure, start_segments, stop_segments)
from .scene import LaneGeom, Layout, Palette, make_layout, make_palette
from .sprites import VehicleLook, choose_look
from .truth import Truth, VehicleTruth

PTS_HZ = 90000                 # 1/90000 s time base: exact for 24/25/30/60 and 30000/1001 rates
DECEL_MPS2 = 2.5
ACCEL_MPS2 = 1.8
REVERSE_MPS = (2.0, 3.5)
FULLY_VISIBLE_MIN_REAL_S = 0.5

# independent random streams
RNG_SCENE, RNG_VEHICLES, RNG_TIMELINE, RNG_SHAKE, RNG_NOISE, RNG_LIGHT, RNG_BACKGROUND = range(1, 8)


def rng_for(config: SynthConfig, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(config.seed) & 0xFFFFFFFF, stream])


@dataclass
class PlannedVehicle:
    id: int
    look: VehicleLook
    lane: LaneGeom
    behaviour: str
    cruise_mps: float
    w_px: int                   # drawn box size, canonical (along u, across v)
    h_px: int
    v_top: float                # canonical v of the box top (integer valued)
    line_a_m: Optional[float]   # position along travel where the centre meets the counting line
    line_uv: Optional[tuple]    # that point, canonical pixels
    entry_real_s: float
    trajectory: Trajectory = None

    @property
    def length_drawn_m(self) -> float:
        return self.w_px / self.lane.scale_px_per_m


@dataclass
class Plan:
    config: SynthConfig
    layout: Layout
    palette: Palette
    vehicles: list
    frame_pts: np.ndarray          # int64, 1/90000 units
    frame_real_s: np.ndarray       # exact capture times (= pts * K / 90000)
    truth: Truth = None

    @property
    def frame_clip_s(self) -> np.ndarray:
        return self.frame_pts / PTS_HZ


# --------------------------------------------------------------------------------------
def build_plan(config: SynthConfig) -> Plan:
    layout = make_layout(config)
    palette = make_palette(rng_for(config, RNG_SCENE), config)
    vehicles = _plan_vehicles(config, layout, palette, rng_for(config, RNG_VEHICLES))
    if config.duration_real_s is not None:
        duration = float(config.duration_real_s)
    else:
        duration = config.lead_in_s + config.tail_s
        for v in vehicles:
            duration = max(duration, _done_time(v, layout, config) + config.tail_s)
    pts, real = _timeline(config, duration, rng_for(config, RNG_TIMELINE))
    plan = Plan(config, layout, palette, vehicles, pts, real)
    plan.truth = _truth(plan)
    return plan


def _timeline(config: SynthConfig, duration_s: float, rng: np.random.Generator) -> tuple:
    """Kept frames' clip pts (1/90000) and exact real capture times."""
    dt = 1.0 / config.real_fps
    if not config.vfr:
        n = int(math.floor(duration_s * config.real_fps + 1e-9)) + 1
        t = np.arange(n) * dt
    else:
        n = int(duration_s * config.real_fps * 1.5) + 16
        iv = dt * rng.uniform(1 - config.vfr_jitter, 1 + config.vfr_jitter, n)
        lo, hi = int(0.1 * n / 1.5), max(int(0.1 * n / 1.5) + 1, int(0.9 * n / 1.5))
        for i in rng.choice(np.arange(lo, hi), size=min(config.vfr_gaps, hi - lo), replace=False):
            iv[i] = dt * rng.integers(3, 9)          # dropped frames: a gap of 3-8 intervals
        t = np.concatenate([[0.0], np.cumsum(iv)])
        t = t[t <= duration_s + 1e-9]
    kept = t[::config.speedup]
    if len(kept) < 2:
        kept = t[:2] if len(t) >= 2 else np.array([0.0, dt * config.speedup])
    k = config.speedup
    pts = np.round(kept / k * PTS_HZ).astype(np.int64)
    if np.any(np.diff(pts) <= 0):   # cannot happen for real_fps <= 1000, vfr_jitter < 0.9
        raise ConvoyCountError(f"frame interval below the 1/{PTS_HZ} s time base (real_fps {config.real_fps})")
    real = pts * k / PTS_HZ         # clip = real / K exactly
    return pts, real


def _roles(config: SynthConfig, rng: np.random.Generator) -> list:
    """The role of each crossing vehicle: "cruise", or for a `stop_and_go` share a
    stop ("stop_on_line": straddling the counting line, else "stop")."""
    roles = []
    for _ in range(config.n_vehicles):
        if rng.random() < config.stop_and_go:
            roles.append("stop_on_line" if rng.random() < config.stop_on_line_fraction else "stop")
        else:
            roles.append("cruise")
    return roles


def _lane_queues(config: SynthConfig, pal: Palette, rng: np.random.Generator, n_lanes: int) -> tuple:
    """(queues, tails) per lane: the specs of the vehicles in entry order, drawn from
    `rng` in a fixed order (the seed fixes the traffic). Lanes are dealt from
    shuffled decks, so every lane gets its share (+-1) in random order; a lane takes
    at most one parked vehicle, and it enters last (it would block the ones behind);
    a reversing vehicle goes anywhere in its lane's queue."""
    names = [c for c, _ in config.class_mix]
    weights = np.array([w for _, w in config.class_mix], np.float64)
    weights /= weights.sum()
    roles = _roles(config, rng)
    parks_per_lane = [0] * n_lanes
    queues = [[] for _ in range(n_lanes)]
    tails = [[] for _ in range(n_lanes)]      # parked vehicles go last in their lane
    deck = []
    for i in range(config.n_vehicles + config.non_crossing):
        role = roles[i] if i < config.n_vehicles else str(rng.choice(list(config.non_crossing_kinds)))
        if not deck:
            deck = list(rng.permutation(n_lanes))
        lane = int(deck.pop())
        if role == "park":
            free = [k for k in range(n_lanes) if parks_per_lane[k] == 0]
            if free:
                lane = free[int(rng.integers(len(free)))]
                parks_per_lane[lane] += 1
            else:
                role = "reverse_out"   # one parked vehicle per lane: a second would block the first
        cls = names[int(rng.choice(len(names), p=weights))]
        look = choose_look(rng, cls, config.colours, config.low_contrast_fraction, pal.asphalt)
        speed = float(rng.uniform(*config.speed_mps))
        spec = dict(look=look, role=role, speed=speed, gap_factor=float(
            rng.uniform(1 - config.spacing_jitter, 1 + config.spacing_jitter)),
            stop_dur=float(rng.uniform(*config.stop_duration_s)), u1=float(rng.random()),
            u2=float(rng.random()), u3=float(rng.random()), lateral=float(rng.uniform(-0.25, 0.25)))
        if role == "park":
            tails[lane].append(spec)
        elif i >= config.n_vehicles:   # reverse_out: somewhere in the lane's queue
            q = queues[lane]
            q.insert(int(rng.integers(len(q) + 1)), spec)
        else:
            queues[lane].append(spec)
    return queues, tails


def _plan_lane(config: SynthConfig, layout: Layout, lane: LaneGeom, specs: list,
               entry: float, planned: list) -> None:
    """Place one lane's vehicles (appended to `planned`), each entering a jittered
    spacing after the one before, never closer than `min_gap_m` behind its leader,
    and not before a reversing vehicle ahead has backed out of the picture."""
    leader = None
    for j, spec in enumerate(specs):
        if j > 0:
            entry += config.spacing_s * spec["gap_factor"]
        v = _place(spec, lane, layout, entry)
        if planned and planned[-1].lane is lane and planned[-1].behaviour == "reverse_out":
            # wait until the reversing vehicle has backed out of the picture
            rev = planned[-1]
            gone = max(e for _, e in rev.trajectory.intervals_within(*_band(rev, layout, full=False)))
            entry = max(entry, gone + 0.3 * config.spacing_s)
            v = _place(spec, lane, layout, entry)
        free = _free_trajectory(v, spec, layout)
        if leader is not None:
            keep = (leader.length_drawn_m + v.length_drawn_m) / 2 + config.min_gap_m
            free = free.minimum(leader.trajectory.shifted(-keep))
        v.trajectory = free
        planned.append(v)
        if v.behaviour != "reverse_out":
            leader = v


def _plan_vehicles(config: SynthConfig, layout: Layout, pal: Palette, rng: np.random.Generator) -> list:
    """Every vehicle with its look, lane, entry time and trajectory, ids in order of
    appearance. Lanes start at random offsets so they do not enter in lockstep."""
    n_lanes = len(layout.lanes)
    queues, tails = _lane_queues(config, pal, rng, n_lanes)
    lane_offsets = [0.0] + [float(rng.uniform(0, config.spacing_s)) for _ in range(n_lanes - 1)]
    planned = []
    for k, lane in enumerate(layout.lanes):
        _plan_lane(config, layout, lane, queues[k] + tails[k], config.lead_in_s + lane_offsets[k],
                   planned)
    # ids in order of appearance
    planned.sort(key=lambda v: (v.entry_real_s, v.lane.index))
    for i, v in enumerate(planned, start=1):
        v.id = i
    return planned


def _place(spec: dict, lane: LaneGeom, layout: Layout, entry_s: float) -> PlannedVehicle:
    look: VehicleLook = spec["look"]
    s = lane.scale_px_per_m
    w_px = max(2, int(round(look.length_m * s)))
    if layout.view == "side":
        h_px = max(2, int(round(look.height_m * s)))
        v_top = float(round(lane.ground_v) - h_px)
    else:
        h_px = max(2, int(round(look.width_m * s)))
        v_top = float(round(lane.ground_v + spec["lateral"] * s - h_px / 2))
    v_c = v_top + h_px / 2
    line_uv, line_a = _line_point(layout, lane, v_c)
    return PlannedVehicle(0, look, lane, spec["role"], spec["speed"], w_px, h_px, v_top, line_a, line_uv, entry_s)


def _line_point(layout: Layout, lane: LaneGeom, v_c: float) -> tuple:
    """Where a centre moving along v = v_c meets the counting line segment (canonical px),
    and that point as a position along the lane (metres, direction of travel)."""
    x1, y1, x2, y2 = _line_px(layout)
    (u1, v1), (u2, v2) = layout.to_canonical_uv(x1, y1), layout.to_canonical_uv(x2, y2)
    if v1 == v2:
        return None, None
    f = (v_c - v1) / (v2 - v1)
    if not (0.0 <= f <= 1.0):
        return None, None
    u = u1 + f * (u2 - u1)
    a = lane.direction * (u - layout.wc / 2) / lane.scale_px_per_m
    return (float(u), float(v_c)), float(a)


def _line_px(layout: Layout) -> tuple:
    x1, y1, x2, y2 = layout.line
    w, h = layout.to_display_xy(layout.wc, layout.hc)
    return (x1 * w, y1 * h, x2 * w, y2 * h)


def _band(v: PlannedVehicle, layout: Layout, full: bool) -> tuple:
    """Positions (metres along travel) where the box overlaps (full=False) or lies wholly
    inside (full=True) the picture along u."""
    s = v.lane.scale_px_per_m
    half = (layout.wc - v.w_px) / (2 * s) if full else (layout.wc + v.w_px) / (2 * s)
    if full and half < 0:
        return (1.0, -1.0)     # longer than the picture: never wholly inside
    return (-half, half)


def _free_trajectory(v: PlannedVehicle, spec: dict, layout: Layout) -> Trajectory:
    """The motion the driver wants, before keeping distance to the vehicle ahead."""
    s = v.lane.scale_px_per_m
    Lm = v.length_drawn_m
    speed = v.cruise_mps
    a_enter = -layout.wc / (2 * s) - Lm / 2          # front bumper on the upstream edge
    half_full = (layout.wc - v.w_px) / (2 * s)        # centre range with the box wholly inside
    line_a = v.line_a_m if v.line_a_m is not None else 0.0
    role = v.behaviour
    if role == "cruise":
        return Trajectory.build(v.entry_real_s, a_enter, speed, [], speed)
    u1, u2 = spec["u1"], spec["u2"]
    if role == "stop_on_line":
        # box straddles the line, centre 15-35 % of a length before or after it
        sign = -1 if u2 < 0.5 else 1
        a_stop = line_a + sign * (0.15 + 0.2 * u1) * Lm
    elif role == "stop":
        before = u2 < 0.5
        if before:
            lo, hi = -half_full, line_a - Lm / 2 - 1.0
            a_stop = lo + u1 * (hi - lo) if hi >= lo else hi
        else:
            lo, hi = line_a + Lm / 2 + 1.0, half_full
            a_stop = lo + u1 * (hi - lo) if hi >= lo else lo
    else:   # park / reverse_out: stop short of the line, wholly in view when the picture allows
        lo, hi = -half_full, line_a - Lm / 2 - 1.0
        a_stop = lo + u1 * (hi - lo) if hi >= lo else hi
        # never reach the line, even if that means stopping barely in view
        a_stop = min(max(a_stop, a_enter + 0.5), line_a - 0.3)
    if role in ("stop", "stop_on_line"):
        a_stop = max(a_stop, a_enter + 0.5)
    brake = braking_distance_m(speed, DECEL_MPS2)
    a_brake = a_stop - brake
    t_brake = v.entry_real_s + (a_brake - a_enter) / speed
    segs = stop_segments(speed, DECEL_MPS2)
    hold = spec["stop_dur"]
    if role in ("stop", "stop_on_line"):
        return Trajectory.build(t_brake, a_brake, speed, segs + [(hold, 0.0)] + start_segments(speed, ACCEL_MPS2),
                                speed)
    if role == "park":
        return Trajectory.build(t_brake, a_brake, speed, segs, 0.0)
    back = REVERSE_MPS[0] + spec["u3"] * (REVERSE_MPS[1] - REVERSE_MPS[0])
    rev = [(d, -vv) for d, vv in start_segments(back, ACCEL_MPS2)]
    return Trajectory.build(t_brake, a_brake, speed, segs + [(hold, 0.0)] + rev, -back)


def _done_time(v: PlannedVehicle, layout: Layout, config: SynthConfig) -> float:
    """Real time after which this vehicle no longer changes the picture."""
    rest = v.trajectory.rest_time()
    if rest is not None:
        return rest + config.park_hold_s
    spans = v.trajectory.intervals_within(*_band(v, layout, full=False))
    return max((e for _, e in spans), default=v.entry_real_s)


# --------------------------------------------------------------------------------------
def _crossing(v: PlannedVehicle, layout: Layout, t0: float, t1: float) -> tuple:
    """(real time, display point) where the vehicle's centre meets the counting line
    inside the picture and within the clip, or (None, None)."""
    if v.line_a_m is not None and 0.0 <= v.line_uv[0] <= layout.wc:
        tc = v.trajectory.first_time_reaching(v.line_a_m)
        if tc is not None and t0 < tc <= t1:
            return tc, layout.to_display_xy(*v.line_uv)
    return None, None


def _stops_truth(v: PlannedVehicle, layout: Layout, t0: float, t1: float, k: int) -> list:
    """Every stop within the clip: real and clip start/end, and where the centre stood."""
    stops = []
    for ss, se, a in v.trajectory.stops(t0, t1):
        u_c = layout.wc / 2 + v.lane.direction * v.lane.scale_px_per_m * a
        stops.append({"start_real_s": round(ss, 6), "end_real_s": round(se, 6),
                      "start_clip_s": round(ss / k, 6), "end_clip_s": round(se / k, 6),
                      "centre_px": [round(c, 3) for c in layout.to_display_xy(u_c, v.v_top + v.h_px / 2)]})
    return stops


def _vehicle_truth(v: PlannedVehicle, layout: Layout, clip: np.ndarray, real: np.ndarray,
                   k: int) -> VehicleTruth:
    """One vehicle's truth: its look, crossing, the frames its box overlaps the
    picture, how long it is wholly in view, and its stops."""
    tr, lane = v.trajectory, v.lane
    s = lane.scale_px_per_m
    t0, t1 = float(real[0]), float(real[-1])
    crossing_real, point = _crossing(v, layout, t0, t1)
    lo, hi = _band(v, layout, full=False)
    pos = tr.at(real)
    seen = np.nonzero((pos > lo) & (pos < hi))[0]
    full = _band(v, layout, full=True)
    fully = measure(tr.intervals_within(*full), t0, t1) if full[0] <= full[1] else 0.0
    return VehicleTruth(
        id=v.id, class_name=v.look.class_name, model=v.look.model, colour=v.look.colour_name,
        length_m=v.look.length_m, width_m=v.look.width_m, height_m=v.look.height_m,
        speed_mps=round(v.cruise_mps, 4), direction=layout.display_direction(lane.direction),
        lane=lane.index, behaviour=v.behaviour, crosses_line=crossing_real is not None,
        crossing_real_time_s=None if crossing_real is None else crossing_real,
        crossing_clip_time_s=None if crossing_real is None else crossing_real / k,
        crossing_point_px=None if point is None else tuple(round(c, 3) for c in point),
        first_seen_clip_s=float(clip[seen[0]]) if len(seen) else None,
        last_seen_clip_s=float(clip[seen[-1]]) if len(seen) else None,
        fully_visible_real_s=round(fully, 6),
        box_size_px=tuple(int(c) for c in layout.to_display_xy(v.w_px, v.h_px)),
        pixels_per_m=round(s, 6), entry_real_s=round(v.entry_real_s, 6),
        stops=tuple(_stops_truth(v, layout, t0, t1, k)))


def _lanes_truth(layout: Layout) -> list:
    """Each lane's direction, scale and reference line across the picture (the tyre
    line in a side view, the lane centre from above)."""
    what = "tyre line" if layout.view == "side" else "lane centre"
    lanes = []
    for lane in layout.lanes:
        a = layout.to_display_xy(0, lane.ground_v)
        b = layout.to_display_xy(layout.wc, lane.ground_v)
        lanes.append({"index": lane.index, "direction": layout.display_direction(lane.direction),
                      "pixels_per_m": round(lane.scale_px_per_m, 6), "reference": what,
                      "reference_line_px": [round(c, 3) for c in (*a, *b)]})
    return lanes


def _clock_truth(cfg: SynthConfig) -> Optional[dict]:
    """What the burned-in clock shows and where, or None without a clock."""
    if not cfg.clock:
        return None
    from .render import clock_region
    return {"start": cfg.clock_start, "decimals": cfg.clock_decimals, "corner": cfg.clock_corner,
            "region_px": list(clock_region(cfg)),
            "format": "HH:MM:SS" + ("." + "d" * cfg.clock_decimals if cfg.clock_decimals else ""),
            "shows": "clock_start + real capture time, truncated (not rounded)"}


def _truth_notes(cfg: SynthConfig) -> list:
    """The definitions a reader of the truth needs, and the caveats of this config."""
    notes = ["crossing = the instant the centre of the drawn box (scene coordinates) meets the line "
             "segment, solved exactly from the piecewise-linear motion; clip time = real time / speedup",
             "first/last_seen: frames whose unshaken box overlaps the picture (occlusion ignored)",
             "visible_vehicles: box wholly inside the picture for >= 0.5 s of real time (occlusion ignored)"]
    if cfg.shake_px > 0:
        notes.append(f"camera shake: drawn boxes are displaced by up to {cfg.shake_px} px from the scene "
                     "coordinates the crossings are defined in")
    if cfg.rotation:
        notes.append(f"pixels are stored rotated; the container display matrix tells a player to rotate "
                     f"{cfg.rotation} deg clockwise; all coordinates here are in the upright display frame")
    return notes


def _truth(plan: Plan) -> Truth:
    """The exact truth of the plan: per vehicle, totals, lanes, clock and notes."""
    cfg, layout = plan.config, plan.layout
    clip = plan.frame_clip_s
    real = plan.frame_real_s
    t0, t1 = float(real[0]), float(real[-1])
    k = cfg.speedup
    vehicles = [_vehicle_truth(v, layout, clip, real, k) for v in plan.vehicles]
    crossing = [v for v in vehicles if v.crosses_line]
    by_dir, by_cls = {}, {}
    for v in crossing:
        by_dir[v.direction] = by_dir.get(v.direction, 0) + 1
        by_cls[v.class_name] = by_cls.get(v.class_name, 0) + 1
    w, h = cfg.width, cfg.height
    line = cfg.resolved_line
    dur = float(clip[-1] + 1.0 / cfg.real_fps - clip[0])
    return Truth(
        config=cfg.to_dict(), speedup=k, real_fps=cfg.real_fps, pixels_per_m=cfg.pixels_per_m,
        line=tuple(line), line_px=(line[0] * w, line[1] * h, line[2] * w, line[3] * h), width=w, height=h,
        rotation=cfg.rotation, orientation=cfg.orientation, view=layout.view, duration_s=dur,
        real_duration_s=t1 - t0, frames=len(clip), frame_times_s=tuple(float(c) for c in clip),
        frame_real_times_s=tuple(float(r) for r in real), lanes=tuple(_lanes_truth(layout)),
        vehicles=tuple(sorted(vehicles, key=lambda v: v.id)), total_crossing=len(crossing),
        by_direction=by_dir, by_class=by_cls,
        visible_vehicles=sum(1 for v in vehicles if v.fully_visible_real_s >= FULLY_VISIBLE_MIN_REAL_S - 1e-9),
        clock=_clock_truth(cfg), audio=cfg.audio, notes=tuple(_truth_notes(cfg)))
