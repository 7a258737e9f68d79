"""Scene geometry (lanes, scale, counting line) and the static background picture.

Everything here works in CANONICAL coordinates (u along the road, v across it):
for horizontal traffic u = x and v = y of the display frame; for vertical traffic the
canonical picture is the display picture transposed (u = y, v = x). The renderer
draws canonically and transposes once per frame at the end.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ConvoyCountError
from .config import SynthConfig
from .sprites import MODELS

LANE_WIDTH_M = 3.5
OVERLAP_STEP_M = 1.1       # side view, overlap: far lane ground sits this far above the near one
SKY_MARGIN_FRAC = 0.08     # keep the tallest far vehicle below this (clock, sky)


@dataclass(frozen=True)
class LaneGeom:
    index: int
    direction: int             # +1: towards +u (canonical), -1: towards -u
    scale_px_per_m: float
    ground_v: float            # side view: v of the tyre line; top view: lane centre v
    depth: int                 # larger = farther from the camera = drawn first


@dataclass(frozen=True)
class Layout:
    view: str
    orientation: str
    wc: int                    # canonical width (along the road)
    hc: int                    # canonical height (across)
    lanes: tuple
    road_top_v: float
    road_bottom_v: float
    horizon_v: float           # side view only (0 in top view)
    line: tuple                # counting line, normalised display coords (x1, y1, x2, y2)

    def to_display_xy(self, u: float, v: float) -> tuple:
        return (u, v) if self.orientation == "horizontal" else (v, u)

    def to_canonical_uv(self, x: float, y: float) -> tuple:
        return (x, y) if self.orientation == "horizontal" else (y, x)

    def display_box(self, u0: float, v0: float, u1: float, v1: float) -> tuple:
        return (u0, v0, u1, v1) if self.orientation == "horizontal" else (v0, u0, v1, u1)

    def display_direction(self, lane_dir: int) -> str:
        if self.orientation == "horizontal":
            return "left_to_right" if lane_dir > 0 else "right_to_left"
        return "top_to_bottom" if lane_dir > 0 else "bottom_to_top"


def max_height_m(config: SynthConfig) -> float:
    classes = [c for c, w in config.class_mix if w > 0]
    return max(m[3][1] for c in classes for m in MODELS[c].values())


def make_layout(config: SynthConfig) -> Layout:
    view = config.resolved_view
    wc, hc = (config.width, config.height) if config.orientation == "horizontal" else (config.height, config.width)
    n = config.lanes
    # two-way: the near half of the lanes runs one way, the far half the other
    dirs = [1] * n
    if config.two_way:
        dirs = [1 if k < (n + 1) // 2 else -1 for k in range(n)]
    if config.reverse_direction:
        dirs = [-d for d in dirs]
    s0 = config.pixels_per_m
    lanes = []
    if view == "side":
        h_max = max_height_m(config)
        # stack the lanes (ground lines relative to the nearest), then centre the stack a
        # little below the middle of the picture, leaving a foreground strip under the road
        offsets, scales, off = [], [], 0.0
        for k in range(n):
            s = s0 * config.lane_depth_scale ** k
            offsets.append(off)
            scales.append(s)
            off += round(OVERLAP_STEP_M * s if config.overlap else h_max * s + 4)
        stack_h = offsets[-1] + h_max * scales[-1]
        g0 = float(round(min(hc - max(0.1 * hc, 0.9 * s0), 0.62 * hc + stack_h / 2)))
        for k in range(n):
            lanes.append(LaneGeom(k, dirs[k], scales[k], g0 - offsets[k], k))
        far = lanes[-1]
        top = far.ground_v - h_max * far.scale_px_per_m
        if top < SKY_MARGIN_FRAC * hc:
            raise ConvoyCountError(
                f"{n} lane(s) at {s0} px/m do not fit in a picture {hc} px high (the farthest lane's "
                f"tallest vehicle would reach y={top:.0f}); use fewer lanes, a smaller pixels_per_m, "
                f"overlap=True or a taller picture")
        road_top = far.ground_v - max(6.0, 1.6 * far.scale_px_per_m)
        road_bottom = min(hc - 2.0, lanes[0].ground_v + max(4.0, 0.6 * s0))
        horizon = max(0.04 * hc, min(road_top - max(0.06 * hc, 2.0 * far.scale_px_per_m), 0.45 * hc))
    else:
        lane_px = LANE_WIDTH_M * s0
        road_w = n * lane_px + 2 * 0.8 * s0
        if road_w > 0.94 * hc:
            raise ConvoyCountError(
                f"{n} lane(s) at {s0} px/m need a road {road_w:.0f} px wide but the picture is {hc} px "
                f"across the road; use fewer lanes or a smaller pixels_per_m")
        road_top = hc / 2 - road_w / 2
        road_bottom = hc / 2 + road_w / 2
        for k in range(n):
            centre = road_bottom - 0.8 * s0 - (k + 0.5) * lane_px
            lanes.append(LaneGeom(k, dirs[k], s0, float(centre), 0))
        horizon = 0.0
    return Layout(view, config.orientation, wc, hc, tuple(lanes), float(road_top), float(road_bottom),
                  float(horizon), tuple(config.resolved_line))


# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Palette:
    sky_top: tuple
    sky_horizon: tuple
    grass: tuple
    asphalt: tuple
    marking: tuple
    far: str                   # "trees" | "buildings" | "hills"
    shadow_strength: float
    light_gain: float          # global exposure
    light_tint: tuple          # per-channel gains (B, G, R)
    light_gamma: float


def make_palette(rng: np.random.Generator, config: SynthConfig) -> Palette:
    sky = [((205, 165, 110), (235, 215, 195)), ((175, 170, 165), (215, 212, 208)),
           ((190, 150, 120), (200, 205, 225)), ((215, 185, 150), (245, 235, 225))][int(rng.integers(4))]
    grass = [(52, 118, 70), (60, 135, 100), (80, 150, 150), (70, 112, 92), (88, 128, 120)][int(rng.integers(5))]
    a = float(rng.uniform(78, 140))
    asphalt = (a + rng.uniform(-4, 8), a + rng.uniform(-3, 3), a + rng.uniform(-6, 4))
    far = str(rng.choice(["trees", "buildings", "hills"]))
    shadow = float(rng.uniform(0.25, 0.55)) if config.shadow_strength is None else float(config.shadow_strength)
    return Palette(tuple(map(float, sky[0])), tuple(map(float, sky[1])), tuple(float(g) for g in grass),
                   tuple(float(np.clip(c, 0, 255)) for c in asphalt),
                   (230.0, 232.0, 235.0) if rng.random() < 0.8 else (40.0, 190.0, 225.0), far, shadow,
                   float(rng.uniform(0.8, 1.12)), tuple(float(rng.uniform(0.95, 1.05)) for _ in range(3)),
                   float(rng.uniform(0.85, 1.15)))


def _texture(rng: np.random.Generator, h: int, w: int, cell_px: float, amp: float) -> np.ndarray:
    """Smooth blotches plus grain, zero mean, float32 (h, w, 1)."""
    sh, sw = max(2, int(h / cell_px)), max(2, int(w / cell_px))
    low = cv2.resize(rng.normal(0, 1, (sh, sw)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    fine = rng.normal(0, 0.5, (h, w)).astype(np.float32)
    return (amp * (0.7 * low + 0.3 * fine))[..., None]


def _fill_band(img: np.ndarray, v0: float, v1: float, colour, tex: np.ndarray = None,
               grad=(1.0, 1.0)) -> None:
    a, b = int(round(max(0, v0))), int(round(min(img.shape[0], v1)))
    if b <= a:
        return
    g = np.linspace(grad[0], grad[1], b - a, dtype=np.float32)[:, None, None]
    band = np.asarray(colour, np.float32)[None, None, :] * g
    if tex is not None:
        band = band + tex[a:b]
    img[a:b] = np.clip(band, 0, 255)


def make_background(rng: np.random.Generator, layout: Layout, pal: Palette, config: SynthConfig) -> np.ndarray:
    """The static canonical background (hc, wc, 3) uint8."""
    h, w = layout.hc, layout.wc
    img = np.zeros((h, w, 3), np.float32)
    if layout.view == "side":
        _side_background(rng, img, layout, pal, config)
    else:
        _top_background(rng, img, layout, pal, config)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def _dashes(img, rng, v, thickness_px, colour, scale, dash_m=3.0, gap_m=6.0) -> None:
    w = img.shape[1]
    x = -rng.uniform(0, (dash_m + gap_m) * scale)
    while x < w:
        x0, x1 = int(round(x)), int(round(x + dash_m * scale))
        cv2.rectangle(img, (x0, int(round(v - thickness_px / 2))), (x1, int(round(v + thickness_px / 2))),
                      colour, -1)
        x += (dash_m + gap_m) * scale


def _side_sky(rng, img, L: Layout, pal: Palette) -> None:
    """Sky above the horizon: a vertical gradient with up to three soft clouds."""
    h, w = img.shape[:2]
    _fill_band(img, 0, L.horizon_v + 1, pal.sky_top)
    sky_rows = int(round(L.horizon_v)) + 1
    if sky_rows > 0:
        t = np.linspace(0, 1, sky_rows, dtype=np.float32)[:, None, None]
        img[:sky_rows] = (np.asarray(pal.sky_top) * (1 - t) + np.asarray(pal.sky_horizon) * t)
        for _ in range(int(rng.integers(0, 4))):       # soft clouds
            c = np.zeros((h, w), np.float32)
            cv2.ellipse(c, (int(rng.uniform(0, w)), int(rng.uniform(0, max(1, sky_rows * 0.6)))),
                        (int(rng.uniform(0.08, 0.2) * w), int(rng.uniform(0.02, 0.06) * h)), 0, 0, 360, 1.0, -1)
            c = cv2.GaussianBlur(c, (0, 0), 0.03 * w)[:sky_rows, :, None]
            img[:sky_rows] = img[:sky_rows] * (1 - 0.5 * c) + 245 * 0.5 * c


def _side_far_scenery(rng, img, L: Layout, pal: Palette, s_far: float) -> None:
    """Trees, buildings (with window rows) or hills sitting on the horizon, at the
    scale `s_far` px/m of something beyond the far lane."""
    w = img.shape[1]
    hz = L.horizon_v
    if pal.far == "trees":
        for _ in range(int(w / max(4, 2.0 * s_far))):
            x, r = rng.uniform(-10, w + 10), rng.uniform(1.5, 3.5) * s_far
            col = tuple(float(c * rng.uniform(0.55, 0.85)) for c in pal.grass)
            cv2.ellipse(img, (int(x), int(hz)), (int(r), int(r * rng.uniform(0.9, 1.6))), 0, 180, 360, col, -1)
    elif pal.far == "buildings":
        x = rng.uniform(-20, 0)
        while x < w:
            bw, bh = rng.uniform(6, 16) * s_far, rng.uniform(4, 14) * s_far
            base = rng.uniform(100, 210)
            col = tuple(float(np.clip(base + t, 0, 255)) for t in rng.uniform(-22, 22, 3))
            x0, y0 = int(x), int(max(0, hz - bh))
            cv2.rectangle(img, (x0, y0), (int(x + bw), int(hz)), col, -1)
            for wy in np.arange(y0 + 0.8 * s_far, hz - 1.5 * s_far, 1.6 * s_far):      # window rows
                for wx in np.arange(x0 + 0.6 * s_far, x + bw - 0.8 * s_far, 1.4 * s_far):
                    cv2.rectangle(img, (int(wx), int(wy)), (int(wx + 0.6 * s_far), int(wy + 0.7 * s_far)),
                                  tuple(c * 0.55 for c in col), -1)
            x += bw + rng.uniform(0, 4) * s_far
    else:
        pts = [(0, hz)] + [(x, hz - rng.uniform(1, 6) * s_far) for x in np.linspace(0, w, 7)] + [(w, hz)]
        cv2.fillPoly(img, [np.array(pts, np.int32)], tuple(float(c * 0.75) for c in pal.grass))


def _side_verge(rng, img, L: Layout, pal: Palette, tex, s_far: float) -> None:
    """Between horizon and road: fields in bands of slightly different tone, then a
    hedge or a fence (or neither) along the far side and a few poles; the poles and
    rails give a motion detector still edges to ignore."""
    w = img.shape[1]
    hz, far = L.horizon_v, L.lanes[-1]
    _fill_band(img, hz, L.road_top_v, pal.grass, tex, (0.9, 1.05))
    # fields: a few bands of slightly different tone receding to the horizon
    v = hz
    while v < L.road_top_v:
        bh = rng.uniform(0.15, 0.5) * (L.road_top_v - hz)
        f = rng.uniform(0.85, 1.12)
        a, b = int(v), int(min(v + bh, L.road_top_v))
        img[a:b] *= np.float32(f)
        v += bh
    if rng.random() < 0.5:   # hedge along the far side of the road
        top = L.road_top_v - rng.uniform(0.6, 1.4) * far.scale_px_per_m
        pts = [(0, L.road_top_v)] + [(x, top - rng.uniform(0, 0.3) * far.scale_px_per_m)
                                     for x in np.linspace(0, w, max(3, w // 12))] + [(w, L.road_top_v)]
        cv2.fillPoly(img, [np.array(pts, np.int32)], tuple(float(c * 0.6) for c in pal.grass))
    elif rng.random() < 0.6:   # post-and-rail fence
        top = L.road_top_v - 1.1 * far.scale_px_per_m
        col = (90.0, 105.0, 120.0) if rng.random() < 0.5 else (170.0, 170.0, 168.0)
        t = max(1, int(0.08 * far.scale_px_per_m))
        for x in np.arange(rng.uniform(0, 3), w, 2.5 * far.scale_px_per_m):
            cv2.line(img, (int(x), int(top)), (int(x), int(L.road_top_v)), col, t)
        for f in (0.0, 0.45):
            y = int(top + f * (L.road_top_v - top))
            cv2.line(img, (0, y), (w, y), col, t)
    for _ in range(int(rng.integers(0, 4))):           # poles behind the road: vertical edges
        x = int(rng.uniform(0, w))
        cv2.line(img, (x, int(max(0, hz - 6 * s_far))), (x, int(L.road_top_v)), (70, 70, 75),
                 max(1, int(0.15 * s_far)))


def _side_road(rng, img, L: Layout, pal: Palette, tex) -> None:
    """Textured asphalt, the kerb, sometimes a pavement with slab joints, then grass
    to the bottom of the picture."""
    h, w = img.shape[:2]
    near = L.lanes[0]
    road_tex = _texture(rng, h, w, 10, 6)
    _fill_band(img, L.road_top_v, L.road_bottom_v, pal.asphalt, road_tex, (0.92, 1.04))
    _fill_band(img, L.road_bottom_v, L.road_bottom_v + max(2, 0.2 * near.scale_px_per_m), (185, 185, 182))
    kerb = L.road_bottom_v + max(2, 0.2 * near.scale_px_per_m)
    if rng.random() < 0.5:   # pavement, then grass
        pave = kerb + rng.uniform(0.8, 2.0) * near.scale_px_per_m
        _fill_band(img, kerb, pave, (158.0, 160.0, 164.0), road_tex, (1.0, 1.05))
        for x in np.arange(rng.uniform(0, 20), w, 1.2 * near.scale_px_per_m):      # slab joints
            cv2.line(img, (int(x), int(kerb)), (int(x), int(pave)), (130, 132, 136), 1)
        kerb = pave
    _fill_band(img, kerb, h, pal.grass, tex, (1.0, 1.12))


def _side_markings(rng, img, L: Layout, pal: Palette) -> None:
    """The near edge line, and between lanes a solid yellow line where directions
    differ or dashes where they agree."""
    w = img.shape[1]
    lanes, near = L.lanes, L.lanes[0]
    th = max(1.0, 0.1 * near.scale_px_per_m)
    cv2.rectangle(img, (0, int(L.road_bottom_v - 2 * th)), (w, int(L.road_bottom_v - th)), pal.marking, -1)
    for a, b in zip(lanes[:-1], lanes[1:]):
        v = (a.ground_v + b.ground_v) / 2
        t = max(1.0, 0.08 * (a.scale_px_per_m + b.scale_px_per_m))
        if a.direction != b.direction:
            cv2.rectangle(img, (0, int(v - t)), (w, int(v)), (40, 190, 225), -1)
        else:
            _dashes(img, rng, v, t, pal.marking, (a.scale_px_per_m + b.scale_px_per_m) / 2)


def _side_background(rng, img, L: Layout, pal: Palette, config: SynthConfig) -> None:
    """A roadside scene seen from the side, top to bottom; the steps draw from `rng`
    in this order, so a seed always gives the same picture."""
    h, w = img.shape[:2]
    s_far = L.lanes[-1].scale_px_per_m * 0.7
    _side_sky(rng, img, L, pal)
    _side_far_scenery(rng, img, L, pal, s_far)
    tex = _texture(rng, h, w, 18, 10)     # grass texture, shared by verge and foreground
    _side_verge(rng, img, L, pal, tex, s_far)
    _side_road(rng, img, L, pal, tex)
    _side_markings(rng, img, L, pal)


def _top_background(rng, img, L: Layout, pal: Palette, config: SynthConfig) -> None:
    h, w = img.shape[:2]
    s = L.lanes[0].scale_px_per_m
    tex = _texture(rng, h, w, 14, 12)
    _fill_band(img, 0, h, pal.grass, tex)
    for _ in range(int(w * h / (40 * s * s))):         # trees and bushes on the verges
        v = rng.uniform(0, h)
        if L.road_top_v - 1.5 * s < v < L.road_bottom_v + 1.5 * s:
            continue
        u, r = rng.uniform(0, w), rng.uniform(0.8, 2.5) * s
        cv2.circle(img, (int(u + 0.4 * r), int(v + 0.4 * r)), int(r), tuple(c * 0.5 for c in pal.grass), -1)
        cv2.circle(img, (int(u), int(v)), int(r), tuple(c * rng.uniform(0.6, 0.85) for c in pal.grass), -1)
    road_tex = _texture(rng, h, w, 10, 6)
    _fill_band(img, L.road_top_v, L.road_bottom_v, pal.asphalt, road_tex)
    th = max(1.0, 0.15 * s)
    for v in (L.road_top_v + 0.5 * s, L.road_bottom_v - 0.5 * s):
        cv2.rectangle(img, (0, int(v - th / 2)), (w, int(v + th / 2)), pal.marking, -1)
    for a, b in zip(L.lanes[:-1], L.lanes[1:]):
        v = (a.ground_v + b.ground_v) / 2
        if a.direction != b.direction:
            cv2.rectangle(img, (0, int(v - 1.5 * th)), (w, int(v - 0.5 * th)), (40, 190, 225), -1)
            cv2.rectangle(img, (0, int(v + 0.5 * th)), (w, int(v + 1.5 * th)), (40, 190, 225), -1)
        else:
            _dashes(img, rng, v, th, pal.marking, s)


def lighting_lut(pal: Palette, gain_factor: float = 1.0) -> np.ndarray:
    """(256, 1, 3) uint8 LUT: exposure, gamma and colour tint of this scene."""
    x = np.arange(256, dtype=np.float32) / 255.0
    base = np.power(x, pal.light_gamma) * 255.0 * pal.light_gain * gain_factor
    lut = np.stack([base * t for t in pal.light_tint], axis=1)
    return np.clip(lut + 0.5, 0, 255).astype(np.uint8)[:, None, :]
