"""Repeats: a span of frames that shows again later (a loop, a copy-paste), forwards
or backwards.

Frames are compared as normalised 32x18 thumbnails (robust to re-encoding,
scaling and brightness). A still scene matches itself at any time, so a frame
only matches another when they are much closer than the frame is to its own
footage a few frames away (the footage must move for a repeat to be seen), and a
repeat is a run of such matches along one diagonal: copy = source + offset
(forwards) or copy + source = constant (played backwards)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MOTION_LAG_S = 0.3       # "its own footage a few frames away"
MATCH_SHARE = 0.07       # a match is this much closer than the footage's own motion over the lag
                         # (re-encoded copies: 0.03-0.05; a convoy of look-alike vehicles at
                         # regular spacing resembles itself a few seconds later at 0.14-0.25)
MOTION_MIN = 0.004       # 1 - cosine: below this the footage is too still to tell a repeat
MIN_SEP_S = 1.0          # a copy starts at least this long after its source
MIN_RUN_S = 1.0          # shorter runs of matches are coincidence
MAX_BREAK = 4            # frames a run may miss (duplicated frames, a noisy frame)
BLOCK = 32               # rows of the similarity matrix computed at once: each temporary is
                         # BLOCK x all frames (1-2 MB for a 10-minute clip at 15 fps; at 128
                         # rows the block's temporaries added 34 MB to that clip's peak RSS)
SEAM_SHARE = 0.02        # after a loop's seam the picture is this close to an earlier one, as a
                         # share of the jump (loops: <= 0.004; a gap's new picture: >= 0.09)
HOLD = 3.0               # along the copy, frames stay within this many times the seam's match


@dataclass(frozen=True)
class Repeat:
    copy: tuple              # (first, last) frame of the later span
    source: tuple            # (first, last) frame of the earlier span (source[0] matches copy[0]
    backwards: bool          #   forwards; source[1] matches copy[0] when played backwards)


def find_repeats(x: np.ndarray, t: np.ndarray) -> list:
    """x: (N, D) unit vectors (SignatureLog.normalised()); t: frame times."""
    n = len(x)
    if n < 4:
        return []
    dt = float(np.median(np.diff(t)))
    lag = max(2, int(round(MOTION_LAG_S / dt)))
    motion = _own_motion(x, lag)
    pairs = _matches(x, motion, max(lag + 1, int(round(MIN_SEP_S / dt))))
    min_run = max(3, int(round(MIN_RUN_S / dt)))
    out = _runs(pairs, motion, min_run, backwards=False) + _runs(pairs, motion, min_run, backwards=True)
    return _drop_contained(out)



def find_seam_repeats(x: np.ndarray, t: np.ndarray, seams: list) -> list:
    """Repeats that start at a jump in the picture (`seams`: first frame after each
    non-cut leap). A loop's seam jumps back in time: the picture after it is one shown
    before, up to the codec, however still the footage is (a stopped queue repeats
    as well as moving traffic, and the motion test of find_repeats cannot see it).
    The copy runs on along that offset while its frames stay as close to their
    source as at the seam."""
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    min_sep, min_run = int(round(MIN_SEP_S / dt)), max(3, int(round(MIN_RUN_S / dt)))
    out = []
    for i in seams:
        if i <= min_sep:
            continue
        jump = 1.0 - float(x[i] @ x[i - 1])
        d = 1.0 - x[:i - min_sep] @ x[i]
        j = int(np.argmin(d))
        if d[j] >= SEAM_SHARE * jump:
            continue
        end = _hold(x, i, i - j, HOLD * float(d[j]) + 1e-5)
        if end - i + 1 >= min_run:
            out.append(Repeat(copy=(i, end), source=(j, end - (i - j)), backwards=False))
    return out


def _hold(x: np.ndarray, start: int, k: int, limit: float) -> int:
    """Last frame of the copy that starts at `start` with offset k (gaps up to MAX_BREAK)."""
    last, c = start, start + 1
    while c < len(x) and c - last <= MAX_BREAK and c - k < start:
        if 1.0 - float(x[c] @ x[c - k]) <= limit:
            last = c
        c += 1
    return last


def merge_repeats(seam: list, found: list, jumps: list, near: int) -> list:
    """Seam repeats know where the copy starts; a motion-found repeat with (about) the
    same offset overlapping one is the same copy. A forward copy spliced into footage
    leaves a jump where it starts, so a motion-found one is kept only when a jump
    (`jumps`, frame indices) is within `near` frames of its start: footage that
    resembles itself without one (look-alike vehicles at a regular spacing, moving
    at one speed) is the scene, not an edit."""
    def same(a, b):
        return (not b.backwards and abs((a.copy[0] - a.source[0]) - (b.copy[0] - b.source[0])) <= 2
                and a.copy[0] <= b.copy[1] and b.copy[0] <= a.copy[1])
    out = list(seam)
    for r in found:
        twin = next((s for s in out if same(s, r)), None)
        if twin is None:
            if r.backwards or any(abs(r.copy[0] - j) <= near for j in jumps):
                out.append(r)
        elif r.copy[1] > twin.copy[1]:
            out[out.index(twin)] = Repeat((twin.copy[0], r.copy[1]), (twin.source[0], r.source[1]), False)
    return sorted(out, key=lambda r: r.copy[0])


def _own_motion(x: np.ndarray, lag: int) -> np.ndarray:
    """1 - cosine between each frame and the frames `lag` before and after (the smaller)."""
    n = len(x)
    m = np.full(n, np.inf)
    d = 1.0 - np.einsum("ij,ij->i", x[lag:], x[:-lag])
    m[lag:] = np.minimum(m[lag:], d)
    m[:-lag] = np.minimum(m[:-lag], d)
    return m


def _matches(x: np.ndarray, motion: np.ndarray, min_sep: int) -> np.ndarray:
    """(i, j) with j >= i + min_sep whose distance is a small share of both frames' motion."""
    n = len(x)
    found = []
    moving = motion > MOTION_MIN
    for lo in range(0, n, BLOCK):
        d = 1.0 - x[lo:lo + BLOCK] @ x.T                         # (b, n)
        limit = MATCH_SHARE * np.minimum(motion[lo:lo + BLOCK, None], motion[None, :])
        ok = (d < limit) & moving[lo:lo + BLOCK, None] & moving[None, :]
        ii, jj = np.nonzero(ok)
        ii = ii + lo
        keep = jj >= ii + min_sep
        found.append(np.stack([ii[keep], jj[keep]], axis=1))
    return np.concatenate(found) if found else np.zeros((0, 2), dtype=int)


