"""A vehicle's speed on the ground, in metres per clip second, from its boxes alone.

The old measure (kinematics.py), box lengths per second along the image motion, is
biased whenever traffic is not side-on: seen from a height, a car driving toward the camera has a box
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
how the box bottoms of vehicles driving toward or away move down the picture (at
steady speed on a flat straight road 1 / (y - y_h) is linear in time), and an
*assumed* focal length (a 40 deg field of view; the interval spans lenses of 3-80 deg:
nothing in traffic boxes measures it, see the notes at `DEFAULT_DEPRESSION_DEG`; on
telephoto highway footage this is the largest error) unless lane dashes measured it
(retime/dashes.py; `speed.estimate_ground(dashes=...)` passes the reading in as
`GroundSettings.dash_focal_px`, its point and its horizon). The box aspect
bh / bw would fix a too, but on real COCO boxes it hardly changes down the picture
(highway_a: 0.82 near the horizon and near the bottom), so it is not used.
Given a, psi fixes f (tan f = sin a / tan psi), and then

    v = (u / bw) (L |sin f| + W |cos f|) / sqrt(sin^2 f + cos^2 f sin^2 a).

Side-on (f = 90 deg) this is the old rule, u / bw lengths per second, whatever a;
toward or away (f = 0) the scale is the vehicle's width, which the motion does not
foreshorten, and the displacement is divided by sin a. Each window of a track uses
the box width of that window, so the perspective growth of an approaching vehicle
cancels. The camera uncertainty (the lens range, or the depression range when no
horizon is found) is carried as a one-sided span of log speed at each end of the
range, shared by all vehicles of a clip.

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

from .kinematics import _inside, window_pairs


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
    focal_per_width: float = 1.37     # assumed focal length / frame width (see Camera)
    fov_range_deg: tuple = (3.0, 80.0)  # horizontal fields of view a traffic clip may have
                                      # been filmed with (see LENS_RANGE_DEG)
    min_horizon_vehicles: int = 2     # vehicles needed to place the horizon (_row_horizon)...
    min_horizon_rows: float = 0.15    # ...spanning this share of the frame height
    row_fit_share: float = 0.5        # a horizon from box bottoms must fit 1 / (y - y_h) at
                                      # least this much better than y itself fits a line
    dash_focal_px: tuple = ()         # (wide, telephoto) measured from lane dashes
                                      # (retime/dashes.py); empty: the assumed lens range
    dash_focal_point_px: Optional[float] = None   # their point (None: the range's middle)
    dash_horizon_y: Optional[float] = None   # where those dashed lines meet


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
    window_rates: tuple       # image speed over box width (per clip second), per window
    window_rows: tuple        # each window's median box-bottom row (its ground contact)
    box_w_px: float
    aspect: float             # box height / width
    motion_deg: float         # image motion angle from the horizontal, 0..90

    @property
    def psi(self) -> float:
        return math.radians(self.motion_deg)


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


def _window_rates(t: np.ndarray, c: np.ndarray, bw: np.ndarray, bottom: np.ndarray,
                  s: GroundSettings) -> tuple:
    """(image speed over the box width, median bottom row) per window of ~window_s."""
    rates, rows = [], []
    for i, j in window_pairs(t, s.window_s, s.window_frames):
        rates.append(float(np.linalg.norm(c[j] - c[i])) / (t[j] - t[i])
                     / float(np.median(bw[i:j + 1])))
        rows.append(float(np.median(bottom[i:j + 1])))
    return np.array(rates), np.array(rows)


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
    rates, rows = _window_rates(t, c, bw, boxes[:, 3], s)
    if len(rates) < s.min_windows or rates.max() <= 0:
        return None, f"{len(rates)} measuring windows with motion (< {s.min_windows})"
    d = c[-1] - c[0]
    return ImageMotion(track_id=int(track.track_id), class_name=str(track.class_name),
                       window_rates=tuple(rates.tolist()), window_rows=tuple(rows.tolist()),
                       box_w_px=float(np.median(bw)), aspect=float(np.median(bh / bw)),
                       motion_deg=math.degrees(math.atan2(abs(d[1]), abs(d[0])))), ""


@dataclass(frozen=True)
class Camera:
    """What the picture says about the camera: the horizon row (from how box widths
    of vehicles driving toward or away grow down the picture, see `fit_horizon`) and
    an assumed focal length (nothing in a clip of traffic alone measures it)."""
    horizon_y: Optional[float]
    focal_px: float
    centre_y: float
    how: str
    focal_range_px: tuple = ()     # (wide, telephoto): the lens range the interval spans
    focal_measured: bool = False   # from lane dashes (else assumed)

    def depression(self, y: float, focal_px: Optional[float] = None) -> float:
        """Radians below the horizon of the ray through row y."""
        f = focal_px or self.focal_px
        if self.horizon_y is None:
            return math.radians(DEFAULT_DEPRESSION_DEG)
        return math.atan((y - self.centre_y) / f) + math.atan((self.centre_y - self.horizon_y) / f)

    def to_dict(self) -> dict:
        return {"horizon_y_px": None if self.horizon_y is None else round(self.horizon_y, 1),
                "focal_px": round(self.focal_px, 1),
                "focal_px_from": "lane dashes" if self.focal_measured else "assumed",
                "focal_px_range": [round(f, 1) for f in self.focal_range_px], "how": self.how}


# Focal length (GroundSettings.focal_per_width): phones' main cameras see 65-80 deg
# across, CCTV 30-90, zoomed stock and news footage 3-40 (camcorder and broadcast
# zooms of 20-30x reach 2-3 deg at full telephoto). The point uses f = 1.37 x the frame
# width (a 40 deg horizontal field of view), chosen leave-one-clip-out on the real clips
# (benchmarks/RESULTS.md, speedup-real) from 55, 40 and 28 deg. The interval spans the
# lens range `fov_range_deg` (3-80 deg, from those lens specifications, not fitted to
# the clips), one side at a time (`_camera_span`): nothing in boxes of traffic measures
# f. A pinhole view of a flat road is, to first order, unchanged when the focal length
# and every depth are scaled together (a telephoto far away sees the same paths, widths
# and horizon as a wide lens close by); only lengths *along* the view tell them apart
# (vehicle lengths in the box heights, lane-dash periods), and COCO boxes do not show
# vehicle lengths (their aspect is 0.7-1.0 on every real clip, which read literally
# would put every camera within 2 deg of horizontal). On the two telephoto highway clips
# lane dashes measured by hand (US 12.2 m, UK 9 m periods) put the view at ~20 deg
# (highway_b) and ~2-4 deg (highway_uk) across, against the 40 assumed: measuring dash
# periods is the way to f: retime/dashes.py measures it, and `GroundSettings.dash_focal_px`
# (with its point and horizon) replaces the assumed lens and span. Without a horizon, a
# depression of 15 deg for the point (CCTV and overpass cameras look 5-40 deg down), and
# the span reaches straight down: a camera looking down on the road (a drone, a bridge,
# a high window) shows parallel paths and boxes that hardly grow, so it places no
# horizon either, and read at 15 deg its traffic toward or away is sped up by 1 / sin 15
# (~x3.9; generated top views, benchmarks/RESULTS.md speedup: +249 %, and an interval
# that missed K). Nothing else in the boxes tells the two apart (COCO boxes' aspect does
# not measure the depression, see above), so the interval spans both.
DEFAULT_DEPRESSION_DEG = 15.0
DEPRESSION_RANGE_DEG = (5.0, 90.0)


def _row_horizon(track, height: int, s: GroundSettings) -> Optional[float]:
    """The horizon row from how one vehicle's box bottom moves down (or up) the picture.
    A point driving at constant speed along any straight line on a flat road is at row
    y with 1 / (y - y_h) linear in time (it is the depth along the optical axis, over a
    constant), so y_h is the row that makes 1 / (y - y_h) straightest. None when the
    track barely changes depth (side-on traffic, telephoto views: a straight line in y
    fits as well, and any far horizon would do) or is not steady."""
    b = np.array([o.box for o in track.observations], dtype=np.float64)
    t = np.array([o.time_s for o in track.observations], dtype=np.float64)
    keep = (b[:, 1] > s.edge_margin_px) & (b[:, 3] < height - s.edge_margin_px)
    y, t = b[keep, 3], t[keep]
    if len(y) < 8 or np.ptp(y) < s.min_horizon_rows * height:
        return None
    grid = np.linspace(y.min() - 4 * height, y.min() - 2, 240)
    r = _line_misfit(t, 1 / (y[None, :] - grid[:, None]))
    best = int(np.argmin(r))
    if best < 2 or r[best] > s.row_fit_share * float(_line_misfit(t, y[None, :])[0]):
        return None
    return float(grid[best])


def _line_misfit(t: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Per row of z: the share of its variance a straight line in t leaves unexplained."""
    tc = t - t.mean()
    zc = z - z.mean(axis=1, keepdims=True)
    szz = np.sum(zc ** 2, axis=1)
    return 1 - np.sum(zc * tc, axis=1) ** 2 / (np.sum(tc ** 2) * szz + 1e-300)


