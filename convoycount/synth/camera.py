"""Moving-camera clips: a handheld phone that shakes, pans after the column and
zooms, over a scene with parked vehicles, with the exact truth in scene coordinates.

    from convoycount.synth import scenario
    from convoycount.synth.camera import CameraMove, generate_moving
    truth = generate_moving("clip.mp4", scenario("news_story", seed=3, speedup=1),
                            CameraMove(shake_frac=0.02, pan_frac=0.6, zoom=1.3, parked=2))

How: the scene (the *world*) is rendered by the ordinary generator on a canvas
wider and taller than the picture, so the camera has room to pan and shake; each
frame is then the view of a camera at its place on the world: a similarity
(shift, small roll, zoom about the centre), applied with one warp. So the world's
plan gives every crossing exactly, in world pixels, and the view path says where
the camera looked.

The counting line is `config.resolved_line` in the picture at `line_at_s` (the
reference frame; default the first). It is fixed in the scene from there. A
vehicle counts in the truth when its centre crosses the line (solved exactly in the
world) while the line is *watched*: at least half of it in the picture at the last
frame before the crossing (`camera.scene.line_share_in_view`, the test the pipeline
applies). Parked vehicles stand on the far verge next to the line and never cross.
With `window`, the clip is filmed through a window held against the phone: a
reflection and the window's frame stay put in the picture (the frame only covers
the top and bottom strips, clear of the road, so the truth is unchanged).
"""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import cv2
import numpy as np

from ..camera.scene import LINE_VIEW_SHARE, line_share_in_view
from ..camera.transform import apply
from ..errors import ConvoyCountError
from .config import SynthConfig
from .plan import build_plan
from .render import render_plan
from .sprites import choose_look, draw_sprite
from .truth import Truth, truth_path

RNG_CAMERA = 901          # random stream of the camera path and the parked vehicles
ROLL_DEG_PER_SHAKE = 15.0  # roll amplitude (deg) per unit of shake_frac: 0.45 deg at 3 %


@dataclass(frozen=True)
class CameraMove:
    shake_frac: float = 0.0          # handheld shake: amplitude as a share of the width (<= 0.05)
    pan_frac: float = 0.0            # pan after the column over the clip, share of the width (<= 1.5)
    zoom: float = 1.0                # zoom reached by the end of the middle of the clip (1..2)
    parked: int = 0                  # parked vehicles on the far verge beside the line (0..6)
    line_at_s: Optional[float] = None   # the line is placed in the picture at this clip time
    window: float = 0.0              # filmed through a window, the phone held against the glass:
                                     # the strength (<= 0.4) of a reflection that stays put in the
                                     # picture, with the window's dark frame along the top and the
                                     # bottom; both move with the phone, not with the scene (0: none)

    def __post_init__(self):
        def check(ok, name, expected):
            if not ok:
                raise ConvoyCountError(f"camera setting {name} must be {expected}, "
                                       f"got {getattr(self, name)!r}")
        num = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)  # noqa: E731
        check(num(self.shake_frac) and 0 <= self.shake_frac <= 0.05, "shake_frac", "in [0, 0.05]")
        check(num(self.pan_frac) and 0 <= self.pan_frac <= 1.5, "pan_frac", "in [0, 1.5]")
        check(num(self.zoom) and 1 <= self.zoom <= 2, "zoom", "in [1, 2]")
        check(isinstance(self.parked, int) and 0 <= self.parked <= 6, "parked", "an integer in [0, 6]")
        check(self.line_at_s is None or (num(self.line_at_s) and self.line_at_s >= 0), "line_at_s",
              "None or a clip time >= 0")
        check(num(self.window) and 0 <= self.window <= 0.4, "window", "in [0, 0.4]")


@dataclass(frozen=True)
class _World:
    config: SynthConfig            # the scene, rendered on the bigger canvas
    margin: float                  # px of world around the picture's first position
    direction: int                 # +1: the pan follows traffic to the right


