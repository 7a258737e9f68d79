"""Drawing helpers shared by the annotated video and the contact sheet.

Everything is drawn with OpenCV on BGR images in the clip's own pixel grid,
so a box drawn here sits exactly where the detector put it.
"""
from __future__ import annotations

import colorsys
from typing import Optional

import numpy as np

LINE_BGR = (0, 215, 255)          # counting line: amber, visible on road and sky
TEXT_BGR = (255, 255, 255)

# Arrows in words: OpenCV's Hershey fonts are ASCII only.
DIRECTION_SHORT = {"left_to_right": "left->right", "right_to_left": "right->left",
                   "top_to_bottom": "top->bottom", "bottom_to_top": "bottom->top"}


def track_colour(track_id: int) -> tuple:
    """A distinct, stable BGR colour per track id (golden-ratio hue steps)."""
    hue = (0.13 + 0.618033988749895 * int(track_id)) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return (int(b * 255), int(g * 255), int(r * 255))


def font_scale(short_side: int) -> float:
    """Text size that stays readable from 240p to 4K."""
    return max(0.4, short_side / 720.0)


def line_pixels(line, width: int, height: int) -> tuple:
    """The counting line in integer pixels (the counter uses the same width/height)."""
    x1, y1, x2, y2 = line.to_pixels(width, height)
    return (int(round(x1)), int(round(y1))), (int(round(x2)), int(round(y2)))


def draw_line(img: np.ndarray, p1: tuple, p2: tuple, thickness: int = 2) -> None:
    import cv2
    cv2.line(img, p1, p2, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.line(img, p1, p2, LINE_BGR, thickness, cv2.LINE_AA)


def draw_box(img: np.ndarray, box, colour: tuple, label: Optional[str], scale: float,
             thickness: int = 2) -> None:
    """A box with its label on a filled tab just above it (inside the image)."""
    import cv2
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    cv2.rectangle(img, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
    if not label:
        return
    fs = 0.9 * scale
    (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, fs, 1)
    ty = y1 - 3 if y1 - th - base - 3 >= 0 else y2 + th + 3
    tx = min(max(0, x1), max(0, img.shape[1] - tw - 2))
    cv2.rectangle(img, (tx, ty - th - 2), (tx + tw + 2, ty + base - 1), colour, -1)
    cv2.putText(img, label, (tx + 1, ty - 1), cv2.FONT_HERSHEY_SIMPLEX, fs, (0, 0, 0), 1,
                cv2.LINE_AA)


def draw_panel(img: np.ndarray, lines: list, scale: float, origin=(6, 6)) -> None:
    """Lines of white text on a half-transparent black panel (top left)."""
    import cv2
    if not lines:
        return
    fs = scale
    sizes = [cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, fs, 1) for t in lines]
    lh = max(h + b for (_, h), b in sizes) + 4
    w = max(tw for (tw, _), _ in sizes) + 10
    h = lh * len(lines) + 6
    x0, y0 = origin
    x1, y1 = min(img.shape[1], x0 + w), min(img.shape[0], y0 + h)
    roi = img[y0:y1, x0:x1]
    roi[:] = (roi * 0.45).astype(np.uint8)        # darken: text stays legible on any scene
    for i, t in enumerate(lines):
        cv2.putText(img, t, (x0 + 5, y0 + (i + 1) * lh - 2), cv2.FONT_HERSHEY_SIMPLEX, fs,
                    TEXT_BGR, 1, cv2.LINE_AA)