def _runs(pairs: np.ndarray, motion: np.ndarray, min_run: int, backwards: bool) -> list:
    if len(pairs) == 0:
        return []
    key = pairs[:, 0] + pairs[:, 1] if backwards else pairs[:, 1] - pairs[:, 0]
    out = []
    for k in np.unique(key):
        # a diagonal and its neighbours: duplicated frames shift it by one now and then
        sel = np.abs(key - k) <= 1
        i = np.unique(pairs[sel, 0])
        for a, b in _consecutive(i):
            if b - a + 1 < min_run:
                continue
            ci = (k - b, k - a) if backwards else (a + k, b + k)
            if backwards and ci[0] <= b:            # a backwards copy must come after its source
                continue
            out.append(Repeat(copy=(int(ci[0]), int(ci[1])), source=(int(a), int(b)),
                              backwards=backwards))
    return out


def _consecutive(i: np.ndarray) -> list:
    runs, start = [], i[0]
    for p, q in zip(i[:-1], i[1:]):
        if q - p > MAX_BREAK:
            runs.append((start, p))
            start = q
    runs.append((start, i[-1]))
    return runs


def _drop_contained(reps: list) -> list:
    """Neighbouring diagonals find the same repeat; keep the longest of overlapping ones."""
    reps = sorted(reps, key=lambda r: r.copy[1] - r.copy[0], reverse=True)
    kept = []
    for r in reps:
        if not any(r.backwards == k.backwards and r.copy[0] <= k.copy[1] and k.copy[0] <= r.copy[1]
                   for k in kept):
            kept.append(r)
    return sorted(kept, key=lambda r: r.copy[0])