def _world(config: SynthConfig, move: CameraMove) -> _World:
    if config.orientation != "horizontal" or config.rotation:
        raise ConvoyCountError("a moving-camera clip needs horizontal traffic and rotation 0")
    w, h = config.width, config.height
    shake = move.shake_frac * w
    # Room for the shake and the roll it brings at the picture's corners.
    margin = math.ceil(shake + math.radians(ROLL_DEG_PER_SHAKE * move.shake_frac) * w / 2) + 4
    ww = w + math.ceil(move.pan_frac * w) + 2 * margin
    wh = h + 2 * margin
    world = dataclasses.replace(config, width=ww + ww % 2, height=wh + wh % 2, shake_px=0.0, line=None,
                                 rotation=0)
    return _World(world, float(margin), -1 if config.reverse_direction else 1)


def _ease(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3 - 2 * u)


def _view_path(config: SynthConfig, move: CameraMove, world: _World, real: np.ndarray,
               span: tuple) -> list:
    """World -> picture similarity (3x3) at each real time; `span` (first, last real
    time of the clip) paces the pan and the zoom."""
    w, h, ww = config.width, config.height, world.config.width
    rng = np.random.default_rng([config.seed, RNG_CAMERA])
    u = (real - span[0]) / max(1e-9, span[1] - span[0])
    pan = move.pan_frac * w * _ease(u)
    cx = (world.margin + w / 2 + pan) if world.direction > 0 else (ww - world.margin - w / 2 - pan)
    cy = np.full(len(real), world.config.height / 2)
    zoom = 1 + (move.zoom - 1) * _ease((u - 0.2) / 0.6)
    shake = _wobble(rng, real, 3) * np.array([move.shake_frac * w, move.shake_frac * w,
                                              ROLL_DEG_PER_SHAKE * move.shake_frac])
    out = []
    for i in range(len(real)):
        a = math.radians(shake[i, 2])
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]) * zoom[i]
        c = np.array([cx[i] + shake[i, 0], cy[i] + shake[i, 1]])
        m = np.eye(3)
        m[:2, :2] = rot
        m[:2, 2] = np.array([w / 2, h / 2]) - rot @ c
        out.append(m)
    return out


def _wobble(rng: np.random.Generator, real: np.ndarray, n: int) -> np.ndarray:
    """(len(real), n) smooth hand motion in [-1, 1]: two slow sinusoids and a tremor."""
    out = np.zeros((len(real), n))
    for k in range(n):
        f1, f2, f3 = rng.uniform(0.3, 1.2), rng.uniform(1.5, 3.5), rng.uniform(6, 9)
        p = rng.uniform(0, 2 * np.pi, 3)
        out[:, k] = (0.6 * np.sin(2 * np.pi * f1 * real + p[0]) + 0.3 * np.sin(2 * np.pi * f2 * real + p[1])
                     + 0.1 * np.sin(2 * np.pi * f3 * real + p[2]))
    return np.clip(out, -1, 1)


def _parked(config: SynthConfig, move: CameraMove, line_world: tuple):
    """(decorate(background, layout) for the renderer, list the truth gets filled in)."""
    rng = np.random.default_rng([config.seed, RNG_CAMERA, 1])
    placed = []

    def decorate(bg: np.ndarray, layout) -> None:
        far = layout.lanes[-1]
        s = 0.95 * far.scale_px_per_m
        ground = int(round(layout.road_top_v)) + 1
        x_line = (line_world[0] + line_world[2]) / 2
        offsets = [0.0, 1.4, -1.4, 2.8, -2.8, 4.2][:move.parked]
        for k, off in enumerate(offsets):
            look = choose_look(rng, str(rng.choice(["car", "van", "truck"])), (), 0.0, (120, 120, 120))
            wpx, hpx = max(2, int(round(look.length_m * s))), max(2, int(round(look.height_m * s)))
            sp = draw_sprite(look, "side", wpx, hpx)
            if rng.random() < 0.5:
                sp = sp.mirrored()
            # the first stands across the line (its centre within a quarter length of it)
            x0 = x_line + (off + rng.uniform(-0.25, 0.25)) * wpx - wpx / 2
            _paste(bg, sp, int(round(x0)), ground - hpx)
            placed.append({"class": look.class_name, "model": look.model,
                           "box_world_px": [float(int(round(x0))), float(ground - hpx),
                                            float(int(round(x0)) + wpx), float(ground)]})
    return (decorate if move.parked else None), placed


