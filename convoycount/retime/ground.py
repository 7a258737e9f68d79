"""A vehicle's speed on the ground, in metres per clip second, from its boxes alone.

The old measure (kinematics.py), box lengths per second along the image motion, is biased whenever
traffic is not side-on: seen from a height, a car driving toward the camera has a box
whose vertical extent is its foreshortened length *plus its height*, while its
displacement is foreshortened alone, so it seems to cover fewer "lengths" than it does
(issue 15: motorway clips read at ~0.45x the true K). Here each vehicle is a box of
known size (length L, width W, height H by class) seen locally as an affine
(weak-perspective) view from a camera with no roll, at depression angle a (the
viewing ray's angle below the horizon) and heading f (0: toward or away from the
camera, 90 deg: side-on). A ground vector (across, along the view) maps to image
(across, along * sin a) and a vertical one of height H to (0, H cos a), times the
local scale s px/m. So:

    image motion direction    tan(psi) = |cos f| sin a / |sin f|
    box width                 bw = s (L |sin f| + W |cos f|)
    box height                bh = s ((L |cos f| + W |sin f|) sin a + H cos a)
    image speed               u  = s v sqrt(sin^2 f + cos^2 f sin^2 a)

The box width never holds the height (the camera has no roll), so it is the scale.
The depression comes from the camera (`Camera`, `fit_horizon`): the horizon row from
how the box widths of vehicles driving toward or away grow down the picture (on a flat
road a fixed width at row y spans a(y - y_h) px), and an *assumed* focal length (a
55 deg field of view, log-sd 0.3: nothing in traffic alone measures it). The box
aspect bh / bw would fix a too, but on real COCO boxes it hardly changes down the
picture (highway_a: 0.82 near the horizon and near the bottom), so it is not used.
Given a, psi fixes f (tan f = sin a / tan psi), and then

    v = (u / bw) (L |sin f| + W |cos f|) / sqrt(sin^2 f + cos^2 f sin^2 a).

Side-on (f = 90 deg) this is the old rule, u / bw lengths per second, whatever a;
toward or away (f = 0) the scale is the vehicle's width, which the motion does not
foreshorten, and the displacement is divided by sin a. Each window of a track uses
the box width of that window, so the perspective growth of an approaching vehicle
cancels. The camera uncertainty (focal length, or the depression when no horizon
is found) is carried as a log-sd shared by all vehicles of a clip.

Sizes (`SIZES`, median m, with the log-sd of the size across a class): car 4.6 x 1.8
x 1.5 (compact 4.0 m to pickups and SUVs 5.3 m; widths 1.7-1.95 m; COCO's car also
covers pickups), van 5.4 x 2.0 x 2.2, truck 8.0 x 2.45 x 3.2 (COCO's truck spans
pickups to articulated lorries: EU Directive 96/53/EC caps width at 2.55 m, rigid
length 12 m, articulated 16.5 m), bus 11.5 x 2.55 x 3.1, motorcycle 2.1 x 0.8 x 1.5
(with rider), military 7.5 x 2.5 x 2.8 (6x6 trucks and APCs), and a generic
"vehicle" 5.0 x 1.9 x 1.8 for detectors without classes. Widths vary far less than
lengths, so the per-class spread is split: `width_log_sd` for the scale across the
motion, `length_log_sd` along it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class VehicleSize:
    length_m: float
    width_m: float
    height_m: float
    length_log_sd: float
    width_log_sd: float


SIZES = {
    "car": VehicleSize(4.6, 1.8, 1.5, 0.10, 0.05),
    "van": VehicleSize(5.4, 2.0, 2.2, 0.10, 0.05),
    "truck": VehicleSize(8.0, 2.45, 3.2, 0.35, 0.08),
    "bus": VehicleSize(11.5, 2.55, 3.1, 0.12, 0.03),
    "motorcycle": VehicleSize(2.1, 0.8, 1.5, 0.08, 0.15),
    "military": VehicleSize(7.5, 2.5, 2.8, 0.15, 0.06),
}
GENERIC = VehicleSize(5.0, 1.9, 1.8, 0.35, 0.12)


def size_of(class_name: str) -> VehicleSize:
    return SIZES.get(class_name, GENERIC)


@dataclass(frozen=True)
class GroundSettings:
    edge_margin_px: float = 2.0       # a box this close to the border may be cut
    min_observations: int = 6         # inside-frame observations per vehicle
    min_span_s: float = 0.1           # clip seconds of inside-frame observations
    min_box_px: float = 10.0          # smaller boxes: +-1 px is already 10 %
    max_aspect_spread: float = 0.2    # MAD / median of bh / bw: a blob that changes shape
                                      # (merges, is half hidden) is not one vehicle
    max_path_deviation: float = 0.3   # RMS distance of the centres from a line, in box sizes
    min_travel_boxes: float = 1.0     # a vehicle must move at least its own box size
    window_s: float = 0.3             # displacement over this much clip time (or half the
    window_frames: int = 2            # span, for brief tracks), but at least this many steps
    cruise_percentile: float = 95.0   # stop-and-go windows (slower than moving_fraction x this
    moving_fraction: float = 0.7      # percentile of the vehicle's windows) are left out
    min_windows: int = 3
    toward_min_deg: float = 50.0      # image motion this steep: toward/away (box width = W)
    min_horizon_vehicles: int = 2     # toward/away vehicles needed to place the horizon...
    min_horizon_rows: float = 0.15    # ...spanning this share of the frame height


@dataclass(frozen=True)
class View:
    """How one vehicle is seen: depression a and heading f in degrees, and the factor
    that turns its image rate (box widths per second) into metres per second."""
    depression_deg: float
    heading_deg: float
    metres_per_width: float       # (L |sin f| + W |cos f|) / sqrt(sin^2 f + cos^2 f sin^2 a)
    size_log_sd: float            # of that factor, from the class's size spread


def view_at(psi: float, depression: float, size: VehicleSize) -> View:
    """The view of a vehicle of `size` moving at image angle `psi` (radians from the
    horizontal) seen at `depression` (radians below the horizon)."""
    sa = math.sin(max(depression, math.radians(0.5)))
    f = math.atan2(sa * math.cos(psi), math.sin(psi))       # tan f = sin a / tan psi
    sf, cf = abs(math.sin(f)), abs(math.cos(f))
    across = size.length_m * sf + size.width_m * cf
    # the length matters side-on, the width head-on
    size_sd = math.hypot(size.length_log_sd * size.length_m * sf,
                         size.width_log_sd * size.width_m * cf) / across
    return View(depression_deg=math.degrees(depression), heading_deg=math.degrees(f),
                metres_per_width=across / math.hypot(sf, cf * sa), size_log_sd=size_sd)


@dataclass(frozen=True)
class ImageMotion:
    """One vehicle's motion as measured in the picture (no scale yet)."""
    track_id: int
    class_name: str
    widths_per_s: float       # image speed over box width, per clip second
    box_w_px: float
    aspect: float             # box height / width
    motion_deg: float         # image motion angle from the horizontal, 0..90
    bottom_y: float           # median row of the box bottom (its ground contact)
    windows: int
    samples: tuple = ()       # (bottom row, box width px) of some observations

    @property
    def psi(self) -> float:
        return math.radians(self.motion_deg)


