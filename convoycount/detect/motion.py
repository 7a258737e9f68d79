"""Motion detector: background subtraction, no weights needed.

Works on a fixed (or slightly shaking) camera: a vehicle is a blob that differs
from the learned background. Steps per frame:
  1. global motion compensation: corners of a reference frame, followed with
     Lucas-Kanade and fitted with RANSAC (camera/register.py, shared with the
     pipeline's camera stage), give the camera's shift; the frame is shifted back
     before subtraction so shake does not light up every edge;
  2. MOG2 background subtraction on a blurred frame (sensor noise), with its
     learning rate derived from the real time step (not a frame count), shadows
     marked by MOG2 and dropped;
  3. morphology (open removes speckle, close joins a vehicle's windows and body);
  4. blob filtering by area (fraction of the frame), fill ratio and aspect;
  5. boxes shifted back into the frame's own coordinates.
`prepare(frames)` seeds the background with the median of frames sampled over
the clip, so vehicles already in view at the start are not learned as road.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

import cv2
import numpy as np

from ..camera.register import corners, downscaled, fit_motion
from ..video import Frame
from .base import Detections, DetectorInfo


@dataclass(frozen=True)
class MotionSettings:
    var_threshold: float = 24.0         # MOG2 threshold (squared Mahalanobis distance)
    shadow_ratio: float = 0.7           # a darker pixel is shadow only if it keeps this much of the
                                        # background's brightness: grey vehicles on grey roads are
                                        # darker too, and MOG2's default (0.5) erased them as shadow
    background_tau_s: float = 40.0      # background adapts with this time constant (clip seconds)
    background_ratio: float = 0.75      # MOG2: a new colour must hold 25% weight to become road, so
                                        # a vehicle stopped for ~10 s is still a vehicle
    blur_px: int = 5                    # Gaussian blur before subtraction (sensor noise)
    min_area_frac: float = 0.0005       # blobs smaller than this fraction of the frame are noise
    max_area_frac: float = 0.25         # larger blobs are lighting changes, not vehicles
    min_fill: float = 0.3               # blob area / box area
    max_aspect: float = 6.0             # longer/shorter side
    open_px: int = 3
    close_px: int = 9
    merge_gap_frac: float = 0.012       # blobs closer than this (fraction of frame width) are one
                                        # vehicle: a low-contrast body splits into cab and chassis
    stabilize: bool = True              # compensate camera shake
    max_shift_frac: float = 0.05        # larger estimated shifts are ignored (scene cut, pan)
    analysis_width: int = 640           # frames wider than this are analysed downscaled

    def __post_init__(self):
        if not 0 < self.min_area_frac < self.max_area_frac <= 1:
            raise ValueError("need 0 < min_area_frac < max_area_frac <= 1")
        if self.background_tau_s <= 0:
            raise ValueError(f"background_tau_s must be > 0, got {self.background_tau_s}")


class MotionDetector:
    """A Detector (base.py): `prepare` seeds the background, `detect` subtracts it
    from each frame in time order, `reset` forgets background, camera reference and
    clock."""

    def __init__(self, settings: MotionSettings = MotionSettings()):
        self.settings = settings
        self.info = DetectorInfo(name="motion", classes=("vehicle",))
        self.reset()

    def reset(self) -> None:
        s = self.settings
        self._mog = cv2.createBackgroundSubtractorMOG2(history=500, varThreshold=s.var_threshold,
                                                       detectShadows=True)
        self._mog.setShadowThreshold(s.shadow_ratio)
        self._mog.setBackgroundRatio(s.background_ratio)
        self._ref: Optional[np.ndarray] = None       # grey reference frame for stabilisation
        self._ref_pts: Optional[np.ndarray] = None   # corners on the reference frame
        self._last_t: Optional[float] = None
        self._scale = 1.0
        k = max(1, s.open_px)
        self._open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        k = max(1, s.close_px)
        self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))

    # -- helpers ------------------------------------------------------------
    def _small(self, image: np.ndarray) -> np.ndarray:
        image, self._scale = downscaled(image, self.settings.analysis_width)
        b = self.settings.blur_px | 1
        return cv2.GaussianBlur(image, (b, b), 0) if b > 1 else image

    def _shift(self, small: np.ndarray) -> tuple:
        """Camera shift of this frame relative to the reference, in small-image pixels:
        the median motion of the static corners (camera/register.py)."""
        if not self.settings.stabilize:
            return 0.0, 0.0
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        if self._ref is None or self._ref.shape != grey.shape:
            self._ref = grey
            self._ref_pts = corners(grey)
            return 0.0, 0.0
        fit = fit_motion(self._ref, self._ref_pts, grey)
        if fit is None or fit.inliers < 10 or fit.inlier_share < 0.25:
            return 0.0, 0.0      # a featureless scene: nothing to measure shake against
        dx, dy = fit.shift
        h, w = grey.shape
        # Larger shifts are a pan or a cut: the background model cannot follow them.
        if abs(dx) > self.settings.max_shift_frac * w or abs(dy) > self.settings.max_shift_frac * h:
            return 0.0, 0.0
        return dx, dy

    @staticmethod
    def _unshift(small: np.ndarray, dx: float, dy: float) -> np.ndarray:
        if abs(dx) < 0.25 and abs(dy) < 0.25:
            return small
        m = np.float32([[1, 0, -dx], [0, 1, -dy]])
        return cv2.warpAffine(small, m, (small.shape[1], small.shape[0]),
                              borderMode=cv2.BORDER_REPLICATE)

    # -- stage --------------------------------------------------------------
    def prepare(self, frames: Iterable[Frame]) -> None:
        """Seed the background with the per-pixel median of frames sampled over the clip."""
        imgs = []
        for f in frames:
            small = self._small(f.image)
            dx, dy = self._shift(small)
            imgs.append(self._unshift(small, dx, dy))
        if not imgs:
            return
        bg = np.median(np.stack(imgs), axis=0).astype(np.uint8)
        for _ in range(3):
            self._mog.apply(bg, learningRate=1.0)

    def detect(self, frame: Frame) -> Detections:
        s = self.settings
        small = self._small(frame.image)
        dx, dy = self._shift(small)
        aligned = self._unshift(small, dx, dy)
        dt = 0.0 if self._last_t is None else max(0.0, frame.time_s - self._last_t)
        self._last_t = frame.time_s
        # Learning rate from the real time step: the background forgets on a clock,
        # whatever the frame rate, so a 10 fps VFR clip and a 60 fps one behave alike.
        rate = 1.0 - np.exp(-dt / s.background_tau_s) if dt > 0 else -1
        mask = self._mog.apply(aligned, learningRate=rate)
        mask = np.where(mask >= 200, 255, 0).astype(np.uint8)   # 127 = shadow: drop it
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._open)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self._close)

        h, w = mask.shape
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        blobs = [(x, y, x + bw, y + bh, area) for x, y, bw, bh, area in stats[1:]
                 if area >= 0.1 * s.min_area_frac * h * w]
        frame_area = float(h * w)
        boxes, conf = [], []
        for x1, y1, x2, y2, area in _merge_close(blobs, s.merge_gap_frac * w):
            bw, bh = x2 - x1, y2 - y1
            frac = area / frame_area
            if not (s.min_area_frac <= frac <= s.max_area_frac):
                continue
            fill = area / float(bw * bh)
            aspect = max(bw, bh) / max(1, min(bw, bh))
            if fill < s.min_fill or aspect > s.max_aspect:
                continue
            boxes.append((x1 + dx, y1 + dy, x2 + dx, y2 + dy))
            # Not a probability: how solid the blob is, used only to rank events.
            conf.append(min(1.0, 0.5 + 0.5 * fill))
        if not boxes:
            return Detections.empty(frame.time_s, frame.index)
        xyxy = np.array(boxes, dtype=float) / self._scale
        H, W = frame.image.shape[:2]
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, W)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, H)
        return Detections(xyxy, np.array(conf), np.array(["vehicle"] * len(boxes), dtype=object),
                          frame.time_s, frame.index)


def _merge_close(blobs: list, gap: float) -> list:
    """Union of blobs whose boxes are within `gap` pixels of each other, repeated
    until no two remain that close: a low-contrast truck splits into cab, body and
    chassis. (Vehicles in adjacent lanes may merge for a moment as they pass; the
    tracker treats a vehicle inside such a blob as occluded, not gone.)
    Areas add up (they are disjoint pixel sets)."""
    blobs = [list(b) for b in blobs]
    merged = True
    while merged and len(blobs) > 1:
        merged = False
        out = []
        while blobs:
            a = blobs.pop()
            i = 0
            while i < len(blobs):
                b = blobs[i]
                if (b[0] - a[2] <= gap and a[0] - b[2] <= gap and
                        b[1] - a[3] <= gap and a[1] - b[3] <= gap):
                    a = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]),
                         a[4] + b[4]]
                    blobs.pop(i)
                    merged = True
                else:
                    i += 1
            out.append(a)
        blobs = out
    return [tuple(b) for b in blobs]
