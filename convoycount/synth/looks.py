"""Rendering looks: the same traffic drawn in a different style.

A detector trained on one drawing style can fail on another, and real footage
is never drawn in our style at all. A look changes how the vehicles and the
picture appear, never where anything is: the plan, the boxes and the truth are
the same for every look of one seed, so counts on two looks of a seed are
directly comparable.

`standard` is the style `models/convoy-yolo.pt` was trained on. The other looks
are held out of training and of every tuned constant (models/train/make_dataset.py
refuses them), so a benchmark on them measures how the tool does on a style
nobody tuned for:

* `flat`: vehicles as posterised flat-colour drawings with a dark outline, no
  shading or gradients (a different drawing of each vehicle, like a cartoon or a
  heavily compressed low-bitrate stream where gradients band into flat areas).
* `haze`: the whole picture seen through haze or a dirty lens at a lower
  resolution: contrast pulled toward a bluish grey, colours washed out, detail
  lost to blur and a 0.6x resolution loss (distant CCTV, smog, dusk).
"""
from __future__ import annotations

import cv2
import numpy as np

from .sprites import Sprite

LOOKS = ("standard", "flat", "haze")
TRAINING_LOOKS = ("standard",)
HELD_OUT_LOOKS = tuple(k for k in LOOKS if k not in TRAINING_LOOKS)

FLAT_LEVELS = 3            # luminance bands a flat sprite keeps (body, glass/tyres, highlights)
HAZE_BGR = np.array((178, 168, 156), np.float32)   # bluish grey, BGR
HAZE_MIX = 0.45            # share of the haze colour in every pixel
HAZE_SATURATION = 0.5      # colour left after washing out
HAZE_SCALE = 0.6           # resolution kept before the picture is scaled back up


def restyle_sprite(sprite: Sprite, look: str) -> Sprite:
    """The sprite drawn in `look` (the same sprite for looks that only change the frame)."""
    if look != "flat":
        return sprite
    alpha = sprite.alpha
    inside = alpha > 0.5
    colour = sprite.premul / np.maximum(alpha, 1e-6)[..., None]
    flat = colour.copy()
    if inside.any():
        lum = colour[..., 0] * 0.114 + colour[..., 1] * 0.587 + colour[..., 2] * 0.299
        edges = np.quantile(lum[inside], np.linspace(0, 1, FLAT_LEVELS + 1)[1:-1])
        band = np.digitize(lum, edges)
        for b in range(FLAT_LEVELS):   # every band takes its mean colour: gradients become flat areas
            sel = inside & (band == b)
            if sel.any():
                flat[sel] = colour[sel].mean(axis=0)
    solid = (alpha > 0.5).astype(np.uint8)
    outline = solid - cv2.erode(solid, np.ones((3, 3), np.uint8))
    flat[outline > 0] = (24, 24, 24)
    hard = solid.astype(np.float32)    # no anti-aliasing either: a flat drawing has hard edges
    return Sprite(np.ascontiguousarray(flat * hard[..., None], np.float32), hard)


def restyle_frame(img: np.ndarray, look: str) -> np.ndarray:
    """The finished frame (uint8 BGR) in `look`."""
    if look != "haze":
        return img
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(2, int(w * HAZE_SCALE)), max(2, int(h * HAZE_SCALE))),
                       interpolation=cv2.INTER_AREA)
    img = cv2.resize(cv2.GaussianBlur(small, (0, 0), 0.8), (w, h), interpolation=cv2.INTER_LINEAR)
    f = img.astype(np.float32)
    grey = f.mean(axis=2, keepdims=True)
    f = grey + HAZE_SATURATION * (f - grey)
    f = (1 - HAZE_MIX) * f + HAZE_MIX * HAZE_BGR
    return np.clip(f, 0, 255).astype(np.uint8)
