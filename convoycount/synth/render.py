"""Rendering: the plan's frames as upright BGR pictures with exact boxes, no encoding.

Per frame: copy the static background, composite each visible vehicle's pre-drawn
sprite at its sub-pixel position (premultiplied alpha, far lanes first so near
vehicles occlude far ones), transpose for vertical traffic, then the camera: light,
shake, sensor noise, and last the burned-in clock (an overlay the camera adds, so it
neither shakes nor gets noise).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import cv2
import numpy as np

from .config import SynthConfig
from .plan import (RNG_BACKGROUND, RNG_LIGHT, RNG_NOISE, RNG_SHAKE, Plan, PlannedVehicle, build_plan, rng_for)
from .scene import lighting_lut, make_background
from .looks import restyle_frame, restyle_sprite
from .sprites import Sprite, draw_sprite


@dataclass(frozen=True)
class RenderedFrame:
    index: int
    clip_time_s: float              # pts as written to the file
    real_time_s: float              # capture time at the scene (= clip_time_s * speedup)
    image: np.ndarray               # (H, W, 3) uint8 BGR, upright display frame
    boxes: list                     # [(vehicle_id, class_name, (x1, y1, x2, y2), visible_fraction)]:
                                    # drawn extent incl. shake, clipped to the picture; fraction of
                                    # the vehicle's painted pixels not hidden by others or the edges
    scene_boxes: dict               # vehicle_id -> unclipped, unshaken box (where crossings are defined)
    shake_xy: tuple                 # (dx, dy) applied to the whole picture
    clock_text: Optional[str] = None


def render(config: SynthConfig) -> Iterator[RenderedFrame]:
    """Render every frame of `config` (no encoding)."""
    return render_plan(build_plan(config))


def render_plan(plan: Plan, decorate: Optional[Callable] = None) -> Iterator[RenderedFrame]:
    """`decorate(background, layout)` may paint static things (parked vehicles,
    synth/camera.py) onto the background before any frame is drawn."""
    return _Renderer(plan, decorate).frames()


class _Renderer:
    def __init__(self, plan: Plan, decorate: Optional[Callable] = None):
        self.plan = plan
        cfg = self.cfg = plan.config
        lay = self.layout = plan.layout
        self.bg = make_background(rng_for(cfg, RNG_BACKGROUND), lay, plan.palette, cfg)
        if decorate is not None:
            decorate(self.bg, lay)
        self.real = plan.frame_real_s
        self.clip = plan.frame_clip_s
        n = len(self.real)
        # positions of every vehicle at every frame, one vectorised interpolation each
        self.u_left = {}
        for v in plan.vehicles:
            a = v.trajectory.at(self.real)
            self.u_left[v.id] = lay.wc / 2 + v.lane.direction * v.lane.scale_px_per_m * a - v.w_px / 2
        self.sprites = {}
        self.shadows = {}
        # A vehicle's sprite and shadow are dropped after the last frame it shows in: a
        # 1080p sprite is up to ~1 MB, and a 10-minute clip's 200 vehicles kept ~200 MB.
        self.gone_after = {}
        for v in plan.vehicles:
            u = self.u_left[v.id]
            shown = np.flatnonzero((u < lay.wc) & (u + v.w_px > 0))
            if len(shown):
                self.gone_after.setdefault(int(shown[-1]), []).append(v.id)
        self.max_id = max((v.id for v in plan.vehicles), default=0)
        self.shake = _shake_offsets(cfg, self.real, rng_for(cfg, RNG_SHAKE))
        self.light = _light_gains(cfg, self.real, rng_for(cfg, RNG_LIGHT))
        self.noise_rng = rng_for(cfg, RNG_NOISE)
        self.noise_bank = _noise_bank(cfg, self.noise_rng) if cfg.noise_sigma > 0 else None
        self.luts = {}
        self.n = n

    # ---- per vehicle, once ------------------------------------------------------------
    def _sprite(self, v: PlannedVehicle) -> Sprite:
        sp = self.sprites.get(v.id)
        if sp is None:
            sp = restyle_sprite(draw_sprite(v.look, self.layout.view, v.w_px, v.h_px), self.cfg.look)
            if v.lane.direction < 0:
                sp = sp.mirrored()
            self.sprites[v.id] = sp
        return sp

    def _shadow(self, v: PlannedVehicle) -> tuple:
        """(alpha (h, w) float32, du, dv): offsets of the shadow's top-left from the box's."""
        sh = self.shadows.get(v.id)
        if sh is None:
            s = v.lane.scale_px_per_m
            if self.layout.view == "side":
                hh = max(3, int(round(0.5 * s)))
                pad = max(2, hh)
                w = v.w_px + 2 * pad
                a = np.zeros((hh + 2 * pad, w), np.float32)
                cv2.ellipse(a, (w // 2, pad + hh // 2), (v.w_px // 2 + 1, max(1, hh // 2)), 0, 0, 360, 1.0, -1)
                a = cv2.GaussianBlur(a, (0, 0), max(0.8, hh / 3))
                du, dv = -pad, v.h_px - hh // 2 - pad - 1
            else:
                pad = max(2, int(0.4 * s))
                a = np.zeros((v.h_px + 2 * pad, v.w_px + 2 * pad), np.float32)
                a[pad:pad + v.h_px, pad:pad + v.w_px] = 1.0
                a = cv2.GaussianBlur(a, (0, 0), max(0.8, 0.15 * s))
                du, dv = -pad + int(round(0.25 * s)), -pad + int(round(0.4 * s))
            sh = (a, du, dv)
            self.shadows[v.id] = sh
        return sh

    # ---- frames -----------------------------------------------------------------------
    def frames(self) -> Iterator[RenderedFrame]:
        cfg, lay = self.cfg, self.layout
        vehicles = sorted(self.plan.vehicles, key=lambda v: (-v.lane.depth, v.lane.index, v.id))
        idbuf = np.zeros((lay.hc, lay.wc), np.int32)
        strength = self.plan.palette.shadow_strength
        for i in range(self.n):
            canvas = self.bg.copy()
            idbuf.fill(0)
            active = [(v, float(self.u_left[v.id][i])) for v in vehicles
                      if self.u_left[v.id][i] < lay.wc and self.u_left[v.id][i] + v.w_px > 0]
            painted = {}
            # far lanes first; within a lane, shadows under every vehicle before the bodies
            for lane in sorted({v.lane.index for v, _ in active}, key=lambda k: -lay.lanes[k].depth):
                group = [(v, u) for v, u in active if v.lane.index == lane]
                if strength > 0:
                    for v, u in group:
                        a, du, dv = self._shadow(v)
                        _darken(canvas, a, int(round(u)) + du, int(v.v_top) + dv, strength)
                for v, u in group:
                    sp = self._sprite(v)
                    painted[v.id] = _blit(canvas, idbuf, sp, u, int(v.v_top), v.id)
            counts = np.bincount(idbuf.ravel(), minlength=self.max_id + 1) if active else None
            img = canvas if lay.orientation == "horizontal" else np.ascontiguousarray(canvas.transpose(1, 0, 2))
            img = restyle_frame(cv2.LUT(img, self._lut(i)), cfg.look)
            dx, dy = self.shake[i]
            if cfg.shake_px > 0:
                m = np.float32([[1, 0, dx], [0, 1, dy]])
                img = cv2.warpAffine(img, m, (cfg.width, cfg.height), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REFLECT)
            if self.noise_bank is not None:
                img = _add_noise(img, self.noise_bank, self.noise_rng)
            text = None
            if cfg.clock:
                text = clock_text(cfg, float(self.real[i]))
                draw_clock(img, cfg, text)
            boxes, scene = [], {}
            for v, u in active:
                sb = lay.display_box(u, v.v_top, u + v.w_px, v.v_top + v.h_px)
                scene[v.id] = sb
                x1, y1 = max(0.0, sb[0] + dx), max(0.0, sb[1] + dy)
                x2, y2 = min(float(cfg.width), sb[2] + dx), min(float(cfg.height), sb[3] + dy)
                if x2 > x1 and y2 > y1:
                    full = painted[v.id]
                    frac = min(1.0, counts[v.id] / full) if full > 0 else 0.0
                    boxes.append((v.id, v.look.class_name, (x1, y1, x2, y2), round(float(frac), 4)))
            yield RenderedFrame(i, float(self.clip[i]), float(self.real[i]), img, boxes, scene, (float(dx), float(dy)),
                                text)
            self._release(i)

    def _release(self, i: int) -> None:
        for vid in self.gone_after.get(i, ()):
            self.sprites.pop(vid, None)
            self.shadows.pop(vid, None)

    def _lut(self, i: int) -> np.ndarray:
        g = round(float(self.light[i]), 3)       # quantised: LUTs are reused across frames
        lut = self.luts.get(g)
        if lut is None:
            lut = self.luts[g] = lighting_lut(self.plan.palette, g)
        return lut


def _blit(canvas: np.ndarray, idbuf: np.ndarray, sp: Sprite, u_left: float, v_top: int, vid: int) -> int:
    """Composite a sprite with its left edge at sub-pixel `u_left`; mark its opaque pixels
    in `idbuf`. Returns the sprite's opaque pixel count (visible or not)."""
    premul, alpha = sp.premul, sp.alpha
    h, w = alpha.shape
    ix = math.floor(u_left)
    fx = u_left - ix
    if fx > 1e-6:   # linear sub-pixel shift: column k takes (1-fx) of k and fx of k-1
        p = np.zeros((h, w + 1, 3), np.float32)
        a = np.zeros((h, w + 1), np.float32)
        p[:, :w] = (1 - fx) * premul
        p[:, 1:] += fx * premul
        a[:, :w] = (1 - fx) * alpha
        a[:, 1:] += fx * alpha
    else:
        p, a = premul, alpha
    full = int(np.count_nonzero(a > 0.5))
    H, W = canvas.shape[:2]
    x0, x1 = max(ix, 0), min(ix + a.shape[1], W)
    y0, y1 = max(v_top, 0), min(v_top + h, H)
    if x0 >= x1 or y0 >= y1:
        return full
    sp_ = p[y0 - v_top:y1 - v_top, x0 - ix:x1 - ix]
    sa = a[y0 - v_top:y1 - v_top, x0 - ix:x1 - ix]
    dst = canvas[y0:y1, x0:x1]
    out = dst.astype(np.float32) * (1.0 - sa[..., None]) + sp_
    canvas[y0:y1, x0:x1] = np.minimum(out + 0.5, 255).astype(np.uint8)
    idbuf[y0:y1, x0:x1][sa > 0.5] = vid
    return full