def _inside(box, width: int, height: int, m: float) -> bool:
    return box[0] > m and box[1] > m and box[2] < width - m and box[3] < height - m


def _shape_problem(boxes: np.ndarray, c: np.ndarray, s: GroundSettings) -> Optional[str]:
    """Why these boxes are not one rigid vehicle on the move (None if they are)."""
    bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    size = float(np.median(np.maximum(bw, bh)))
    if float(np.median(np.minimum(bw, bh))) < s.min_box_px:
        return f"box {float(np.median(np.minimum(bw, bh))):.0f} px across (< {s.min_box_px:g} px)"
    asp = bh / bw
    spread = float(np.median(np.abs(asp - np.median(asp)))) / float(np.median(asp))
    if spread > s.max_aspect_spread:
        return f"box shape varies by {spread:.0%} (> {s.max_aspect_spread:.0%}): not one rigid vehicle"
    cc = c - c.mean(axis=0)
    _, sv, vt = np.linalg.svd(cc, full_matrices=False)
    off = float(np.sqrt(np.mean((cc @ vt[1]) ** 2))) / size
    if off > s.max_path_deviation:
        return f"path strays {off:.2f} box sizes from a line (> {s.max_path_deviation:g})"
    travel = float(np.ptp(cc @ vt[0])) / size
    if travel < s.min_travel_boxes:
        return f"moved {travel:.2f} box sizes (< {s.min_travel_boxes:g}): parked or stopped"
    return None


def _window_rates(t: np.ndarray, c: np.ndarray, bw: np.ndarray, s: GroundSettings) -> np.ndarray:
    """Image speed over the box width, per window of ~window_s (see GroundSettings)."""
    n, rates, j = len(t), [], 0
    window = min(s.window_s, 0.5 * (t[-1] - t[0]))
    for i in range(n):
        j = max(j, i + s.window_frames)
        while j < n and t[j] - t[i] < window:
            j += 1
        if j >= n:
            break
        rates.append(float(np.linalg.norm(c[j] - c[i])) / (t[j] - t[i])
                     / float(np.median(bw[i:j + 1])))
    return np.array(rates)