def fit_horizon(tracks, width: int, height: int, s: GroundSettings = GroundSettings()) -> Camera:
    """The horizon row from how vehicles driving toward or away move down the picture
    (`_row_horizon`, the median over the tracks that place it; exact for steady traffic
    on a flat straight road, whatever the box sizes). Fitting how box widths grow down
    the picture (a width W at row y spans a(y - y_h) px) was tried and dropped: padded
    boxes (motion blobs, loose COCO boxes) move that horizon up by pad / a."""
    f = s.focal_per_width * width
    lens = tuple(width / 2 / math.tan(math.radians(a) / 2) for a in sorted(s.fov_range_deg, reverse=True))
    dashes = ""
    if s.dash_focal_px:       # measured beats assumed: the middle of the range, and the range
        f = s.dash_focal_point_px or math.sqrt(s.dash_focal_px[0] * s.dash_focal_px[1])
        lens = tuple(s.dash_focal_px)
        dashes = "; focal length from lane dashes"
    rows = [h for h in (_row_horizon(t, height, s) for t in tracks) if h is not None]
    if len(rows) >= s.min_horizon_vehicles:
        return Camera(horizon_y=float(np.median(rows)), focal_px=f, centre_y=height / 2,
                      how=f"box bottoms of {len(rows)} vehicles driving toward or away" + dashes,
                      focal_range_px=lens, focal_measured=bool(dashes))
    if s.dash_horizon_y is not None and dashes:
        return Camera(horizon_y=s.dash_horizon_y, focal_px=f, centre_y=height / 2,
                      how="where the dashed lane lines meet" + dashes, focal_range_px=lens,
                      focal_measured=True)
    why = (f"{len(rows)} vehicles change depth steadily enough to place it "
           f"(< {s.min_horizon_vehicles})")
    return Camera(horizon_y=None, focal_px=f, centre_y=height / 2, how=f"no horizon: {why}" + dashes,
                  focal_range_px=lens, focal_measured=bool(dashes))