def _darken(canvas: np.ndarray, a: np.ndarray, x: int, y: int, strength: float) -> None:
    H, W = canvas.shape[:2]
    h, w = a.shape
    x0, x1, y0, y1 = max(x, 0), min(x + w, W), max(y, 0), min(y + h, H)
    if x0 >= x1 or y0 >= y1:
        return
    f = 1.0 - strength * a[y0 - y:y1 - y, x0 - x:x1 - x]
    canvas[y0:y1, x0:x1] = (canvas[y0:y1, x0:x1].astype(np.float32) * f[..., None] + 0.5).astype(np.uint8)


def _shake_offsets(cfg: SynthConfig, real: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, 2) smooth-ish translations: two slow sinusoids per axis plus a little jitter."""
    out = np.zeros((len(real), 2))
    if cfg.shake_px <= 0:
        return out
    for ax in range(2):
        f1, f2 = rng.uniform(0.4, 1.5), rng.uniform(2.0, 4.5)
        p1, p2 = rng.uniform(0, 2 * np.pi, 2)
        jit = rng.normal(0, 1, len(real))
        x = 0.6 * np.sin(2 * np.pi * f1 * real + p1) + 0.3 * np.sin(2 * np.pi * f2 * real + p2) + 0.15 * jit
        out[:, ax] = np.clip(cfg.shake_px * x, -cfg.shake_px, cfg.shake_px)
    return np.round(out, 3)


def _light_gains(cfg: SynthConfig, real: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if cfg.lighting_drift <= 0:
        return np.ones(len(real))
    p1, p2 = rng.uniform(0, 2 * np.pi, 2)
    t1, t2 = rng.uniform(8, 16), rng.uniform(2.5, 5)
    x = 0.65 * np.sin(2 * np.pi * real / t1 + p1) + 0.35 * np.sin(2 * np.pi * real / t2 + p2)
    return 1.0 + cfg.lighting_drift * x


NOISE_PAD = 16


def _noise_bank(cfg: SynthConfig, rng: np.random.Generator) -> np.ndarray:
    """A few noise fields, a little larger than the picture; each frame takes a random
    window of one of them (fresh-looking noise without drawing W*H*3 normals per frame)."""
    n = 4
    return np.round(rng.normal(0, cfg.noise_sigma, (n, cfg.height + NOISE_PAD, cfg.width + NOISE_PAD, 3))
                    ).astype(np.int16)


def _add_noise(img: np.ndarray, bank: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    k = int(rng.integers(len(bank)))
    oy, ox = (int(v) for v in rng.integers(0, NOISE_PAD, 2))
    h, w = img.shape[:2]
    out = img.astype(np.int16) + bank[k, oy:oy + h, ox:ox + w]
    return np.clip(out, 0, 255).astype(np.uint8)


# ---- clock ---------------------------------------------------------------------------
CLOCK_FONT = cv2.FONT_HERSHEY_SIMPLEX
CLOCK_MARGIN_PX = 6
CLOCK_PAD_PX = 4


def clock_text(cfg: SynthConfig, real_time_s: float) -> str:
    """What the burned-in clock shows at `real_time_s`: start + real time, truncated."""
    d = cfg.clock_decimals
    q = int(math.floor((cfg.clock_start_s + real_time_s) * 10 ** d + 1e-6))
    secs, frac = divmod(q, 10 ** d)
    hh, mm, ss = (secs // 3600) % 24, (secs // 60) % 60, secs % 60
    return f"{hh:02d}:{mm:02d}:{ss:02d}" + (f".{frac:0{d}d}" if d else "")


def _clock_font(cfg: SynthConfig) -> tuple:
    scale = max(0.4, 0.6 * min(cfg.width, cfg.height) / 360)
    thick = max(1, int(round(scale * 1.7)))
    return scale, thick


def clock_region(cfg: SynthConfig) -> tuple:
    """(x1, y1, x2, y2) display pixels of the clock's dark box."""
    scale, thick = _clock_font(cfg)
    sample = "00:00:00" + ("." + "0" * cfg.clock_decimals if cfg.clock_decimals else "")
    (tw, th), base = cv2.getTextSize(sample, CLOCK_FONT, scale, thick)
    bw, bh = tw + 2 * CLOCK_PAD_PX, th + base + 2 * CLOCK_PAD_PX
    x = CLOCK_MARGIN_PX if cfg.clock_corner.endswith("left") else cfg.width - CLOCK_MARGIN_PX - bw
    y = CLOCK_MARGIN_PX if cfg.clock_corner.startswith("top") else cfg.height - CLOCK_MARGIN_PX - bh
    return (x, y, x + bw, y + bh)


def draw_clock(img: np.ndarray, cfg: SynthConfig, text: str) -> None:
    scale, thick = _clock_font(cfg)
    x1, y1, x2, y2 = clock_region(cfg)
    cv2.rectangle(img, (x1, y1), (x2 - 1, y2 - 1), (16, 16, 16), -1)
    (tw, th), base = cv2.getTextSize(text, CLOCK_FONT, scale, thick)
    cv2.putText(img, text, (x1 + CLOCK_PAD_PX, y1 + CLOCK_PAD_PX + th), CLOCK_FONT, scale, (235, 235, 235), thick,
                cv2.LINE_AA)