def image_motion(track, width: int, height: int,
                 s: GroundSettings = GroundSettings()) -> tuple:
    """(ImageMotion, "") for one confirmed track, or (None, why not)."""
    obs = [o for o in track.observations if _inside(o.box, width, height, s.edge_margin_px)]
    if len(obs) < s.min_observations:
        return None, f"{len(obs)} observations fully inside the frame (< {s.min_observations})"
    t = np.array([o.time_s for o in obs], dtype=np.float64)
    if t[-1] - t[0] < s.min_span_s:
        return None, f"seen inside the frame for {t[-1] - t[0]:.2f} s (< {s.min_span_s} s)"
    boxes = np.array([o.box for o in obs], dtype=np.float64)
    c = np.column_stack(((boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2))
    why = _shape_problem(boxes, c, s)
    if why:
        return None, why
    bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    rates = _window_rates(t, c, bw, s)
    if len(rates) == 0 or rates.max() <= 0:
        return None, "too few frames for one measuring window"
    moving = rates >= s.moving_fraction * float(np.percentile(rates, s.cruise_percentile))
    if moving.sum() < s.min_windows:
        return None, f"{int(moving.sum())} cruise windows (< {s.min_windows})"
    d = c[-1] - c[0]
    return ImageMotion(track_id=int(track.track_id), class_name=str(track.class_name),
                       widths_per_s=float(np.median(rates[moving])),
                       box_w_px=float(np.median(bw)), aspect=float(np.median(bh / bw)),
                       motion_deg=math.degrees(math.atan2(abs(d[1]), abs(d[0]))),
                       bottom_y=float(np.median(boxes[:, 3])), windows=int(moving.sum()),
                       samples=tuple(zip(boxes[::3, 3].tolist(), bw[::3].tolist()))), ""


@dataclass(frozen=True)
class Camera:
    """What the picture says about the camera: the horizon row (from how box widths
    of vehicles driving toward or away grow down the picture, see `fit_horizon`) and
    an assumed focal length (nothing in a clip of traffic alone measures it)."""
    horizon_y: Optional[float]
    focal_px: float
    centre_y: float
    how: str

    def depression(self, y: float, focal_px: Optional[float] = None) -> float:
        """Radians below the horizon of the ray through row y."""
        f = focal_px or self.focal_px
        if self.horizon_y is None:
            return math.radians(DEFAULT_DEPRESSION_DEG)
        return math.atan((y - self.centre_y) / f) + math.atan((self.centre_y - self.horizon_y) / f)

    def to_dict(self) -> dict:
        return {"horizon_y_px": None if self.horizon_y is None else round(self.horizon_y, 1),
                "focal_px_assumed": round(self.focal_px, 1), "how": self.how}


# Focal length: a horizontal field of view of ~55 deg (phones' main cameras 65-75,
# CCTV 60-90, zoomed stock footage 20-40), i.e. f = 0.96 x the frame width, with a
# log-sd of 0.3 (HFOV 30-80 deg within 95 %). Without a horizon, a depression of
# 15 deg (CCTV and overpass cameras look 5-40 deg down).
FOCAL_PER_WIDTH = 0.96
FOCAL_LOG_SD = 0.30
DEFAULT_DEPRESSION_DEG = 15.0
DEPRESSION_RANGE_DEG = (5.0, 40.0)


def fit_horizon(motions, width: int, height: int, s: GroundSettings = GroundSettings()) -> Camera:
    """On a flat road a fixed width W at the box-bottom row y spans a(y - y_h) px
    (exact for a camera without roll): fit w / W against y over the vehicles that
    drive toward or away (their box width is their width) and read the horizon y_h
    where it reaches zero. Too few such vehicles, too little spread in rows or a fit
    that puts the horizon below them: no horizon."""
    f = FOCAL_PER_WIDTH * width
    toward = [m for m in motions if m.motion_deg >= s.toward_min_deg]
    pts = np.array([(y, w / size_of(m.class_name).width_m) for m in toward for y, w in m.samples])
    why = f"{len(toward)} vehicles drive toward or away (< {s.min_horizon_vehicles})"
    if len(toward) >= s.min_horizon_vehicles and len(pts) >= 6 \
            and np.ptp(pts[:, 0]) > s.min_horizon_rows * height:
        a, b = np.polyfit(pts[:, 0], pts[:, 1], 1)
        y_h = -b / a if a > 0 else None
        if y_h is not None and y_h < pts[:, 0].min() - 0.05 * height:
            return Camera(horizon_y=float(y_h), focal_px=f, centre_y=height / 2,
                          how=f"box widths of {len(toward)} vehicles against their rows")
        why = "box widths do not grow down the picture as on a flat road"
    elif len(toward) >= s.min_horizon_vehicles:
        why = "the vehicles driving toward or away span too few rows"
    return Camera(horizon_y=None, focal_px=f, centre_y=height / 2, how=f"no horizon: {why}")


def metres_per_width(m: ImageMotion, cam: Camera) -> tuple:
    """(View at the assumed focal length, log-sd of its factor from the camera
    uncertainty: focal length within its prior, or the depression within its range
    when there is no horizon)."""
    size = size_of(m.class_name)
    view = view_at(m.psi, cam.depression(m.bottom_y), size)
    if cam.horizon_y is None:
        alts = [math.radians(a) for a in DEPRESSION_RANGE_DEG]
    else:
        k = math.exp(1.96 * FOCAL_LOG_SD)
        alts = [cam.depression(m.bottom_y, cam.focal_px * k), cam.depression(m.bottom_y, cam.focal_px / k)]
    lf = [math.log(view_at(m.psi, a, size).metres_per_width) for a in alts]
    return view, (max(lf) - min(lf)) / 2 / 1.96
