"""CameraEstimator: each frame's transform into the scene, frame by frame.

The scene frame of a stretch of footage is the picture of its first frame. Each
frame is registered (register.py) to a *keyframe* whose own transform is known,
not to the previous frame, so errors do not pile up frame after frame: only each
change of keyframe adds one registration's error. A new keyframe is taken when
the view has moved far from the current one (its corners leave the picture) or
fewer of them follow. Corners are never taken on detected vehicles: a convoy
filling the view would otherwise outvote the road.

Things fixed in the picture are not the scene: a window's reflection and frame
when the phone films through glass, a broadcaster's caption, dirt on the lens.
Smooth ones (a reflection's glow) are taken out by following the pictures'
detail() too; sharp ones lose the vote because the scene's corners cover more of
the picture (register.coverage), and once the camera has moved, corners that
stayed put are dropped and kept off later keyframes (_learn_fixed).

A frame that cannot be registered (a truck filling the view, a blurred frame)
keeps the last transform; so does every frame of a scene too plain to hold
corners (nothing in it can show the camera moving). When registration stays lost for `max_unregistered_s`
(a cut, a whip pan), the chain breaks: that frame starts a new *segment* with its
own scene frame, and the pipeline ends every track there, because positions on
the two sides of a break cannot be compared.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import cv2
import numpy as np

from .register import RANSAC_PX, agreement, corners, detail, downscaled, fit_motion
from .transform import IDENTITY, apply, as3x3, max_displacement, resized, scale_of


@dataclass(frozen=True)
class CameraSettings:
    """Every number that decides how camera motion is measured."""
    analysis_width: int = 640        # frames are registered at most this wide (speed)
    max_corners: int = 300           # corners taken on a keyframe
    min_inliers: int = 15            # fewer agreeing corners: the frame is not registered
    min_inlier_share: float = 0.15   # ...or fewer than this share of the followed ones (dense
                                     # traffic fills much of a real picture: on city_zoom_a a
                                     # still-good fit holds only 20-25 % of the corners)
    rekey_inliers: int = 60          # take a new keyframe when fewer corners agree than this
    rekey_shift_frac: float = 0.12   # ...or the view moved this share of the width from it
    rekey_scale: float = 1.08        # ...or zoomed by this factor from it
    still_frac: float = 0.005        # a stretch whose frames all stay within this share of the
    still_min_px: float = 2.0        # picture's diagonal (and this many px) of its first frame
                                     # is a fixed camera: its transforms are left at identity, so
                                     # a tripod clip counts exactly as without this stage (a
                                     # shake that small is below the counter's margin anyway)
    mask_pad_frac: float = 0.1       # detected boxes are grown by this share before masking
    same_view_grey: float = 6.0      # median grey-level change of 1/16-size pictures below which a
                                     # frame that cannot be registered is still the keyframe's view
    min_clear_share: float = 0.2     # fewer cells clear of vehicles than this: the view cannot
                                     # tell a camera move from traffic, the transform is held
    fixed_px: float = 0.5            # a corner followed to within this of where it was...
    fixed_carried_px: float = 3.0    # ...while the fitted motion moved it this far is fixed to
                                     # the picture (_learn_fixed): 6x Lucas-Kanade's error on a
                                     # re-encoded picture, so a scene corner never passes
    max_unregistered_s: float = 1.0  # frames that cannot be registered keep the last transform
                                     # (a truck filling the view hides the scene for a moment);
                                     # only after this long does the chain break

    def __post_init__(self):
        for name in ("analysis_width", "max_corners", "min_inliers", "rekey_inliers"):
            v = getattr(self, name)
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
                raise ValueError(f"CameraSettings.{name} must be an integer >= 1, got {v!r}")
        for name in ("min_inlier_share", "rekey_shift_frac", "still_frac", "mask_pad_frac", "min_clear_share"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and 0 <= v < 1):
                raise ValueError(f"CameraSettings.{name} must be in [0, 1), got {v!r}")
        for name in ("fixed_px", "fixed_carried_px"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v > 0):
                raise ValueError(f"CameraSettings.{name} must be > 0, got {v!r}")
        if self.fixed_carried_px <= self.fixed_px:
            raise ValueError("CameraSettings.fixed_carried_px must be larger than fixed_px")
        if not (isinstance(self.rekey_scale, (int, float)) and self.rekey_scale > 1):
            raise ValueError(f"CameraSettings.rekey_scale must be > 1, got {self.rekey_scale!r}")


@dataclass(frozen=True)
class CameraStep:
    """One analysed frame's place in the scene."""
    frame_index: int
    time_s: float
    to_scene: np.ndarray        # 3x3, frame pixels -> scene pixels of its segment
    segment: int                # 0, 1, ...: a new one after each break
    inliers: int                # corners that agreed (0 on a segment's first frame)
    registered: bool = True     # False: could not be registered, the last transform was kept


