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
from typing import Iterable, Iterator, Optional

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
        k = max(1, s.open_px)
        self._open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        k = max(1, s.close_px)
        self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))

    # -- helpers ------------------------------------------------------------
    def _small(self, image: np.ndarray) -> tuple:
        """(the picture at analysis size, blurred; the scale applied)"""
        image, scale = downscaled(image, self.settings.analysis_width)
        b = self.settings.blur_px | 1
        return (cv2.GaussianBlur(image, (b, b), 0) if b > 1 else image), scale

    def _align(self, frame: Frame) -> tuple:
        """(the frame at analysis size, blurred and shifted back onto the reference; its
        scale; the camera's shift dx, dy). Reads only the reference, which the first frame
        sets: frames can be aligned ahead of the background model (detect_all)."""
        small, scale = self._small(frame.image)
        dx, dy = self._shift(small)
        return self._unshift(small, dx, dy), scale, dx, dy

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
            imgs.append(self._align(f)[0])
        if not imgs:
            return
        bg = np.median(np.stack(imgs), axis=0).astype(np.uint8)
        for _ in range(3):
            self._mog.apply(bg, learningRate=1.0)

    def detect(self, frame: Frame) -> Detections:
        return self._subtract(frame, *self._align(frame))

    def detect_all(self, frames: Iterable[Frame]) -> Iterator[tuple]:
        """(frame, detect(frame)) for each frame in order, with the next frame aligned in a
        thread of its own while this one is subtracted: alignment (blur, Lucas-Kanade)
        reads only the reference, the background model only aligned pictures in order,
        so the boxes are exactly detect()'s, and OpenCV releases the GIL for both."""
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="convoycount-align") as pool:
            waiting = None                      # (frame, its alignment under way)
            for frame in frames:
                # One worker: frames are aligned in order, so the first sets the reference.
                ahead = pool.submit(self._align, frame)
                if waiting is not None:
                    yield waiting[0], self._subtract(waiting[0], *waiting[1].result())
                waiting = (frame, ahead)
            if waiting is not None:
                yield waiting[0], self._subtract(waiting[0], *waiting[1].result())

    def _subtract(self, frame: Frame, aligned: np.ndarray, scale: float, dx: float, dy: float) -> Detections:
        """Background subtraction of an aligned picture, in time order: the boxes of `frame`."""
        s = self.settings
        dt = 0.0 if self._last_t is None else max(0.0, frame.time_s - self._last_t)
        self._last_t = frame.time_s
        # Learning rate from the real time step: the background forgets on a clock,
        # whatever the frame rate, so a 10 fps VFR clip and a 60 fps one behave alike.
        rate = 1.0 - np.exp(-dt / s.background_tau_s) if dt > 0 else -1
        mask = self._mog.apply(aligned, learningRate=rate)
        # 255 = foreground; 127 = shadow: drop it
        _, mask = cv2.threshold(mask, 199, 255, cv2.THRESH_BINARY)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._open)
        h, w = mask.shape
        blobs = _closed_blobs(mask, self._close, 0.1 * s.min_area_frac * h * w)
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
        xyxy = np.array(boxes, dtype=float) / scale
        H, W = frame.image.shape[:2]
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, W)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, H)
        return Detections(xyxy, np.array(conf), np.array(["vehicle"] * len(boxes), dtype=object),
                          frame.time_s, frame.index)


def _closed_blobs(mask: np.ndarray, close: np.ndarray, min_area: float) -> list:
    """The connected components (8-connected) of `mask` closed with `close`, as
    (x1, y1, x2, y2, area) in the order of their first pixel, those of `min_area` or more.
    Closing and labelling run only on the box around the foreground, grown by the
    kernel's size: nothing the closing makes can reach farther, and a road picture is
    mostly empty while labelling costs per pixel (it was the detector's second largest
    cost). The result is the whole mask's, to the pixel."""
    x, y, bw, bh = cv2.boundingRect(mask)
    if bw == 0 or bh == 0:
        return []
    grow = max(close.shape)
    x0, y0 = max(0, x - grow), max(0, y - grow)
    crop = mask[y0:min(mask.shape[0], y + bh + grow), x0:min(mask.shape[1], x + bw + grow)]
    crop = cv2.morphologyEx(crop, cv2.MORPH_CLOSE, close)
    _, _, stats, _ = cv2.connectedComponentsWithStats(crop, connectivity=8)
    stats = stats[1:]
    stats = stats[stats[:, 4] >= min_area]
    stats[:, 0] += x0
    stats[:, 1] += y0
    return [(x, y, x + bw, y + bh, area) for x, y, bw, bh, area in stats]


def _merge_close(blobs: list, gap: float) -> list:
    """Union of blobs whose boxes are within `gap` pixels of each other, repeated
    until no two remain that close: a low-contrast truck splits into cab, body and
    chassis. (Vehicles in adjacent lanes may merge for a moment as they pass; the
    tracker treats a vehicle inside such a blob as occluded, not gone.)
    Areas add up (they are disjoint pixel sets)."""
    if len(blobs) > 1 and not _any_close(blobs, gap):
        return [tuple(b) for b in reversed(blobs)]   # what the loop below leaves: one pass, no merge
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


def _any_close(blobs: list, gap: float) -> bool:
    """Are any two of the boxes within `gap` of each other? (_merge_close's test, all
    pairs at once: on a noisy picture the loop over pairs cost more than the subtraction.)"""
    b = np.array([bl[:4] for bl in blobs], dtype=float)
    near = ((b[None, :, 0] - b[:, None, 2] <= gap) & (b[:, None, 0] - b[None, :, 2] <= gap) &
            (b[None, :, 1] - b[:, None, 3] <= gap) & (b[:, None, 1] - b[None, :, 3] <= gap))
    np.fill_diagonal(near, False)
    return bool(near.any())
