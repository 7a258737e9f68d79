"""Perspective clips with exact truth: a flat road seen by a pinhole camera from a height.

The side-on and top-down generator (render.py) draws sprites at one scale, so a box's
length along the motion is the vehicle's length everywhere; real cameras look down
a road at an angle, traffic drives toward, away and across, boxes grow as vehicles
approach, and a box's extent includes the vehicle's height. This module renders
exactly that, for testing speed estimators (retime/ground.py) where they fail.

World: x to the right, y forward along the ground, z up; the camera stands at height
`camera_height_m` above (0, 0), looks along +y tilted down by `tilt_deg`, with no roll
and a horizontal field of view `hfov_deg`. Every vehicle is a box (length x width x
height of its class) driving at `speed_mps` along a straight lane through
(`lane_x_m`, `lane_y_m`) at `heading_deg` (0: away from the camera, 180: toward it,
90: left to right). Clip frame j (at `fps`) shows real time K * j / fps, so the clip
plays exactly K times faster than reality. Faces are drawn far to near (painter's
algorithm), shaded by which way they face, on a grey road with a lighter ground and sky.
With `dash_period_m` > 0 the road carries two dashed white lane lines, `lane_width_m`
apart around the lane, marks of `dash_mark_m` every `dash_period_m` along it (a mark
starts at every multiple of the period from the lane point), for measuring the focal
length from dash periods (retime/dashes.py); 0 (the default) draws none.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import ConvoyCountError
from ..io import atomic_path

# length, width, height in metres, by class (the medians of retime.ground.SIZES)
DIMENSIONS = {"car": (4.6, 1.8, 1.5), "truck": (8.0, 2.45, 3.2), "bus": (11.5, 2.55, 3.1)}
_FACES = ((0, 1, 2, 3), (4, 5, 6, 7), (0, 1, 5, 4), (2, 3, 7, 6), (1, 2, 6, 5), (0, 3, 7, 4))


@dataclass(frozen=True)
class PerspectiveConfig:
    speedup: float = 1.0
    width: int = 640
    height: int = 360
    fps: float = 30.0
    duration_s: float = 3.0              # clip seconds
    camera_height_m: float = 8.0
    tilt_deg: float = 15.0
    hfov_deg: float = 40.0                # the focal length retime/ground.py assumes
    heading_deg: float = 180.0           # 0 away, 180 toward, 90 / 270 across, else diagonal
    lane_x_m: float = 0.0
    lane_y_m: float = 40.0               # where the lane passes at real time 0 for the middle car
    speed_mps: float = 14.0
    vehicles: int = 3
    spacing_m: float = 25.0
    class_name: str = "car"
    crf: int = 20
    dash_period_m: float = 0.0           # 0: no lane lines
    dash_mark_m: float = 3.0
    lane_width_m: float = 3.65

    def __post_init__(self):
        if self.class_name not in DIMENSIONS:
            raise ConvoyCountError(f"perspective class must be one of {tuple(DIMENSIONS)}, "
                                   f"got {self.class_name!r}")
        if not (0 < self.tilt_deg < 89 and 10 <= self.hfov_deg <= 120 and self.speedup > 0):
            raise ConvoyCountError(f"need 0 < tilt < 89, 10 <= hfov <= 120, speedup > 0; got tilt "
                                   f"{self.tilt_deg}, hfov {self.hfov_deg}, speedup {self.speedup}")


@dataclass(frozen=True)
class Camera3D:
    f: float
    cx: float
    cy: float
    h: float
    tilt: float

    @classmethod
    def of(cls, c: PerspectiveConfig) -> "Camera3D":
        f = c.width / 2 / math.tan(math.radians(c.hfov_deg) / 2)
        return cls(f, c.width / 2, c.height / 2, c.camera_height_m, math.radians(c.tilt_deg))

    def project(self, pts: np.ndarray) -> tuple:
        """World points (N, 3) -> (image xy (N, 2), depth along the optical axis (N,))."""
        x, y, z = pts[:, 0], pts[:, 1], pts[:, 2] - self.h
        ct, st = math.cos(self.tilt), math.sin(self.tilt)
        depth = y * ct - z * st
        down = -(y * st + z * ct)
        return np.column_stack((self.cx + self.f * x / depth, self.cy + self.f * down / depth)), depth


@dataclass(frozen=True)
class PerspectiveTruth:
    config: PerspectiveConfig
    frames: int
    vehicle_speed_mps: float
    boxes: dict = field(default_factory=dict)    # vehicle -> [(clip time, xyxy)] fully in view


def _corners(centre: np.ndarray, heading: float, dims: tuple) -> np.ndarray:
    L, W, H = dims
    fwd = np.array([math.sin(heading), math.cos(heading), 0.0])
    side = np.array([math.cos(heading), -math.sin(heading), 0.0])
    base = [centre + a * L / 2 * fwd + b * W / 2 * side for a, b in ((1, 1), (1, -1), (-1, -1), (-1, 1))]
    return np.array(base + [p + np.array([0, 0, H]) for p in base])


def _background(c: PerspectiveConfig, cam: Camera3D) -> np.ndarray:
    import cv2
    img = np.full((c.height, c.width, 3), (120, 150, 120), np.uint8)
    horizon = int(np.clip(cam.cy - cam.f * math.tan(cam.tilt), 0, c.height))
    img[:horizon] = (200, 180, 160)
    h = math.radians(c.heading_deg)
    d, n = np.array([math.sin(h), math.cos(h)]), np.array([math.cos(h), -math.sin(h)])
    p0 = np.array([c.lane_x_m, c.lane_y_m])
    pts = []
    for s, side in ((-400, -1), (400, -1), (400, 1), (-400, 1)):
        q = p0 + s * d + side * 5.0 * n
        pts.append((q[0], max(q[1], 1.0), 0.0))
    xy, _ = cam.project(np.array(pts))
    cv2.fillPoly(img, [np.clip(xy, -1e5, 1e5).astype(np.int32)], (90, 90, 90))
    if c.dash_period_m > 0:
        _lane_dashes(img, c, cam, p0, d, n)
    return img


def _lane_dashes(img: np.ndarray, c: PerspectiveConfig, cam: Camera3D, p0, d, n) -> None:
    """Dashed lane lines (0.15 m wide, the usual lane-line width) either side of the lane."""
    import cv2
    for side in (-0.5, 0.5):
        for k in range(-int(400 / c.dash_period_m), int(400 / c.dash_period_m) + 1):
            s0 = k * c.dash_period_m
            q = [p0 + s * d + (side * c.lane_width_m + w) * n
                 for s, w in ((s0, -0.075), (s0 + c.dash_mark_m, -0.075),
                              (s0 + c.dash_mark_m, 0.075), (s0, 0.075))]
            xy, depth = cam.project(np.array([(x, y, 0.0) for x, y in q]))
            if (depth > 1.0).all():
                pts = np.round(np.clip(xy, -1e5, 1e5) * 16).astype(np.int32)
                cv2.fillConvexPoly(img, pts, (235, 235, 235), lineType=cv2.LINE_AA, shift=4)


def _draw(img: np.ndarray, cam: Camera3D, corners: np.ndarray, colour) -> None:
    import cv2
    xy, depth = cam.project(corners)
    if (depth <= 0.5).any():
        return
    faces = sorted(_FACES, key=lambda f: -float(depth[list(f)].mean()))
    for k, f in enumerate(faces):
        shade = 0.6 + 0.4 * k / len(faces)
        cv2.fillConvexPoly(img, np.round(xy[list(f)]).astype(np.int32),
                           tuple(int(v * shade) for v in colour), lineType=cv2.LINE_AA)


def _positions(c: PerspectiveConfig, t_real: float) -> list:
    h = math.radians(c.heading_deg)
    d = np.array([math.sin(h), math.cos(h), 0.0])
    mid = (c.vehicles - 1) / 2
    return [np.array([c.lane_x_m, c.lane_y_m, 0.0]) + ((i - mid) * -c.spacing_m + c.speed_mps * t_real) * d
            for i in range(c.vehicles)]


def render_frames(c: PerspectiveConfig):
    """(clip time, BGR image, [xyxy of each vehicle or None when not wholly in view])."""
    cam = Camera3D.of(c)
    bg = _background(c, cam)
    dims = DIMENSIONS[c.class_name]
    colours = [(40, 40, 200), (200, 60, 40), (30, 160, 220), (220, 220, 220), (40, 40, 40)]
    for j in range(int(round(c.duration_s * c.fps))):
        t = j / c.fps
        img = bg.copy()
        cs = [_corners(p, math.radians(c.heading_deg), dims) for p in _positions(c, c.speedup * t)]
        order = sorted(range(len(cs)), key=lambda i: -float(cam.project(cs[i])[1].mean()))
        boxes = [None] * len(cs)
        for i in order:
            _draw(img, cam, cs[i], colours[i % len(colours)])
            xy, depth = cam.project(cs[i])
            lo, hi = xy.min(axis=0), xy.max(axis=0)
            if (depth > 0.5).all() and lo.min() > 0 and hi[0] < c.width and hi[1] < c.height:
                boxes[i] = (lo[0], lo[1], hi[0], hi[1])
        yield t, img, boxes


def generate_perspective(out_path, c: PerspectiveConfig) -> PerspectiveTruth:
    """Render `c` to an H.264 .mp4 (constant frame rate, pts = j / fps exactly)."""
    import av
    out = Path(out_path)
    tb = Fraction(1, 90000)
    boxes: dict = {}
    n = 0
    with atomic_path(out) as tmp, av.open(str(tmp), "w", format="mp4") as container:
        vs = container.add_stream("libx264", rate=Fraction(c.fps).limit_denominator(1000))
        vs.width, vs.height, vs.pix_fmt = c.width, c.height, "yuv420p"
        vs.time_base = vs.codec_context.time_base = tb
        vs.options = {"crf": str(c.crf), "preset": "veryfast"}
        for t, img, bxs in render_frames(c):
            vf = av.VideoFrame.from_ndarray(img, format="bgr24")
            vf.pts, vf.time_base = int(round(t * 90000)), tb
            for p in vs.encode(vf):
                container.mux(p)
            for i, b in enumerate(bxs):
                if b is not None:
                    boxes.setdefault(i, []).append((t, b))
            n += 1
        for p in vs.encode(None):
            container.mux(p)
    return PerspectiveTruth(config=c, frames=n, vehicle_speed_mps=c.speed_mps, boxes=boxes)