@dataclass(frozen=True)
class GroundSpeed:
    """One vehicle's cruise speed on the ground and what it rests on."""
    motion: ImageMotion
    mps: float                # metres per clip second (median of its cruise windows)
    widths_per_s: float       # image rate of those windows (box widths per clip second)
    row: float                # median box-bottom row of those windows
    view: View                # at that row
    camera_span: tuple        # (down, up): log change of the speed at the ends of the camera
    windows: int              # range (shared by the clip), each <= 0 and >= 0

    def to_dict(self) -> dict:
        m, v = self.motion, self.view
        return {"track_id": m.track_id, "class": m.class_name,
                "box_widths_per_clip_s": round(self.widths_per_s, 4), "box_w_px": round(m.box_w_px, 1),
                "motion_deg_from_horizontal": round(m.motion_deg, 1), "bottom_row_px": round(self.row, 1),
                "depression_deg": round(v.depression_deg, 1), "heading_deg": round(v.heading_deg, 1),
                "metres_per_box_width": round(v.metres_per_width, 3), "m_per_clip_s": round(self.mps, 3),
                "cruise_windows": self.windows,
                "camera_log_span": [round(self.camera_span[0], 3), round(self.camera_span[1], 3)]}


def _camera_span(psi: float, row: float, cam: Camera, size: VehicleSize) -> tuple:
    """(down, up): how much the log metres per box width move when the camera is at
    either end of its range, the lens range (`Camera.focal_range_px`) with a horizon or
    the depression range without one. Kept one-sided: a telephoto raises the speed of
    traffic along the view by up to ~x4 (two of the seven real clips are telephotos, see
    the focal-length notes above) while a wide lens lowers it far less, so one symmetric
    spread would either miss the telephotos or widen the low side for nothing."""
    if cam.horizon_y is None:
        alts = [math.radians(a) for a in DEPRESSION_RANGE_DEG]
    else:
        alts = [cam.depression(row, f) for f in cam.focal_range_px]
    base = math.log(view_at(psi, cam.depression(row), size).metres_per_width)
    d = [math.log(view_at(psi, a, size).metres_per_width) - base for a in alts]
    return min(0.0, *d), max(0.0, *d)


def ground_speed(m: ImageMotion, cam: Camera, s: GroundSettings = GroundSettings()) -> tuple:
    """(GroundSpeed, "") or (None, why): every window's rate turned into metres per clip
    second at that window's own row (the depression, hence the foreshortening, changes
    as a vehicle approaches), then the cruise windows kept: the prior is about
    cruising, so windows slower than `moving_fraction` of the fast ones are braking,
    stopped or pulling away."""
    size = size_of(m.class_name)
    rates, rows = np.array(m.window_rates), np.array(m.window_rows)
    factor = np.array([view_at(m.psi, cam.depression(r), size).metres_per_width for r in rows])
    mps = rates * factor
    moving = mps >= s.moving_fraction * float(np.percentile(mps, s.cruise_percentile))
    if moving.sum() < s.min_windows:
        return None, f"{int(moving.sum())} cruise windows (< {s.min_windows})"
    row = float(np.median(rows[moving]))
    return GroundSpeed(motion=m, mps=float(np.median(mps[moving])),
                       widths_per_s=float(np.median(rates[moving])), row=row,
                       view=view_at(m.psi, cam.depression(row), size),
                       camera_span=_camera_span(m.psi, row, cam, size),
                       windows=int(moving.sum())), ""