WINDOW_FRAME_FRAC = (0.07, 0.06)   # the window frame's share of the height at the top and bottom:
                                   # clear of the road, so no crossing is hidden by it


def _through_window(config: SynthConfig, move: CameraMove):
    """picture -> picture as seen through a window held against the phone, or None: a
    soft reflection (smooth random light and dark patches, as of a car's interior) and
    the window's frame, both fixed in the picture. Corners on them follow the phone,
    not the scene, and compete with the road's in the camera's registration."""
    if not move.window:
        return None
    w, h = config.width, config.height
    rng = np.random.default_rng([config.seed, RNG_CAMERA, 2])
    glow = cv2.resize(rng.uniform(0, 255, (6, 10)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    streaks = np.zeros((h, w), np.float32)
    for _ in range(3):                  # bright, sharp-edged glints: corners that do not move
        x, y = int(rng.integers(0, w - w // 8)), int(rng.integers(0, h - h // 8))
        streaks[y:y + h // 8, x:x + w // 16] = 255.0
    reflection = np.clip(glow + streaks, 0, 255)[..., None]
    top, bottom = round(WINDOW_FRAME_FRAC[0] * h), round(WINDOW_FRAME_FRAC[1] * h)
    a = float(move.window)

    def seen(picture: np.ndarray) -> np.ndarray:
        out = picture.astype(np.float32) * (1 - a) + reflection * a
        out[:top] = 25.0
        out[h - bottom:] = 25.0
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return seen


def _paste(bg: np.ndarray, sp, x: int, y: int) -> None:
    h, w = sp.alpha.shape
    H, W = bg.shape[:2]
    x0, x1, y0, y1 = max(x, 0), min(x + w, W), max(y, 0), min(y + h, H)
    if x0 >= x1 or y0 >= y1:
        return
    a = sp.alpha[y0 - y:y1 - y, x0 - x:x1 - x, None]
    p = sp.premul[y0 - y:y1 - y, x0 - x:x1 - x]
    bg[y0:y1, x0:x1] = np.minimum(bg[y0:y1, x0:x1].astype(np.float32) * (1 - a) + p + 0.5, 255).astype(np.uint8)


def generate_moving(out_path, config: SynthConfig, move: CameraMove) -> Truth:
    """Render `config` as filmed by a moving camera to `out_path` (.mp4) and write its
    truth beside it (atomically, both). Returns the truth."""
    import av
    from .encode import _encode
    out = Path(out_path)
    if out.suffix.lower() != ".mp4":
        raise ConvoyCountError(f"synth output must be an .mp4 file, got {str(out)!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    world = _world(config, move)
    # The camera path is a function of real time over the first plan's span; the plan
    # is built again with the line placed in the world (which may end it a little
    # earlier or later: a vehicle that stops on the line), and the path evaluated on it.
    real = build_plan(world.config).frame_real_s
    span = (float(real[0]), float(real[-1]))
    t_ref = real[0] if move.line_at_s is None else real[0] + move.line_at_s * config.speedup
    ref_path = _view_path(config, move, world, np.array([t_ref]), span)[0]
    line_world = _line_in_world(config, world, ref_path)
    plan = build_plan(dataclasses.replace(world.config, line=tuple(
        v / (world.config.width, world.config.height)[i % 2] for i, v in enumerate(line_world))))
    path = _view_path(config, move, world, plan.frame_real_s, span)
    ref = int(np.argmin(np.abs(plan.frame_real_s - t_ref)))
    decorate, parked = _parked(config, move, line_world)
    size = (config.width, config.height)
    pictures = (cv2.warpAffine(f.image, path[f.index][:2], size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT) for f in render_plan(plan, decorate))
    window = _through_window(config, move)
    if window is not None:
        pictures = map(window, pictures)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.mp4")
    try:
        _encode(SimpleNamespace(config=config), tmp, av, (pictures, [int(p) for p in plan.frame_pts]))
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    truth = _truth(plan.truth, config, move, path, ref, line_world, parked)
    truth.write_json(truth_path(out))
    return truth


def _line_in_world(config: SynthConfig, world: _World, ref_path: np.ndarray) -> tuple:
    x1, y1, x2, y2 = config.resolved_line
    w, h = config.width, config.height
    pts = apply(np.linalg.inv(ref_path), [(x1 * w, y1 * h), (x2 * w, y2 * h)])
    return tuple(float(v) for v in pts.reshape(-1))


def _truth(wt: Truth, config: SynthConfig, move: CameraMove, path: list, ref: int,
           line_world: tuple, parked: list) -> Truth:
    """The world's truth seen through the camera: crossings count while the line is watched."""
    w, h = config.width, config.height
    clip = np.asarray(wt.frame_times_s)
    to_world = [np.linalg.inv(m) for m in path]
    watched = [line_share_in_view(m, line_world, w, h) >= LINE_VIEW_SHARE for m in to_world]
    vehicles = []
    for v in wt.vehicles:
        crosses = v.crosses_line
        point = v.crossing_point_px
        if crosses:
            i = max(0, int(np.searchsorted(clip, v.crossing_clip_time_s, side="right")) - 1)
            crosses = bool(watched[i])
            point = tuple(float(c) for c in apply(path[ref], [point])[0])
        vehicles.append(dataclasses.replace(v, crosses_line=crosses, crossing_point_px=point))
    counted = [v for v in vehicles if v.crosses_line]
    by_dir, by_cls = {}, {}
    for v in counted:
        by_dir[v.direction] = by_dir.get(v.direction, 0) + 1
        by_cls[v.class_name] = by_cls.get(v.class_name, 0) + 1
    for p in parked:
        b = p["box_world_px"]
        p["box_reference_px"] = [round(float(c), 2) for c in
                                 apply(path[ref], [(b[0], b[1]), (b[2], b[3])]).reshape(-1)]
    line = config.resolved_line
    cam = {**dataclasses.asdict(move), "reference_frame": ref, "world_size": [wt.width, wt.height],
           "line_world_px": [round(c, 3) for c in line_world], "watched_s": _spans(clip, watched),
           "parked": parked, "not_watched_crossings": sum(1 for a, b in zip(wt.vehicles, vehicles)
                                                          if a.crosses_line and not b.crosses_line),
           "frame_to_scene": [[round(float(c), 5) for c in (path[ref] @ m)[:2].reshape(-1)]
                              for m in to_world]}
    notes = wt.notes + ("moving camera: positions are in the pixels of the reference frame (the scene); "
                        "first/last_seen and fully_visible refer to the rendered world, not the picture",
                        "a crossing counts only while >= half the line is in the picture (watched_s)")
    return dataclasses.replace(
        wt, config={**config.to_dict(), "camera": dataclasses.asdict(move)}, width=w, height=h,
        line=tuple(line), line_px=(line[0] * w, line[1] * h, line[2] * w, line[3] * h),
        vehicles=tuple(vehicles), total_crossing=len(counted), by_direction=by_dir, by_class=by_cls,
        camera=cam, notes=notes)


def _spans(clip: np.ndarray, watched: list) -> list:
    out, start = [], None
    for t, w in zip(clip, watched):
        if w and start is None:
            start = float(t)
        if not w and start is not None:
            out.append([round(start, 4), round(float(t), 4)])
            start = None
    if start is not None:
        out.append([round(start, 4), round(float(clip[-1]), 4)])
    return out
