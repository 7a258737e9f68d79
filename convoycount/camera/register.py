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
    after: Optional[np.ndarray] = None   # (N, 2) where each offered corner was followed to (NaN: lost)

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


DETAIL_SIGMA = LK_WINDOW[0] / 2   # structure wider than one Lucas-Kanade window is removed


def detail(grey: np.ndarray) -> np.ndarray:
    """The picture's structure at the scale of a Lucas-Kanade window and finer: grey
    minus its blur (sigma half the window), doubled, centred on 128. A reflection on a
    window, vignetting or a change of exposure is smooth and fixed in the picture (or
    changes everywhere at once); Lucas-Kanade sums gradients over its window, so such a
    layer pulls every followed corner towards "did not move". Wider structure is also
    what the pyramid's coarse levels use to catch a large move, so no more is removed
    than one window's worth (followed on detail alone, a blur of a quarter of the window
    lost a 25 px jump that this one kept)."""
    # The blur is of wide structure only, so it is made at a quarter of the size (a
    # Gaussian this wide at full size costs 10 ms a frame, this 0.5 ms).
    h, w = grey.shape[:2]
    small = cv2.resize(grey, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), DETAIL_SIGMA / 4)
    blur = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.addWeighted(grey, 2.0, blur, -2.0, 128.0)


def corners(grey: np.ndarray, mask: Optional[np.ndarray] = None, max_corners: int = 500,
            min_distance: int = 6) -> Optional[np.ndarray]:
    """Corners worth following: low quality threshold, because roads and sky have
    few strong corners and every static one helps."""
    return cv2.goodFeaturesToTrack(grey, maxCorners=max_corners, qualityLevel=0.005,
                                   minDistance=min_distance, blockSize=7, mask=mask)


def fit_motion(ref: np.ndarray, ref_pts: Optional[np.ndarray], grey: np.ndarray,
               guess: Optional[np.ndarray] = None, widest: bool = False) -> Optional[Fit]:
    """The similarity that takes `ref_pts` on `ref` to their places on `grey`, or None
    when too few corners could be followed or agree. `guess` (2x3, ref -> grey) starts
    Lucas-Kanade near the answer, so a pan of many pixels is followed. `widest`: when the
    corners that disagree with the best-supported motion agree on another one, keep the
    motion whose corners cover more of the picture (coverage): the scene fills the view,
    while a logo, a caption or the glints on a window are dense clusters of strong
    corners that never move in the picture."""
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
    found = _similarity(a, b)
    if found is None:
        return None
    m, keep = found
    if widest and (~keep).sum() >= MIN_POINTS:
        other = _similarity(a[~keep], b[~keep])
        if other is not None and other[1].sum() >= MIN_POINTS and \
                coverage(a[~keep][other[1]], ref.shape) > coverage(a[keep], ref.shape):
            m, keep = other[0], np.zeros_like(keep)
            keep[np.flatnonzero(~found[1])[other[1]]] = True
    d = (b - a)[keep]
    shift = tuple(float(v) for v in np.median(d, axis=0)) if len(d) else (0.0, 0.0)
    after = np.where(ok[:, None], nxt.reshape(-1, 2), np.nan)
    return Fit(m, int(keep.sum()), int(ok.sum()), len(ref_pts), shift, after)


def _similarity(a: np.ndarray, b: np.ndarray) -> Optional[tuple]:
    """(2x3 similarity a -> b, inlier mask) by RANSAC, or None."""
    m, inliers = cv2.estimateAffinePartial2D(a, b, method=cv2.RANSAC,
                                             ransacReprojThreshold=RANSAC_PX, maxIters=500)
    if m is None or inliers is None:
        return None
    return m, inliers.reshape(-1) == 1


COVERAGE_GRID = (8, 6)     # cells across and down in which coverage() counts corners


def coverage(points: np.ndarray, shape: tuple) -> int:
    """How many cells of a COVERAGE_GRID over a picture of `shape` hold any of `points`."""
    h, w = shape[:2]
    p = np.asarray(points, np.float64).reshape(-1, 2)
    cx = np.clip((p[:, 0] * COVERAGE_GRID[0] / w).astype(int), 0, COVERAGE_GRID[0] - 1)
    cy = np.clip((p[:, 1] * COVERAGE_GRID[1] / h).astype(int), 0, COVERAGE_GRID[1] - 1)
    return len(set(zip(cx.tolist(), cy.tolist())))


def agreement(ref: np.ndarray, ref_pts: np.ndarray, grey: np.ndarray, matrix: np.ndarray) -> int:
    """How much of the picture confirms a motion: `ref_pts` are started where `matrix`
    (2x3, ref -> grey) puts them and followed by Lucas-Kanade on the finest two levels;
    the coverage() of those that stay within RANSAC_PX of their start."""
    start = cv2.transform(ref_pts.reshape(-1, 1, 2), matrix).astype(np.float32)
    nxt, status, _ = cv2.calcOpticalFlowPyrLK(ref, grey, ref_pts, start.copy(), winSize=LK_WINDOW,
                                              maxLevel=1, flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
    near = (np.hypot(*(nxt - start).reshape(-1, 2).T) < RANSAC_PX) & (status.reshape(-1) == 1)
    return coverage(ref_pts.reshape(-1, 2)[near], ref.shape)
