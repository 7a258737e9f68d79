"""Per-frame signatures, computed inside the pipeline's own decode loop.

Each decoded frame leaves a 64x36 grey thumbnail (area-averaged, so sensor noise
and compression noise shrink about tenfold) and a 16-bin-per-channel colour
histogram. Everything the integrity checks measure comes from these: about
2.4 kB per frame, a fraction of a millisecond to compute, no second decode.
"""
from __future__ import annotations

from functools import cached_property

import cv2
import numpy as np

THUMB_W, THUMB_H = 64, 36       # 16:9; a 4 m vehicle at 16 px/m is still ~6 px wide
HIST_BINS = 16
EDGE = 1                        # thumbnail px left out at the border (a shake uncovers it)
CHUNK = 128                     # frames turned into floats at once (memory stays flat: ~1 MB each)
SOLID_DIFF = 12.0               # grey levels: something moved there, not a codec's re-quantising


class SignatureLog:
    """Signatures of the frames as they are decoded (append with `add`).

    The thumbnails go into one growing uint8 array rather than a list of small ones:
    the checks read them as one (N, H, W) array, and making it from a list copied all
    of them at once after the loop (20 MB on a 10-minute clip at 15 fps, on top of the
    list). Capacity doubles; the pages past the frames written are never touched, so
    they take no resident memory."""

    def __init__(self) -> None:
        self.times: list = []
        self.indices: list = []
        self.hists: list = []            # float32 (3 * HIST_BINS,), sums to 3
        self._thumbs = np.empty((256, THUMB_H, THUMB_W), dtype=np.uint8)

    def add(self, frame) -> None:
        small = cv2.resize(frame.image, (THUMB_W, THUMB_H), interpolation=cv2.INTER_AREA)
        n = len(self.times)
        if n == len(self._thumbs):
            grown = np.empty((2 * n, THUMB_H, THUMB_W), dtype=np.uint8)
            grown[:n] = self._thumbs
            self._thumbs = grown
        self._thumbs[n] = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        self.times.append(float(frame.time_s))
        self.indices.append(int(frame.index))
        h = [np.bincount(small[..., c].ravel() // (256 // HIST_BINS), minlength=HIST_BINS)
             for c in range(3)]
        self.hists.append((np.concatenate(h) / (THUMB_W * THUMB_H)).astype(np.float32))

    def __len__(self) -> int:
        return len(self.times)

    @cached_property
    def t(self) -> np.ndarray:
        return np.asarray(self.times, dtype=np.float64)

    @property
    def grey(self) -> np.ndarray:
        """(N, H, W) uint8 thumbnails, as stored (a view, no copy). The checks below turn
        CHUNK frames at a time into floats: a float copy of every frame at once grew the
        peak memory of a 10-minute 1080p analysis by 80 % (benchmarks/bench_memory.py)."""
        return self._thumbs[:len(self.times)]

    @cached_property
    def step(self) -> np.ndarray:
        """step[i]: mean absolute grey change from frame i-1 to frame i (step[0] = 0),
        after removing the change of the whole picture (its median), so that a
        camera's exposure adjusting is not mistaken for motion."""
        g = self.grey
        d = np.zeros(len(g), dtype=np.float32)
        for lo in range(1, len(g), CHUNK):
            hi = min(len(g), lo + CHUNK)
            diff = np.diff(g[lo - 1:hi].astype(np.float32), axis=0).reshape(hi - lo, -1)
            diff -= np.median(diff, axis=1, keepdims=True)
            d[lo:hi] = np.abs(diff).mean(axis=1)
        return d

    @property
    def solid_change(self) -> np.ndarray:
        """solid_change[i]: share of the picture where a solid patch (>= 2x2 thumbnail
        px) of frame i is more than SOLID_DIFF grey levels brighter or darker than
        anything within one thumbnail pixel of it in frame i-1, or the other way round.
        A vehicle that vanishes or appears changes a solid patch; a vehicle moving one
        frame's distance and a shaking camera move edges by under a thumbnail pixel
        (10-20 px of the frame), which the neighbourhood absorbs; sensor and codec noise
        leave single pixels, which the 2x2 erosion removes."""
        return self._shake_tolerant[0]

    @property
    def steady_step(self) -> np.ndarray:
        """steady_step[i]: mean grey change from frame i-1 to i beyond what moving every
        pixel by up to one thumbnail pixel explains: `step` without a shaking camera's
        trembling edges."""
        return self._shake_tolerant[1]

    @cached_property
    def _shake_tolerant(self) -> tuple:
        g = self.grey
        solid_share = np.zeros(len(g), dtype=np.float32)
        excess = np.zeros(len(g), dtype=np.float32)
        near, solid = np.ones((3, 3), np.uint8), np.ones((2, 2), np.uint8)
        for i in range(1, len(g)):
            prev, now = g[i - 1].astype(np.float32), g[i].astype(np.float32)
            cur = now - np.median(now - prev)             # an exposure change is not a jump
            over = np.zeros(prev.shape, dtype=np.float32)
            for a, b in ((prev, cur), (cur, prev)):
                over += np.maximum(b - cv2.dilate(a, near), 0) + np.maximum(cv2.erode(a, near) - b, 0)
            inner = over[EDGE:-EDGE, EDGE:-EDGE]
            excess[i] = inner.mean() / 2
            solid_share[i] = cv2.erode((inner > SOLID_DIFF).astype(np.uint8), solid).mean()
        return solid_share, excess

    @cached_property
    def hist_step(self) -> np.ndarray:
        """hist_step[i]: colour histogram change from frame i-1 to i (0 same .. 2 disjoint, per channel mean)."""
        h = np.asarray(self.hists, dtype=np.float32)
        d = np.zeros(len(h), dtype=np.float32)
        if len(h) > 1:
            d[1:] = np.abs(np.diff(h, axis=0)).sum(axis=1) / 3.0
        return d

    def normalised(self, scale: int = 2) -> np.ndarray:
        """(N, D) thumbnails shrunk by `scale`, each with zero mean and unit norm:
        comparable across re-encoding, brightness and contrast changes."""
        g = self.grey
        n, h, w = g.shape
        out = np.zeros((n, (h // scale) * (w // scale)), dtype=np.float32)
        for lo in range(0, n, CHUNK):
            part = g[lo:lo + CHUNK].astype(np.float32)
            x = part.reshape(len(part), h // scale, scale, w // scale, scale).mean(axis=(2, 4))
            x = x.reshape(len(part), -1)
            x = x - x.mean(axis=1, keepdims=True)
            norm = np.linalg.norm(x, axis=1, keepdims=True)
            out[lo:lo + CHUNK] = x / np.maximum(norm, 1e-6)
        return out


def signatures_of(path, start_s=None, end_s=None) -> SignatureLog:
    """Decode a clip once and keep every frame's signature (no detection)."""
    from ..video import frames
    log = SignatureLog()
    for frame in frames(path, start_s=start_s, end_s=end_s):
        log.add(frame)
    return log