def _coarse_size(shape: tuple) -> tuple:
    """(width, height) of the 1/16-size picture the same-view test compares."""
    h, w = shape
    return max(4, w // 16), max(4, h // 16)


def _coarse(grey: np.ndarray) -> np.ndarray:
    return cv2.resize(grey, _coarse_size(grey.shape), interpolation=cv2.INTER_AREA).astype(np.float32)


@dataclass
class _Key:
    grey: np.ndarray
    detail: np.ndarray          # detail(grey): what corners are taken and followed on
    pts: Optional[np.ndarray]
    to_scene: np.ndarray        # 3x3 in analysis pixels
    last: np.ndarray = field(default_factory=lambda: IDENTITY.copy())   # key -> latest frame
    clear: Optional[np.ndarray] = None   # its 1/16-size cells clear of vehicles (_clear_cells)
    coarse: Optional[np.ndarray] = None  # its 1/16-size picture (_coarse), made once per keyframe


def _same_motion(a, b, pts: np.ndarray) -> bool:
    """True when two fits put every corner within RANSAC_PX of each other."""
    pa, pb = apply(as3x3(a.matrix), pts), apply(as3x3(b.matrix), pts)
    return bool(np.linalg.norm(pa - pb, axis=1).max() < RANSAC_PX)


class CameraEstimator:
    """Stage: `update(frame, detections)` in time order returns the frame's CameraStep;
    `steps` holds them all."""

    def __init__(self, settings: CameraSettings = CameraSettings()):
        self.settings = settings
        self.steps: list = []
        self._key: Optional[_Key] = None
        self._segment = -1
        self._scale = 1.0
        self._lost_s: Optional[float] = None     # when registration was first lost, if it is
        self._held: Optional[np.ndarray] = None  # the last transform (analysis pixels)
        self._fixed: Optional[np.ndarray] = None # 255 where the picture holds something fixed in it

    def update(self, frame, detections) -> CameraStep:
        grey = self._grey(frame.image)
        key = self._key
        fit = None
        if key is not None and key.grey.shape == grey.shape:
            fit = self._fit(key, grey)
        if fit is None and key is not None and self._featureless(key, grey.shape):
            # The keyframe has too few corners to register anything against (a plain
            # background): its picture cannot show the camera moving either, so the last
            # transform is kept without counting towards a break, and this frame becomes
            # the keyframe (in case it has the corners the last one lacked).
            self._new_key(grey, detections, self._held)
            step = CameraStep(frame.index, frame.time_s, resized(self._held, self._scale),
                              self._segment, 0, registered=False)
            self.steps.append(step)
            return step
        if fit is None and key is not None and self._hold(frame.time_s, grey, detections):
            step = CameraStep(frame.index, frame.time_s, resized(self._held, self._scale),
                              self._segment, 0, registered=False)
            self.steps.append(step)
            return step
        if fit is None:                       # first frame, or the chain broke: a new segment
            self._segment += 1
            self._fixed = None                # another shot may be filmed another way
            to_scene = IDENTITY.copy()
            self._new_key(grey, detections, to_scene)
            inliers = 0
        else:
            key.last = as3x3(fit.matrix)
            self._learn_fixed(key, fit)
            to_scene = key.to_scene @ np.linalg.inv(key.last)
            inliers = fit.inliers
            if self._rekey_due(fit, key.last, grey.shape):
                self._new_key(grey, detections, to_scene)
        self._lost_s, self._held = None, to_scene
        step = CameraStep(frame.index, frame.time_s, resized(to_scene, self._scale),
                          self._segment, inliers)
        self.steps.append(step)
        return step

    def _fit(self, key: _Key, grey: np.ndarray):
        """The keyframe -> frame motion, or None when too few corners agree. Followed on
        the pictures as they are and on their detail(), each fails its own way: a smooth
        layer fixed in the picture (a window's reflection) holds the plain pictures back
        by many pixels; detail() lacks the coarse structure the pyramid needs to catch a
        jump of a shaking phone (30 px between two frames). When the two disagree, the
        one the detail confirms over more of the picture wins, refined on the detail."""
        guess, fine = key.last[:2], detail(grey)
        on_detail = self._accepted(fit_motion(key.detail, key.pts, fine, guess=guess, widest=True))
        plain = self._accepted(fit_motion(key.grey, key.pts, grey, guess=guess, widest=True))
        if plain is None or (on_detail is not None and _same_motion(on_detail, plain, key.pts)):
            return on_detail
        if on_detail is not None and agreement(key.detail, key.pts, fine, on_detail.matrix) >= \
                agreement(key.detail, key.pts, fine, plain.matrix):
            return on_detail
        return self._accepted(fit_motion(key.detail, key.pts, fine, guess=plain.matrix, widest=True)) or plain

    def _accepted(self, fit):
        """`fit` when enough corners agree with it, else None."""
        s = self.settings
        ok = fit is not None and fit.inliers >= s.min_inliers and fit.inlier_share >= s.min_inlier_share
        return fit if ok else None

    def _learn_fixed(self, key: _Key, fit) -> None:
        """Corners that stayed where they were in the picture while the camera's fitted
        motion carried the scene under them by several pixels are fixed to the picture,
        not the scene: a reflection or the frame of a window the phone films through,
        dirt on the lens, a broadcaster's logo. They are dropped from the keyframe and
        their places kept off later keyframes (until a new segment): left in, they vote
        for "the camera did not move" every frame, and win when the scene is plain."""
        s = self.settings
        if fit.after is None or key.pts is None:
            return
        pts = key.pts.reshape(-1, 2)
        carried = np.linalg.norm(apply(key.last, pts) - pts, axis=1)      # key.last: this fit, 3x3
        stayed = np.linalg.norm(fit.after - pts, axis=1) < s.fixed_px
        fixed = stayed & (carried > s.fixed_carried_px)
        if not fixed.any():
            return
        key.pts = key.pts[~fixed]
        if self._fixed is None or self._fixed.shape != key.grey.shape:
            self._fixed = np.zeros(key.grey.shape, np.uint8)
        r = max(6, key.grey.shape[1] // 80)
        for x, y in pts[fixed]:
            cv2.circle(self._fixed, (int(round(x)), int(round(y))), r, 255, -1)

    def _featureless(self, key: _Key, shape: tuple) -> bool:
        return key.grey.shape == shape and (key.pts is None or len(key.pts) < self.settings.min_inliers)

    def _hold(self, t: float, grey: np.ndarray, detections=None) -> bool:
        """Keep the last transform for an unregistered frame, unless registration has
        been lost for longer than max_unregistered_s and the picture no longer looks
        like the keyframe (or changed size)."""
        if self._key.grey.shape != grey.shape:
            return False
        self._lost_s = t if self._lost_s is None else self._lost_s
        return t - self._lost_s <= self.settings.max_unregistered_s or self._looks_like_key(grey, detections)

    def _looks_like_key(self, grey: np.ndarray, detections=None) -> bool:
        """True when the picture, seen coarsely, is still the keyframe's: fits can fail on
        a hazy, noisy or plain scene whose camera never moved, and breaking the chain
        there would stop the count. Coarse (1/16 size) so noise and a small shake average
        out, while a cut or a real move changes most cells by far more. Only cells clear of
        vehicles (detected now or when the keyframe was taken) are compared: a convoy
        filling the view changes the picture, not the camera; a view with too few clear
        cells to tell is held (nothing in it can show the camera moving)."""
        s = self.settings
        a, b = self._key.coarse, _coarse(grey)
        clear = self._clear_cells(detections, grey.shape) & self._key.clear
        if clear.mean() < s.min_clear_share:
            return True
        diff = (a - b)[clear]
        diff -= np.median(diff)               # light or exposure changing is not the camera moving
        return float(np.median(np.abs(diff))) <= s.same_view_grey

    def _clear_cells(self, detections, shape: tuple) -> np.ndarray:
        """Cells of the 1/16-size picture (of an analysis picture of `shape`) that no
        detected box touches."""
        size = _coarse_size(shape)
        clear = np.ones((size[1], size[0]), bool)
        if detections is None:
            return clear
        for x1, y1, x2, y2 in detections.xyxy * (self._scale * size[0] / shape[1]):
            clear[max(0, int(y1)):int(np.ceil(y2)) + 1, max(0, int(x1)):int(np.ceil(x2)) + 1] = False
        return clear

    def _grey(self, image: np.ndarray) -> np.ndarray:
        image, self._scale = downscaled(image, self.settings.analysis_width)
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image

    def _new_key(self, grey: np.ndarray, detections, to_scene: np.ndarray) -> None:
        mask = np.full(grey.shape, 255, np.uint8)
        pad = self.settings.mask_pad_frac
        for x1, y1, x2, y2 in (detections.xyxy * self._scale if detections is not None else ()):
            px, py = pad * (x2 - x1), pad * (y2 - y1)
            mask[max(0, int(y1 - py)):max(0, int(np.ceil(y2 + py))),
                 max(0, int(x1 - px)):max(0, int(np.ceil(x2 + px)))] = 0
        if self._fixed is not None and self._fixed.shape == mask.shape:
            mask[self._fixed > 0] = 0
        fine = detail(grey)
        pts = corners(fine, mask, max_corners=self.settings.max_corners,
                      min_distance=max(6, grey.shape[1] // 80))
        self._key = _Key(grey, fine, pts, to_scene, clear=self._clear_cells(detections, grey.shape),
                         coarse=_coarse(grey))

    def _rekey_due(self, fit, key_to_frame: np.ndarray, shape: tuple) -> bool:
        s = self.settings
        h, w = shape
        zoom = scale_of(key_to_frame)
        return (fit.inliers < s.rekey_inliers
                or max_displacement(key_to_frame, w, h) > s.rekey_shift_frac * w
                or max(zoom, 1 / zoom) > s.rekey_scale)
