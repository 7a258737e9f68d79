"""Vehicle looks and sprites.

`choose_look()` draws a vehicle's class, model, colour and size in metres from a rng;
`draw_sprite()` paints it once, supersampled (anti-aliased edges), as premultiplied BGR
plus alpha. The sprite's array IS the vehicle's box: every model touches all four
edges (bumpers, roof or rider's helmet, tyres), so the box the truth reports is the
drawn extent. Side view: front at the right, ground at the bottom row. Top view:
front at the right, the vehicle's width across the rows.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SS = 4   # supersampling factor for anti-aliased edges

# BGR
CIVILIAN_COLOURS = {
    "white": (236, 236, 234), "silver": (196, 194, 190), "grey": (122, 120, 118),
    "black": (34, 32, 30), "red": (42, 40, 196), "dark_red": (34, 30, 122),
    "blue": (178, 92, 34), "dark_blue": (96, 48, 22), "green": (64, 136, 52),
    "yellow": (36, 202, 232), "orange": (28, 122, 232), "beige": (150, 190, 212),
    "brown": (44, 72, 112), "teal": (134, 132, 28),
}
MILITARY_COLOURS = {
    "olive_drab": (34, 84, 76), "dark_green": (44, 72, 52), "tan": (118, 166, 190),
    "field_grey": (84, 98, 92),
}
CAMO_PARTNERS = {   # blotch colours drawn over each military base colour
    "olive_drab": ((28, 52, 44), (62, 108, 112)), "dark_green": ((30, 44, 36), (60, 100, 84)),
    "tan": ((80, 120, 148), (60, 90, 100)), "field_grey": ((60, 70, 66), (110, 124, 118)),
}

# model -> (weight within class, length_m range, width_m range, height_m range)
MODELS = {
    "car": {"sedan": (0.4, (4.3, 4.9), (1.75, 1.85), (1.40, 1.50)),
            "hatchback": (0.3, (3.8, 4.3), (1.70, 1.80), (1.45, 1.55)),
            "suv": (0.2, (4.5, 5.0), (1.85, 1.95), (1.70, 1.80)),
            "pickup": (0.1, (5.0, 5.5), (1.85, 1.95), (1.75, 1.85))},
    "van": {"van": (1.0, (4.9, 6.0), (1.95, 2.05), (2.0, 2.5))},
    "truck": {"box_truck": (0.45, (7.5, 9.5), (2.45, 2.55), (3.3, 3.7)),
              "semi": (0.35, (11.0, 12.5), (2.5, 2.55), (3.7, 4.0)),
              "tipper": (0.2, (8.0, 9.5), (2.45, 2.55), (2.9, 3.2))},
    "bus": {"bus": (1.0, (10.8, 12.4), (2.5, 2.55), (3.0, 3.3))},
    "motorcycle": {"motorcycle": (1.0, (2.0, 2.3), (0.75, 0.85), (1.38, 1.50))},
    "military": {"military_truck": (0.6, (7.0, 9.0), (2.45, 2.55), (3.0, 3.3)),
                 "apc": (0.4, (6.5, 8.0), (2.7, 2.9), (2.3, 2.7))},
}

GLASS = np.array((78, 62, 50), np.float32)
TYRE = (26, 26, 28)
DARK = (30, 30, 32)


@dataclass(frozen=True)
class VehicleLook:
    class_name: str
    model: str
    colour_name: str
    colour_bgr: tuple
    length_m: float
    width_m: float
    height_m: float
    accent_bgr: tuple        # second colour: truck box, bus stripe, rider jacket
    camo: bool
    detail_seed: int         # small variations (window layout, blotches) drawn from it


@dataclass(frozen=True)
class Sprite:
    premul: np.ndarray       # (h, w, 3) float32: BGR * alpha, 0..255
    alpha: np.ndarray        # (h, w) float32 in [0, 1]

    @property
    def size(self) -> tuple:
        return self.alpha.shape[1], self.alpha.shape[0]

    def mirrored(self) -> "Sprite":
        return Sprite(np.ascontiguousarray(self.premul[:, ::-1]), np.ascontiguousarray(self.alpha[:, ::-1]))


def choose_look(rng: np.random.Generator, class_name: str, colours: tuple, low_contrast_fraction: float,
                road_bgr: tuple) -> VehicleLook:
    models = MODELS[class_name]
    names = list(models)
    weights = np.array([models[m][0] for m in names])
    model = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    _, lr, wr, hr = models[model]
    length, width, height = (float(rng.uniform(*r)) for r in (lr, wr, hr))
    camo = False
    if class_name == "military":
        cname = str(rng.choice(list(MILITARY_COLOURS)))
        colour = MILITARY_COLOURS[cname]
        camo = bool(rng.random() < 0.35)
        accent = tuple(int(c * 0.85) for c in colour)
    else:
        palette = list(colours) if colours else list(CIVILIAN_COLOURS)
        if class_name == "bus":
            palette = [c for c in palette if c in ("white", "yellow", "red", "blue", "green", "orange")] or palette
        if rng.random() < low_contrast_fraction:
            # close to the asphalt: the hard case for detectors
            cname = "road_grey"
            colour = tuple(int(np.clip(c + rng.uniform(-14, 14), 0, 255)) for c in road_bgr)
        else:
            cname = str(rng.choice(palette))
            colour = CIVILIAN_COLOURS[cname]
        accent = CIVILIAN_COLOURS[str(rng.choice(["white", "silver", "grey", "beige", "blue", "red"]))]
        if class_name == "motorcycle":
            accent = CIVILIAN_COLOURS[str(rng.choice(["black", "dark_blue", "brown", "grey", "red"]))]
    # +-6 % per-vehicle brightness so two "white" cars are not identical
    gain = rng.uniform(0.94, 1.06)
    colour = tuple(int(np.clip(c * gain, 0, 255)) for c in colour)
    return VehicleLook(class_name, model, cname, colour, round(length, 3), round(width, 3), round(height, 3),
                       tuple(int(c) for c in accent), camo, int(rng.integers(0, 2**31 - 1)))


# --------------------------------------------------------------------------------------
class _Painter:
    """Draw in metres on a supersampled canvas: x from rear (0) to front (length),
    y from top (0) to bottom (height or width)."""

    def __init__(self, w_px: int, h_px: int, len_x_m: float, len_y_m: float):
        self.W, self.H = w_px * SS, h_px * SS
        self.kx, self.ky = self.W / len_x_m, self.H / len_y_m
        self.lx, self.ly = len_x_m, len_y_m
        self.col = np.zeros((self.H, self.W, 3), np.float32)
        self.alpha = np.zeros((self.H, self.W), np.uint8)
        self._yy = (np.arange(self.H, dtype=np.float32) + 0.5) / self.H     # 0 top .. 1 bottom

    def _pts(self, pts) -> np.ndarray:
        p = np.asarray(pts, np.float64)
        return np.stack([np.clip(np.round(p[:, 0] * self.kx), 0, self.W),
                         np.clip(np.round(p[:, 1] * self.ky), 0, self.H)], axis=1).astype(np.int32)

    def mask_poly(self, pts) -> np.ndarray:
        m = np.zeros((self.H, self.W), np.uint8)
        cv2.fillPoly(m, [self._pts(pts)], 255)
        return m

    def mask_ellipse(self, cx, cy, rx, ry) -> np.ndarray:
        m = np.zeros((self.H, self.W), np.uint8)
        cv2.ellipse(m, (int(round(cx * self.kx)), int(round(cy * self.ky))),
                    (max(1, int(round(rx * self.kx))), max(1, int(round(ry * self.ky)))), 0, 0, 360, 255, -1)
        return m

    def fill(self, mask: np.ndarray, colour, grad=(1.0, 1.0), within: np.ndarray = None) -> None:
        m = mask > 0 if within is None else (mask > 0) & (within > 0)
        gain = grad[0] + (grad[1] - grad[0]) * self._yy
        c = np.asarray(colour, np.float32)[None, None, :] * gain[:, None, None]
        np.copyto(self.col, np.broadcast_to(np.clip(c, 0, 255), self.col.shape), where=m[..., None])
        self.alpha[m] = 255

    def poly(self, pts, colour, grad=(1.0, 1.0), within=None) -> np.ndarray:
        m = self.mask_poly(pts)
        self.fill(m, colour, grad, within)
        return m

    def rect(self, x0, y0, x1, y1, colour, grad=(1.0, 1.0), within=None) -> np.ndarray:
        return self.poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], colour, grad, within)

    def ellipse(self, cx, cy, rx, ry, colour, grad=(1.0, 1.0), within=None) -> np.ndarray:
        m = self.mask_ellipse(cx, cy, rx, ry)
        self.fill(m, colour, grad, within)
        return m

    def line(self, x0, y0, x1, y1, colour, width_m: float, within=None) -> None:
        m = np.zeros((self.H, self.W), np.uint8)
        t = max(1, int(round(width_m * min(self.kx, self.ky))))
        cv2.line(m, (int(x0 * self.kx), int(y0 * self.ky)), (int(x1 * self.kx), int(y1 * self.ky)), 255, t)
        self.fill(m, colour, (1, 1), within)

    def wheel(self, x, r, colour_rim=(150, 150, 152)) -> None:
        """A tyre standing on the bottom edge, centred at x."""
        cy = self.ly - r
        self.ellipse(x, cy, r * 1.06, r * 1.06, DARK, within=None)      # wheel arch shadow
        self.ellipse(x, cy, r, r, TYRE)
        self.ellipse(x, cy, r * 0.58, r * 0.58, colour_rim, grad=(1.25, 0.8))
        self.ellipse(x, cy, r * 0.18, r * 0.18, (70, 70, 72))

    def camo(self, body: np.ndarray, colours, rng: np.random.Generator, n: int) -> None:
        for i in range(n):
            cx, cy = rng.uniform(0, self.lx), rng.uniform(0, self.ly)
            rx, ry = rng.uniform(0.04, 0.12) * self.lx, rng.uniform(0.12, 0.3) * self.ly
            self.ellipse(cx, cy, rx, ry, colours[i % len(colours)], within=body)

    def finish(self, w_px: int, h_px: int) -> Sprite:
        a = self.alpha.astype(np.float32) / 255.0
        premul = cv2.resize(self.col * a[..., None], (w_px, h_px), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(a, (w_px, h_px), interpolation=cv2.INTER_AREA)
        return Sprite(np.ascontiguousarray(premul, np.float32), np.ascontiguousarray(alpha, np.float32))


def _shade(c, f) -> tuple:
    return tuple(float(np.clip(v * f, 0, 255)) for v in c)


def _glass(p: _Painter, pts, within=None) -> None:
    p.poly(pts, GLASS, grad=(1.45, 0.75), within=within)


BODY_GRAD = (1.14, 0.74)


def draw_sprite(look: VehicleLook, view: str, w_px: int, h_px: int) -> Sprite:
    """Paint `look` into a (h_px, w_px) sprite, front facing +x."""
    rng = np.random.default_rng(look.detail_seed)
    if view == "side":
        p = _Painter(w_px, h_px, look.length_m, look.height_m)
        _SIDE[look.model](p, look, rng)
    else:
        p = _Painter(w_px, h_px, look.length_m, look.width_m)
        _TOP[look.model](p, look, rng)
    return p.finish(w_px, h_px)


# ---- side views -------------------------------------------------------------------------
def _side_car(p: _Painter, look: VehicleLook, rng) -> None:
    L, H, c = look.length_m, look.height_m, look.colour_bgr
    shape = {  # roof start/end, rear glass base, windshield base, belt height (fractions)
        "sedan": (0.35, 0.62, 0.20, 0.77, 0.46),
        "hatchback": (0.08, 0.60, 0.02, 0.76, 0.46),
        "suv": (0.05, 0.68, 0.01, 0.80, 0.50),
        "pickup": (0.40, 0.62, 0.39, 0.77, 0.47),
    }[look.model]
    r0, r1, gb, wb, belt = shape
    r = min(0.33, 0.24 * H)
    bottom = H - 0.45 * r
    hood = belt + 0.02
    body = [(0, belt * H + 0.05 * H), (0.02 * L, belt * H), (gb * L, belt * H - 0.02 * H),
            (r0 * L, 0), (r1 * L, 0), (wb * L, hood * H - 0.02 * H), (0.96 * L, hood * H + 0.04 * H),
            (L, hood * H + 0.14 * H), (L, bottom - 0.08 * H), (0.985 * L, bottom), (0.015 * L, bottom),
            (0, bottom - 0.1 * H)]
    if look.model == "pickup":   # open bed behind the cab: the cab's rear wall drops to the bed rail
        body = [(0, belt * H), (gb * L - 0.02 * L, belt * H), (gb * L - 0.02 * L, 0.04 * H), (r0 * L, 0)] \
            + body[4:]
    m = p.poly(body, c, BODY_GRAD)
    # windows: the greenhouse inset, split by a B pillar
    inset = 0.06 * H
    win = [(gb * L + 0.05 * L, belt * H - 0.03 * H), (r0 * L + 0.03 * L, inset), (r1 * L - 0.01 * L, inset),
           (wb * L - 0.05 * L, belt * H - 0.03 * H)]
    if look.model == "pickup":
        win = [(gb * L + 0.01 * L, belt * H - 0.03 * H), (gb * L + 0.01 * L, inset), (r1 * L - 0.01 * L, inset),
               (wb * L - 0.05 * L, belt * H - 0.03 * H)]
    _glass(p, win, within=m)
    bx = (r0 + r1) / 2 * L if look.model != "pickup" else (gb * L + r1 * L) / 2
    p.rect(bx - 0.02 * L, 0, bx + 0.02 * L, belt * H, _shade(c, 0.9), BODY_GRAD, within=m)
    # lights, bumpers, door seam, sill shadow
    p.rect(0.975 * L, hood * H + 0.06 * H, L, hood * H + 0.16 * H, (200, 235, 245))
    p.rect(0, belt * H + 0.06 * H, 0.02 * L, belt * H + 0.18 * H, (30, 30, 190))
    p.rect(0, bottom - 0.16 * H, L, bottom - 0.1 * H, _shade(c, 0.6), within=m)
    p.line(0.55 * L, belt * H, 0.56 * L, bottom - 0.12 * H, _shade(c, 0.55), 0.015)
    for x in (0.2 * L if look.model != "pickup" else 0.18 * L, 0.8 * L):
        p.wheel(x, r)


def _side_van(p: _Painter, look, rng) -> None:
    L, H, c = look.length_m, look.height_m, look.colour_bgr
    r = 0.34
    bottom = H - 0.45 * r
    body = [(0, 0.05 * H), (0.02 * L, 0), (0.8 * L, 0), (0.9 * L, 0.36 * H), (0.985 * L, 0.5 * H),
            (L, 0.56 * H), (L, bottom - 0.06 * H), (0.98 * L, bottom), (0.02 * L, bottom), (0, bottom - 0.06 * H)]
    m = p.poly(body, c, BODY_GRAD)
    _glass(p, [(0.71 * L, 0.07 * H), (0.80 * L, 0.07 * H), (0.875 * L, 0.37 * H), (0.71 * L, 0.37 * H)], m)
    if rng.random() < 0.6:   # passenger van: side windows
        for x0 in (0.08, 0.3, 0.5):
            _glass(p, [(x0 * L, 0.08 * H), ((x0 + 0.17) * L, 0.08 * H), ((x0 + 0.17) * L, 0.34 * H),
                       (x0 * L, 0.34 * H)], m)
    p.line(0.48 * L, 0.05 * H, 0.48 * L, bottom - 0.08 * H, _shade(c, 0.55), 0.02, within=m)
    p.line(0.69 * L, 0.05 * H, 0.69 * L, bottom - 0.08 * H, _shade(c, 0.55), 0.02, within=m)
    p.rect(0, bottom - 0.12 * H, L, bottom - 0.07 * H, _shade(c, 0.6), within=m)
    p.rect(0.98 * L, 0.6 * H, L, 0.68 * H, (200, 235, 245))
    p.rect(0, 0.55 * H, 0.015 * L, 0.68 * H, (30, 30, 190))
    for x in (0.17 * L, 0.8 * L):
        p.wheel(x, r)


def _cab(p: _Painter, x0, x1, top, bottom, colour, low_windshield=False) -> np.ndarray:
    """A truck cab from x0 (rear) to x1 (front, the vehicle's front bumper)."""
    L = x1 - x0
    m = p.poly([(x0, top), (x1 - 0.15 * L, top), (x1, top + 0.2 * (bottom - top)), (x1, bottom),
                (x0, bottom)], colour, BODY_GRAD)
    wt = top + 0.08 * (bottom - top)
    wbot = top + (0.42 if not low_windshield else 0.32) * (bottom - top)
    _glass(p, [(x0 + 0.45 * L, wt), (x1 - 0.17 * L, wt), (x1 - 0.04 * L, wbot), (x0 + 0.45 * L, wbot)], m)
    p.rect(x1 - 0.03 * L, bottom - 0.35 * (bottom - top), x1, bottom - 0.25 * (bottom - top), (200, 235, 245))
    p.rect(x0 + 0.05 * L, bottom - 0.12 * (bottom - top), x1, bottom - 0.02 * (bottom - top), _shade(colour, 0.5))
    return m


def _side_truck(p: _Painter, look, rng) -> None:
    L, H, c, acc = look.length_m, look.height_m, look.colour_bgr, look.accent_bgr
    r = 0.5
    ground = H
    if look.model == "semi":
        cab_top = 0.18 * H
        p.rect(0.3, ground - 1.15, L - 0.6, ground - 0.75, DARK)                      # chassis
        trailer = p.rect(0, 0, L - 2.9, ground - 1.15, acc, (1.08, 0.86))            # trailer box
        for x in np.arange(0.9, L - 3.0, 1.4):
            p.line(x, 0.02, x, ground - 1.2, _shade(acc, 0.82), 0.03, within=trailer)
        _cab(p, L - 2.6, L, cab_top, ground - 0.55, c)
        for x in (0.9, 2.1, 3.3, L - 4.0, L - 1.2):
            p.wheel(x, r)
    elif look.model == "tipper":
        p.rect(0.3, ground - 0.95, L - 0.4, ground - 0.6, DARK)
        bed = p.poly([(0, ground - 2.0), (L - 2.6, ground - 2.0), (L - 2.6, ground - 0.95), (0.2, ground - 0.95)],
                     acc, (1.1, 0.8))
        p.poly([(0.3, ground - 2.0), (1.2, ground - 2.45), (L - 3.8, ground - 2.5), (L - 2.8, ground - 2.0)],
               (60, 92, 120), (1.2, 0.9))                                              # gravel load
        p.line(0.2, ground - 1.5, L - 2.7, ground - 1.5, _shade(acc, 0.7), 0.04, within=bed)
        _cab(p, L - 2.5, L, 0, ground - 0.5, c)
        for x in (1.2, 2.5, L - 1.4):
            p.wheel(x, r)
    else:   # box truck
        p.rect(0.3, ground - 1.0, L - 0.5, ground - 0.65, DARK)
        box = p.rect(0, 0, L - 2.55, ground - 1.0, acc, (1.08, 0.86))
        p.rect(0, 0.05, L - 2.55, 0.12, _shade(acc, 0.8), within=box)
        p.rect(0.2, ground - 1.6, L - 2.8, ground - 1.5, _shade(acc, 0.75), within=box)
        _cab(p, L - 2.4, L, 0.22 * H, ground - 0.5, c)
        for x in (1.6, L - 1.5) if L < 8.5 else (1.2, 2.4, L - 1.5):
            p.wheel(x, r)


def _side_bus(p: _Painter, look, rng) -> None:
    L, H, c, acc = look.length_m, look.height_m, look.colour_bgr, look.accent_bgr
    r = 0.5
    bottom = H - 0.32
    m = p.poly([(0, 0.06 * H), (0.01 * L, 0.02 * H), (0.3 * L, 0.02 * H), (0.32 * L, 0), (0.55 * L, 0),
                (0.57 * L, 0.02 * H), (0.985 * L, 0.02 * H), (L, 0.1 * H), (L, bottom), (0, bottom)], c, BODY_GRAD)
    p.rect(0, 0.58 * H, L, 0.66 * H, acc, within=m)                                  # stripe
    x = 0.04 * L
    pitch = float(rng.uniform(1.2, 1.6))
    while x + pitch * 0.85 < 0.82 * L:
        _glass(p, [(x, 0.16 * H), (x + 0.85 * pitch, 0.16 * H), (x + 0.85 * pitch, 0.5 * H), (x, 0.5 * H)], m)
        x += pitch
    _glass(p, [(0.9 * L, 0.1 * H), (0.985 * L, 0.12 * H), (0.995 * L, 0.55 * H), (0.9 * L, 0.55 * H)], m)
    _glass(p, [(0.83 * L, 0.16 * H), (0.885 * L, 0.16 * H), (0.885 * L, bottom - 0.05), (0.83 * L, bottom - 0.05)],
           m)
    p.rect(0.5 * L, 0.16 * H, 0.55 * L, bottom - 0.05, _shade(c, 0.55), within=m)   # middle door
    p.rect(0.99 * L, 0.72 * H, L, 0.8 * H, (200, 235, 245))
    for xw in (0.2 * L, 0.76 * L):
        p.wheel(xw, r)


def _side_motorcycle(p: _Painter, look, rng) -> None:
    L, H, c, jacket = look.length_m, look.height_m, look.colour_bgr, look.accent_bgr
    r = 0.31
    rh = 0.085 * H
    # rider: legs, torso, arm, helmet (touches the top edge)
    p.poly([(0.36 * L, 0.5 * H), (0.5 * L, 0.5 * H), (0.6 * L, 0.78 * H), (0.54 * L, 0.8 * H)], (40, 40, 46))
    p.poly([(0.33 * L, 0.52 * H), (0.44 * L, 0.16 * H), (0.56 * L, 0.16 * H), (0.5 * L, 0.55 * H)], jacket,
           (1.2, 0.8))
    p.line(0.52 * L, 0.22 * H, 0.7 * L, 0.42 * H, jacket, 0.08)
    p.ellipse(0.5 * L, rh, rh * 1.05, rh, c if rng.random() < 0.5 else (30, 30, 30), (1.4, 0.8))
    # machine: frame, tank, seat, forks
    p.poly([(0.2 * L, H - r), (0.45 * L, 0.58 * H), (0.7 * L, 0.5 * H), (0.78 * L, H - r)], (52, 52, 56))
    p.poly([(0.48 * L, 0.5 * H), (0.7 * L, 0.45 * H), (0.72 * L, 0.55 * H), (0.5 * L, 0.6 * H)], c, BODY_GRAD)
    p.line(0.72 * L, 0.42 * H, L - r, H - r, (150, 150, 155), 0.05)
    p.wheel(r, r, (120, 120, 125))
    p.wheel(L - r, r, (120, 120, 125))


def _side_military_truck(p: _Painter, look, rng) -> None:
    L, H, c = look.length_m, look.height_m, look.colour_bgr
    canvas = _shade(c, 0.82)
    r = 0.56
    ground = H
    p.rect(0.3, ground - 1.25, L - 0.4, ground - 0.85, DARK)
    cover = p.poly([(0, 0.25), (0.25, 0), (L - 2.9, 0), (L - 2.75, 0.25), (L - 2.75, ground - 1.55),
                    (0, ground - 1.55)], canvas, (1.15, 0.85))
    for x in np.arange(0.6, L - 3.0, 1.1):
        p.line(x, 0.05, x, ground - 1.6, _shade(canvas, 0.75), 0.04, within=cover)
    p.rect(0, ground - 1.6, L - 2.75, ground - 1.2, c, BODY_GRAD)                     # bed sides
    cab = _cab(p, L - 2.6, L, 0.32 * H, ground - 0.7, c, low_windshield=True)
    if look.camo:
        p.camo(cab | cover, CAMO_PARTNERS[look.colour_name], rng, 10)
    for x in (1.1, 2.4, L - 1.5):
        p.wheel(x, r, (70, 84, 80))


def _side_apc(p: _Painter, look, rng) -> None:
    L, H, c = look.length_m, look.height_m, look.colour_bgr
    r = 0.55
    hull_top = 0.3 * H
    hull = p.poly([(0, hull_top + 0.1 * H), (0.05 * L, hull_top), (0.72 * L, hull_top), (L, 0.52 * H),
                   (0.97 * L, 0.8 * H), (0.04 * L, 0.82 * H), (0, 0.7 * H)], c, BODY_GRAD)
    turret = p.poly([(0.38 * L, hull_top), (0.42 * L, 0.02), (0.62 * L, 0), (0.66 * L, hull_top)], _shade(c, 0.95),
                    (1.2, 0.9))
    p.rect(0.64 * L, 0.1 * H, 0.84 * L, 0.14 * H, _shade(c, 0.7))                        # gun barrel
    p.rect(0.04 * L, 0.62 * H, 0.97 * L, 0.78 * H, _shade(c, 0.6), within=hull)         # lower hull shadow
    for x in (0.8 * L, 0.86 * L):
        p.rect(x, hull_top + 0.06 * H, x + 0.03 * L, hull_top + 0.1 * H, GLASS, within=hull)  # vision blocks
    if look.camo:
        p.camo(hull | turret, CAMO_PARTNERS[look.colour_name], rng, 12)
    for x in np.linspace(r + 0.15 * L, L - r - 0.1 * L, 4):
        p.wheel(float(x), r, (60, 72, 68))
    # hull extends to both bumpers; tyres reach the ground row
    p.rect(0, 0.55 * H, 0.02 * L, 0.7 * H, _shade(c, 0.8))


_SIDE = {"sedan": _side_car, "hatchback": _side_car, "suv": _side_car, "pickup": _side_car,
         "van": _side_van, "box_truck": _side_truck, "semi": _side_truck, "tipper": _side_truck,
         "bus": _side_bus, "motorcycle": _side_motorcycle, "military_truck": _side_military_truck,
         "apc": _side_apc}


# ---- top views (x along the vehicle, y across; front at +x) ----------------------------
ROOF_GRAD = (0.92, 0.92)


def _rounded(p: _Painter, x0, y0, x1, y1, rad, colour, grad=(1.0, 1.0), within=None) -> np.ndarray:
    m = p.mask_poly([(x0 + rad, y0), (x1 - rad, y0), (x1, y0 + rad), (x1, y1 - rad), (x1 - rad, y1),
                     (x0 + rad, y1), (x0, y1 - rad), (x0, y0 + rad)])
    p.fill(m, colour, grad, within)
    return m


def _top_light(p: _Painter, L, W) -> None:
    p.rect(L - 0.06, 0.08 * W, L, 0.22 * W, (200, 235, 245))
    p.rect(L - 0.06, 0.78 * W, L, 0.92 * W, (200, 235, 245))


def _top_car(p: _Painter, look, rng) -> None:
    L, W, c = look.length_m, look.width_m, look.colour_bgr
    m = _rounded(p, 0, 0, L, W, 0.35, c, (0.9, 0.9))
    p.rect(0.05 * L, 0.3 * W, 0.95 * L, 0.7 * W, _shade(c, 1.08), within=m)           # crown highlight
    rear = {"sedan": 0.2, "hatchback": 0.04, "suv": 0.04, "pickup": 0.4}[look.model]
    p.poly([(0.62 * L, 0.08 * W), (0.76 * L, 0.03 * W), (0.76 * L, 0.97 * W), (0.62 * L, 0.92 * W)], GLASS * 1.1)
    p.poly([((rear + 0.05) * L, 0.06 * W), ((rear + 0.12) * L, 0.1 * W), ((rear + 0.12) * L, 0.9 * W),
            ((rear + 0.05) * L, 0.94 * W)], GLASS)
    p.rect((rear + 0.12) * L, 0.12 * W, 0.62 * L, 0.88 * W, _shade(c, 1.15), within=m)  # roof
    if look.model == "pickup":
        p.rect(0.03 * L, 0.1 * W, rear * L, 0.9 * W, _shade(c, 0.55))                   # open bed
    _top_light(p, L, W)


def _top_van(p: _Painter, look, rng) -> None:
    L, W, c = look.length_m, look.width_m, look.colour_bgr
    m = _rounded(p, 0, 0, L, W, 0.25, c, (0.9, 0.9))
    p.poly([(0.8 * L, 0.06 * W), (0.88 * L, 0.03 * W), (0.88 * L, 0.97 * W), (0.8 * L, 0.94 * W)], GLASS * 1.1)
    p.rect(0.04 * L, 0.1 * W, 0.79 * L, 0.9 * W, _shade(c, 1.12), within=m)
    for x in np.arange(0.15 * L, 0.75 * L, 0.6):
        p.line(x, 0.12 * W, x, 0.88 * W, _shade(c, 0.95), 0.04, within=m)
    _top_light(p, L, W)


def _top_truck(p: _Painter, look, rng) -> None:
    L, W, c, acc = look.length_m, look.width_m, look.colour_bgr, look.accent_bgr
    cab_len = 2.5
    cab = _rounded(p, L - cab_len, 0.02 * W, L, 0.98 * W, 0.2, c, (0.9, 0.9))
    p.rect(L - cab_len + 0.2, 0.1 * W, L - 0.8, 0.9 * W, _shade(c, 1.12), within=cab)
    p.poly([(L - 0.8, 0.1 * W), (L - 0.35, 0.05 * W), (L - 0.35, 0.95 * W), (L - 0.8, 0.9 * W)], GLASS * 1.1)
    load = (60, 92, 120) if look.model == "tipper" else acc
    box = p.rect(0, 0, L - cab_len - 0.15, W, load, (0.95, 0.95))
    for x in np.arange(0.6, L - cab_len - 0.3, 1.0):
        p.line(x, 0.03 * W, x, 0.97 * W, _shade(load, 0.85), 0.05, within=box)
    p.rect(L - cab_len - 0.15, 0.3 * W, L - cab_len, 0.7 * W, DARK)
    _top_light(p, L, W)


def _top_bus(p: _Painter, look, rng) -> None:
    L, W, c = look.length_m, look.width_m, look.colour_bgr
    m = _rounded(p, 0, 0, L, W, 0.3, c, (0.92, 0.92))
    p.rect(0.03 * L, 0.12 * W, 0.97 * L, 0.88 * W, _shade(c, 1.1), within=m)
    p.rect(0.38 * L, 0.25 * W, 0.58 * L, 0.75 * W, (170, 172, 175))                   # roof AC unit
    p.rect(0.15 * L, 0.32 * W, 0.22 * L, 0.68 * W, (110, 110, 112))                    # hatch
    p.rect(0.975 * L, 0.05 * W, L, 0.95 * W, GLASS)
    _top_light(p, L, W)


def _top_motorcycle(p: _Painter, look, rng) -> None:
    L, W, c, jacket = look.length_m, look.width_m, look.colour_bgr, look.accent_bgr
    p.ellipse(0.5 * L, 0.5 * W, 0.5 * L, 0.2 * W, (45, 45, 48))                        # tyres+frame
    p.line(0.72 * L, 0.0, 0.72 * L, W, (140, 140, 145), 0.05)                          # handlebar spans W
    p.ellipse(0.62 * L, 0.5 * W, 0.1 * L, 0.16 * W, c, (1.2, 0.8))                     # tank
    p.ellipse(0.45 * L, 0.5 * W, 0.13 * L, 0.42 * W, jacket, (1.1, 0.8))               # rider shoulders
    p.ellipse(0.48 * L, 0.5 * W, 0.07 * L, 0.2 * W, (30, 30, 30) if rng.random() < 0.5 else c, (1.4, 0.8))


def _top_military_truck(p: _Painter, look, rng) -> None:
    L, W, c = look.length_m, look.width_m, look.colour_bgr
    canvas = _shade(c, 0.85)
    cab = _rounded(p, L - 2.5, 0.03 * W, L, 0.97 * W, 0.15, c, (0.95, 0.95))
    p.poly([(L - 1.2, 0.1 * W), (L - 0.9, 0.08 * W), (L - 0.9, 0.92 * W), (L - 1.2, 0.9 * W)], GLASS)
    cover = _rounded(p, 0, 0, L - 2.6, W, 0.2, canvas, (0.95, 0.95))
    for x in np.arange(0.5, L - 2.8, 1.0):
        p.line(x, 0.03 * W, x, 0.97 * W, _shade(canvas, 0.8), 0.06, within=cover)
    if look.camo:
        p.camo(cab | cover, CAMO_PARTNERS[look.colour_name], rng, 10)


def _top_apc(p: _Painter, look, rng) -> None:
    L, W, c = look.length_m, look.width_m, look.colour_bgr
    hull = p.poly([(0, 0.05 * W), (0.8 * L, 0), (L, 0.2 * W), (L, 0.8 * W), (0.8 * L, W), (0, 0.95 * W)], c,
                  (0.95, 0.95))
    p.rect(0.82 * L, 0.25 * W, 0.97 * L, 0.75 * W, _shade(c, 1.15), within=hull)      # glacis
    if look.camo:
        p.camo(hull, CAMO_PARTNERS[look.colour_name], rng, 12)
    p.ellipse(0.48 * L, 0.5 * W, 0.14 * L, 0.3 * W, _shade(c, 1.1), (1.2, 0.85))     # turret
    p.rect(0.55 * L, 0.47 * W, 0.9 * L, 0.53 * W, _shade(c, 0.6))                     # barrel
    for x in (0.1 * L, 0.3 * L):
        p.rect(x, 0.2 * W, x + 0.1 * L, 0.35 * W, _shade(c, 0.75), within=hull)         # hatches


_TOP = {"sedan": _top_car, "hatchback": _top_car, "suv": _top_car, "pickup": _top_car, "van": _top_van,
        "box_truck": _top_truck, "semi": _top_truck, "tipper": _top_truck, "bus": _top_bus,
        "motorcycle": _top_motorcycle, "military_truck": _top_military_truck, "apc": _top_apc}
