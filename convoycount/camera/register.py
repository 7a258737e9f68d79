"""Registration: how one picture of the static scene moved to become another.

Corners of a reference picture are followed into the current one with pyramidal
Lucas-Kanade, and a similarity (shift, rotation, uniform scale: pan, shake, zoom)
is fitted with RANSAC. Corners on moving vehicles do not agree with the camera's
motion and fall out as outliers; the callers also keep corners off detected
vehicles. (Phase correlation was tried first for the motion detector: on smooth
scenes a passing vehicle dominated it and it reported shifts of up to 12 px for
a camera that did not move at all.) Shared by the motion detector's background
stabilisation and the pipeline's camera stage (camera/estimate.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

MIN_POINTS = 12            # fewer followed corners than this measure nothing
LK_WINDOW = (21, 21)
LK_LEVELS = 3
RANSAC_PX = 2.0            # a corner farther than this from the fitted motion is an outlier


@dataclass(frozen=True)
class Fit:
    """The motion from a reference picture to the current one."""
    matrix: np.ndarray       # 2x3 similarity, reference pixels -> current pixels
    inliers: int             # corners that agree with it
    followed: int            # corners Lucas-Kanade could follow
    offered: int             # corners offered
    shift: tuple             # median displacement (dx, dy) of the inliers, px

    @property
    def inlier_share(self) -> float:
        return self.inliers / max(1, self.followed)


def downscaled(image: np.ndarray, max_width: int) -> tuple:
    """(image no wider than max_width, the scale applied): registration and background
    models need no more pixels than that, and cost grows with every one."""
    h, w = image.shape[:2]
    scale = min(1.0, max_width / w)
    if scale < 1.0:
        image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    return image, scale


def corners(grey: np.ndarray, mask: Optional[np.ndarray] = None, max_corners: int = 500,
            min_distance: int = 6) -> Optional[np.ndarray]:
    """Corners worth following: low quality threshold, because roads and sky have
    few strong corners and every static one helps."""
    return cv2.goodFeaturesToTrack(grey, maxCorners=max_corners, qualityLevel=0.005,
                                   minDistance=min_distance, blockSize=7, mask=mask)


def fit_motion(ref: np.ndarray, ref_pts: Optional[np.ndarray], grey: np.ndarray,
               guess: Optional[np.ndarray] = None) -> Optional[Fit]:
    """The similarity that takes `ref_pts` on `ref` to their places on `grey`, or None
    when too few corners could be followed or agree. `guess` (2x3, ref -> grey) starts
    Lucas-Kanade near the answer, so a pan of many pixels is followed."""
    if ref_pts is None or len(ref_pts) < MIN_POINTS:
        return None
    start, flags = None, 0
    if guess is not None:
        start = cv2.transform(ref_pts.reshape(-1, 1, 2), guess).astype(np.float32)
        flags = cv2.OPTFLOW_USE_INITIAL_FLOW
    nxt, status, _ = cv2.calcOpticalFlowPyrLK(ref, grey, ref_pts, start, winSize=LK_WINDOW,
                                              maxLevel=LK_LEVELS, flags=flags)
    ok = status.reshape(-1) == 1
    if ok.sum() < MIN_POINTS:
        return None
    a, b = ref_pts[ok].reshape(-1, 2), nxt[ok].reshape(-1, 2)
    m, inliers = cv2.estimateAffinePartial2D(a, b, method=cv2.RANSAC,
                                             ransacReprojThreshold=RANSAC_PX, maxIters=500)
    if m is None or inliers is None:
        return None
    keep = inliers.reshape(-1) == 1
    d = (b - a)[keep]
    shift = tuple(float(v) for v in np.median(d, axis=0)) if len(d) else (0.0, 0.0)
    return Fit(m, int(keep.sum()), int(ok.sum()), len(ref_pts), shift)
